package main

import (
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/o365smtp/o365smtp/internal/emulator"
)

func TestEmulate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT")
	}
	p := startEmulate(t)

	for _, k := range []string{"O365SMTP_TENANT_ID", "O365SMTP_CLIENT_ID", "O365SMTP_CLIENT_SECRET", "O365SMTP_MAILBOX",
		"O365SMTP_HOST", "O365SMTP_PORT", "O365SMTP_SECURITY", "O365SMTP_AUTHORITY_HOST", "O365SMTP_SCOPE",
		"O365SMTP_CA_FILE", "SSL_CERT_FILE"} {
		if p.Env[k] == "" {
			t.Errorf("the env file has no %s", k)
		}
	}
	if ca, err := os.ReadFile(p.Env["O365SMTP_CA_FILE"]); err != nil || !strings.Contains(string(ca), "BEGIN CERTIFICATE") {
		t.Errorf("CA file %s: %v", p.Env["O365SMTP_CA_FILE"], err)
	}

	res := runBinary(t, p.Env, "verify")
	if res.code != 0 {
		t.Errorf("verify against emulate: %v", res)
	}
	res = runBinary(t, p.Env, "send", "--to", "someone@example.com", "--subject", "via emulate")
	if res.code != 0 || !strings.Contains(res.stdout, "accepted: 250 ") {
		t.Errorf("send against emulate: %v", res)
	}

	smtpAddr := net.JoinHostPort(p.Env["O365SMTP_HOST"], p.Env["O365SMTP_PORT"])
	u, err := url.Parse(p.Env["O365SMTP_AUTHORITY_HOST"])
	if err != nil {
		t.Fatal(err)
	}
	if !dialable(smtpAddr) || !dialable(u.Host) {
		t.Fatalf("the emulator does not listen on %s and %s", smtpAddr, u.Host)
	}

	code, out := p.stop(t, os.Interrupt)
	if code != 0 {
		t.Errorf("emulate exited with %d after SIGINT, want 0\n%s", code, out)
	}
	if !strings.HasSuffix(out, "emulate: stopped\n") {
		t.Errorf("emulate's last line is not \"emulate: stopped\":\n%s", out)
	}
	if dialable(smtpAddr) || dialable(u.Host) {
		t.Errorf("%s or %s still accepts connections after emulate stopped", smtpAddr, u.Host)
	}
	if _, err := os.Stat(p.Env["O365SMTP_CA_FILE"]); !os.IsNotExist(err) {
		t.Errorf("the temporary CA file was not removed: %v", err)
	}
}

func TestEmulateScenario(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT")
	}
	const name = "sp-not-registered"
	p := startEmulate(t, "--scenario", name)
	if !strings.Contains(p.out.String(), "(scenario: "+name+")") {
		t.Errorf("emulate does not say it applies %s:\n%s", name, p.out.String())
	}
	res := runBinary(t, p.Env, "verify")
	if res.code != 1 || !strings.HasSuffix(res.stdout, "verify: failed at auth (auth_failed)\n") {
		t.Errorf("verify against emulate --scenario %s: %v", name, res)
	}
	if code, out := p.stop(t, os.Interrupt); code != 0 {
		t.Errorf("emulate exited with %d, want 0\n%s", code, out)
	}
}

func TestEmulateUsage(t *testing.T) {
	res := runInProcess(t, nil, "emulate", "--help")
	if res.code != 0 {
		t.Fatalf("emulate --help: %v", res)
	}
	for _, s := range emulator.Scenarios() {
		if !strings.Contains(res.stdout, s.Name) || !strings.Contains(res.stdout, s.Description) {
			t.Errorf("emulate --help does not list scenario %s: %s", s.Name, s.Description)
		}
	}
	for _, args := range [][]string{
		{"emulate", "--scenario", "no-such-scenario"},
		{"emulate", "--smtp-addr", "nonsense"},
		{"emulate", "--token-lifetime", "-1m"},
	} {
		res := runInProcess(t, nil, args...)
		if res.code != 2 {
			t.Errorf("%q: exit %d, want 2\n%v", args, res.code, res)
		}
	}
}
