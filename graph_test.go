package o365smtp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

func graphMsg(t *testing.T, to ...string) *mail.Msg {
	t.Helper()
	m := mail.NewMsg()
	if err := m.To(to...); err != nil {
		t.Fatal(err)
	}
	m.Subject("over Graph")
	m.SetBodyString(mail.TypeTextPlain, "hello")
	return m
}

func graphSender(t *testing.T, srv *o365smtptest.Server, tr o365smtp.Transport, edit ...func(*o365smtp.Config)) *o365smtp.Sender {
	t.Helper()
	cfg := srv.Config()
	cfg.Transport = tr
	cfg.MaxAttempts = 1
	cfg.CoolOff = -1
	for _, f := range edit {
		f(&cfg)
	}
	s, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// noToken checks that no issued token appears in err's text, Message or Hint.
func noToken(t *testing.T, srv *o365smtptest.Server, err error) {
	t.Helper()
	var e *o365smtp.Error
	errors.As(err, &e)
	for _, tok := range srv.IssuedTokens() {
		if strings.Contains(err.Error(), tok) || e != nil && (strings.Contains(e.Message, tok) || strings.Contains(e.Hint, tok)) {
			t.Errorf("a token leaked into %v", err)
		}
	}
}

func TestGraphSend(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := graphSender(t, srv, o365smtp.TransportGraph)
	m := graphMsg(t, "someone@example.com")
	if err := m.Bcc("hidden@example.com"); err != nil {
		t.Fatal(err)
	}
	var accepted string
	ctx := o365smtp.WithTrace(context.Background(), &o365smtp.Trace{Accepted: func(r string) { accepted = r }})
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Transport != "graph" || len(msgs[0].To) != 2 || msgs[0].To[1] != "hidden@example.com" {
		t.Fatalf("messages: %+v", msgs)
	}
	if len(msgs[0].Header["Bcc"]) != 0 || msgs[0].Header.Get("Message-Id") == "" {
		t.Errorf("header: %v", msgs[0].Header)
	}
	if !strings.HasPrefix(accepted, "202 Accepted") {
		t.Errorf("Accepted: %q", accepted)
	}
	if err := s.Send(context.Background(), graphMsg(t, "b@example.com")); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Transport != "graph" || st.GraphRequests != 2 || st.TokenRequests != 1 || st.Dials != 0 || srv.Stats().Connections != 0 {
		t.Errorf("stats %+v, emulator %+v", st, srv.Stats())
	}
}

func TestGraphErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(*o365smtptest.Server)
		kind  o365smtp.Kind
		code  int
		hint  string
	}{
		{"no Mail.Send", func(s *o365smtptest.Server) { s.SetGraphMailSend(false) }, o365smtp.ErrAuthFailed, 403, "Mail.Send"},
		{"RAOP", func(s *o365smtptest.Server) { s.SetGraphExcluded(s.Mailbox, true) }, o365smtp.ErrSendAsDenied, 403, `New-ManagementRoleAssignment -App `},
		{"invalid recipients", func(s *o365smtptest.Server) {
			s.FailGraph(o365smtptest.GraphFault{Status: 400, Code: "ErrorInvalidRecipients", Message: "At least one recipient is not valid."})
		}, o365smtp.ErrRecipientRejected, 400, "recipients"},
		{"size", func(s *o365smtptest.Server) {
			s.FailGraph(o365smtptest.GraphFault{Status: 400, Code: "ErrorMessageSizeExceeded", Message: "The message exceeds the maximum supported size."})
		}, o365smtp.ErrMessageRejected, 400, "MaxSendSize"},
		{"413", func(s *o365smtptest.Server) {
			s.FailGraph(o365smtptest.GraphFault{Status: 413, Code: "RequestBodyTooLarge"})
		}, o365smtp.ErrMessageRejected, 413, "4 MB"},
		{"mailbox full", func(s *o365smtptest.Server) {
			s.FailGraph(o365smtptest.GraphFault{Status: 403, Code: "ErrorQuotaExceeded", Message: "The mailbox has exceeded its quota."})
		}, o365smtp.ErrMailboxFull, 403, "quota"},
		{"submission quota", func(s *o365smtptest.Server) {
			s.FailGraph(o365smtptest.GraphFault{Status: 403, Code: "ErrorSubmissionQuotaExceeded", Message: "quota"})
		}, o365smtp.ErrQuotaExceeded, 403, "10,000"},
		{"429", func(s *o365smtptest.Server) {
			s.FailGraph(o365smtptest.GraphFault{Status: 429, Code: "ApplicationThrottled", Message: "Application is over its MailboxConcurrency limit.", RetryAfter: 1})
		}, o365smtp.ErrThrottled, 429, "Retry-After"},
		{"503", func(s *o365smtptest.Server) {
			s.FailGraph(o365smtptest.GraphFault{Status: 503, Code: "ServiceNotAvailable"})
		}, o365smtp.ErrThrottled, 503, "Retry-After"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := o365smtptest.NewServer()
			defer srv.Close()
			tc.setup(srv)
			s := graphSender(t, srv, o365smtp.TransportGraph)
			err := s.Send(context.Background(), graphMsg(t, "someone@example.com"))
			var e *o365smtp.Error
			if !errors.As(err, &e) || e.Kind != tc.kind || e.Code != tc.code || e.Op != "graph" || !strings.Contains(e.Hint, tc.hint) {
				t.Fatalf("err %v (%+v), want %s %d with %q in the Hint", err, e, tc.kind, tc.code, tc.hint)
			}
			if !strings.Contains(e.Message, "request-id: ") {
				t.Errorf("Message %q has no request-id", e.Message)
			}
			noToken(t, srv, err)
			if len(srv.Messages()) != 0 {
				t.Error("delivered")
			}
		})
	}
	t.Run("no such mailbox", func(t *testing.T) {
		srv := o365smtptest.NewServer()
		defer srv.Close()
		s := graphSender(t, srv, o365smtp.TransportGraph, func(c *o365smtp.Config) { c.Mailbox = "nobody@contoso.com" })
		err := s.Send(context.Background(), graphMsg(t, "someone@example.com"))
		if !errors.Is(err, o365smtp.ErrAuthFailed) || !strings.Contains(err.Error(), "ErrorInvalidUser") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("rbac instead of consent", func(t *testing.T) {
		srv := o365smtptest.NewServer()
		defer srv.Close()
		srv.SetGraphMailSend(false)
		srv.SetGraphRBAC(srv.Mailbox, true)
		s := graphSender(t, srv, o365smtp.TransportGraph)
		if err := s.Send(context.Background(), graphMsg(t, "someone@example.com")); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Verify(context.Background())
		if err != nil || rep.Transport != "graph" || rep.Steps[3].Status != o365smtp.StatusWarn || rep.Steps[6].Status != o365smtp.StatusPass {
			t.Fatalf("verify %v %+v", err, rep)
		}
	})
}

func TestGraphRetryAfterThenSuccess(t *testing.T) {
	t.Parallel()
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.FailGraph(o365smtptest.GraphFault{Status: 429, Code: "ApplicationThrottled", Message: "Application is over its MailboxConcurrency limit.", RetryAfter: 1, Times: 1})
	s := graphSender(t, srv, o365smtp.TransportGraph, func(c *o365smtp.Config) { c.MaxAttempts = 2; c.RetryBackoff = time.Millisecond })
	start := time.Now()
	if err := s.Send(context.Background(), graphMsg(t, "someone@example.com")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %s, before Retry-After", d)
	}
	if st := s.Stats(); st.Retries != 1 || st.GraphRequests != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestGraphTokenRefreshedOnce(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := graphSender(t, srv, o365smtp.TransportGraph)
	if err := s.Send(context.Background(), graphMsg(t, "a@example.com")); err != nil {
		t.Fatal(err)
	}
	srv.FailGraph(o365smtptest.GraphFault{Status: 401, Code: "InvalidAuthenticationToken", Message: "Access token has expired or is not yet valid.", Times: 1})
	if err := s.Send(context.Background(), graphMsg(t, "b@example.com")); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.TokenRequests != 2 || st.Sent != 2 {
		t.Errorf("stats %+v", st)
	}
	// A fresh token refused is not refreshed again.
	srv.FailGraph(o365smtptest.GraphFault{Status: 401, Code: "InvalidAuthenticationToken", Message: "Invalid audience.", Times: 2})
	err := s.Send(context.Background(), graphMsg(t, "c@example.com"))
	if !errors.Is(err, o365smtp.ErrAuthFailed) || s.Stats().TokenRequests != 3 {
		t.Fatalf("err %v, stats %+v", err, s.Stats())
	}
}

func TestGraphTooLarge(t *testing.T) {
	t.Parallel()
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := graphSender(t, srv, o365smtp.TransportGraph)
	m := graphMsg(t, "a@example.com")
	m.SetBodyString(mail.TypeTextPlain, strings.Repeat("x", 4<<20))
	err := s.Send(context.Background(), m)
	var e *o365smtp.Error
	if !errors.As(err, &e) || e.Kind != o365smtp.ErrInvalidMessage || !strings.Contains(e.Hint, "zip them") || srv.GraphRequests() != 0 {
		t.Fatalf("err %v", err)
	}
}

// TestGraphUnknownOutcome: a server that reads the whole request and then
// drops the connection: the message may have been sent, and it is not resent.
func TestGraphUnknownOutcome(t *testing.T) {
	var hits int
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		io.Copy(io.Discard, r.Body)
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	}))
	defer ts.Close()
	s, err := o365smtp.New(o365smtp.Config{Mailbox: "sender@contoso.com", Transport: o365smtp.TransportGraph, GraphURL: ts.URL,
		HTTPClient: ts.Client(), MaxAttempts: 3, MessagesPerMinute: -1,
		TokenSource: o365smtp.TokenSourceFunc(func(context.Context) (o365smtp.Token, error) {
			return o365smtp.Token{AccessToken: "secret-token-value", ExpiresOn: time.Now().Add(time.Hour)}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Send(context.Background(), graphMsg(t, "a@example.com"))
	if !errors.Is(err, o365smtp.ErrUnknownOutcome) || hits != 1 || strings.Contains(err.Error(), "secret-token-value") {
		t.Fatalf("err %v after %d requests", err, hits)
	}
}

func TestAutoSwitchesOnceAndStays(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.SetSMTPAuthDisabledForTenant(true)
	s := graphSender(t, srv, o365smtp.TransportAuto)
	if st := s.Stats(); st.Transport != "smtp" {
		t.Fatalf("stats %+v", st)
	}
	for i := range 3 {
		if err := s.Send(context.Background(), graphMsg(t, "b@example.com")); err != nil {
			t.Fatal(i, err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 3 || msgs[0].Transport != "graph" || msgs[2].Transport != "graph" {
		t.Fatalf("%d messages", len(msgs))
	}
	if n := srv.Stats().AuthAttempts; n != 1 {
		t.Errorf("%d AUTH attempts, want 1: the switch happens once", n)
	}
	auths := srv.Stats().AuthAttempts
	if err := s.Send(context.Background(), graphMsg(t, "c@example.com")); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Transport != "graph" || srv.Stats().AuthAttempts != auths {
		t.Errorf("after the switch: stats %+v, AUTH attempts %d then %d", st, auths, srv.Stats().AuthAttempts)
	}
	rep, err := s.Verify(context.Background())
	if err != nil || rep.Transport != "graph" {
		t.Errorf("verify %v %+v", err, rep)
	}
}

func TestAutoBothRefused(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.SetSMTPAuthDisabledForTenant(true)
	srv.SetGraphMailSend(false)
	s := graphSender(t, srv, o365smtp.TransportAuto)
	err := s.Send(context.Background(), graphMsg(t, "a@example.com"))
	var e *o365smtp.Error
	if !errors.As(err, &e) || e.Kind != o365smtp.ErrSMTPAuthDisabled || !strings.Contains(e.Hint, "Enable SMTP AUTH") || !strings.Contains(e.Hint, "Mail.Send") {
		t.Fatalf("err %v, %+v", err, e)
	}
	noToken(t, srv, err)
	if st := s.Stats(); st.Transport != "smtp" {
		t.Errorf("stats %+v", st)
	}
}

// TestGraphConcurrencySlots: 12 concurrent Sends stay within Graph's 4
// concurrent requests per mailbox (the emulator answers a fifth with 429
// MailboxConcurrency), so none is throttled.
func TestGraphConcurrencySlots(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := graphSender(t, srv, o365smtp.TransportGraph)
	errs := make(chan error, 12)
	for range 12 {
		go func() { errs <- s.Send(context.Background(), graphMsg(t, "a@example.com")) }()
	}
	for range 12 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if st := s.Stats(); st.Sent != 12 || st.Retries != 0 || st.TokenRequests != 1 {
		t.Errorf("stats %+v", st)
	}
}
