package o365smtp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// parts returns the leaf parts of a MIME message, by file name (or by
// Content-ID for parts without one), decoded.
func parts(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	var walk func(ct string, hdr map[string][]string, body io.Reader)
	walk = func(ct string, hdr map[string][]string, body io.Reader) {
		mt, p, _ := mime.ParseMediaType(ct)
		if strings.HasPrefix(mt, "multipart/") {
			r := multipart.NewReader(body, p["boundary"])
			for {
				part, err := r.NextRawPart()
				if err != nil {
					return
				}
				walk(part.Header.Get("Content-Type"), part.Header, part)
			}
		}
		b, _ := io.ReadAll(body)
		if strings.EqualFold(firstOf(hdr["Content-Transfer-Encoding"]), "base64") {
			d := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
			n, _ := base64.StdEncoding.Decode(d, b) // CR and LF are skipped
			b = d[:n]
		}
		name := p["name"]
		if _, dp, err := mime.ParseMediaType(firstOf(hdr["Content-Disposition"])); err == nil && dp["filename"] != "" {
			name = dp["filename"]
		}
		if name == "" {
			name = "<" + strings.Trim(firstOf(hdr["Content-Id"]), "<>") + ">" + mt
		}
		out[name] = b
	}
	walk(m.Header.Get("Content-Type"), m.Header, m.Body)
	return out
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// largeMsg is a message with an HTML and a text part, a small attachment,
// an inline image of logo bytes and an attachment of n bytes from a file.
func largeMsg(t *testing.T, n, logo int) (*gomail.Msg, map[string][]byte) {
	t.Helper()
	want := map[string][]byte{"big.bin": randomBytes(t, n), "small.txt": []byte("a small attachment\n"), "logo.png": randomBytes(t, logo)}
	path := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(path, want["big.bin"], 0o600); err != nil {
		t.Fatal(err)
	}
	m := graphMsg(t, "someone@example.com")
	if err := m.Cc("copy@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := m.Bcc("hidden@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := m.ReplyTo("replies@contoso.com"); err != nil {
		t.Fatal(err)
	}
	m.SetGenHeader("X-Ticket", "4711")
	m.SetBodyString(gomail.TypeTextPlain, "the text part")
	m.AddAlternativeString(gomail.TypeTextHTML, `<p>the html part <img src="cid:logo.png"></p>`)
	m.AttachFile(path)
	if err := m.AttachReader("small.txt", bytes.NewReader(want["small.txt"])); err != nil {
		t.Fatal(err)
	}
	if err := m.EmbedReader("logo.png", bytes.NewReader(want["logo.png"])); err != nil {
		t.Fatal(err)
	}
	return m, want
}

// TestGraphLargeMessage: a 20 MB attachment (and a 3 MB inline image) go
// through a draft and upload sessions and arrive byte-identical, with the
// headers and recipients they have over sendMail; the draft is gone.
func TestGraphLargeMessage(t *testing.T) {
	t.Parallel()
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := graphSender(t, srv, o365smtp.TransportGraph)
	m, want := largeMsg(t, 20_000_000, 3_100_000)
	var accepted string
	ctx := o365smtp.WithTrace(context.Background(), &o365smtp.Trace{Accepted: func(r string) { accepted = r }})
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Transport != "graph" {
		t.Fatalf("messages: %+v", msgs)
	}
	got := msgs[0]
	if strings.Join(got.To, ",") != "someone@example.com,copy@example.com,hidden@example.com" {
		t.Errorf("recipients %v", got.To)
	}
	if len(got.Header["Bcc"]) != 0 || got.Header.Get("Message-Id") == "" || got.Header.Get("X-Ticket") != "4711" ||
		got.Header.Get("Reply-To") != "<replies@contoso.com>" || got.Header.Get("Subject") != "over Graph" {
		t.Errorf("header: %v", got.Header)
	}
	ps := parts(t, got.Data)
	for name, b := range want {
		if !bytes.Equal(ps[name], b) {
			t.Errorf("%s: %d bytes arrived, want %d identical", name, len(ps[name]), len(b))
		}
	}
	if string(ps["<>text/plain"]) == "" && !bytes.Contains(got.Data, []byte("the text part")) || !bytes.Contains(got.Data, []byte("the html part")) {
		t.Errorf("the text or html part is missing")
	}
	if !strings.Contains(string(got.Data), "Content-ID: <logo.png>") || !strings.Contains(string(got.Data), "inline") {
		t.Errorf("the inline image lost its Content-ID")
	}
	if !strings.HasPrefix(accepted, "202 Accepted") || srv.GraphDrafts() != 0 {
		t.Errorf("accepted %q, %d drafts left", accepted, srv.GraphDrafts())
	}
	// A draft, two upload sessions, 6 + 1 chunks of 3.75 MiB, send.
	if st := s.Stats(); st.GraphRequests != 11 || st.Sent != 1 {
		t.Errorf("stats %+v", st)
	}
	if len(m.GetAttachments()) != 2 || len(m.GetEmbeds()) != 1 {
		t.Errorf("the caller's message lost attachments: %d, %d", len(m.GetAttachments()), len(m.GetEmbeds()))
	}
}

// TestGraphLargeConcurrent: distinct large messages sent at once (-race).
func TestGraphLargeConcurrent(t *testing.T) {
	t.Parallel()
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := graphSender(t, srv, o365smtp.TransportGraph)
	errs := make(chan error, 2)
	for range 2 {
		m, _ := largeMsg(t, 3_000_000, 100)
		go func() { errs <- s.Send(context.Background(), m) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(srv.Messages()); n != 2 || srv.GraphDrafts() != 0 {
		t.Errorf("%d messages, %d drafts", n, srv.GraphDrafts())
	}
}

// TestGraphLargeNeedsMailReadWrite: with Mail.Send only, a small message
// goes and a large one is ErrAuthFailed with a Hint about Mail.ReadWrite.
func TestGraphLargeNeedsMailReadWrite(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.SetGraphMailReadWrite(false)
	s := graphSender(t, srv, o365smtp.TransportGraph)
	if err := s.Send(context.Background(), graphMsg(t, "a@example.com")); err != nil {
		t.Fatal(err)
	}
	m, _ := largeMsg(t, 3_000_000, 100)
	err := s.Send(context.Background(), m)
	var e *o365smtp.Error
	if !errors.As(err, &e) || e.Kind != o365smtp.ErrAuthFailed || e.Code != 403 || !strings.Contains(e.Hint, "Mail.ReadWrite") ||
		!strings.Contains(e.Hint, "need only Mail.Send") || !strings.Contains(e.Message, "creating the draft") {
		t.Fatalf("err %v (%+v)", err, e)
	}
	noToken(t, srv, err)
	if len(srv.Messages()) != 1 {
		t.Errorf("%d messages", len(srv.Messages()))
	}
}

// TestGraphLargeOverMaxSendSize: the tenant's limit, counted in base64, refuses a message at its upload session, before any
// attachment byte is sent; the draft is deleted.
func TestGraphLargeOverMaxSendSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []o365smtptest.Option
		size int
	}{
		// The default 35 MB: TestGraphUploadSession (o365smtptest).
		{"3 MiB", []o365smtptest.Option{o365smtptest.WithMaxSendSize(3 << 20)}, 3_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := o365smtptest.NewServer(tc.opts...)
			defer srv.Close()
			s := graphSender(t, srv, o365smtp.TransportGraph)
			m, _ := largeMsg(t, tc.size, 100)
			err := s.Send(context.Background(), m)
			var e *o365smtp.Error
			if !errors.As(err, &e) || e.Kind != o365smtp.ErrMessageRejected || !strings.Contains(e.Message, "ErrorMessageSizeExceeded") ||
				!strings.Contains(e.Hint, "MaxSendSize") || e.Retryable() {
				t.Fatalf("err %v (%+v)", err, e)
			}
			// The draft, the refused upload session, the deletion.
			if srv.GraphDrafts() != 0 || len(srv.Messages()) != 0 || s.Stats().GraphRequests != 3 {
				t.Errorf("%d drafts, %d messages, stats %+v", srv.GraphDrafts(), len(srv.Messages()), s.Stats())
			}
		})
	}
}

// TestGraphLargeFailures: whatever fails before send deletes the draft and
// is retryable where nothing was sent; the upload URL's token is in no
// error.
func TestGraphLargeFailures(t *testing.T) {
	t.Parallel()
	// One emulator for all (a new one generates a signing key, slow under
	// -race); each case's fault is consumed by its own Send.
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := graphSender(t, srv, o365smtp.TransportGraph)
	m, _ := largeMsg(t, 3_000_000, 100)
	for _, tc := range []struct {
		name  string
		setup func(*o365smtptest.Server)
		kind  o365smtp.Kind
	}{
		{"upload 503", func(s *o365smtptest.Server) {
			s.FailGraph(o365smtptest.GraphFault{Op: o365smtptest.GraphUpload, Status: 503, Code: "ServiceNotAvailable", Times: 1})
		}, o365smtp.ErrThrottled},
		{"upload dropped", func(s *o365smtptest.Server) {
			s.FailGraph(o365smtptest.GraphFault{Op: o365smtptest.GraphUpload, Drop: true, Times: 1})
		}, o365smtp.ErrConnection},
		{"session dropped", func(s *o365smtptest.Server) {
			s.FailGraph(o365smtptest.GraphFault{Op: o365smtptest.GraphCreateUploadSession, Drop: true, Times: 1})
		}, o365smtp.ErrConnection},
		{"draft dropped", func(s *o365smtptest.Server) {
			s.FailGraph(o365smtptest.GraphFault{Op: o365smtptest.GraphCreateDraft, Drop: true, Times: 1})
		}, o365smtp.ErrConnection},
		{"session expired", func(s *o365smtptest.Server) { s.SetGraphUploadSessionLifetime(0) }, o365smtp.ErrUnexpectedReply},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup(srv)
			defer srv.SetGraphUploadSessionLifetime(15 * time.Minute)
			err := s.Send(context.Background(), m)
			var e *o365smtp.Error
			if !errors.As(err, &e) || e.Kind != tc.kind || !e.Retryable() {
				t.Fatalf("err %v (%+v), want a retryable %s", err, e, tc.kind)
			}
			if strings.Contains(err.Error(), "authtoken") || strings.Contains(e.Hint, "authtoken") {
				t.Errorf("the upload URL leaked: %v", err)
			}
			noToken(t, srv, err)
			if srv.GraphDrafts() != 0 || len(srv.Messages()) != 0 {
				t.Errorf("%d drafts, %d messages", srv.GraphDrafts(), len(srv.Messages()))
			}
		})
	}
	// Retried, it goes: a new draft, the first one deleted.
	srv.FailGraph(o365smtptest.GraphFault{Op: o365smtptest.GraphUpload, Drop: true, Times: 1})
	s2 := graphSender(t, srv, o365smtp.TransportGraph, func(c *o365smtp.Config) { c.MaxAttempts = 2; c.RetryBackoff = time.Millisecond })
	if err := s2.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if st := s2.Stats(); st.Retries != 1 || srv.GraphDrafts() != 0 || len(srv.Messages()) != 1 {
		t.Errorf("stats %+v, %d drafts, %d messages", st, srv.GraphDrafts(), len(srv.Messages()))
	}
}

