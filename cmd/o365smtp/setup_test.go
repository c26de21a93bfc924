package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/jwtclaims"
)

// psCommand matches the commands setup-script may print.
var psCommand = regexp.MustCompile(`^(Connect-ExchangeOnline|New-ServicePrincipal|Add-MailboxPermission|Add-RecipientPermission|Set-CASMailbox|New-ManagementScope|New-ManagementRoleAssignment)( |$)`)

func TestSetupScriptWithToken(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)
	from := "sales@" + srv.TenantDomain

	res := runBinary(t, env, "setup-script", "--from", from)
	if res.code != 0 {
		t.Fatalf("setup-script: %v", res)
	}
	out := res.stdout
	oid := srv.ServicePrincipalID
	for _, want := range []string{
		"Connect-ExchangeOnline",
		"New-ServicePrincipal -AppId '" + srv.ClientID + "' -ObjectId '" + oid + "'",
		"Add-MailboxPermission -Identity '" + srv.Mailbox + "' -User '" + oid + "' -AccessRights FullAccess",
		"Add-RecipientPermission -Identity '" + from + "' -Trustee '" + oid + "' -AccessRights SendAs",
		"Set-CASMailbox -Identity '" + srv.Mailbox + "' -SmtpClientAuthenticationDisabled $false",
		"New-ManagementScope -Name ",
		`-RecipientRestrictionFilter 'PrimarySmtpAddress -eq ''` + srv.Mailbox + `'''`,
		`New-ManagementRoleAssignment -App '` + srv.ClientID + `' -Role "Application SMTP.SendAsApp" -CustomResourceScope `,
		"SMTP.SendAsApp",
		"admin consent",
		"needs no Entra API permission",
		"Enterprise applications > the app > Overview > Object ID: the service principal. USE THIS ONE.",
		"App registrations > the app > Overview > Object ID: the application object. NOT this one.",
		"15-30 minutes",
		"read from the access token's oid claim",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("setup-script output lacks %q", want)
		}
	}
	if strings.Contains(out, srv.AppObjectID) {
		t.Errorf("setup-script output contains the App registration's object ID %s", srv.AppObjectID)
	}
	if strings.Contains(out, srv.ClientSecret) {
		t.Errorf("setup-script output contains the client secret")
	}
	// Every line is a comment, a command, or empty.
	for _, line := range strings.Split(out, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !psCommand.MatchString(line) {
			t.Errorf("unexpected line %q", line)
		}
	}
	golden(t, "setup_script.golden", normalize(out, srv))
}

func TestSetupScriptOffline(t *testing.T) {
	env := map[string]string{
		"O365SMTP_TENANT_ID": "contoso.onmicrosoft.com",
		"O365SMTP_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
		"O365SMTP_MAILBOX":   "notifications@contoso.com",
	}
	res := runInProcess(t, env, "setup-script")
	if res.code != 0 {
		t.Fatalf("setup-script: %v", res)
	}
	for _, want := range []string{
		"-ObjectId " + phOID + " ",
		"-User " + phOID + " ",
		"Enterprise applications > the app > Overview > Object ID,",
		"no credential is configured",
		"New-ServicePrincipal -AppId '11111111-2222-3333-4444-555555555555'",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("setup-script output lacks %q:\n%s", want, res.stdout)
		}
	}
	golden(t, "setup_script_offline.golden", res.stdout)
}

// TestSetupScriptTokenFailure: a failed token request still prints the
// script, with the placeholder, and says why on stderr.
func TestSetupScriptTokenFailure(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)
	srv.SetClientSecretExpired(true)
	res := runInProcess(t, env, "setup-script")
	if res.code != 0 {
		t.Fatalf("setup-script: %v", res)
	}
	if !strings.Contains(res.stdout, "-ObjectId "+phOID) || !strings.Contains(res.stdout, "client_secret_expired") {
		t.Errorf("setup-script output lacks the placeholder or the reason:\n%s", res.stdout)
	}
	if !strings.Contains(res.stderr, "client_secret_expired") || !strings.Contains(res.stderr, "hint: ") {
		t.Errorf("stderr does not explain the token failure:\n%s", res.stderr)
	}
}

// TestSetupScriptQuoting: values cannot break out of their quotes or their
// comment line. The configuration's checks already refuse a line break in an
// ID; the script's quoting does not rely on them.
func TestSetupScriptQuoting(t *testing.T) {
	env := map[string]string{
		"O365SMTP_MAILBOX":   "o'brien\u2019s@contoso.com",
		"O365SMTP_CLIENT_ID": "x\nRemove-Mailbox -Identity ceo@contoso.com",
	}
	if res := runInProcess(t, env, "setup-script"); res.code != 2 || !strings.Contains(res.stderr, "O365SMTP_CLIENT_ID") {
		t.Errorf("setup-script with a line break in O365SMTP_CLIENT_ID: %v, want exit 2 naming it", res)
	}
	delete(env, "O365SMTP_CLIENT_ID")
	res := runInProcess(t, env, "setup-script", "--from", "a'b@contoso.com")
	if res.code != 0 {
		t.Fatalf("setup-script: %v", res)
	}
	var b strings.Builder
	writeSetupScript(&b, o365smtp.Config{ClientID: "x\nRemove-Mailbox -Identity ceo@contoso.com", Mailbox: "m\nRemove-Mailbox x"},
		jwtclaims.Claims{OID: "o\nRemove-Mailbox y"}, "", []string{"f\nRemove-Mailbox z"})
	for _, line := range strings.Split(res.stdout+b.String(), "\n") {
		if strings.HasPrefix(line, "Remove-Mailbox") {
			t.Errorf("a value broke out of its line: %q", line)
		}
	}
	for _, want := range []string{
		"-Identity 'o''brien\u2019\u2019s@contoso.com'",
		"'PrimarySmtpAddress -eq ''o''''brien\u2019\u2019s@contoso.com'''",
		"Add-RecipientPermission -Identity 'a''b@contoso.com'",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.stdout)
		}
	}
}

// TestSetupScriptTransport: --transport and O365SMTP_TRANSPORT reach the
// Config; the script of a transport other than smtp is not written yet.
func TestSetupScriptTransport(t *testing.T) {
	env := map[string]string{"O365SMTP_MAILBOX": "notifications@contoso.com"}
	if res := runInProcess(t, env, "setup-script", "--transport", "smtp"); res.code != 0 {
		t.Errorf("setup-script --transport smtp: %v", res)
	}
	for _, tc := range refusedTransports {
		env["O365SMTP_TRANSPORT"] = tc.env
		res := runInProcess(t, env, append([]string{"setup-script"}, tc.args...)...)
		if res.code != 0 || !strings.Contains(res.stdout, `New-ManagementRoleAssignment -App `) || !strings.Contains(res.stdout, `-Role "Application Mail.Send"`) || !strings.Contains(res.stdout, `-Role "Application Mail.ReadWrite"`) ||
			!strings.Contains(res.stdout, "Test-ServicePrincipalAuthorization") || !strings.Contains(res.stdout, "New-ManagementScope") {
			t.Errorf("setup-script %q with O365SMTP_TRANSPORT=%q: %v, want the Graph script", tc.args, tc.env, res)
		}
	}
	env["O365SMTP_TRANSPORT"] = "ews"
	if res := runInProcess(t, env, "setup-script"); res.code != 2 || !strings.Contains(res.stderr, "O365SMTP_TRANSPORT") {
		t.Errorf("setup-script with O365SMTP_TRANSPORT=ews: %v, want exit 2 naming the variable", res)
	}
}
