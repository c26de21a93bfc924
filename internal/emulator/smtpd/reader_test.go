package smtpd

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestDataReader(t *testing.T) {
	cases := []struct {
		name, in, want string
		rest           string // left unread after the end marker
		err            error
	}{
		{name: "plain", in: "a\r\nb\r\n.\r\nQUIT\r\n", want: "a\r\nb\r\n", rest: "QUIT\r\n"},
		{name: "dot-stuffed", in: "..x\r\n.y\r\n.\r\n", want: ".x\r\ny\r\n"},
		{name: "empty", in: ".\r\n", want: ""},
		{name: "bare LF is no line start", in: "a\n.b\n.\r\n.\r\n", want: "a\n.b\n.\r\n"},
		{name: "dot CR without LF", in: ".\rX\r\n.\r\n", want: "X\r\n"},
		{name: "unterminated", in: "a\r\nb", want: "a\r\nb", err: io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.in))
			got, err := io.ReadAll(newDataReader(br, 1<<20))
			if string(got) != tc.want || !errors.Is(err, tc.err) && err != tc.err {
				t.Errorf("read %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
			if rest, _ := io.ReadAll(br); string(rest) != tc.rest {
				t.Errorf("left %q, want %q", rest, tc.rest)
			}
		})
	}
}

func TestDataReaderLimit(t *testing.T) {
	// A message (here size bytes and CRLF) of limit bytes or more is too
	// large; the rest of it is still read up to the end marker once the
	// limit is lifted.
	for _, tc := range []struct {
		size int
		err  error
	}{{99, nil}, {100, errTooLarge}, {5000, errTooLarge}} {
		br := bufio.NewReader(strings.NewReader(strings.Repeat("x", tc.size) + "\r\n.\r\nNEXT"))
		r := newDataReader(br, 102)
		got, err := io.ReadAll(r)
		if err != tc.err || len(got) > 102 {
			t.Errorf("%d bytes: read %d, %v; want at most 102, %v", tc.size, len(got), err, tc.err)
		}
		r.limited = false
		io.Copy(io.Discard, r)
		if rest, _ := io.ReadAll(br); string(rest) != "NEXT" {
			t.Errorf("%d bytes: left %q after draining, want NEXT", tc.size, rest)
		}
	}
}

func TestLineLimitReader(t *testing.T) {
	// The first line may have limit bytes; a later one, whose count
	// includes the newline before it, limit-1.
	for _, tc := range []struct {
		in   string
		fail bool
	}{
		{strings.Repeat("a", 10), false},
		{strings.Repeat("a", 11), true},
		{"x\n" + strings.Repeat("a", 9), false},
		{"x\n" + strings.Repeat("a", 10), true},
	} {
		l := &lineLimitReader{r: strings.NewReader(tc.in), limit: 10}
		_, err := io.ReadAll(l)
		if (err != nil) != tc.fail {
			t.Errorf("%q: %v, want failure %v", tc.in, err, tc.fail)
		}
		if tc.fail {
			if _, err := l.Read(make([]byte, 1)); err != errTooLongLine {
				t.Errorf("%q: the failure is not sticky: %v", tc.in, err)
			}
		}
	}
	off := &lineLimitReader{r: strings.NewReader(strings.Repeat("a", 100))} // limit 0: off
	if b, err := io.ReadAll(off); err != nil || len(b) != 100 {
		t.Errorf("limit 0: %d bytes, %v", len(b), err)
	}
}
