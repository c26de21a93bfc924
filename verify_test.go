package o365smtp_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

func stepStatuses(r *o365smtp.Report) string {
	var b strings.Builder
	for i, st := range r.Steps {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(st.Name + "=" + string(st.Status))
	}
	return b.String()
}

func TestVerify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		opts   []o365smtptest.Option
		setup  func(*o365smtptest.Server, *o365smtp.Config)
		from   []string
		want   string // step statuses
		kind   o365smtp.Kind
		hint   func(*o365smtptest.Server) []string
		detail string
	}{
		{name: "good setup", from: []string{"sender@contoso.com"},
			want: "config=pass credential=pass token=pass token_claims=pass connect=pass tls=pass auth=pass send_as=pass"},
		{name: "another address: cannot be confirmed without sending", from: []string{"shared@contoso.com"},
			want: "config=pass credential=pass token=pass token_claims=pass connect=pass tls=pass auth=pass send_as=warn"},
		{name: "good setup without from",
			want: "config=pass credential=pass token=pass token_claims=pass connect=pass tls=pass auth=pass send_as=skip"},
		{name: "wrong secret", setup: func(_ *o365smtptest.Server, c *o365smtp.Config) { c.ClientSecret = "wrong~secret~value" },
			want: "config=pass credential=pass token=fail token_claims=skip connect=skip tls=skip auth=skip send_as=skip",
			kind: o365smtp.ErrInvalidClientSecret, detail: "AADSTS7000215"},
		{name: "expired secret", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetClientSecretExpired(true) },
			want: "config=pass credential=pass token=fail token_claims=skip connect=skip tls=skip auth=skip send_as=skip",
			kind: o365smtp.ErrClientSecretExpired},
		{name: "unknown tenant", setup: func(_ *o365smtptest.Server, c *o365smtp.Config) { c.TenantID = "fabrikam.onmicrosoft.com" },
			want: "config=pass credential=pass token=fail token_claims=skip connect=skip tls=skip auth=skip send_as=skip",
			kind: o365smtp.ErrTenantNotFound},
		{name: "unknown app", setup: func(_ *o365smtptest.Server, c *o365smtp.Config) { c.ClientID = "99999999-9999-9999-9999-999999999999" },
			want: "config=pass credential=pass token=fail token_claims=skip connect=skip tls=skip auth=skip send_as=skip",
			kind: o365smtp.ErrAppNotFound},
		{name: "service principal not registered", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetServicePrincipalRegistered(false) },
			want: "config=pass credential=pass token=pass token_claims=pass connect=pass tls=pass auth=fail send_as=skip",
			kind: o365smtp.ErrAuthFailed,
			hint: func(s *o365smtptest.Server) []string {
				return []string{"New-ServicePrincipal -AppId " + s.ClientID + " -ObjectId " + s.ServicePrincipalID,
					"Add-MailboxPermission -Identity " + s.Mailbox + " -User " + s.ServicePrincipalID + " -AccessRights FullAccess",
					"App registration", "15-30 minutes"}
			}},
		{name: "wrong object id registered", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.RegisterServicePrincipal(s.AppObjectID) },
			want: "config=pass credential=pass token=pass token_claims=pass connect=pass tls=pass auth=fail send_as=skip",
			kind: o365smtp.ErrAuthFailed},
		{name: "no mailbox permission", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetMailboxPermission(s.Mailbox, false) },
			want: "config=pass credential=pass token=pass token_claims=pass connect=pass tls=pass auth=fail send_as=skip",
			kind: o365smtp.ErrAuthFailed},
		{name: "smtp auth disabled for the tenant", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetSMTPAuthDisabledForTenant(true) },
			want: "config=pass credential=pass token=pass token_claims=pass connect=pass tls=pass auth=fail send_as=skip",
			kind: o365smtp.ErrSMTPAuthDisabled, hint: func(s *o365smtptest.Server) []string { return []string{"Set-CASMailbox -Identity " + s.Mailbox} }},
		{name: "smtp auth disabled for the mailbox", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetSMTPAuthDisabledForMailbox(s.Mailbox, true) },
			want: "config=pass credential=pass token=pass token_claims=pass connect=pass tls=pass auth=fail send_as=skip",
			kind: o365smtp.ErrSMTPAuthDisabled},
		// Only older front ends refuse Send As at MAIL FROM, which verify probes.
		{name: "send as denied", from: []string{"sender@contoso.com", "boss@contoso.com"}, opts: []o365smtptest.Option{emulator.WithSendAsRefusedAtMail()},
			want: "config=pass credential=pass token=pass token_claims=pass connect=pass tls=pass auth=pass send_as=fail",
			kind: o365smtp.ErrSendAsDenied, hint: func(s *o365smtptest.Server) []string {
				return []string{"Add-RecipientPermission -Identity boss@contoso.com -Trustee " + s.ServicePrincipalID}
			}, detail: "boss@contoso.com"},
		{name: "no SMTP.SendAsApp role", setup: func(s *o365smtptest.Server, _ *o365smtp.Config) { s.SetRoles(nil) },
			want: "config=pass credential=pass token=pass token_claims=warn connect=pass tls=pass auth=fail send_as=skip",
			kind: o365smtp.ErrAuthFailed},
		{name: "no STARTTLS", opts: []o365smtptest.Option{emulator.WithoutSTARTTLS()},
			want: "config=pass credential=pass token=pass token_claims=pass connect=pass tls=fail auth=skip send_as=skip",
			kind: o365smtp.ErrTLS},
		{name: "implicit TLS", opts: []o365smtptest.Option{o365smtptest.WithImplicitTLS()}, from: []string{"sender@contoso.com"},
			want: "config=pass credential=pass token=pass token_claims=pass connect=pass tls=pass auth=pass send_as=pass"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := o365smtptest.NewServer(tc.opts...)
			defer srv.Close()
			cfg := srv.Config()
			if tc.setup != nil {
				tc.setup(srv, &cfg)
			}
			s := newSender(t, cfg)
			rep, err := s.Verify(ctxT(t), tc.from...)
			if rep == nil {
				t.Fatal("Report is nil")
			}
			if got := stepStatuses(rep); got != tc.want {
				t.Errorf("steps:\n got %s\nwant %s", got, tc.want)
			}
			if (err == nil) != rep.OK || (tc.kind == "") != rep.OK {
				t.Fatalf("OK=%v err=%v; want failure kind %q", rep.OK, err, tc.kind)
			}
			if rep.Host != "127.0.0.1" || rep.Port == 0 || rep.Credential != "client_secret" || !strings.HasPrefix(rep.Scope, "https://outlook.office365.com") {
				t.Errorf("report endpoints = %+v", rep)
			}
			if tc.kind == "" {
				if rep.ObjectID != srv.ServicePrincipalID || rep.TokenExpiresOn.IsZero() {
					t.Errorf("ObjectID = %q (want %q), TokenExpiresOn = %v", rep.ObjectID, srv.ServicePrincipalID, rep.TokenExpiresOn)
				}
				return
			}
			e := asError(t, err)
			if e.Kind != tc.kind || !errors.Is(err, tc.kind) {
				t.Errorf("error kind %s (%v); want %s", e.Kind, err, tc.kind)
			}
			var failed *o365smtp.Step
			for i := range rep.Steps {
				if rep.Steps[i].Status == o365smtp.StatusFail {
					failed = &rep.Steps[i]
				}
			}
			if failed == nil || failed.Kind != tc.kind || failed.Hint != e.Hint {
				t.Fatalf("failed step = %+v; want kind %s and the error's Hint", failed, tc.kind)
			}
			if tc.detail != "" && !strings.Contains(failed.Detail, tc.detail) {
				t.Errorf("detail %q lacks %q", failed.Detail, tc.detail)
			}
			if tc.hint != nil {
				for _, h := range tc.hint(srv) {
					if !strings.Contains(failed.Hint, h) {
						t.Errorf("hint lacks %q:\n%s", h, failed.Hint)
					}
				}
			}
			b, _ := json.Marshal(rep)
			if !strings.Contains(string(b), `"status":"fail"`) || !strings.Contains(string(b), `"kind":"`+string(tc.kind)+`"`) {
				t.Errorf("JSON = %s", b)
			}
		})
	}
}