// TestGraphLargeSendUnknownOutcome: a send whose request was written and
// whose answer never came is ErrUnknownOutcome, never resent, and the
// draft is left alone (it may have been sent).
func TestGraphLargeSendUnknownOutcome(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.FailGraph(o365smtptest.GraphFault{Op: o365smtptest.GraphSend, Drop: true})
	s := graphSender(t, srv, o365smtp.TransportGraph, func(c *o365smtp.Config) { c.MaxAttempts = 3 })
	m, _ := largeMsg(t, 3_000_000, 100)
	err := s.Send(context.Background(), m)
	if !errors.Is(err, o365smtp.ErrUnknownOutcome) {
		t.Fatalf("err %v", err)
	}
	if st := s.Stats(); st.Attempts != 1 || srv.GraphDrafts() != 1 {
		t.Errorf("stats %+v, %d drafts", st, srv.GraphDrafts())
	}
}

// TestGraphLargeVerifyWarnsWithoutMailReadWrite: Verify passes with a
// warning that names Mail.ReadWrite when the token has Mail.Send only.
func TestGraphLargeVerifyWarnsWithoutMailReadWrite(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.SetGraphMailReadWrite(false)
	s := graphSender(t, srv, o365smtp.TransportGraph)
	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range rep.Steps {
		if st.Name == "token_claims" && (st.Status != o365smtp.StatusWarn || !strings.Contains(st.Hint, "Mail.ReadWrite")) {
			t.Errorf("token_claims %+v", st)
		}
	}
}

