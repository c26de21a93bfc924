package o365smtp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

func newMsg(t testing.TB, to ...string) *mail.Msg {
	t.Helper()
	m := mail.NewMsg()
	if len(to) == 0 {
		to = []string{"alice@example.net"}
	}
	if err := m.To(to...); err != nil {
		t.Fatal(err)
	}
	m.Subject("hello")
	m.SetBodyString(mail.TypeTextPlain, "hello from o365smtp")
	return m
}

func newSender(t testing.TB, cfg o365smtp.Config) *o365smtp.Sender {
	t.Helper()
	s, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// asError returns err as *o365smtp.Error or fails.
func asError(t testing.TB, err error) *o365smtp.Error {
	t.Helper()
	var e *o365smtp.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *o365smtp.Error", err, err)
	}
	if e.Kind == "" || e.Hint == "" {
		t.Errorf("error %v has Kind %q Hint %q; both must be set", err, e.Kind, e.Hint)
	}
	return e
}

func TestSendHappyPath(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := newSender(t, srv.Config())
	var steps []string
	var mu sync.Mutex
	add := func(s string) { mu.Lock(); steps = append(steps, s); mu.Unlock() }
	tr := &o365smtp.Trace{
		TokenAcquired:    func(exp time.Time, cached bool) { add("token") },
		Connected:        func(addr, banner string) { add("connected " + banner[:3]) },
		TLSHandshakeDone: func(st tls.ConnectionState) { add("tls") },
		Authenticated:    func(mb string) { add("auth " + mb) },
		Accepted:         func(reply string) { add("accepted " + reply[:3]) },
	}
	ctx := o365smtp.WithTrace(ctxT(t), tr)
	msg := newMsg(t, "alice@example.net", "bob@example.net")
	if err := s.Send(ctx, msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := "token|connected 220|tls|auth " + srv.Mailbox + "|accepted 250"
	if got := strings.Join(steps, "|"); got != want {
		t.Errorf("trace = %s; want %s", got, want)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("server has %d messages; want 1", len(got))
	}
	m := got[0]
	if m.From != srv.Mailbox || strings.Join(m.To, ",") != "alice@example.net,bob@example.net" {
		t.Errorf("envelope = %s -> %v", m.From, m.To)
	}
	if !strings.Contains(string(m.Data), "From: <"+srv.Mailbox+">") || !strings.Contains(string(m.Data), "Message-ID:") {
		t.Errorf("From did not default to Mailbox or no Message-ID:\n%s", m.Data)
	}
	st := s.Stats()
	if st.Sent != 1 || st.TokenRequests != 1 || st.Dials != 1 || st.OpenConnections != 1 || st.IdleConnections != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestOneTokenRequestSequentialAndConcurrent(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := newSender(t, srv.Config())
	ctx := ctxT(t)
	for i := range 20 {
		if err := s.Send(ctx, newMsg(t)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if n := srv.Stats().TokenRequests; n != 1 {
		t.Errorf("token requests for 20 sequential sends = %d; want 1", n)
	}

	srv2 := o365smtptest.NewServer()
	defer srv2.Close()
	s2 := newSender(t, srv2.Config())
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if err := s2.Send(ctx, newMsg(t)); err != nil {
				t.Errorf("concurrent send: %v", err)
			}
		})
	}
	wg.Wait()
	if n := srv2.Stats().TokenRequests; n != 1 {
		t.Errorf("token requests for 50 concurrent sends = %d; want 1", n)
	}
	if n := len(srv2.Messages()); n != 50 {
		t.Errorf("server got %d messages; want 50", n)
	}
	if n := srv2.Stats().MaxConcurrentConnections; n > 3 {
		t.Errorf("max concurrent connections = %d; want <= 3", n)
	}
}

func TestForcedRefreshAfter535ReachesTokenEndpoint(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	ts, err := o365smtp.NewTokenSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Warm the shared cache with a token Exchange will reject (no role).
	srv.SetRoles(nil)
	if _, err := ts.Token(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	srv.SetRoles([]string{"SMTP.SendAsApp"})
	cfg.ClientSecret, cfg.TokenSource = "", ts
	s := newSender(t, cfg)
	if err := s.Send(ctxT(t), newMsg(t)); err != nil {
		t.Fatalf("Send after one 535: %v", err)
	}
	if n := srv.Stats().TokenRequests; n != 2 {
		t.Errorf("token requests = %d; want 2 (the forced refresh reached the endpoint)", n)
	}
	if n := srv.Stats().AuthAttempts; n != 2 {
		t.Errorf("AUTH attempts = %d; want 2", n)
	}
}

func TestNoAuthWithoutTLS(t *testing.T) {
	srv := o365smtptest.NewServer(emulator.WithoutSTARTTLS())
	defer srv.Close()
	s := newSender(t, srv.Config())
	err := s.Send(ctxT(t), newMsg(t))
	e := asError(t, err)
	if e.Kind != o365smtp.ErrTLS || e.Op != "tls" {
		t.Errorf("Send = %v (kind %s op %s); want ErrTLS at tls", err, e.Kind, e.Op)
	}
	if n := srv.Stats().AuthAttempts; n != 0 {
		t.Errorf("server saw %d AUTH attempts; want 0", n)
	}
}

// trackingDialer records every connection it makes and whether it was closed.
type trackingDialer struct {
	mu    sync.Mutex
	conns []*trackedConn
}

type trackedConn struct {
	net.Conn
	closed atomic.Bool
}

func (c *trackedConn) Close() error { c.closed.Store(true); return c.Conn.Close() }

func (d *trackingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c}
	d.mu.Lock()
	d.conns = append(d.conns, tc)
	d.mu.Unlock()
	return tc, nil
}

func (d *trackingDialer) open() (open, total int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		if !c.closed.Load() {
			open++
		}
	}
	return open, len(d.conns)
}

