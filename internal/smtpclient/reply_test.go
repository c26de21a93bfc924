package smtpclient

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// newReader wraps s the way the client wraps its connection.
func newReader(s string) *bufio.Reader {
	return bufio.NewReaderSize(strings.NewReader(s), MaxLineLength)
}

// manyLines returns n continuation-style lines "250-x" and a final "250 x".
func manyLines(n int, text string) string {
	var b strings.Builder
	for i := 0; i < n-1; i++ {
		b.WriteString("250-" + text + "\r\n")
	}
	b.WriteString("250 " + text + "\r\n")
	return b.String()
}

func TestReadReply(t *testing.T) {
	// A line of exactly MaxLineLength bytes, CRLF included, and one byte over.
	exact := "250 " + strings.Repeat("a", MaxLineLength-6) + "\r\n"
	over := "250 " + strings.Repeat("a", MaxLineLength-5) + "\r\n"
	if len(exact) != MaxLineLength || len(over) != MaxLineLength+1 {
		t.Fatalf("bad fixtures: %d, %d", len(exact), len(over))
	}
	// 64 KiB of text in 17 lines: 16 lines of 4000 bytes, then the rest.
	bigReply := func(last int) string {
		return strings.Repeat("250-"+strings.Repeat("b", 4000)+"\r\n", 16) +
			"250 " + strings.Repeat("c", last) + "\r\n"
	}
	bigAtLimit := bigReply(MaxReplyLength - 16*4000)
	bigOver := bigReply(MaxReplyLength - 16*4000 + 1)

	tests := []struct {
		name  string
		in    string
		want  Reply
		err   error // a sentinel matched with errors.Is
		proto bool  // the error is a *ProtocolError
		rest  string
	}{
		{name: "single", in: "220 mail.example ESMTP ready\r\n",
			want: Reply{220, []string{"mail.example ESMTP ready"}}},
		{name: "multi", in: "250-mail.example Hello\r\n250-SIZE 157286400\r\n250-AUTH LOGIN XOAUTH2\r\n250 STARTTLS\r\n",
			want: Reply{250, []string{"mail.example Hello", "SIZE 157286400", "AUTH LOGIN XOAUTH2", "STARTTLS"}}},
		{name: "bare LF", in: "250-first\n250 second\n",
			want: Reply{250, []string{"first", "second"}}},
		{name: "mixed endings", in: "250-first\r\n250 second\n",
			want: Reply{250, []string{"first", "second"}}},
		{name: "empty text", in: "250\r\n", want: Reply{250, []string{""}}},
		{name: "empty text with space", in: "250 \r\n", want: Reply{250, []string{""}}},
		{name: "empty continuation", in: "250-\r\n250 ok\r\n", want: Reply{250, []string{"", "ok"}}},
		{name: "stops after the reply", in: "250 one\r\n251 two\r\n",
			want: Reply{250, []string{"one"}}, rest: "251 two\r\n"},
		{name: "enhanced code kept in text", in: "535 5.7.3 Authentication unsuccessful\r\n",
			want: Reply{535, []string{"5.7.3 Authentication unsuccessful"}}},
		{name: "code 000", in: "000 x\r\n", want: Reply{0, []string{"x"}}},
		{name: "line at the limit", in: exact, want: Reply{250, []string{exact[4 : len(exact)-2]}}},
		{name: "128 lines", in: manyLines(MaxReplyLines, "x"), want: Reply{250, strings.Split(strings.Repeat("x", MaxReplyLines), "")}},
		{name: "64 KiB of text", in: bigAtLimit, want: func() Reply {
			r := Reply{Code: 250}
			for i := 0; i < 16; i++ {
				r.Lines = append(r.Lines, strings.Repeat("b", 4000))
			}
			r.Lines = append(r.Lines, strings.Repeat("c", MaxReplyLength-16*4000))
			return r
		}()},

		{name: "line one byte over", in: over, err: ErrLineTooLong},
		{name: "no line end within the limit", in: strings.Repeat("2", MaxLineLength+10), err: ErrLineTooLong},
		{name: "129 lines", in: manyLines(MaxReplyLines+1, "x"), err: ErrReplyTooLong},
		{name: "over 64 KiB of text", in: bigOver, err: ErrReplyTooLong},
		{name: "cut short", in: "250 2", err: io.ErrUnexpectedEOF},
		{name: "cut short in a continuation", in: "250-a\r\n250 b", err: io.ErrUnexpectedEOF},
		{name: "ends after a continuation", in: "250-a\r\n", err: io.EOF},
		{name: "empty stream", in: "", err: io.EOF},

		{name: "continuation with another code", in: "250-a\r\n251 b\r\n", proto: true},
		{name: "garbage", in: "HTTP/1.1 400 Bad Request\r\n", proto: true},
		{name: "two digits", in: "25\r\n", proto: true},
		{name: "empty line", in: "\r\n", proto: true},
		{name: "fourth char not separator", in: "2500 ok\r\n", proto: true},
		{name: "letter in code", in: "2x0 ok\r\n", proto: true},
		{name: "binary", in: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\n", proto: true},
		{name: "bare CR inside a line", in: "250 ok\rFAKE\r\n", proto: true},
		{name: "doubled CR at the end", in: "250 ok\r\r\n", proto: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := newReader(tt.in)
			got, err := readReply(br)
			switch {
			case tt.proto:
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("readReply = %v, %v; want a *ProtocolError", got, err)
				}
				if !strings.HasPrefix(pe.Error(), "the server's reply is not SMTP: ") {
					t.Errorf("Error() = %q", pe.Error())
				}
				for _, c := range pe.Detail {
					if c < 0x20 || c > 0x7e {
						t.Errorf("Detail %q holds an unprintable character", pe.Detail)
					}
				}
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("readReply = %v, %v; want %v", got, err, tt.err)
				}
			default:
				if err != nil {
					t.Fatalf("readReply: %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("readReply = %#v\nwant %#v", got, tt.want)
				}
				rest, _ := io.ReadAll(br)
				if string(rest) != tt.rest {
					t.Errorf("left unread %q, want %q", rest, tt.rest)
				}
			}
			if err != nil && (got.Code != 0 || got.Lines != nil) {
				t.Errorf("an error came with a reply: %#v", got)
			}
		})
	}
}

