package redact

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	token := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSJ9.c2lnbmF0dXJlLXZhbHVlLWhlcmU"
	blob := base64.StdEncoding.EncodeToString([]byte("user=a@b.c\x01auth=Bearer " + token + "\x01\x01"))
	s := New(token, blob, "s3cr~et-value")
	cases := []struct{ name, in string }{
		{"whole token", "535 5.7.3 bad token " + token},
		{"whole blob echoed", "500 5.3.3 Unrecognized command 'AUTH XOAUTH2 " + blob + "' [host]"},
		{"blob cut short", "500 5.3.3 Unrecognized command 'AUTH XOAUTH2 " + blob[:40] + "' [host]"},
		{"token fragment glued to other text", "error near xyz" + token[30:60] + "abc"},
		{"decoded payload", "550 user=a@b.c auth=Bearer " + token[:20]},
		{"secret", "invalid_client: client_secret=s3cr~et-value&scope=x"},
	}
	for _, c := range cases {
		got := s.String(c.in)
		for _, frag := range []string{token[:16], token[30:46], blob[:16], blob[20:36], "s3cr~et-value"} {
			if strings.Contains(got, frag) {
				t.Errorf("%s: %q still holds %q", c.name, got, frag)
			}
		}
		if !strings.Contains(got, Mark) {
			t.Errorf("%s: %q has no %s", c.name, got, Mark)
		}
	}
	keep := "250 2.0.0 OK <AM0PR06MB1234.eurprd06.prod.outlook.com> [Hostname=AM0PR06MB1234]"
	if got := s.String(keep); got != keep {
		t.Errorf("an unrelated reply changed: %q", got)
	}
	if got := (*Set)(nil).String("x"); got != "x" {
		t.Errorf("nil Set changed the text: %q", got)
	}
	if !New("ab").Empty() || New("abcd").Empty() {
		t.Error("Empty: values under 4 bytes are ignored, others kept")
	}
}

func BenchmarkStringNoSecret(b *testing.B) {
	s := New(strings.Repeat("x", 2000))
	line := strings.Repeat("250-SIZE 157286400 PIPELINING ", 10)
	for b.Loop() {
		_ = s.String(line)
	}
}