// Verify ignores the fail-fast cool-off and clears it once the setup works.
func TestVerifyClearsCoolOff(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := newSender(t, srv.Config())
	srv.SetServicePrincipalRegistered(false)
	if e := asError(t, s.Send(ctxT(t), newMsg(t))); e.Kind != o365smtp.ErrAuthFailed {
		t.Fatalf("first send: %v", e)
	}
	conns := srv.Stats().Connections
	tokens := srv.Stats().TokenRequests
	e := asError(t, s.Send(ctxT(t), newMsg(t)))
	if e.Kind != o365smtp.ErrAuthFailed || !strings.Contains(e.Hint, "Failed fast") {
		t.Errorf("second send during cool-off: %v\n%s", e, e.Hint)
	}
	if srv.Stats().Connections != conns || srv.Stats().TokenRequests != tokens {
		t.Errorf("the fail-fast send made a connection or a token request")
	}
	srv.SetServicePrincipalRegistered(true) // the admin fixes the setup
	if _, err := s.Verify(ctxT(t)); err != nil {
		t.Fatalf("Verify after the fix: %v", err)
	}
	if err := s.Send(ctxT(t), newMsg(t)); err != nil {
		t.Errorf("send after Verify: %v", err)
	}
}

// TestVerifySendAsCannotBeConfirmed: Exchange accepts MAIL FROM of any
// address and refuses Send As only after the data, so Verify warns, says
// why, and gives the command that grants it; a Send then fails at the end
// of DATA when the permission is missing.
func TestVerifySendAsCannotBeConfirmed(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := newSender(t, srv.Config())
	srv.SetSendAs(srv.SharedMailbox, false)
	rep, err := s.Verify(ctxT(t), srv.SharedMailbox)
	if err != nil || !rep.OK {
		t.Fatalf("Verify = %v, %v; want OK with a warning", rep, err)
	}
	st := rep.Steps[len(rep.Steps)-1]
	grant := "Add-RecipientPermission -Identity " + srv.SharedMailbox + " -Trustee " + srv.Mailbox + " -AccessRights SendAs"
	if st.Name != "send_as" || st.Status != o365smtp.StatusWarn || !strings.Contains(st.Detail, "cannot be confirmed without sending") || !strings.Contains(st.Hint, grant) {
		t.Errorf("send_as step = %+v; want a warning that says why, with %q", st, grant)
	}
	msg := newMsg(t)
	msg.From(srv.SharedMailbox)
	e := asError(t, s.Send(ctxT(t), msg))
	if e.Kind != o365smtp.ErrSendAsDenied || e.Op != "data" || !strings.Contains(e.Hint, grant) {
		t.Errorf("Send as %s = %v (op %s)\n%s; want send_as_denied at data with %q", srv.SharedMailbox, e, e.Op, e.Hint, grant)
	}
}
