package smtpclient

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Bounds on what a server may send in one reply. RFC 5321 limits a reply
// line to 512 octets; Exchange Online's longest (the 5.7.139 and 432 4.3.2
// texts with their [host time session] suffix) are a few hundred bytes and
// its EHLO reply has about a dozen lines. The bounds are generous multiples
// of that, and keep a hostile or broken peer from growing the heap.
const (
	// MaxLineLength is the longest reply line accepted, CRLF included.
	MaxLineLength = 4096
	// MaxReplyLines is the most lines one multi-line reply may have.
	MaxReplyLines = 128
	// MaxReplyLength bounds the text of one whole reply.
	MaxReplyLength = 64 << 10
)

// Reply is one SMTP reply: a three-digit code and the text of each line
// (after "250-" or "250 ").
type Reply struct {
	Code  int
	Lines []string
}

// Text returns the lines joined with "\n", as net/textproto's Error.Msg
// has them: the enhanced status code, if any, starts each line.
func (r Reply) Text() string { return strings.Join(r.Lines, "\n") }

// String returns the reply on one line: the code, then the lines joined with
// spaces.
func (r Reply) String() string {
	return strconv.Itoa(r.Code) + " " + strings.Join(r.Lines, " ")
}

// Positive reports whether the code is 2xx.
func (r Reply) Positive() bool { return r.Code >= 200 && r.Code < 300 }

// Errors of the reply reader.
var (
	// ErrLineTooLong: a reply line was longer than MaxLineLength.
	ErrLineTooLong = errors.New("the server's reply line is longer than 4096 bytes")
	// ErrReplyTooLong: a reply had more than MaxReplyLines lines or
	// MaxReplyLength bytes.
	ErrReplyTooLong = errors.New("the server's reply is longer than 128 lines or 64 KiB")
)

// ProtocolError is a reply that is not SMTP: no three-digit code, or a
// continuation line with another code. Detail quotes a short, sanitized
// excerpt.
type ProtocolError struct{ Detail string }

func (e *ProtocolError) Error() string { return "the server's reply is not SMTP: " + e.Detail }

// readReply reads one reply from br, within the bounds above. A reply cut
// short by the end of the stream is io.ErrUnexpectedEOF, never a reply.
func readReply(br *bufio.Reader) (Reply, error) {
	var r Reply
	total := 0
	for {
		line, err := readLine(br)
		if err != nil {
			return Reply{}, err
		}
		if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) ||
			(len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			return Reply{}, &ProtocolError{Detail: excerpt(line)}
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			// CR only ends a line, with LF; a bare one would reach
			// the log and error texts and could forge a line there.
			return Reply{}, &ProtocolError{Detail: "a bare CR in a reply line: " + excerpt(line)}
		}
		code, _ := strconv.Atoi(string(line[:3]))
		if r.Lines != nil && code != r.Code {
			return Reply{}, &ProtocolError{Detail: "a continuation line with another code: " + excerpt(line)}
		}
		r.Code = code
		text := ""
		if len(line) > 4 {
			text = string(line[4:])
		}
		total += len(text)
		if len(r.Lines) >= MaxReplyLines || total > MaxReplyLength {
			return Reply{}, ErrReplyTooLong
		}
		r.Lines = append(r.Lines, text)
		if len(line) <= 3 || line[3] == ' ' {
			return r, nil
		}
	}
}

// readLine reads one line without its CRLF (or bare LF). The line is valid
// until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, ErrLineTooLong
	case err == io.EOF && len(line) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return line, nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// excerpt quotes at most 64 bytes of b, printable ASCII only.
func excerpt(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	out := make([]byte, 0, len(b)+2)
	out = append(out, '"')
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out = append(out, c)
	}
	return string(append(out, '"'))
}