// TestAutoLargeMessage: TransportAuto switched to Graph sends a large
// message through a draft too.
func TestAutoLargeMessage(t *testing.T) {
	t.Parallel()
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.SetSMTPAuthDisabledForTenant(true)
	s := graphSender(t, srv, o365smtp.TransportAuto)
	m, want := largeMsg(t, 3_500_000, 100)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Transport != "graph" || !bytes.Equal(parts(t, msgs[0].Data)["big.bin"], want["big.bin"]) || s.Stats().Transport != "graph" {
		t.Fatalf("%d messages, stats %+v", len(msgs), s.Stats())
	}
}

// hostileGraph is a Graph that creates drafts and upload sessions whose
// uploadUrl is upload, answers PUTs with 400 and a body that quotes the
// URL, and records deletions.
func hostileGraph(t *testing.T, upload func(base string) string) (*httptest.Server, *atomic.Int32) {
	var deleted atomic.Int32
	var ts *httptest.Server
	ts = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch {
		case r.Method == "DELETE":
			deleted.Add(1)
			w.WriteHeader(204)
		case r.Method == "PUT":
			w.WriteHeader(400)
			io.WriteString(w, `{"error":{"code":"BadRequest","message":"cannot use `+ts.URL+r.URL.RequestURI()+`"}}`)
		case strings.HasSuffix(r.URL.Path, "/createUploadSession"):
			w.WriteHeader(201)
			io.WriteString(w, `{"uploadUrl":"`+upload(ts.URL)+`"}`)
		case strings.HasSuffix(r.URL.Path, "/messages"):
			w.WriteHeader(201)
			io.WriteString(w, `{"id":"draft-1"}`)
		default:
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(ts.Close)
	return ts, &deleted
}

// TestGraphLargeHostileUploadURL: an uploadUrl off https gets no bytes;
// an upload server that quotes its URL (and so its token) in an error
// body has it redacted; the draft is deleted either way.
func TestGraphLargeHostileUploadURL(t *testing.T) {
	for _, tc := range []struct {
		name   string
		upload func(string) string
		kind   o365smtp.Kind
	}{
		{"http", func(string) string { return "http://127.0.0.1:9/up?authtoken=UPLOAD-SECRET" }, o365smtp.ErrUnexpectedReply},
		{"echo", func(base string) string { return base + "/up?authtoken=UPLOAD-SECRET" }, o365smtp.ErrUnexpectedReply},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, deleted := hostileGraph(t, tc.upload)
			s, err := o365smtp.New(o365smtp.Config{Mailbox: "sender@contoso.com", Transport: o365smtp.TransportGraph, GraphURL: ts.URL,
				HTTPClient: ts.Client(), MaxAttempts: 1, MessagesPerMinute: -1,
				TokenSource: o365smtp.TokenSourceFunc(func(context.Context) (o365smtp.Token, error) {
					return o365smtp.Token{AccessToken: "secret-token-value", ExpiresOn: time.Now().Add(time.Hour)}, nil
				})})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			m, _ := largeMsg(t, 3_000_000, 100)
			err = s.Send(context.Background(), m)
			var e *o365smtp.Error
			if !errors.As(err, &e) || e.Kind != tc.kind {
				t.Fatalf("err %v", err)
			}
			if strings.Contains(err.Error(), "UPLOAD-SECRET") || strings.Contains(e.Hint, "UPLOAD-SECRET") || strings.Contains(err.Error(), "secret-token-value") {
				t.Errorf("a secret leaked: %v", err)
			}
			if deleted.Load() != 1 {
				t.Errorf("%d deletions of the draft", deleted.Load())
			}
		})
	}
}

