package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// firstFailure returns the first failed step of r, or nil.
func firstFailure(r *o365smtp.Report) *o365smtp.Step {
	for i := range r.Steps {
		if r.Steps[i].Status == o365smtp.StatusFail {
			return &r.Steps[i]
		}
	}
	return nil
}

// parseReport parses verify --json output, which must be exactly one line.
func parseReport(t *testing.T, out string) (*o365smtp.Report, map[string]any) {
	t.Helper()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("verify --json printed %q, want exactly one line", out)
	}
	var r o365smtp.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("verify --json output is not a Report: %v\n%s", err, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	return &r, m
}

func TestVerifyOK(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)

	res := runBinary(t, env, "verify")
	if res.code != 0 {
		t.Fatalf("verify: %v", res)
	}
	if !strings.HasSuffix(res.stdout, "verify: ok\n") {
		t.Errorf("verify's last line is not \"verify: ok\":\n%s", res.stdout)
	}
	golden(t, "verify_ok.golden", normalize(res.stdout, srv))
}

func TestVerifyJSON(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)

	res := runBinary(t, env, "verify", "--json", "--from", srv.SharedMailbox, "--from", srv.Mailbox)
	if res.code != 0 {
		t.Fatalf("verify --json: %v", res)
	}
	r, m := parseReport(t, res.stdout)
	cfg := srv.Config()

	if !r.OK || m["ok"] != true {
		t.Errorf("ok = %v, want true", m["ok"])
	}
	if r.Host != cfg.Host || m["host"] != cfg.Host {
		t.Errorf("host = %v, want %q", m["host"], cfg.Host)
	}
	if r.Port != cfg.Port || m["port"] != float64(cfg.Port) {
		t.Errorf("port = %v, want %d", m["port"], cfg.Port)
	}
	if !strings.HasPrefix(r.Authority, cfg.AuthorityHost) || !strings.Contains(r.Authority, srv.TenantID) {
		t.Errorf("authority = %q, want %s/%s", r.Authority, cfg.AuthorityHost, srv.TenantID)
	}
	if r.Scope != srv.Scope {
		t.Errorf("scope = %q, want %q", r.Scope, srv.Scope)
	}
	if r.Credential != "client_secret" {
		t.Errorf("credential = %q, want client_secret", r.Credential)
	}
	if r.ObjectID != srv.ServicePrincipalID || m["object_id"] != srv.ServicePrincipalID {
		t.Errorf("object_id = %v, want the service principal's %q (not the app registration's %q)", m["object_id"], srv.ServicePrincipalID, srv.AppObjectID)
	}
	if r.TokenExpiresOn.IsZero() {
		t.Errorf("token_expires_on = %v, want a time", m["token_expires_on"])
	}
	steps, ok := m["steps"].([]any)
	if !ok || len(steps) == 0 || len(steps) != len(r.Steps) {
		t.Fatalf("steps = %v", m["steps"])
	}
	names := map[string]bool{}
	for i, s := range steps {
		sm := s.(map[string]any)
		name, _ := sm["name"].(string)
		names[name] = true
		want := "pass"
		if name == "send_as" {
			// SharedMailbox is another address: Exchange checks Send As
			// only after the message data, so Verify can only warn.
			want = "warn"
			if d, _ := sm["detail"].(string); !strings.Contains(d, "cannot be confirmed without sending") {
				t.Errorf("send_as detail = %q, want it to say Send As cannot be confirmed without sending", d)
			}
		}
		if st := sm["status"]; st != want {
			t.Errorf("step %d %s: status = %v, want %s", i, name, st, want)
		}
		if _, ok := sm["elapsed_ms"].(float64); !ok {
			t.Errorf("step %d %s: elapsed_ms = %v, want a number", i, name, sm["elapsed_ms"])
		}
		if k, ok := sm["kind"]; ok {
			t.Errorf("step %d %s: kind = %v on a step that did not fail", i, name, k)
		}
	}
	for _, want := range []string{"config", "credential", "token", "token_claims", "connect", "tls", "auth", "send_as"} {
		if !names[want] {
			t.Errorf("no step %q in %v", want, r.Steps)
		}
	}
	for _, secret := range []string{srv.ClientSecret} {
		if strings.Contains(res.stdout+res.stderr, secret) {
			t.Errorf("the client secret appears in the output")
		}
	}
}

