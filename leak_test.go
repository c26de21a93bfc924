package o365smtp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestSecretsNeverLeak runs the main paths with a Debug logger and checks
// every error string, Hint, log line and formatted value, and the JSON of
// every Config, Error, Report, Stats and Sender, for the client secret and
// for every token the emulator issued. (The JSON of a Token is the token, on
// purpose: TestTokenJSONRoundTrip.)
func TestSecretsNeverLeak(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	var out []string
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	format := func(v any) {
		for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
			out = append(out, fmt.Sprintf(f, v))
		}
		logger.Debug("value", "v", v)
	}
	record := func(vs ...any) {
		for _, v := range vs {
			format(v)
			if b, err := json.Marshal(v); err == nil {
				out = append(out, string(b))
			}
		}
	}
	seen := map[o365smtp.Kind]bool{}
	run := func(name string, setup func(*o365smtptest.Server, *o365smtp.Config), msg func(*mail.Msg)) {
		cfg := srv.Config()
		cfg.Logger = logger
		cfg.MaxAttempts = 1
		if setup != nil {
			setup(srv, &cfg)
		}
		s, err := o365smtp.New(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := newMsg(t)
		if msg != nil {
			msg(m)
		}
		err = s.Send(ctxT(t), m)
		rep, verr := s.Verify(ctxT(t), "sender@contoso.com")
		record(cfg, s, err, verr, rep, s.Stats())
		if e, ok := err.(*o365smtp.Error); ok {
			out = append(out, e.Hint, e.Message)
			seen[e.Kind] = true
		}
		s.Close()
		// Restore the tenant for the next case.
		srv.ClearFaults()
		srv.SetServicePrincipalRegistered(true)
		srv.SetSMTPAuthDisabledForTenant(false)
		srv.SetClientSecretExpired(false)
	}
	run("success", nil, nil)
	run("auth failed", func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetServicePrincipalRegistered(false) }, nil)
	run("smtp auth disabled", func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetSMTPAuthDisabledForTenant(true) }, nil)
	run("send as denied", nil, func(m *mail.Msg) { m.From("other@contoso.com") })
	run("recipient rejected", nil, func(m *mail.Msg) { m.To("reject@contoso.com") })
	run("throttled", func(s *o365smtptest.Server, _ *o365smtp.Config) {
		s.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: "432 4.3.2 Concurrent connections limit exceeded."})
	}, nil)
	run("unknown outcome", func(s *o365smtptest.Server, _ *o365smtp.Config) {
		s.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Drop: true, Times: 1})
	}, nil)
	run("connection", func(s *o365smtptest.Server, _ *o365smtp.Config) {
		s.Fail(o365smtptest.StageMail, o365smtptest.Fault{Drop: true})
	}, nil)
	run("wrong secret", func(_ *o365smtptest.Server, c *o365smtp.Config) { c.ClientSecret = srv.ClientSecret + "x" }, nil)
	run("expired secret", func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetClientSecretExpired(true) }, nil)
	run("token source", func(_ *o365smtptest.Server, c *o365smtp.Config) {
		ts, _ := o365smtp.NewTokenSource(srv.Config())
		tok, _ := ts.Token(context.Background())
		// A Token's JSON is deliberately the token (a shared token cache
		// stores it); only its formatted and logged forms redact it.
		format(tok)
		record(ts)
		c.ClientSecret, c.TokenSource = "", ts
	}, nil)
	for _, r := range []struct{ name, reply string }{
		{"quota", "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception"},
		{"sender suspended", "550 5.2.252 Sender throttled due to continuous send as denied errors."},
		{"mailbox full", "554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded"},
		{"sender blocked", "550 5.1.8 Access denied, bad outbound sender"},
		{"message rejected", "552 5.3.4 Message size exceeds fixed maximum message size"},
		{"unexpected reply", "550 5.9.9 Something nobody has seen"},
	} {
		run(r.name, func(s *o365smtptest.Server, _ *o365smtp.Config) {
			s.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: r.reply, Times: 1})
		}, nil)
	}
	run("tenant not found", func(_ *o365smtptest.Server, c *o365smtp.Config) { c.TenantID = "fabrikam.onmicrosoft.com" }, nil)
	run("app not found", func(_ *o365smtptest.Server, c *o365smtp.Config) { c.ClientID = "99999999-9999-9999-9999-999999999999" }, nil)
	run("tls", func(_ *o365smtptest.Server, c *o365smtp.Config) { c.TLSConfig.ServerName = "wrong.example" }, nil)
	run("token endpoint 5xx", func(s *o365smtptest.Server, _ *o365smtp.Config) {
		s.FailToken(o365smtptest.TokenFault{Status: 503, Times: 1})
	}, nil)
	var cfgErrs []any
	for _, bad := range []o365smtp.Config{
		{TenantID: srv.TenantID, ClientID: srv.ClientID, Mailbox: "x", ClientSecret: srv.ClientSecret},
		{TenantID: srv.TenantID, ClientID: srv.ClientID, Mailbox: srv.Mailbox, ClientSecret: " " + srv.ClientSecret},
	} {
		_, err := o365smtp.New(bad)
		cfgErrs = append(cfgErrs, err, bad)
	}
	record(cfgErrs...)

	for _, k := range []o365smtp.Kind{o365smtp.ErrAuthFailed, o365smtp.ErrSMTPAuthDisabled, o365smtp.ErrSendAsDenied,
		o365smtp.ErrRecipientRejected, o365smtp.ErrThrottled, o365smtp.ErrUnknownOutcome, o365smtp.ErrConnection,
		o365smtp.ErrInvalidClientSecret, o365smtp.ErrClientSecretExpired, o365smtp.ErrQuotaExceeded, o365smtp.ErrSenderSuspended,
		o365smtp.ErrMailboxFull, o365smtp.ErrSenderBlocked, o365smtp.ErrMessageRejected, o365smtp.ErrUnexpectedReply,
		o365smtp.ErrTenantNotFound, o365smtp.ErrAppNotFound, o365smtp.ErrTLS, o365smtp.ErrTokenRequest} {
		if !seen[k] {
			t.Errorf("no case produced %s: the leak check does not cover its Debug log", k)
		}
	}
	secrets := []string{srv.ClientSecret}
	tokens := srv.IssuedTokens()
	if len(tokens) == 0 {
		t.Fatal("the emulator issued no tokens")
	}
	for _, tok := range tokens {
		secrets = append(secrets, tok, base64.StdEncoding.EncodeToString([]byte("user="+srv.Mailbox+"\x01auth=Bearer "+tok+"\x01\x01")))
	}
	all := strings.Join(out, "\n") + "\n" + logs.String()
	if !strings.Contains(logs.String(), "MAIL FROM") {
		t.Errorf("the Debug log has no SMTP transcript; the test would prove nothing")
	}
	for i, s := range secrets {
		if idx := strings.Index(all, s); idx >= 0 {
			t.Errorf("secret %d leaked: ...%s...", i, all[max(0, idx-80):idx])
		}
	}
}
