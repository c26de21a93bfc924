package main

// Node's nodemailer with @azure/msal-node against 'o365smtp emulate': the
// token through MSAL (discovery included), the message through nodemailer's
// XOAUTH2. It needs npm and the registry, so it runs only when asked:
// O365SMTP_NODE_TESTS=1 go test -run TestNodemailerClient ./cmd/o365smtp

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// runNodeClient installs packages with npm into a temporary directory,
// starts 'o365smtp emulate', runs testdata/script with node against it (the
// emulator's CA trusted through NODE_EXTRA_CA_CERTS) and returns the
// script's results and the emulator. It skips unless O365SMTP_NODE_TESTS=1
// and node and npm are installed.
func runNodeClient(t *testing.T, script string, packages ...string) (map[string]clientResult, *emulateProc) {
	t.Helper()
	if os.Getenv("O365SMTP_NODE_TESTS") != "1" {
		t.Skipf("set O365SMTP_NODE_TESTS=1 to run %s with %s (installs them with npm into a temporary directory)", script, strings.Join(packages, " and "))
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("no npm")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"install", "--no-audit", "--no-fund", "--silent", "--prefix", dir}, packages...)
	install := exec.CommandContext(ctx, npm, args...)
	install.Env = processEnv(nil)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install: %v\n%s", err, out)
	}
	src, err := os.ReadFile(filepath.Join("testdata", script))
	if err != nil {
		t.Fatal(err)
	}
	// Node resolves modules from the script's directory.
	if err := os.WriteFile(filepath.Join(dir, "client.js"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startEmulate(t, "--no-tarpit")
	run := exec.CommandContext(ctx, node, filepath.Join(dir, "client.js"))
	run.Env = processEnv(p.Env)
	run.Env = append(run.Env, "NODE_EXTRA_CA_CERTS="+p.Env["O365SMTP_CA_FILE"])
	out, err := run.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return clientResults(t, script, out), p
}

func TestNodemailerClient(t *testing.T) {
	got, p := runNodeClient(t, "nodemailer_client.js", "nodemailer", "@azure/msal-node")
	for _, w := range []struct {
		check, command string
		code           int
		prefix         string
	}{
		{"send", "", 250, "250 2.0.0 OK <"},
		{"send_as", "DATA", 554, "554 5.2.252 SendAsDenied; " + p.Env["O365SMTP_MAILBOX"] + " not allowed to send as ceo@contoso.com;"},
		{"graph_auth", "AUTH XOAUTH2", 535, "535 5.7.3 Authentication unsuccessful ["},
	} {
		if g := got[w.check]; g.Code != w.code || g.Command != w.command || !strings.HasPrefix(g.Msg, w.prefix) {
			t.Errorf("nodemailer %s: %+v, want %d %q... at %q", w.check, g, w.code, w.prefix, w.command)
		}
	}
	stopAndCheckGone(t, p)
}

// TestGraphSDKClient: Microsoft's Graph SDK for JavaScript, unmodified
// (@microsoft/microsoft-graph-client with @azure/msal-node's client
// credentials), its baseUrl pointed at O365SMTP_GRAPH_URL, sends a message
// with a JSON sendMail through 'o365smtp emulate', which delivers it; a
// sendMail with no recipients gets Graph's 400 ErrorInvalidRecipients.
// O365SMTP_NODE_TESTS=1 go test -run TestGraphSDKClient ./cmd/o365smtp
func TestGraphSDKClient(t *testing.T) {
	got, p := runNodeClient(t, "graph_sdk_client.js", "@microsoft/microsoft-graph-client", "@azure/msal-node")
	if g := got["send"]; g.Code != 202 {
		t.Errorf("SDK sendMail: %+v, want 202", g)
	}
	if g := got["no_recipients"]; g.Code != 400 || !strings.Contains(g.Msg, "ErrorInvalidRecipients") {
		t.Errorf("SDK sendMail without recipients: %+v, want 400 ErrorInvalidRecipients", g)
	}
	msgs := newE2EClient(t, p.Env).apiMessages(t)
	if len(msgs) != 1 || msgs[0].Subject != "from the Graph SDK" || len(msgs[0].To) != 1 || msgs[0].To[0] != "someone@example.com" {
		t.Errorf("the emulator received %+v", msgs)
	}
	stopAndCheckGone(t, p)
}