// TestVerifyFailures breaks the emulated setup in each of the ways the real
// service fails and checks that verify fails at the right step with the
// right kind, in JSON and for people.
func TestVerifyFailures(t *testing.T) {
	const otherFrom = "sales"
	cases := []struct {
		name  string
		opts  []o365smtptest.Option
		setup func(srv *o365smtptest.Server, env map[string]string)
		from  bool // verify --from otherFrom@tenant domain
		step  string
		kind  o365smtp.Kind
	}{
		{name: "wrong secret", step: "token", kind: o365smtp.ErrInvalidClientSecret,
			setup: func(_ *o365smtptest.Server, env map[string]string) {
				env["O365SMTP_CLIENT_SECRET"] = "not~the~secret~value~at~all~1234"
			}},
		{name: "expired secret", step: "token", kind: o365smtp.ErrClientSecretExpired,
			setup: func(srv *o365smtptest.Server, _ map[string]string) { srv.SetClientSecretExpired(true) }},
		{name: "unknown tenant", step: "token", kind: o365smtp.ErrTenantNotFound,
			setup: func(_ *o365smtptest.Server, env map[string]string) {
				env["O365SMTP_TENANT_ID"] = "0b1e5a51-0000-4000-8000-00000000dead"
			}},
		{name: "unknown app", step: "token", kind: o365smtp.ErrAppNotFound,
			setup: func(_ *o365smtptest.Server, env map[string]string) {
				env["O365SMTP_CLIENT_ID"] = "0a99a999-1111-4111-8111-00000000beef"
			}},
		{name: "service principal not registered", step: "auth", kind: o365smtp.ErrAuthFailed,
			setup: func(srv *o365smtptest.Server, _ map[string]string) { srv.SetServicePrincipalRegistered(false) }},
		{name: "no mailbox permission", step: "auth", kind: o365smtp.ErrAuthFailed,
			setup: func(srv *o365smtptest.Server, _ map[string]string) { srv.SetMailboxPermission(srv.Mailbox, false) }},
		{name: "SMTP AUTH disabled for the tenant", step: "auth", kind: o365smtp.ErrSMTPAuthDisabled,
			setup: func(srv *o365smtptest.Server, _ map[string]string) { srv.SetSMTPAuthDisabledForTenant(true) }},
		{name: "SMTP AUTH disabled for the mailbox", step: "auth", kind: o365smtp.ErrSMTPAuthDisabled,
			setup: func(srv *o365smtptest.Server, _ map[string]string) {
				srv.SetSMTPAuthDisabledForMailbox(srv.Mailbox, true)
			}},
		// Only older front ends refuse Send As at MAIL FROM, which verify probes.
		{name: "send as denied", step: "send_as", kind: o365smtp.ErrSendAsDenied, from: true,
			opts: []o365smtptest.Option{emulator.WithSendAsRefusedAtMail()},
			setup: func(srv *o365smtptest.Server, _ map[string]string) {
				srv.SetSendAs(otherFrom+"@"+srv.TenantDomain, false)
			}},
		{name: "no STARTTLS", step: "tls", kind: o365smtp.ErrTLS,
			opts: []o365smtptest.Option{emulator.WithoutSTARTTLS()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newEmulator(t, tc.opts...)
			env := clientEnv(t, srv)
			if tc.setup != nil {
				tc.setup(srv, env)
			}
			args := []string{"verify"}
			if tc.from {
				args = append(args, "--from", otherFrom+"@"+srv.TenantDomain)
			}

			res := runBinary(t, env, append(args, "--json")...)
			if res.code != 1 {
				t.Fatalf("verify --json: exit %d, want 1\n%v", res.code, res)
			}
			r, m := parseReport(t, res.stdout)
			if r.OK || m["ok"] != false {
				t.Errorf("ok = %v, want false", m["ok"])
			}
			f := firstFailure(r)
			if f == nil {
				t.Fatalf("no failed step in %+v", r.Steps)
			}
			if f.Name != tc.step || f.Kind != tc.kind {
				t.Errorf("failed at %s (%s), want %s (%s); step: %+v", f.Name, f.Kind, tc.step, tc.kind, *f)
			}
			if f.Hint == "" {
				t.Errorf("step %s has no hint", f.Name)
			}
			if tc.name == "service principal not registered" && !strings.Contains(f.Hint, srv.ServicePrincipalID) {
				t.Errorf("hint does not name the token's oid %s:\n%s", srv.ServicePrincipalID, f.Hint)
			}
			if strings.Contains(res.stdout+res.stderr, env["O365SMTP_CLIENT_SECRET"]) {
				t.Errorf("the client secret appears in the output")
			}

			res = runBinary(t, env, args...)
			if res.code != 1 {
				t.Fatalf("verify: exit %d, want 1\n%v", res.code, res)
			}
			want := "verify: failed at " + tc.step + " (" + string(tc.kind) + ")\n"
			if !strings.HasSuffix(res.stdout, want) {
				t.Errorf("verify's last line is not %q:\n%s", want, res.stdout)
			}
			if !strings.Contains(res.stdout, "[FAIL] "+tc.step) {
				t.Errorf("no [FAIL] %s line:\n%s", tc.step, res.stdout)
			}
			switch tc.name {
			case "service principal not registered":
				golden(t, "verify_sp_not_registered.golden", normalize(res.stdout, srv))
			case "send as denied":
				golden(t, "verify_send_as_denied.golden", normalize(res.stdout, srv))
			}
		})
	}
}

