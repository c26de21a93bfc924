package o365smtp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
)

// graphWith is a TransportGraph Sender with a fixed token for GraphURL url
// and HTTP client c.
func graphWith(t *testing.T, url string, c *http.Client) *o365smtp.Sender {
	t.Helper()
	s, err := o365smtp.New(o365smtp.Config{Mailbox: "sender@contoso.com", Transport: o365smtp.TransportGraph, GraphURL: url,
		HTTPClient: c, MaxAttempts: 1, MessagesPerMinute: -1,
		TokenSource: o365smtp.TokenSourceFunc(func(context.Context) (o365smtp.Token, error) {
			return o365smtp.Token{AccessToken: "secret-token-value", ExpiresOn: time.Now().Add(time.Hour)}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestGraphTransportFailures: Graph behind a certificate not trusted is
// ErrTLS and gets no token; a closed port is a retryable ErrConnection; a
// redirect to another host is refused without following it; a 2xx that is
// not 202 is ErrUnexpectedReply. No error carries the token.
func TestGraphTransportFailures(t *testing.T) {
	var seen atomic.Int32
	var redirect atomic.Bool
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			seen.Add(1)
		}
		if redirect.Load() {
			http.Redirect(w, r, "https://127.0.0.2:1/v1.0/users/x/sendMail", http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(200)
	}))
	defer ts.Close()
	closed := httptest.NewTLSServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	for _, tc := range []struct {
		name      string
		redirect  bool
		url       string
		client    *http.Client
		kind      o365smtp.Kind
		retryable bool
		tokens    int32 // requests that carried a token
	}{
		{"untrusted", false, ts.URL, &http.Client{}, o365smtp.ErrTLS, false, 0},
		{"closed port", false, closedURL, closed.Client(), o365smtp.ErrConnection, true, 0},
		{"redirect off the host", true, ts.URL, ts.Client(), o365smtp.ErrUnexpectedReply, false, 1},
		{"200 not 202", false, ts.URL, ts.Client(), o365smtp.ErrUnexpectedReply, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen.Store(0)
			redirect.Store(tc.redirect)
			s := graphWith(t, tc.url, tc.client)
			err := s.Send(context.Background(), graphMsg(t, "a@example.com"))
			var e *o365smtp.Error
			if !errors.As(err, &e) || e.Kind != tc.kind || e.Retryable() != tc.retryable || e.Op != "graph" {
				t.Fatalf("err %v (%+v), want %s, retryable %v", err, e, tc.kind, tc.retryable)
			}
			if strings.Contains(err.Error(), "secret-token-value") || strings.Contains(e.Hint, "secret-token-value") {
				t.Errorf("the token leaked: %v", err)
			}
			if seen.Load() != tc.tokens {
				t.Errorf("%d requests with a token, want %d", seen.Load(), tc.tokens)
			}
		})
	}
}
