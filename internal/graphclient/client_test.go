package graphclient_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/o365smtp/o365smtp/internal/graphclient"
	"github.com/o365smtp/o365smtp/internal/httpguard"
)

const token = "secret-graph-token"

func client(ts *httptest.Server) *graphclient.Client {
	return &graphclient.Client{HTTP: httpguard.Client(ts.Client(), httpguard.MaxBody), Base: ts.URL}
}

// TestRequests: each endpoint's method, path, headers and body.
func TestRequests(t *testing.T) {
	type seen struct{ method, path, auth, ctype, rng, body string }
	got := make(chan seen, 1)
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("Content-Range"), string(b)}
		w.Header().Set("request-id", "rid-1")
		w.WriteHeader(201)
		io.WriteString(w, `{"id":"AAMk1","uploadUrl":"https://up.example/s?authtoken=x"}`)
	}))
	defer ts.Close()
	c := client(ts)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func() (*graphclient.Response, error)
		want seen
	}{
		{"sendMail", func() (*graphclient.Response, error) {
			return c.SendMail(ctx, token, "a b@contoso.com", []byte("TUlNRQ=="))
		},
			seen{"POST", "/v1.0/users/a%20b@contoso.com/sendMail", "Bearer " + token, "text/plain", "", "TUlNRQ=="}},
		{"draft", func() (*graphclient.Response, error) {
			return c.CreateDraft(ctx, token, "u@contoso.com", []byte("TUlNRQ=="))
		},
			seen{"POST", "/v1.0/users/u@contoso.com/messages", "Bearer " + token, "text/plain", "", "TUlNRQ=="}},
		{"session", func() (*graphclient.Response, error) {
			return c.CreateUploadSession(ctx, token, "u@contoso.com", "AAMk1", graphclient.Attachment{Name: "a.png", Size: 5, ContentType: "image/png", IsInline: true, ContentID: "a.png"})
		}, seen{"POST", "/v1.0/users/u@contoso.com/messages/AAMk1/attachments/createUploadSession", "Bearer " + token, "application/json", "",
			`{"AttachmentItem":{"attachmentType":"file","name":"a.png","size":5,"contentType":"image/png","isInline":true,"contentId":"a.png"}}`}},
		{"upload", func() (*graphclient.Response, error) {
			return c.Upload(ctx, ts.URL+"/up?authtoken=x", 10, 15, []byte("hello"))
		},
			seen{"PUT", "/up?authtoken=x", "", "application/octet-stream", "bytes 10-14/15", "hello"}},
		{"send", func() (*graphclient.Response, error) { return c.Send(ctx, token, "u@contoso.com", "AAMk1") },
			seen{"POST", "/v1.0/users/u@contoso.com/messages/AAMk1/send", "Bearer " + token, "", "", ""}},
		{"delete", func() (*graphclient.Response, error) { return c.Delete(ctx, token, "u@contoso.com", "AAMk1") },
			seen{"DELETE", "/v1.0/users/u@contoso.com/messages/AAMk1", "Bearer " + token, "", "", ""}},
	} {
		resp, err := tc.do()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if g := <-got; g != tc.want {
			t.Errorf("%s: got %+v\nwant %+v", tc.name, g, tc.want)
		}
		if resp.Status != 201 || resp.RequestID != "rid-1" || resp.MessageID() != "AAMk1" || resp.UploadURL() != "https://up.example/s?authtoken=x" {
			t.Errorf("%s: %+v", tc.name, resp)
		}
	}
}

// TestUploadRefuses: an upload URL that is not https, and chunks that are
// empty or larger than MaxChunk, are refused before any request.
func TestUploadRefuses(t *testing.T) {
	c := &graphclient.Client{HTTP: http.DefaultClient}
	for _, tc := range []struct {
		url   string
		chunk int
	}{{"http://up.example/s?authtoken=x", 1}, {"up.example/s", 1}, {"https:///nohost", 1}, {"https://up.example/s", 0}, {"https://up.example/s", graphclient.MaxChunk + 1}} {
		_, err := c.Upload(context.Background(), tc.url, 0, int64(tc.chunk), make([]byte, tc.chunk))
		var re *graphclient.RequestError
		if !errors.As(err, &re) || re.Sent || strings.Contains(err.Error(), "authtoken") {
			t.Errorf("%s, %d bytes: %v", tc.url, tc.chunk, err)
		}
	}
	if graphclient.MaxChunk%(320<<10) != 0 || graphclient.MaxChunk > 4<<20 {
		t.Errorf("MaxChunk %d", graphclient.MaxChunk)
	}
}

