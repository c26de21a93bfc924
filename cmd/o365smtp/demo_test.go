package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	res := runBinary(t, nil, "demo")
	if res.code != 0 {
		t.Fatalf("demo: %v", res)
	}
	for _, re := range []string{
		`(?m)^token acquired \(new\), expires \d{4}-`,
		`(?m)^connected to 127\.0\.0\.1:\d+: 220 `,
		`(?m)^TLS established: TLS 1\.[23], `,
		`(?m)^authenticated as \S+@\S+ `,
		`(?m)^accepted: 250 `,
		`(?m)^emulator received 1 message\(s\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(res.stdout) {
			t.Errorf("demo output does not match %s:\n%s", re, res.stdout)
		}
	}
	if !strings.HasSuffix(res.stdout, "demo: ok\n") {
		t.Errorf("demo's last line is not \"demo: ok\":\n%s", res.stdout)
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout for exit 0, in stderr otherwise
	}{
		{nil, 2, "Usage:"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"help"}, 0, "setup-script"},
		{[]string{"--help"}, 0, "emulate"},
		{[]string{"verify", "--help"}, 0, "O365SMTP_CA_FILE"},
		{[]string{"send", "--help"}, 0, "--attach"},
		{[]string{"setup-script", "-h"}, 0, "O365SMTP_TENANT_ID"},
		{[]string{"demo", "--help"}, 0, "--verbose"},
		{[]string{"demo", "--nope"}, 2, "--help"},
	} {
		res := runInProcess(t, nil, tc.args...)
		out := res.stderr
		if tc.code == 0 {
			out = res.stdout
		}
		if res.code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("%q: exit %d, want %d with %q in:\n%v", tc.args, res.code, tc.code, tc.out, res)
		}
	}
	// Every configuration variable is listed by the commands that use them.
	res := runInProcess(t, nil, "verify", "--help")
	for _, s := range settings {
		if !strings.Contains(res.stdout, s.env) {
			t.Errorf("verify --help does not list %s", s.env)
		}
		if s.flag != "" && !strings.Contains(res.stdout, "-"+s.flag) {
			t.Errorf("verify --help does not list --%s", s.flag)
		}
	}
}