// TestGraphLargeAttachmentChanged: an attachment whose Writer gives fewer
// bytes at the upload than when measured is ErrInvalidMessage, and the
// draft is deleted.
func TestGraphLargeAttachmentChanged(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := graphSender(t, srv, o365smtp.TransportGraph)
	m := graphMsg(t, "a@example.com")
	calls := 0
	m.SetAttachments([]*gomail.File{{Name: "shrinks.bin", Header: map[string][]string{}, Writer: func(w io.Writer) (int64, error) {
		calls++
		n := 3_000_000
		if calls == 3 { // prepare's rendering, the measurement, the upload
			n = 2_000_000
		}
		k, err := w.Write(bytes.Repeat([]byte("x"), n))
		return int64(k), err
	}}})
	err := s.Send(context.Background(), m)
	var e *o365smtp.Error
	if !errors.As(err, &e) || e.Kind != o365smtp.ErrInvalidMessage || !strings.Contains(e.Hint, "changed") {
		t.Fatalf("err %v (%+v)", err, e)
	}
	if calls != 3 || srv.GraphDrafts() != 0 || len(srv.Messages()) != 0 {
		t.Errorf("%d Writer calls, %d drafts, %d messages", calls, srv.GraphDrafts(), len(srv.Messages()))
	}
}