func TestReadReplySequence(t *testing.T) {
	br := newReader("220 hi\r\n250-a\r\n250 b\r\n354 go\r\n")
	for _, want := range []Reply{{220, []string{"hi"}}, {250, []string{"a", "b"}}, {354, []string{"go"}}} {
		got, err := readReply(br)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("readReply = %#v, %v; want %#v", got, err, want)
		}
	}
	if _, err := readReply(br); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestReplyMethods(t *testing.T) {
	tests := []struct {
		r        Reply
		text     string
		str      string
		positive bool
	}{
		{Reply{250, []string{"a", "b"}}, "a\nb", "250 a b", true},
		{Reply{220, []string{"mail.example ready"}}, "mail.example ready", "220 mail.example ready", true},
		{Reply{200, []string{""}}, "", "200 ", true},
		{Reply{299, []string{"x"}}, "x", "299 x", true},
		{Reply{199, []string{"x"}}, "x", "199 x", false},
		{Reply{300, []string{"x"}}, "x", "300 x", false},
		{Reply{354, []string{"Start mail input"}}, "Start mail input", "354 Start mail input", false},
		{Reply{535, []string{"5.7.3 Authentication unsuccessful", "[host]"}},
			"5.7.3 Authentication unsuccessful\n[host]", "535 5.7.3 Authentication unsuccessful [host]", false},
		{Reply{}, "", "0 ", false},
	}
	for _, tt := range tests {
		if got := tt.r.Text(); got != tt.text {
			t.Errorf("%#v.Text() = %q, want %q", tt.r, got, tt.text)
		}
		if got := tt.r.String(); got != tt.str {
			t.Errorf("%#v.String() = %q, want %q", tt.r, got, tt.str)
		}
		if got := tt.r.Positive(); got != tt.positive {
			t.Errorf("%#v.Positive() = %v, want %v", tt.r, got, tt.positive)
		}
	}
}

func TestExcerpt(t *testing.T) {
	if got := excerpt([]byte("ab\x00\xffc")); got != `"ab??c"` {
		t.Errorf("excerpt = %s", got)
	}
	if got := excerpt([]byte(strings.Repeat("x", 100))); got != `"`+strings.Repeat("x", 64)+`"` {
		t.Errorf("excerpt of 100 bytes = %s", got)
	}
}
