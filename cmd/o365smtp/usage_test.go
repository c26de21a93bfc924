package main

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFileExitCodes: a file named by a flag or a variable that cannot be
// read (or, for emulate, written) is a usage error, exit 2, whichever file
// and whichever command; the message names the flag or the variable.
func TestFileExitCodes(t *testing.T) {
	srv := newEmulator(t)
	base := clientEnv(t, srv)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	noDir := filepath.Join(dir, "no-such-dir", "file")
	cases := []struct {
		name string
		env  map[string]string // over base; "" deletes
		args []string          // after the command
		want string            // in stderr
	}{
		{"--client-secret-file", nil, []string{"--client-secret-file", missing}, "--client-secret-file"},
		{"O365SMTP_CLIENT_SECRET_FILE", map[string]string{"O365SMTP_CLIENT_SECRET": "", "O365SMTP_CLIENT_SECRET_FILE": missing}, nil, "O365SMTP_CLIENT_SECRET_FILE"},
		{"--cert-file", nil, []string{"--cert-file", missing}, "--cert-file"},
		{"O365SMTP_CERT_FILE", map[string]string{"O365SMTP_CLIENT_SECRET": "", "O365SMTP_CERT_FILE": missing}, nil, "O365SMTP_CERT_FILE"},
		{"--key-file", nil, []string{"--cert-file", writeECDSACert(t), "--key-file", dir}, "--key-file"},
		{"--client-assertion-file", nil, []string{"--client-assertion-file", missing}, "--client-assertion-file"},
		{"O365SMTP_CLIENT_ASSERTION_FILE", map[string]string{"O365SMTP_CLIENT_SECRET": "", "O365SMTP_CLIENT_ASSERTION_FILE": missing}, nil, "O365SMTP_CLIENT_ASSERTION_FILE"},
		{"AZURE_FEDERATED_TOKEN_FILE", map[string]string{"O365SMTP_CLIENT_SECRET": "", "AZURE_FEDERATED_TOKEN_FILE": missing}, nil, "AZURE_FEDERATED_TOKEN_FILE"},
		{"--ca-file", nil, []string{"--ca-file", missing}, "--ca-file"},
		{"O365SMTP_CA_FILE", map[string]string{"O365SMTP_CA_FILE": dir}, nil, "O365SMTP_CA_FILE"},
	}
	for _, cmd := range []string{"verify", "send", "setup-script"} {
		for _, tc := range cases {
			t.Run(cmd+" "+tc.name, func(t *testing.T) {
				env := map[string]string{}
				for k, v := range base {
					env[k] = v
				}
				for k, v := range tc.env {
					env[k] = v
				}
				args := append([]string{cmd}, tc.args...)
				if cmd == "send" {
					args = append(args, "--to", "someone@example.com")
				}
				res := runInProcess(t, env, args...)
				if res.code != 2 || !strings.Contains(res.stderr, tc.want) || !strings.Contains(res.stderr, "hint: ") {
					t.Errorf("%q: exit %d, want 2 with %q and a hint\n%v", args, res.code, tc.want, res)
				}
			})
		}
	}
	for _, args := range [][]string{
		{"send", "--to", "someone@example.com", "--body-file", missing},
		{"send", "--to", "someone@example.com", "--attach", dir},
		{"emulate", "--env-file", noDir},
		{"emulate", "--ca-file", noDir},
	} {
		res := runInProcess(t, base, args...)
		if res.code != 2 || !strings.Contains(res.stderr, args[len(args)-2]) {
			t.Errorf("%q: exit %d, want 2 naming %s\n%v", args, res.code, args[len(args)-2], res)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("the emulator received %d messages, want none", n)
	}
}

// TestHelpListsEveryFlag: each command's usage line names every flag its
// --help lists (or says [flags]), and the overview shows the same synopsis.
func TestHelpListsEveryFlag(t *testing.T) {
	flagLine := regexp.MustCompile(`(?m)^  -(\S+)`)
	overview := runInProcess(t, nil, "--help").stdout
	for _, c := range commands {
		res := runInProcess(t, nil, c.name, "--help")
		if res.code != 0 {
			t.Fatalf("%s --help: %v", c.name, res)
		}
		usage, _, _ := strings.Cut(res.stdout, "\n")
		if !strings.HasPrefix(usage, "usage: o365smtp "+c.name) {
			t.Fatalf("%s --help starts with %q", c.name, usage)
		}
		listed := flagLine.FindAllStringSubmatch(res.stdout, -1)
		if c.name == "demo" && len(listed) < 2 {
			t.Errorf("demo --help lists %d flags, want --verbose and --timeout at least:\n%s", len(listed), res.stdout)
		}
		if strings.HasSuffix(usage, "[flags]") {
			continue
		}
		for _, m := range listed {
			if !strings.Contains(usage, "--"+m[1]) {
				t.Errorf("%s --help: the usage line %q does not name --%s", c.name, usage, m[1])
			}
		}
		if synopsis := strings.TrimPrefix(usage, "usage: "); !strings.Contains(overview, synopsis) {
			t.Errorf("o365smtp --help does not show %q", synopsis)
		}
	}
}

// TestExitStatusDocumented: the command's doc comment, the overview and
// every command's --help document the same exit statuses.
func TestExitStatusDocumented(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	_, doc, _ := strings.Cut(f.Doc.Text(), "Exit status:")
	_, help, _ := strings.Cut(exitStatusHelp, "Exit status:")
	if words := strings.Join(strings.Fields(help), " "); strings.Join(strings.Fields(doc), " ") != words {
		t.Errorf("the doc comment of main.go ends with the exit statuses:\n%s\nwant the words of --help's:\n%s", doc, help)
	}
	for _, args := range [][]string{{"--help"}, {"demo", "--help"}, {"verify", "--help"}, {"send", "--help"},
		{"setup-script", "--help"}, {"emulate", "--help"}, {"version", "--help"}} {
		if out := runInProcess(t, nil, args...).stdout; !strings.HasSuffix(out, exitStatusHelp) {
			t.Errorf("%q does not end with the exit statuses:\n%s", args, out)
		}
	}
	// And the statuses are the ones run returns.
	if exitOK != 0 || exitFailure != 1 || exitUsage != 2 {
		t.Errorf("exit statuses %d %d %d, want 0 1 2", exitOK, exitFailure, exitUsage)
	}
}
