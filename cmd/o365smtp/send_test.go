package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSend(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)
	dir := t.TempDir()
	attachment := filepath.Join(dir, "report.txt")
	if err := os.WriteFile(attachment, []byte("attached\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	res := runBinary(t, env, "send", "--to", "someone@example.com", "--to", "other@example.com", "--cc", "cc@example.com",
		"--subject", "Hello", "--body", "<p>Hi</p>", "--html", "--attach", attachment)
	if res.code != 0 {
		t.Fatalf("send: %v", res)
	}
	if !strings.Contains(res.stdout, "accepted: 250 ") {
		t.Errorf("send did not print the server's 250 reply:\n%s", res.stdout)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the emulator received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if !strings.Contains(res.stdout, m.ID) {
		t.Errorf("send's output does not hold the message's ID %s:\n%s", m.ID, res.stdout)
	}
	if m.From != srv.Mailbox || len(m.To) != 3 {
		t.Errorf("envelope: from %q to %q, want from %s to 3 recipients", m.From, m.To, srv.Mailbox)
	}
	if got := m.Header.Get("Subject"); got != "Hello" {
		t.Errorf("Subject = %q", got)
	}
	if got := m.Header.Get("Cc"); !strings.Contains(got, "cc@example.com") {
		t.Errorf("Cc = %q", got)
	}
	data := string(m.Data)
	for _, want := range []string{"text/html", "<p>Hi</p>", `filename="report.txt"`} {
		if !strings.Contains(data, want) {
			t.Errorf("the message lacks %q:\n%s", want, data)
		}
	}
}

func TestSendFrom(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)
	body := filepath.Join(t.TempDir(), "body.txt")
	os.WriteFile(body, []byte("from a file\n"), 0o644)

	res := runBinary(t, env, "send", "--to", "someone@example.com", "--from", "Shared <"+srv.SharedMailbox+">", "--body-file", body)
	if res.code != 0 {
		t.Fatalf("send: %v", res)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the emulator received %d messages, want 1", len(msgs))
	}
	if from := msgs[0].Header.Get("From"); !strings.Contains(from, srv.SharedMailbox) || !strings.Contains(from, "Shared") {
		t.Errorf("From = %q, want Shared <%s>", from, srv.SharedMailbox)
	}
	if !strings.Contains(string(msgs[0].Data), "from a file") {
		t.Errorf("the body is not the file's:\n%s", msgs[0].Data)
	}

	// Another address without Send As: refused, with the kind and hint.
	res = runBinary(t, env, "send", "--to", "someone@example.com", "--from", "ceo@contoso.com")
	if res.code != 1 {
		t.Fatalf("send --from ceo@contoso.com: exit %d, want 1\n%v", res.code, res)
	}
	// Refused after the final dot, as Exchange does (554 5.2.252).
	for _, want := range []string{"send: failed: send_as_denied", "5.2.252", "hint: ", "Add-RecipientPermission"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
}

func TestSendFailure(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)
	srv.SetServicePrincipalRegistered(false)

	res := runBinary(t, env, "send", "--to", "someone@example.com", "--subject", "Hello", "--body", "Hi")
	if res.code != 1 {
		t.Fatalf("send: exit %d, want 1\n%v", res.code, res)
	}
	for _, want := range []string{"send: failed: auth_failed", "error: o365smtp: auth: 535", "hint: ", srv.ServicePrincipalID} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	if len(srv.Messages()) != 0 {
		t.Errorf("the emulator received a message")
	}
}

// TestSecretOnCommandLine: every command refuses a secret flag, in every
// form and position, without echoing it.
func TestSecretOnCommandLine(t *testing.T) {
	const secret = "Zx8Q~notARealSecretButNeverPrintIt"
	for _, args := range [][]string{
		{"send", "--client-secret", secret, "--to", "a@example.com"},
		{"send", "--to", "a@example.com", "--client-secret=" + secret},
		{"verify", "-client-secret", secret},
		{"verify", "--json", "--password", secret},
		{"setup-script", "--secret=" + secret},
		{"verify", "stray", "--client-secret", secret},
	} {
		res := runBinary(t, nil, args...)
		if res.code != 2 {
			t.Errorf("%q: exit %d, want 2\n%v", args, res.code, res)
		}
		if !strings.Contains(res.stderr, "O365SMTP_CLIENT_SECRET") || !strings.Contains(res.stderr, "--client-secret-file") ||
			!strings.Contains(res.stderr, "other processes") {
			t.Errorf("%q: the refusal does not say why and what to use instead:\n%s", args, res.stderr)
		}
		if strings.Contains(res.stdout+res.stderr, secret) {
			t.Errorf("%q: the secret is echoed:\n%v", args, res)
		}
	}
}

func TestSendUsage(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "--subject", "x"}, "--to"},
		{[]string{"send", "--to", "a@example.com", "--body", "x", "--body-file", "f"}, "--body-file"},
		{[]string{"send", "--to", "not an address"}, "--to"},
		{[]string{"send", "--to", "a@example.com", "--attach", filepath.Join(t.TempDir(), "missing")}, "--attach"},
		{[]string{"send", "--to", "a@example.com", "--port", "seventy"}, "port"},
		{[]string{"send", "--to", "a@example.com", "--no-such-flag"}, "no-such-flag"},
		{[]string{"send", "--to", "a@example.com", "extra"}, "extra"},
	} {
		res := runInProcess(t, env, tc.args...)
		if res.code != 2 || !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%q: exit %d, want 2 with %q in:\n%s", tc.args, res.code, tc.want, res.stderr)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("the emulator received %d messages", n)
	}
}

// TestSendTransport: --transport and O365SMTP_TRANSPORT flow into the
// Config; New refuses graph and auto in this version, and send prints the
// library's error and hint (exit 1) and sends nothing.
func TestSendTransport(t *testing.T) {
	srv := newEmulator(t)
	env := clientEnv(t, srv)
	for _, tc := range refusedTransports {
		env["O365SMTP_TRANSPORT"] = tc.env
		res := runInProcess(t, env, append([]string{"send", "--to", "someone@example.com"}, tc.args...)...)
		if res.code != 0 {
			t.Errorf("send %q with O365SMTP_TRANSPORT=%q: %v, want exit 0", tc.args, tc.env, res)
		}
	}
	graphSent := len(srv.Messages())
	srv.ClearMessages()
	env["O365SMTP_TRANSPORT"] = ""
	if res := runInProcess(t, env, "send", "--to", "someone@example.com", "--transport", "smtp"); res.code != 0 {
		t.Errorf("send --transport smtp: %v", res)
	}
	if n := len(srv.Messages()); n != 1 || graphSent != len(refusedTransports) {
		t.Errorf("the emulator received %d messages, want the one sent over smtp (and %d before, want %d)", n, graphSent, len(refusedTransports))
	}
}
