package o365smtp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// The managed identity tests set IDENTITY_ENDPOINT and IDENTITY_HEADER
// (MSAL reads the process environment), so none of them is parallel.

func identityMsg(t *testing.T, subject string) *mail.Msg {
	t.Helper()
	m := mail.NewMsg()
	if err := m.From("sender@contoso.com"); err != nil {
		t.Fatal(err)
	}
	if err := m.To("alice@example.net"); err != nil {
		t.Fatal(err)
	}
	m.Subject(subject)
	m.SetBodyString(mail.TypeTextPlain, "sent as a managed identity")
	return m
}

func identityError(t *testing.T, err error) *o365smtp.Error {
	t.Helper()
	var e *o365smtp.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	return e
}

// TestManagedIdentityEndToEnd: a token from the identity endpoint, SMTP
// AUTH as the identity's service principal, the message delivered; one
// token request for two messages and a Verify.
func TestManagedIdentityEndToEnd(t *testing.T) {
	srv := o365smtptest.NewServer(o365smtptest.WithManagedIdentity())
	defer srv.Close()
	user := srv.AddUserAssignedIdentity()
	for _, tc := range []struct {
		name, identity, detail, oid string
	}{
		{"system", "system", "system-assigned managed identity", srv.SystemAssignedIdentity().ObjectID},
		{"user", user.ClientID, "user-assigned managed identity " + user.ClientID, user.ObjectID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srv.ManagedIdentityConfig(t, tc.identity)
			if cfg.TenantID != "" || cfg.ClientID != "" {
				t.Fatalf("ManagedIdentityConfig kept the app's IDs: %q %q", cfg.TenantID, cfg.ClientID)
			}
			s, err := o365smtp.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			before, msgs := srv.Stats().TokenRequests, len(srv.Messages())
			ctx := context.Background()
			for i := range 2 {
				if err := s.Send(ctx, identityMsg(t, tc.name)); err != nil {
					t.Fatalf("Send %d: %v", i, err)
				}
			}
			rep, err := s.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify: %v (%s)", err, stepStatuses(rep))
			}
			if got := srv.Stats().TokenRequests - before; got != 1 {
				t.Errorf("%d token requests, want 1 (cached)", got)
			}
			if got := len(srv.Messages()) - msgs; got != 2 {
				t.Errorf("%d messages delivered, want 2", got)
			}
			if rep.Credential != "managed_identity" {
				t.Errorf("Credential %q", rep.Credential)
			}
			if rep.ObjectID != tc.oid {
				t.Errorf("ObjectID %q, want the identity's service principal %q", rep.ObjectID, tc.oid)
			}
			for _, st := range rep.Steps {
				if st.Name == "credential" && st.Detail != tc.detail {
					t.Errorf("credential detail %q, want %q", st.Detail, tc.detail)
				}
			}
		})
	}
}

// refuseDial is an HTTP client that reaches nothing, as off Azure, where
// the instance metadata service (169.254.169.254) does not answer.
func refuseDial() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("connect: no route to host")
	}}}
}

