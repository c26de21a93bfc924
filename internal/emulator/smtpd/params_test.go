package smtpd

import (
	"slices"
	"testing"
)

func TestParseCmd(t *testing.T) {
	cases := []struct {
		line, cmd, arg string
		err            bool
	}{
		{line: "EHLO client.example", cmd: "EHLO", arg: "client.example"},
		{line: "noop", cmd: "NOOP"},
		{line: "mail FROM:<a@b>  ", cmd: "MAIL", arg: "FROM:<a@b>"},
		{line: "STARTTLS now", cmd: "STARTTLS"},
		{line: "", cmd: ""},
		{line: "FOO", err: true},
		{line: "XYZZY", err: true},
		{line: "HELOx", err: true},
		{line: " STARTTLS", err: true},
	}
	for _, tc := range cases {
		cmd, arg, err := parseCmd(tc.line)
		if cmd != tc.cmd || arg != tc.arg || (err != nil) != tc.err {
			t.Errorf("parseCmd(%q) = %q, %q, %v; want %q, %q, error %v", tc.line, cmd, arg, err, tc.cmd, tc.arg, tc.err)
		}
	}
}

func TestParseArgs(t *testing.T) {
	got, err := parseArgs(" size=10 BODY=8BITMIME SMTPUTF8 SIZE=20")
	want := []param{{"SIZE", "20"}, {"BODY", "8BITMIME"}, {"SMTPUTF8", ""}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseArgs = %v, %v; want %v", got, err, want)
	}
	if _, err := parseArgs("A=B=C"); err == nil {
		t.Errorf("parseArgs(A=B=C) succeeded")
	}
}

func TestParsePath(t *testing.T) {
	cases := []struct{ in, want, rest string }{
		{"<a@example.com> SIZE=1", "a@example.com", " SIZE=1"},
		{"a@example.com", "a@example.com", ""},
		{`<"Reject.x"@example.com>`, "Reject.x@example.com", ""},
		{`<"q\"x"@example.com>`, `q"x@example.com`, ""},
		{"<@relay.example:c@example.com>", "c@example.com", ""},
	}
	for _, tc := range cases {
		p := parser{s: tc.in}
		got, err := p.parsePath()
		if err != nil || got != tc.want || p.s != tc.rest {
			t.Errorf("parsePath(%q) = %q, %v, rest %q; want %q, rest %q", tc.in, got, err, p.s, tc.want, tc.rest)
		}
	}
	for _, bad := range []string{"<>", "<a b@c>", "<rejected>", "<a@>", "<a@b"} {
		p := parser{s: bad}
		if got, err := p.parsePath(); err == nil {
			t.Errorf("parsePath(%q) = %q, want an error", bad, got)
		}
	}
}

func TestDSNParams(t *testing.T) {
	for v, want := range map[string]bool{"SUCCESS,FAILURE": true, "never": true, "DELAY": true, "NEVER,SUCCESS": false, "SUCCESS,SUCCESS": false, "": false, "X": false} {
		if got := validNotify(v); got != want {
			t.Errorf("validNotify(%q) = %v", v, got)
		}
	}
	for v, want := range map[string]string{"rfc822;a@example.com": "a@example.com", "RFC822;a+2Bb@example.com": "a+b@example.com", `utf-8;\x{E9}@example.com`: "é@example.com"} {
		if got, err := decodeTypedAddress(v); err != nil || got != want {
			t.Errorf("decodeTypedAddress(%q) = %q, %v; want %q", v, got, err, want)
		}
	}
	for _, v := range []string{"bad", "x400;a", "rfc822;", "utf-8;a b"} {
		if got, err := decodeTypedAddress(v); err == nil {
			t.Errorf("decodeTypedAddress(%q) = %q, want an error", v, got)
		}
	}
}
