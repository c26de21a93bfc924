package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp/o365smtptest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// binary is the command, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "o365smtp-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "o365smtp")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the command:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newEmulator starts an emulator that t closes.
func newEmulator(t testing.TB, opts ...o365smtptest.Option) *o365smtptest.Server {
	t.Helper()
	srv := o365smtptest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

// clientEnv returns the O365SMTP_* environment of a client of srv, the way
// emulate writes it, with the CA in a file of t's. It leaves SSL_CERT_FILE
// out, so the system roots plus O365SMTP_CA_FILE are what is trusted.
func clientEnv(t testing.TB, srv *o365smtptest.Server) map[string]string {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "emulator-ca.pem")
	if err := os.WriteFile(ca, srv.CACertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range emulatorEnv(srv, srv.Config(), ca) {
		env[kv[0]] = kv[1]
	}
	delete(env, "SSL_CERT_FILE")
	return env
}

// result is the outcome of one run of the command.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// processEnv returns this process's environment without any O365SMTP_*
// variable or SSL_CERT_FILE, plus env.
func processEnv(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "O365SMTP_") || strings.HasPrefix(kv, "SSL_CERT_FILE=") {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// runBinary runs the built command with env as its configuration.
func runBinary(t testing.TB, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = processEnv(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %v: %v", args, err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// runInProcess runs the command in this process with env as its whole
// environment.
func runInProcess(t testing.TB, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(k string) string { return env[k] })
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// emulateProc is a running 'o365smtp emulate'.
type emulateProc struct {
	cmd     *exec.Cmd
	stdout  *bufio.Reader
	out     bytes.Buffer // stdout read so far
	stderr  bytes.Buffer
	Env     map[string]string // the env file's variables
	EnvFile string
}

// startEmulate starts 'o365smtp emulate --env-file F args...' and returns
// once it printed its ready line, with the env file read. The process is
// killed at the end of t unless stopped before.
func startEmulate(t testing.TB, args ...string) *emulateProc {
	t.Helper()
	p := &emulateProc{EnvFile: filepath.Join(t.TempDir(), "emulator.env")}
	p.cmd = exec.Command(binary, append([]string{"emulate", "--env-file", p.EnvFile}, args...)...)
	p.cmd.Env = processEnv(nil)
	p.cmd.Stderr = &p.stderr
	pipe, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	p.stdout = bufio.NewReader(pipe)

	type outcome struct {
		out string
		err error
	}
	ready := make(chan outcome, 1)
	go func() {
		var out strings.Builder
		for {
			line, err := p.stdout.ReadString('\n')
			out.WriteString(line)
			if strings.TrimSpace(line) == "emulate: ready" {
				ready <- outcome{out.String(), nil}
				return
			}
			if err != nil {
				ready <- outcome{out.String(), fmt.Errorf("emulate ended before it was ready: %v", err)}
				return
			}
		}
	}()
	select {
	case o := <-ready:
		p.out.WriteString(o.out)
		if o.err != nil {
			p.cmd.Wait()
			t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", o.err, o.out, p.stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("emulate printed no ready line within a minute")
	}
	p.Env, err = readEnvFile(p.EnvFile)
	if err != nil {
		t.Fatalf("env file: %v", err)
	}
	return p
}

// stop sends sig and returns the exit code and the rest of stdout.
func (p *emulateProc) stop(t testing.TB, sig os.Signal) (int, string) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(p.stdout)
	err := p.cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, p.out.String() + string(rest)
}

// readEnvFile reads a file written by emulate: KEY=VALUE lines, values
// possibly in POSIX single quotes, and # comments.
func readEnvFile(name string) (map[string]string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %q is not KEY=VALUE", line)
		}
		env[k] = shellUnquote(v)
	}
	return env, nil
}

// shellUnquote undoes shellQuote.
func shellUnquote(s string) string {
	if !strings.HasPrefix(s, "'") {
		return s
	}
	return strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(s, "'"), "'"), `'\''`, "'")
}

// dialable reports whether something listens on addr.
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// normalize replaces the volatile parts of output: the emulator's IDs by
// their names, then ports, times, elapsed milliseconds and other GUIDs.
func normalize(s string, srv *o365smtptest.Server) string {
	if srv != nil {
		s = strings.NewReplacer(
			srv.ServicePrincipalID, "<SERVICE_PRINCIPAL_ID>",
			srv.AppObjectID, "<APP_OBJECT_ID>",
			srv.TenantID, "<TENANT_ID>",
			srv.ClientID, "<CLIENT_ID>",
		).Replace(s)
	}
	for _, r := range normalizers {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}

var normalizers = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "<TIME>"},
	{regexp.MustCompile(`\b[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\b`), "<DATE>"}, // the greeting's
	{regexp.MustCompile(`\b[0-9A-F]{16}\b`), "<SESSION>"},                                                     // Exchange's session IDs
	{regexp.MustCompile(`(127\.0\.0\.1|localhost|\[::1\]):\d+`), "$1:<PORT>"},
	{regexp.MustCompile(`\[\d+ ms\]`), "[N ms]"},
	{regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "<GUID>"},
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}
