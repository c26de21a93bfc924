package o365smtptest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

func TestScenarios(t *testing.T) {
	var names []string
	for _, sc := range emulator.Scenarios() {
		if sc.Name == "" || sc.Description == "" || strings.Contains(sc.Description, "\n") {
			t.Errorf("scenario %+v", sc)
		}
		names = append(names, sc.Name)
	}
	want := []string{"ok", "sp-not-registered", "wrong-object-id", "no-mailbox-permission", "fullaccess-not-propagated",
		"smtp-auth-disabled-tenant", "smtp-auth-disabled-mailbox", "send-as-denied", "secret-expired", "wrong-secret",
		"no-smtp-role", "throttle", "quota-exceeded", "transient-data-end", "entra-throttled", "conditional-access", "hve",
		"suspended-mailbox-full", "suspended-send-as", "suspended-license", "suspended-too-many-recipients",
		"suspended-invalid-recipients"}
	if !slices.Equal(names, want) {
		t.Errorf("Scenarios() = %q, want %q", names, want)
	}
	if err := o365smtptest.Engine(newServer(t)).ApplyScenario("nope"); err == nil {
		t.Errorf("ApplyScenario(nope) succeeded")
	}

	// token: the AADSTS code of the token request, 0 if it succeeds.
	// auth: the reply to AUTH ("" if it succeeds); mail: to a message from
	// SharedMailbox, after the final dot.
	type scenarioCase struct {
		name  string
		token int
		auth  string
		mail  string
	}
	cases := []scenarioCase{
		{name: "ok"},
		{name: "sp-not-registered", auth: "535 5.7.3 "},
		{name: "wrong-object-id", auth: "535 5.7.3 "},
		{name: "no-mailbox-permission", auth: "535 5.7.3 "},
		{name: "smtp-auth-disabled-tenant", auth: "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."},
		{name: "smtp-auth-disabled-mailbox", auth: "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox."},
		{name: "fullaccess-not-propagated", mail: "430 4.2.0 STOREDRV; mailbox logon failure;"},
		{name: "send-as-denied", mail: "554 5.2.252 SendAsDenied; sender@contoso.com not allowed to send as shared@contoso.com;"},
		{name: "quota-exceeded", mail: "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"},
		{name: "transient-data-end", mail: "451 4.3.111 Temporary server error. Please try again later MRH1"},
		{name: "entra-throttled", token: 50196},
		{name: "conditional-access", token: 53003},
		{name: "hve"},
		{name: "secret-expired", token: 7000222},
		{name: "wrong-secret", token: 7000215},
		{name: "no-smtp-role", auth: "535 5.7.3 "},
		{name: "throttle"},
	}
	// The continuous-error suspensions, 550 5.2.251 to 5.2.255 ([MS-CET]).
	for i, what := range []string{"mailbox full", "send as denied", "invalid license", "too many recipients", "invalid recipients"} {
		name := map[string]string{"send as denied": "send-as", "invalid license": "license"}[what]
		if name == "" {
			name = strings.ReplaceAll(what, " ", "-")
		}
		cases = append(cases, scenarioCase{name: "suspended-" + name, mail: "550 5.2.25" + itoa(i+1) + " Sender throttled due to continuous " + what + " errors."})
	}
	s := newServer(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Start from a broken tenant: the scenario resets it first.
			s.SetServicePrincipalRegistered(false)
			s.SetSMTPAuthDisabledForTenant(true)
			if err := o365smtptest.Engine(s).ApplyScenario(tc.name); err != nil {
				t.Fatal(err)
			}
			status, body := postToken(t, s, s.TenantID, secretForm(s))
			if tc.token != 0 {
				if codes, _ := body["error_codes"].([]any); status < 400 || len(codes) != 1 || codes[0] != float64(tc.token) {
					t.Errorf("token: HTTP %d %v, want AADSTS%d", status, body, tc.token)
				}
				return
			}
			tok, _ := body["access_token"].(string)
			if tok == "" {
				t.Fatalf("token: HTTP %d %v", status, body)
			}
			c, err := login(t, s, s.Mailbox, tok)
			if tc.auth != "" {
				if code, msg := replyOf(t, err); !strings.HasPrefix(itoa(code)+" "+msg, tc.auth) {
					t.Errorf("AUTH: %d %s, want %s...", code, msg, tc.auth)
				}
				return
			}
			if err != nil {
				t.Fatalf("AUTH: %v", err)
			}
			defer c.Quit()
			err = send(c, s.SharedMailbox, []string{"a@example.com"}, message(s.SharedMailbox, "a@example.com", tc.name))
			if tc.mail != "" {
				if code, msg := replyOf(t, err); !strings.HasPrefix(itoa(code)+" "+msg, tc.mail) {
					t.Errorf("end of DATA: %d %s, want %s...", code, msg, tc.mail)
				}
				return
			}
			if err != nil {
				t.Fatalf("a message from the shared mailbox: %v", err)
			}
			if err := send(c, s.Mailbox, []string{"a@example.com"}, message(s.Mailbox, "a@example.com", tc.name)); err != nil {
				t.Errorf("send: %v", err)
			}
		})
	}
}

func TestScenarioThrottle(t *testing.T) {
	s := newServer(t)
	s.SetConnectionLimit(10)
	if err := o365smtptest.Engine(s).ApplyScenario("throttle"); err != nil {
		t.Fatal(err)
	}
	var errs []error
	for range 4 {
		c := mustLogin(t, s)
		errs = append(errs, send(c, s.Mailbox, []string{"a@example.com"}, message(s.Mailbox, "a@example.com", "t")))
	}
	if errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Errorf("first three connections: %v", errs[:3])
	}
	wantReply(t, errs[3], 432, "4.3.2 Concurrent connections limit exceeded.")
}

func TestScenarioKeepsCertificates(t *testing.T) {
	s := newServer(t)
	cert, key := newCert(t)
	s.RegisterCertificate(cert)
	if err := o365smtptest.Engine(s).ApplyScenario("no-smtp-role"); err != nil {
		t.Fatal(err)
	}
	if status, body := postToken(t, s, s.TenantID, assertionForm(s, assertion(t, s, cert, key, nil))); status != http.StatusOK {
		t.Errorf("certificate after ApplyScenario: HTTP %d %v", status, body)
	}
}
