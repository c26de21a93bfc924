package o365smtp_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// TestUntrustedTokenEndpoint: behind a TLS-inspecting proxy the token
// endpoint's certificate is not trusted by the system roots. That is
// ErrTLS with a Hint about CAFile, at once and not retried; with CAFile the
// same Config works.
func TestUntrustedTokenEndpoint(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.HTTPClient = nil // the system's roots: the emulator's CA is not among them
	cfg.RetryBackoff = time.Hour
	s := newSender(t, cfg)
	e := asError(t, s.Send(ctxT(t), newMsg(t)))
	if e.Kind != o365smtp.ErrTLS || e.Op != "token" || !strings.Contains(e.Hint, "CAFile") || e.Retryable() {
		t.Errorf("untrusted token endpoint = %v (op %s, retryable %v)\n%s; want ErrTLS at token with a CAFile hint, not retried", e, e.Op, e.Retryable(), e.Hint)
	}
	if n := srv.Stats().TokenRequests; n != 0 {
		t.Errorf("the emulator counted %d token requests; the TLS handshake should have failed first", n)
	}

	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.CAFile = ca
	cfg.TLSConfig = nil
	if err := newSender(t, cfg).Send(ctxT(t), newMsg(t)); err != nil {
		t.Errorf("with CAFile: %v", err)
	}
}

// TestSilentPort: a port that does not greet (STARTTLS asked of a server
// that speaks TLS first, the 587/465 mix-up; or HTTPS) fails after the
// greeting timeout, not the 30 s dial timeout, with a Hint that names the
// mix-up.
func TestSilentPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent until the test ends, like a TLS-first port
		}
	}()
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.Security = o365smtp.SecurityStartTLS
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	cfg.MaxAttempts = 1
	s := newSender(t, cfg)
	ctx := ctxT(t)
	e := asError(t, s.Send(ctx, newMsg(t)))
	if e.Kind != o365smtp.ErrConnection || e.Op != "connect" || !strings.Contains(e.Message, "no SMTP greeting") || !strings.Contains(e.Hint, "465") {
		t.Errorf("silent port = %v\n%s; want ErrConnection, no greeting, a hint about 465/587", e, e.Hint)
	}
	if ctx.Err() != nil {
		t.Error("Send returned only when the test's context ended")
	}
}
