package o365smtp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

func TestTLSBelow12IsRefused(t *testing.T) {
	srv := o365smtptest.NewServer(emulator.WithMaxTLSVersion(tls.VersionTLS11))
	defer srv.Close()
	cfg := srv.Config()
	cfg.MaxAttempts = 1
	s := newSender(t, cfg)
	e := asError(t, s.Send(ctxT(t), newMsg(t)))
	if e.Kind != o365smtp.ErrTLS || e.Op != "tls" {
		t.Errorf("TLS 1.1 server: %v (kind %s op %s); want ErrTLS at tls", e, e.Kind, e.Op)
	}
	if srv.Stats().AuthAttempts != 0 {
		t.Errorf("AUTH was sent")
	}
}

func TestUnknownCAIsRefused(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.MaxAttempts = 1
	cfg.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()} // trusts nothing
	s := newSender(t, cfg)
	e := asError(t, s.Send(ctxT(t), newMsg(t)))
	if e.Kind != o365smtp.ErrTLS || srv.Stats().AuthAttempts != 0 {
		t.Errorf("unknown CA: %v (kind %s), %d AUTH attempts; want ErrTLS and none", e, e.Kind, srv.Stats().AuthAttempts)
	}
}

func TestImplicitTLSSend(t *testing.T) {
	srv := o365smtptest.NewServer(o365smtptest.WithImplicitTLS())
	defer srv.Close()
	s := newSender(t, srv.Config())
	var version uint16
	ctx := o365smtp.WithTrace(ctxT(t), &o365smtp.Trace{TLSHandshakeDone: func(st tls.ConnectionState) { version = st.Version }})
	if err := s.Send(ctx, newMsg(t)); err != nil {
		t.Fatalf("implicit TLS send: %v", err)
	}
	if version < tls.VersionTLS12 || len(srv.Messages()) != 1 {
		t.Errorf("TLS version %x, %d messages", version, len(srv.Messages()))
	}
}

// TestNoGoroutineOutlivesItsUse drives failed dials, timeouts, a Shutdown
// and a Close, then checks that no goroutine is left behind.
func TestNoGoroutineOutlivesItsUse(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	func() {
		srv := o365smtptest.NewServer()
		defer srv.Close()
		cfg := srv.Config()
		cfg.MaxAttempts = 2

		// Failed dials.
		srv.Fail(o365smtptest.StageEHLO, o365smtptest.Fault{Reply: "421 4.3.2 Service not available", Times: 4})
		s := newSender(t, cfg)
		o365smtp.SetRetryBackoff(s, time.Millisecond)
		for range 2 {
			s.Send(ctxT(t), newMsg(t))
		}
		// Timeouts.
		srv.Fail(o365smtptest.StageMail, o365smtptest.Fault{Hang: true, Times: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		s.Send(ctx, newMsg(t))
		cancel()
		srv.ClearFaults()
		// Concurrent sends, then a graceful Shutdown.
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() { s.Send(ctxT(t), newMsg(t)) })
		}
		wg.Wait()
		if err := s.Shutdown(ctxT(t)); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		// Close with a connection in use.
		s2 := newSender(t, cfg)
		srv.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Delay: 5 * time.Second, Times: 1})
		done := make(chan error)
		authed := make(chan struct{})
		ctx2 := o365smtp.WithTrace(ctxT(t), &o365smtp.Trace{Authenticated: func(string) { close(authed) }})
		go func() { done <- s2.Send(ctx2, newMsg(t)) }()
		<-authed // the send is under way
		s2.Close()
		<-done
	}()
	goleak.VerifyNone(t, opt)
}
