package httpguard

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestBodyBound(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte{'0'}, 8<<20)) // 8 MiB of zeros: about 8 KiB compressed
	zw.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			io.WriteString(w, `{"ok":true}`)
		case "/big":
			w.Write(bytes.Repeat([]byte("x"), 2<<20))
		case "/chunked":
			w.(http.Flusher).Flush() // no Content-Length
			for range 64 {
				w.Write(bytes.Repeat([]byte("y"), 64<<10))
			}
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz.Bytes())
		}
	}))
	defer srv.Close()
	c := Client(srv.Client(), MaxBody)
	get := func(path string) ([]byte, error) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	if b, err := get("/small"); err != nil || string(b) != `{"ok":true}` {
		t.Errorf("small body = %q, %v", b, err)
	}
	for _, p := range []string{"/big", "/chunked", "/gzip"} {
		b, err := get(p)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %d bytes, err %v; want ErrTooLarge", p, len(b), err)
		}
		if len(b) > MaxBody {
			t.Errorf("%s: read %d bytes, more than the bound", p, len(b))
		}
	}
}

func TestRedirects(t *testing.T) {
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { plainHits.Add(1) }))
	defer plain.Close()
	other := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { plainHits.Add(1) }))
	defer other.Close()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-http":
			http.Redirect(w, r, plain.URL+"/token", http.StatusTemporaryRedirect)
		case "/to-other":
			http.Redirect(w, r, other.URL+"/token", http.StatusTemporaryRedirect)
		case "/same":
			http.Redirect(w, r, srv.URL+"/final", http.StatusTemporaryRedirect)
		case "/final":
			io.WriteString(w, "final")
		}
	}))
	defer srv.Close()
	c := Client(srv.Client(), MaxBody)
	for _, p := range []string{"/to-http", "/to-other"} {
		resp, err := c.Post(srv.URL+p, "application/x-www-form-urlencoded", strings.NewReader("client_secret=s3cret"))
		if err == nil {
			resp.Body.Close()
		}
		var re *RedirectError
		if !errors.As(err, &re) {
			t.Errorf("%s: err %v; want a *RedirectError", p, err)
		}
	}
	if n := plainHits.Load(); n != 0 {
		t.Errorf("the redirect targets got %d requests; want 0", n)
	}
	resp, err := c.Post(srv.URL+"/same", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatalf("same-host https redirect: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "final" {
		t.Errorf("same-host redirect body = %q", b)
	}
}
