package smtpd

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestParseXOAUTH2(t *testing.T) {
	// The example of Microsoft's "Authenticate an IMAP, POP or SMTP
	// connection using OAuth".
	doc, err := base64.StdEncoding.DecodeString("dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFvN0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ==")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, in    string
		user, token string
		wantErr     bool
	}{
		{name: "microsoft example", in: string(doc), user: "test@contoso.onmicrosoft.com", token: "EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA"},
		{name: "go-mail", in: "user=a@b.c\x01auth=Bearer x.y.z\x01\x01", user: "a@b.c", token: "x.y.z"},
		{name: "auth first", in: "auth=Bearer tok\x01user=a@b.c\x01\x01", user: "a@b.c", token: "tok"},
		{name: "scheme case", in: "user=a@b.c\x01auth=bearer tok\x01\x01", user: "a@b.c", token: "tok"},
		{name: "extra field ignored", in: "user=a@b.c\x01host=x\x01auth=Bearer tok\x01\x01", user: "a@b.c", token: "tok"},
		{name: "empty", in: "", wantErr: true},
		{name: "terminators only", in: "\x01\x01", wantErr: true},
		{name: "one terminator", in: "user=a@b.c\x01auth=Bearer tok\x01", wantErr: true},
		{name: "no terminator", in: "user=a@b.c\x01auth=Bearer tok", wantErr: true},
		{name: "no user", in: "auth=Bearer tok\x01\x01", wantErr: true},
		{name: "empty user", in: "user=\x01auth=Bearer tok\x01\x01", wantErr: true},
		{name: "no auth", in: "user=a@b.c\x01\x01", wantErr: true},
		{name: "basic scheme", in: "user=a@b.c\x01auth=Basic tok\x01\x01", wantErr: true},
		{name: "no scheme", in: "user=a@b.c\x01auth=tok\x01\x01", wantErr: true},
		{name: "empty token", in: "user=a@b.c\x01auth=Bearer \x01\x01", wantErr: true},
		{name: "space in token", in: "user=a@b.c\x01auth=Bearer a b\x01\x01", wantErr: true},
		{name: "control in token", in: "user=a@b.c\x01auth=Bearer a\x00b\x01\x01", wantErr: true},
		{name: "field without =", in: "user=a@b.c\x01junk\x01auth=Bearer tok\x01\x01", wantErr: true},
		{name: "duplicate user", in: "user=a@b.c\x01user=d@e.f\x01auth=Bearer tok\x01\x01", wantErr: true},
		{name: "duplicate auth", in: "user=a@b.c\x01auth=Bearer t\x01auth=Bearer u\x01\x01", wantErr: true},
		{name: "gmail-style empty response", in: "\x01", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			user, token, err := parseXOAUTH2([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseXOAUTH2(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if user != tc.user || token != tc.token {
				t.Errorf("parseXOAUTH2(%q) = %q, %q, want %q, %q", tc.in, user, token, tc.user, tc.token)
			}
		})
	}
}

func FuzzParseXOAUTH2(f *testing.F) {
	f.Add([]byte("user=sender@contoso.com\x01auth=Bearer eyJ0eXAiOiJKV1QifQ.e30.sig\x01\x01"))
	f.Add([]byte("auth=Bearer x\x01user=y\x01\x01"))
	f.Add([]byte("\x01\x01"))
	f.Add([]byte("user=\x01\x01\x01\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		user, token, err := parseXOAUTH2(b)
		if err != nil {
			if user != "" || token != "" {
				t.Fatalf("parseXOAUTH2(%q) = %q, %q with error %v", b, user, token, err)
			}
			return
		}
		if user == "" || token == "" || strings.ContainsAny(token, " \t\r\n\x00\x01") || strings.Contains(user, "\x01") {
			t.Fatalf("parseXOAUTH2(%q) = %q, %q", b, user, token)
		}
		// What a client would send for the result parses back to it.
		u2, t2, err := parseXOAUTH2([]byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"))
		if err != nil || u2 != user || t2 != token {
			t.Fatalf("round trip of %q, %q = %q, %q, %v", user, token, u2, t2, err)
		}
	})
}

func TestStageString(t *testing.T) {
	if got := StageDataEnd.String(); got != "data_end" {
		t.Errorf("StageDataEnd.String() = %q", got)
	}
	if got := Stage(42).String(); got != "Stage(42)" {
		t.Errorf("Stage(42).String() = %q", got)
	}
}
