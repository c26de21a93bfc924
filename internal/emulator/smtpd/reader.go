package smtpd

import (
	"bufio"
	"errors"
	"io"
	"time"
)

// The readers bound what a client can make the service hold: a line at
// most MaxLineLength bytes (the connection is closed beyond it), a message
// at most Config.MaxMessageBytes (the rest is read and discarded).

var (
	errTooLongLine = errors.New("smtpd: too long a line in input stream")
	errTooLarge    = errors.New("smtpd: message too large")
)

// lineLimitReader sits under the connection's bufio.Reader and fails, for
// good, once a line exceeds limit bytes. A line's count includes the
// newline before it. With limit 0 (during a BDAT chunk) it counts nothing.
type lineLimitReader struct {
	r     io.Reader
	limit int
	cur   int       // bytes of the current line so far
	last  time.Time // when the last bytes arrived (for Config.ReplyLatency)
}

// Read reads from the connection, counting line lengths.
func (l *lineLimitReader) Read(b []byte) (int, error) {
	if l.limit > 0 && l.cur > l.limit {
		return 0, errTooLongLine
	}
	n, err := l.r.Read(b)
	if n > 0 {
		l.last = time.Now()
	}
	if err != nil || l.limit == 0 {
		return n, err
	}
	for _, c := range b[:n] {
		if c == '\n' {
			l.cur = 0
		}
		l.cur++
		if l.cur > l.limit {
			return 0, errTooLongLine
		}
	}
	return n, nil
}

// dataReader reads a DATA message up to its terminating "." line,
// removing the leading dot of every line that has one (not only of "..")
// and keeping line endings as sent. A line start is only recognised after
// CRLF. Beyond limit bytes (when limited), Read fails with errTooLarge.
type dataReader struct {
	r       *bufio.Reader
	state   int
	limited bool
	n       int64 // bytes left when limited
}

const (
	stateBeginLine = iota // at the beginning of a line
	stateDot              // read "." at the beginning of a line
	stateDotCR            // read ".\r" at the beginning of a line
	stateCR               // read "\r", possibly at the end of a line
	stateData             // in the middle of a line
	stateEOF              // read the ".\r\n" end marker
)

func newDataReader(r *bufio.Reader, limit int64) *dataReader {
	return &dataReader{r: r, limited: true, n: limit}
}

// Read reads the message's bytes, up to its end marker.
func (r *dataReader) Read(b []byte) (n int, err error) {
	if r.limited {
		if r.n <= 0 {
			return 0, errTooLarge
		}
		if int64(len(b)) > r.n {
			b = b[:r.n]
		}
	}
	for n < len(b) && r.state != stateEOF {
		var c byte
		c, err = r.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			break
		}
		switch r.state {
		case stateBeginLine:
			if c == '.' {
				r.state = stateDot
				continue
			}
			if c == '\r' {
				r.state = stateCR
			} else {
				r.state = stateData
			}
		case stateDot:
			if c == '\r' {
				r.state = stateDotCR
				continue
			}
			r.state = stateData
		case stateDotCR:
			if c == '\n' {
				r.state = stateEOF
				continue
			}
			r.state = stateData
		case stateCR:
			if c == '\n' {
				r.state = stateBeginLine
			} else {
				r.state = stateData
			}
		case stateData:
			if c == '\r' {
				r.state = stateCR
			}
		}
		b[n] = c
		n++
	}
	if err == nil && r.state == stateEOF {
		err = io.EOF
	}
	if r.limited {
		r.n -= int64(n)
	}
	return n, err
}
