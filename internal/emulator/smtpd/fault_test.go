package smtpd

import (
	"strings"
	"testing"
)

func TestParseReply(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)", []string{"451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)"}},
		{"421 4.3.2 Service not available", []string{"421 4.3.2 Service not available"}},
		{"421 Service not available", []string{"421 Service not available"}},
		{"554", []string{"554"}},
		{"250-first\n250 2.0.0 last", []string{"250-first", "250 2.0.0 last"}},
		{"452 4.5.3 Too many recipients\r\n", []string{"452 4.5.3 Too many recipients"}},
		{"not a reply", []string{"451 not a reply"}},
		{"45", []string{"451 45"}},
		{"999 out of range", []string{"451 999 out of range"}},
		{"550 4.1.1 class mismatch", []string{"550 4.1.1 class mismatch"}},
	}
	for _, tc := range cases {
		got := replyLines(tc.in)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("replyLines(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