func TestFailedDialsCloseTheirConnections(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(*o365smtptest.Server)
		kind  o365smtp.Kind
	}{
		{"ehlo 421", func(s *o365smtptest.Server) {
			s.Fail(o365smtptest.StageEHLO, o365smtptest.Fault{Reply: "421 4.3.2 Service not available"})
		}, o365smtp.ErrConnection},
		{"banner drop", func(s *o365smtptest.Server) { s.Fail(o365smtptest.StageBanner, o365smtptest.Fault{Drop: true}) }, o365smtp.ErrConnection},
		{"starttls refused", func(s *o365smtptest.Server) {
			s.Fail(o365smtptest.StageSTARTTLS, o365smtptest.Fault{Reply: "454 4.7.0 TLS not available due to temporary reason"})
		}, ""},
		{"auth 535", func(s *o365smtptest.Server) { s.SetServicePrincipalRegistered(false) }, o365smtp.ErrAuthFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := o365smtptest.NewServer()
			defer srv.Close()
			tc.setup(srv)
			d := &trackingDialer{}
			cfg := srv.Config()
			cfg.DialContext = d.DialContext
			cfg.MaxAttempts = 2
			s := newSender(t, cfg)
			o365smtp.SetRetryBackoff(s, time.Millisecond)
			for range 3 {
				err := s.Send(ctxT(t), newMsg(t))
				e := asError(t, err)
				if tc.kind != "" && e.Kind != tc.kind {
					t.Errorf("kind = %s; want %s (%v)", e.Kind, tc.kind, err)
				}
			}
			if open, total := d.open(); open != 0 || total == 0 {
				t.Errorf("%d of %d dialled connections left open", open, total)
			}
			if st := s.Stats(); st.OpenConnections != 0 {
				t.Errorf("Stats.OpenConnections = %d", st.OpenConnections)
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	t.Parallel()
	other := "other@contoso.com"
	cases := []struct {
		name   string
		setup  func(*o365smtptest.Server, *o365smtp.Config)
		msg    func(*mail.Msg)
		kind   o365smtp.Kind
		op     string
		code   int
		enh    string
		hint   []string
		aadsts int
	}{
		{name: "sp not registered", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetServicePrincipalRegistered(false) },
			kind: o365smtp.ErrAuthFailed, op: "auth", code: 535, enh: "5.7.3", hint: []string{"New-ServicePrincipal -AppId", "Add-MailboxPermission", "Enterprise application"}},
		{name: "no mailbox permission", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetMailboxPermission(s.Mailbox, false) },
			kind: o365smtp.ErrAuthFailed, op: "auth", code: 535, enh: "5.7.3"},
		{name: "smtp auth disabled tenant", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetSMTPAuthDisabledForTenant(true) },
			kind: o365smtp.ErrSMTPAuthDisabled, op: "auth", code: 535, enh: "5.7.139", hint: []string{"Set-CASMailbox -Identity sender@contoso.com -SmtpClientAuthenticationDisabled $false"}},
		{name: "smtp auth disabled mailbox", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetSMTPAuthDisabledForMailbox(s.Mailbox, true) },
			kind: o365smtp.ErrSMTPAuthDisabled, op: "auth", code: 535, enh: "5.7.139"},
		{name: "not authenticated at MAIL", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) {
			s.Fail(o365smtptest.StageMail, o365smtptest.Fault{Reply: "530 5.7.57 Client not authenticated to send mail."})
		}, kind: o365smtp.ErrAuthFailed, op: "mail", code: 530, enh: "5.7.57"},
		// Exchange accepts another MAIL FROM and refuses the message after
		// the final dot (the emulator's default since issue 13).
		{name: "send as denied at MAIL", msg: func(m *mail.Msg) { m.From(other) },
			kind: o365smtp.ErrSendAsDenied, op: "data", code: 554, enh: "5.2.252", hint: []string{other}},
		{name: "send as denied at end of DATA", msg: func(m *mail.Msg) { m.From(other); m.EnvelopeFrom("sender@contoso.com") },
			kind: o365smtp.ErrSendAsDenied, op: "data", code: 554, enh: "5.2.252", hint: []string{other}},
		{name: "concurrency throttle", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) {
			s.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: "432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information."})
		}, kind: o365smtp.ErrThrottled, op: "data", code: 432, enh: "4.3.2"},
		{name: "recipient rejected", msg: func(m *mail.Msg) { m.AddTo("reject-me@contoso.com") },
			kind: o365smtp.ErrRecipientRejected, op: "rcpt", code: 550, enh: "5.1.10"},
		{name: "wrong secret", setup: func(_ *o365smtptest.Server, c *o365smtp.Config) { c.ClientSecret = "wrong~secret~value" },
			kind: o365smtp.ErrInvalidClientSecret, op: "token", aadsts: 7000215, hint: []string{"Value"}},
		{name: "expired secret", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetClientSecretExpired(true) },
			kind: o365smtp.ErrClientSecretExpired, op: "token", aadsts: 7000222},
		{name: "unknown tenant", setup: func(_ *o365smtptest.Server, c *o365smtp.Config) { c.TenantID = "nosuch.onmicrosoft.com" },
			kind: o365smtp.ErrTenantNotFound, op: "token", aadsts: 90002},
		{name: "unknown app", setup: func(_ *o365smtptest.Server, c *o365smtp.Config) { c.ClientID = "99999999-9999-9999-9999-999999999999" },
			kind: o365smtp.ErrAppNotFound, op: "token", aadsts: 700016},
		{name: "tls wrong host", kind: o365smtp.ErrTLS, op: "tls"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := o365smtptest.NewServer()
			defer srv.Close()
			cfg := srv.Config()
			if tc.name == "tls wrong host" {
				cfg.TLSConfig.ServerName = "wrong.example" // not on the server's certificate
			}
			cfg.MaxAttempts = 1
			if tc.setup != nil {
				tc.setup(srv, &cfg)
			}
			s := newSender(t, cfg)
			m := newMsg(t)
			if tc.msg != nil {
				tc.msg(m)
			}
			err := s.Send(ctxT(t), m)
			e := asError(t, err)
			if e.Kind != tc.kind || e.Op != tc.op || e.Code != tc.code || e.EnhancedCode != tc.enh || e.AADSTS != tc.aadsts {
				t.Errorf("got kind=%s op=%s code=%d enh=%s aadsts=%d (%v); want %s %s %d %s %d",
					e.Kind, e.Op, e.Code, e.EnhancedCode, e.AADSTS, err, tc.kind, tc.op, tc.code, tc.enh, tc.aadsts)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("errors.Is(err, %s) = false", tc.kind)
			}
			for _, h := range tc.hint {
				if !strings.Contains(e.Hint, h) {
					t.Errorf("Hint lacks %q:\n%s", h, e.Hint)
				}
			}
			if strings.Contains(err.Error(), e.Hint) {
				t.Errorf("Error() includes the Hint")
			}
			if tc.kind == o365smtp.ErrRecipientRejected && strings.Join(e.Recipients, ",") != "reject-me@contoso.com" {
				t.Errorf("Recipients = %v", e.Recipients)
			}
			if len(srv.Messages()) != 0 {
				t.Errorf("a message was recorded")
			}
		})
	}
}

