package smtpclient

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// FuzzReadReply feeds readReply arbitrary bytes: it either returns a reply
// within the bounds, or one of its errors; it never panics.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 mail.example ESMTP\r\n",
		"250-mail.example Hello\r\n250-SIZE 157286400\r\n250-AUTH LOGIN XOAUTH2\r\n250 STARTTLS\r\n",
		"250-a\n250 b\n",
		"250\r\n",
		"250-a\r\n251 b\r\n",
		"250 2",
		"250 ok\rX\r\n",
		"2500\r\n",
		"334 eyJzdGF0dXMiOiI0MDEifQ==\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := newReader(string(in))
		r, err := readReply(br)
		if err != nil {
			var pe *ProtocolError
			switch {
			case errors.Is(err, ErrLineTooLong), errors.Is(err, ErrReplyTooLong),
				errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			case errors.As(err, &pe):
			default:
				t.Fatalf("unexpected error %T %v", err, err)
			}
			if r.Code != 0 || r.Lines != nil {
				t.Fatalf("an error came with a reply: %#v", r)
			}
			return
		}
		checkReply(t, r)

		// The reply, written back in canonical form, reads back the same.
		var b strings.Builder
		for i, l := range r.Lines {
			sep := "-"
			if i == len(r.Lines)-1 {
				sep = " "
			}
			fmt.Fprintf(&b, "%03d%s%s\r\n", r.Code, sep, l)
		}
		again, err := readReply(newReader(b.String()))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip of %#v: %#v, %v", r, again, err)
		}
	})
}

// checkReply asserts the invariants of any reply readReply returns.
func checkReply(t *testing.T, r Reply) {
	t.Helper()
	if r.Code < 0 || r.Code > 999 {
		t.Fatalf("code %d is not three digits", r.Code)
	}
	if len(r.Lines) == 0 || len(r.Lines) > MaxReplyLines {
		t.Fatalf("%d lines", len(r.Lines))
	}
	total := 0
	for _, l := range r.Lines {
		total += len(l)
		if len(l) > MaxLineLength-4 {
			t.Fatalf("a line of %d bytes", len(l))
		}
		if strings.ContainsAny(l, "\r\n") {
			t.Fatalf("line %q holds a CR or LF", l)
		}
	}
	if total > MaxReplyLength {
		t.Fatalf("%d bytes of text", total)
	}
}