// TestVerifyConfigError: values New refuses are a failed config step (exit
// 1), printed with the hint; missing values are a usage error (exit 2).
func TestVerifyConfigError(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)
	// Well-formed, so the reading of the environment takes it, but not RSA,
	// which New requires.
	delete(env, "O365SMTP_CLIENT_SECRET")
	env["O365SMTP_CERT_FILE"] = writeECDSACert(t)

	res := runBinary(t, env, "verify")
	if res.code != 1 {
		t.Fatalf("verify: exit %d, want 1\n%v", res.code, res)
	}
	golden(t, "verify_config_error.golden", normalize(res.stdout, srv))

	res = runBinary(t, env, "verify", "--json")
	if res.code != 1 {
		t.Fatalf("verify --json: exit %d, want 1\n%v", res.code, res)
	}
	r, _ := parseReport(t, res.stdout)
	if f := firstFailure(r); f == nil || f.Name != "config" || f.Kind != o365smtp.ErrConfig || f.Hint == "" {
		t.Errorf("report = %+v, want a failed config step with a hint", r)
	}

	delete(env, "O365SMTP_TENANT_ID")
	delete(env, "O365SMTP_CERT_FILE")
	res = runBinary(t, env, "verify")
	if res.code != 2 {
		t.Fatalf("verify without tenant and credential: exit %d, want 2\n%v", res.code, res)
	}
	for _, want := range []string{"O365SMTP_TENANT_ID", "O365SMTP_CLIENT_SECRET"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("the usage error does not mention %s:\n%s", want, res.stderr)
		}
	}
}

// TestVerifyTransport: --transport and O365SMTP_TRANSPORT flow into the
// Config; New refuses graph and auto in this version, which verify reports
// as a failed config step with the library's hint (exit 1).
func TestVerifyTransport(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)
	if res := runInProcess(t, env, "verify", "--transport", "smtp"); res.code != 0 {
		t.Errorf("verify --transport smtp: %v", res)
	}
	for _, tc := range refusedTransports {
		env["O365SMTP_TRANSPORT"] = tc.env
		res := runInProcess(t, env, append([]string{"verify", "--json"}, tc.args...)...)
		if res.code != 0 {
			t.Errorf("verify %q with O365SMTP_TRANSPORT=%q: exit %d, want 0\n%v", tc.args, tc.env, res.code, res)
			continue
		}
		r, _ := parseReport(t, res.stdout)
		want := tc.transport
		if want == "auto" {
			want = "smtp" // SMTP AUTH works: auto stays on smtp
		}
		if r.Transport != want {
			t.Errorf("verify %q with O365SMTP_TRANSPORT=%q: transport %q, want %q", tc.args, tc.env, r.Transport, want)
		}
	}
	env["O365SMTP_TRANSPORT"] = "ews"
	if res := runInProcess(t, env, "verify"); res.code != 2 || !strings.Contains(res.stderr, "O365SMTP_TRANSPORT") || !strings.Contains(res.stderr, "hint: ") {
		t.Errorf("verify with O365SMTP_TRANSPORT=ews: %v, want exit 2 naming the variable, with a hint", res)
	}
}

func TestVerifyFormat(t *testing.T) {
	r := &o365smtp.Report{
		Host: "smtp.office365.com", Port: 587,
		Authority:  "https://login.microsoftonline.com/contoso.onmicrosoft.com",
		Scope:      "https://outlook.office365.com/.default",
		Credential: "client_secret",
		Steps: []o365smtp.Step{
			{Name: "config", Status: o365smtp.StatusPass, ElapsedMS: 0},
			{Name: "token_claims", Status: o365smtp.StatusWarn, Detail: "no SMTP.SendAsApp role", Hint: "Grant admin consent.\nOr use RBAC for Applications.", ElapsedMS: 1},
			{Name: "auth", Status: o365smtp.StatusFail, Kind: o365smtp.ErrAuthFailed, Detail: "535 5.7.3 Authentication unsuccessful", Hint: "line one\nline two", ElapsedMS: 20},
			{Name: "send_as", Status: o365smtp.StatusSkip, Detail: "no --from address"},
		},
	}
	var b strings.Builder
	formatReport(&b, r)
	golden(t, "verify_format.golden", b.String())
}

// TestVerifyVerbose: the protocol log goes to stderr, without the secret or
// any token.
func TestVerifyVerbose(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)
	res := runBinary(t, env, "verify", "--verbose", "--json")
	if res.code != 0 {
		t.Fatalf("verify --verbose: %v", res)
	}
	parseReport(t, res.stdout) // stdout stays one line of JSON
	if !strings.Contains(res.stderr, "EHLO") {
		t.Errorf("verify --verbose logged no protocol to stderr:\n%s", res.stderr)
	}
	secrets := append([]string{srv.ClientSecret}, srv.IssuedTokens()...)
	for _, s := range secrets {
		if strings.Contains(res.stdout+res.stderr, s) {
			t.Errorf("a secret or token appears in the output of verify --verbose")
		}
	}
}
