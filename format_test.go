package o365smtp_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/clock"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// TestFormattingShowsNoSecret: a Sender and a token source, once they hold
// a token and a pooled connection, print no secret and no token with any
// verb or slog handler. Each has one Format method for that: without the
// Sender's, %s, %q, %t and other verbs that do not suit a pointer make fmt
// print the structs behind it, the Config's client secret among them. Config
// and Token redact with their own methods. Not covered: %p of a Config or
// Token value, which fmt answers before asking any method (go vet reports
// it).
func TestFormattingShowsNoSecret(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	s := newSender(t, cfg)
	send(t, ctxT(t), s)
	ts, err := o365smtp.NewTokenSource(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	jsonLogger := slog.New(slog.NewJSONHandler(&logs, nil))
	for _, v := range []any{s, ts, cfg, tok} {
		for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%e"} {
			out = append(out, fmt.Sprintf(f, v))
		}
		logger.Info("value", "v", v)
		jsonLogger.Info("value", "v", v)
	}
	all := strings.Join(out, "\n") + "\n" + logs.String()
	secrets := append([]string{srv.ClientSecret}, srv.IssuedTokens()...)
	if len(secrets) < 3 {
		t.Fatalf("the emulator issued %d tokens; want 2 (the Sender's and the source's)", len(secrets)-1)
	}
	for i, x := range secrets {
		if strings.Contains(all, x) || strings.Contains(strings.ToLower(all), hex.EncodeToString([]byte(x))) {
			t.Errorf("secret %d is printed:\n%s", i, all)
		}
	}
}

// NewTokenSourceWithClock puts a token source's cache on a fake clock: the
// token is served from the cache until half its lifetime is gone.
func TestNewTokenSourceWithClock(t *testing.T) {
	srv := o365smtptest.NewServer(o365smtptest.WithTokenLifetime(100 * time.Second))
	defer srv.Close()
	clk := clock.NewFake(time.Now())
	ts, err := o365smtp.NewTokenSourceWithClock(srv.Config(), clk)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	get := func() string {
		t.Helper()
		tok, err := ts.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	first := get()
	clk.Advance(45 * time.Second)
	if get() != first || srv.Stats().TokenRequests != 1 {
		t.Fatalf("at 45 s of 100 s: %d token requests; want the cached token, 1 request", srv.Stats().TokenRequests)
	}
	clk.Advance(10 * time.Second)
	if get() == first || srv.Stats().TokenRequests != 2 {
		t.Errorf("at 55 s of 100 s: %d token requests; want a new token, 2 requests", srv.Stats().TokenRequests)
	}
}