// TestManagedIdentityErrors: each failure is an *Error with the catalogue's
// Hint, and IDENTITY_HEADER never appears in one.
func TestManagedIdentityErrors(t *testing.T) {
	srv := o365smtptest.NewServer(o365smtptest.WithManagedIdentity())
	defer srv.Close()
	sys := srv.SystemAssignedIdentity()
	for _, tc := range []struct {
		name     string
		identity string
		setup    func(t *testing.T, cfg *o365smtp.Config) func()
		kind     o365smtp.Kind
		retry    bool
		hint     string
	}{
		{name: "unknown client ID", identity: "6d2c5a8e-0000-4000-8000-00000000abcd",
			kind: o365smtp.ErrAppNotFound, hint: "is not assigned to this Azure resource"},
		{name: "system-assigned off", identity: "system",
			setup: func(*testing.T, *o365smtp.Config) func() {
				srv.SetIdentityAssigned(sys.ClientID, false)
				return func() { srv.SetIdentityAssigned(sys.ClientID, true) }
			},
			kind: o365smtp.ErrAppNotFound, hint: "System assigned > On"},
		{name: "not in Azure", identity: "system",
			setup: func(t *testing.T, cfg *o365smtp.Config) func() {
				t.Setenv("IDENTITY_ENDPOINT", "")
				t.Setenv("IDENTITY_HEADER", "")
				cfg.HTTPClient = refuseDial()
				return nil
			},
			kind: o365smtp.ErrTokenRequest, hint: "ManagedIdentity works only on Azure"},
		{name: "wrong identity header", identity: "system",
			setup: func(t *testing.T, _ *o365smtp.Config) func() {
				t.Setenv("IDENTITY_HEADER", "copied-from-another-app")
				return nil
			},
			kind: o365smtp.ErrTokenRequest, hint: "refused IDENTITY_HEADER"},
		{name: "endpoint unavailable", identity: "system",
			setup: func(*testing.T, *o365smtp.Config) func() {
				srv.FailToken(o365smtptest.TokenFault{Status: http.StatusServiceUnavailable, Times: 1})
				return nil
			},
			kind: o365smtp.ErrTokenRequest, retry: true, hint: "busy or restarting"},
		{name: "not registered in Exchange", identity: "system",
			setup: func(*testing.T, *o365smtp.Config) func() {
				srv.SetIdentityRegistered(sys.ClientID, false)
				return func() { srv.SetIdentityRegistered(sys.ClientID, true) }
			},
			kind: o365smtp.ErrAuthFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srv.ManagedIdentityConfig(t, tc.identity)
			cfg.MaxAttempts = 1
			cfg.CoolOff = -1
			header := os.Getenv("IDENTITY_HEADER")
			if tc.setup != nil {
				if undo := tc.setup(t, &cfg); undo != nil {
					defer undo()
				}
			}
			s, err := o365smtp.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			e := identityError(t, s.Send(context.Background(), identityMsg(t, tc.name)))
			if e.Kind != tc.kind || e.Retryable() != tc.retry || !strings.Contains(e.Hint, tc.hint) {
				t.Fatalf("got %s (retryable %v) %q\nhint %q\nwant %s (retryable %v), hint with %q", e.Kind, e.Retryable(), e.Message, e.Hint, tc.kind, tc.retry, tc.hint)
			}
			if e.Kind != o365smtp.ErrAuthFailed && e.Op != "token" {
				t.Errorf("Op %q, want token", e.Op)
			}
			for _, x := range []string{e.Error(), e.Message, e.Hint} {
				if strings.Contains(x, header) {
					t.Errorf("IDENTITY_HEADER in %q", x)
				}
			}
		})
	}
}

// TestManagedIdentityConfig: no TenantID or ClientID is needed; a
// ManagedIdentity that is neither "system" nor a GUID is ErrConfig.
func TestManagedIdentityConfig(t *testing.T) {
	base := o365smtp.Config{Mailbox: "sender@contoso.com", ManagedIdentity: "system"}
	if _, err := o365smtp.NewTokenSource(base); err != nil {
		t.Fatalf("system, no IDs: %v", err)
	}
	for _, bad := range []string{"System Assigned", "/subscriptions/x/resourceGroups/y", "not-a-guid"} {
		cfg := base
		cfg.ManagedIdentity = bad
		_, err := o365smtp.New(cfg)
		if e := identityError(t, err); e.Kind != o365smtp.ErrConfig || !strings.Contains(e.Hint, "Client ID") {
			t.Errorf("%q: %v, hint %q", bad, err, e.Hint)
		}
	}
	cfg := base
	cfg.ClientSecret = "s3cret-value"
	if _, err := o365smtp.New(cfg); err == nil || !strings.Contains(err.Error(), "more than one credential") {
		t.Errorf("secret and managed identity: %v", err)
	}
}