// TestErrorsWithoutURL: a failed request's error never quotes the URL
// (an upload URL carries a token), and says whether it was written.
func TestErrorsWithoutURL(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		panic(http.ErrAbortHandler)
	}))
	ts.Config.ErrorLog = nil
	defer ts.Close()
	c := client(ts)
	_, err := c.Upload(context.Background(), ts.URL+"/up?authtoken=upload-secret", 0, 3, []byte("abc"))
	var re *graphclient.RequestError
	if !errors.As(err, &re) || !re.Sent || strings.Contains(err.Error(), "upload-secret") || strings.Contains(err.Error(), ts.URL) {
		t.Fatalf("err %v", err)
	}
	// Nothing listening: not sent.
	dead := httptest.NewTLSServer(http.NotFoundHandler())
	dc := client(dead)
	dead.Close()
	_, err = dc.SendMail(context.Background(), token, "u@contoso.com", []byte("x"))
	if !errors.As(err, &re) || re.Sent || strings.Contains(err.Error(), token) {
		t.Fatalf("err %v", err)
	}
}

// TestBoundedAndRedirects: a response body past the bound is not read
// whole; a redirect off https or the host is refused (the token is not
// sent there); Retry-After and error bodies come back as they are.
func TestBoundedAndRedirects(t *testing.T) {
	var other []string
	off := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other = append(other, r.Header.Get("Authorization"))
	}))
	defer off.Close()
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "huge":
			w.WriteHeader(400)
			w.Write(bytes.Repeat([]byte("x"), httpguard.MaxBody+10))
		case "redirect":
			http.Redirect(w, r, off.URL+"/elsewhere", http.StatusTemporaryRedirect)
		case "throttled":
			w.Header().Set("Retry-After", "7")
			w.Header().Set("request-id", "rid-429")
			w.WriteHeader(429)
			io.WriteString(w, `{"error":{"code":"ApplicationThrottled","message":"MailboxConcurrency","innerError":{"request-id":"rid-429","date":"2026-12-01T10:00:00"}}}`)
		}
	}))
	defer ts.Close()
	c := &graphclient.Client{HTTP: httpguard.Client(ts.Client(), httpguard.MaxBody)}
	// Base carries the case in a query that the endpoint's path follows.
	c.Base = ts.URL + "/x?case=huge&"
	resp, err := c.SendMail(context.Background(), token, "u", nil)
	if err != nil || resp.Status != 400 || len(resp.Body) != 0 {
		t.Errorf("huge body: %v, %+v", err, resp)
	}
	c.Base = ts.URL + "/x?case=redirect&"
	_, err = c.SendMail(context.Background(), token, "u", []byte("x"))
	var rd *httpguard.RedirectError
	if !errors.As(err, &rd) || len(other) != 0 || strings.Contains(err.Error(), token) {
		t.Errorf("redirect: %v; the other host saw %q", err, other)
	}
	c.Base = ts.URL + "/x?case=throttled&"
	resp, err = c.SendMail(context.Background(), token, "u", []byte("x"))
	if err != nil || resp.Status != 429 || resp.Header.Get("Retry-After") != "7" || resp.RequestID != "rid-429" {
		t.Fatalf("throttled: %v %+v", err, resp)
	}
	if e := graphclient.ParseError(resp.Body); e.Error.Code != "ApplicationThrottled" || e.Error.InnerError.RequestID != "rid-429" {
		t.Errorf("error body %+v", e)
	}
	if e := graphclient.ParseError([]byte("<html>")); e.Error.Code != "" {
		t.Errorf("not JSON: %+v", e)
	}
}
