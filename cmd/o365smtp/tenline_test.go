package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestTenLineProgram: the program of testdata/tenline, which uses only
// o365smtp.ConfigFromEnv, New and Send, sends through 'o365smtp emulate'
// when its environment is the env file, sourced by a shell, and nothing
// else of this process's configuration.
func TestTenLineProgram(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT and a POSIX shell")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no POSIX shell")
	}
	program := filepath.Join(t.TempDir(), "tenline")
	build := exec.Command("go", "build", "-o", program, "./testdata/tenline")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/tenline: %v\n%s", err, out)
	}

	p := startEmulate(t)
	// Only what a shell needs, plus the env file: no O365SMTP_*, AZURE_*
	// or SSL_CERT_FILE of this process.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sh, "-c", `set -a; . "$1"; set +a; exec "$2"`, "sh", p.EnvFile, program)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the ten-line program: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if stdout.Len() != 0 || stderr.Len() != 0 {
		t.Errorf("the ten-line program printed:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}

	c := newE2EClient(t, p.Env)
	msgs := c.apiMessages(t)
	if len(msgs) != 1 {
		t.Fatalf("GET /api/messages: %d messages, want 1: %+v", len(msgs), msgs)
	}
	if m := msgs[0]; m.Mailbox != p.Env["O365SMTP_MAILBOX"] || m.From != p.Env["O365SMTP_MAILBOX"] ||
		len(m.To) != 1 || m.To[0] != "someone@example.com" || m.Subject != "Hello from ten lines" {
		t.Errorf("GET /api/messages: %+v", m)
	}
	c.http.CloseIdleConnections()
	stopAndCheckGone(t, p)
}