func TestInvalidMessagesAndClosed(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := newSender(t, srv.Config())
	if e := asError(t, s.Send(ctxT(t), nil)); e.Kind != o365smtp.ErrInvalidMessage {
		t.Errorf("nil message: %v", e)
	}
	if e := asError(t, s.Send(ctxT(t), mail.NewMsg())); e.Kind != o365smtp.ErrInvalidMessage {
		t.Errorf("no recipients: %v", e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if e := asError(t, s.Send(ctx, newMsg(t))); e.Kind != o365smtp.ErrCanceled || !errors.Is(e, context.Canceled) {
		t.Errorf("canceled: %v", e)
	}
	if srv.Stats().TokenRequests != 0 || srv.Stats().Connections != 0 {
		t.Errorf("invalid sends did I/O: %d token requests, %d connections", srv.Stats().TokenRequests, srv.Stats().Connections)
	}
	if err := s.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if e := asError(t, s.Send(ctxT(t), newMsg(t))); e.Kind != o365smtp.ErrClosed {
		t.Errorf("after Shutdown: %v", e)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Shutdown(ctxT(t)); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestContextDeadlineOnSilentServer(t *testing.T) {
	t.Parallel()
	for _, stage := range []o365smtptest.Stage{o365smtptest.StageBanner, o365smtptest.StageAuth, o365smtptest.StageMail, o365smtptest.StageData} {
		srv := o365smtptest.NewServer()
		srv.Fail(stage, o365smtptest.Fault{Hang: true})
		s := newSender(t, srv.Config())
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		err := s.Send(ctx, newMsg(t))
		elapsed := time.Since(start)
		cancel()
		if e := asError(t, err); e.Kind != o365smtp.ErrCanceled {
			t.Errorf("stage %d: kind %s (%v); want canceled", stage, e.Kind, err)
		}
		if elapsed > 3*time.Second {
			t.Errorf("stage %d: Send returned after %v; the context allowed 300ms", stage, elapsed)
		}
		s.Close()
		srv.Close()
	}
}
