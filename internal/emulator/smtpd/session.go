package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// errThreshold is how many protocol errors a session tolerates: the next
// one closes the connection.
const errThreshold = 3

// session is the state of one connection: its transport and the SMTP
// state, which STARTTLS resets.
type session struct {
	s *Server
	c *conn

	// The transport.
	nc          net.Conn         // c.raw, or TLS over it
	lim         *lineLimitReader // under br
	br          *bufio.Reader
	tr          *textproto.Reader
	isTLS       bool
	canSTARTTLS bool // plain text, with STARTTLS offered
	closed      bool // dropped: nothing more is written
	tlsTooOld   bool // the handshake agreed on TLS 1.0 or 1.1

	// The SMTP state.
	helo         string // the EHLO or HELO domain; "" before it
	errCount     int    // protocol errors so far
	user         string // the authenticated mailbox, in lower case; "" before AUTH
	fromReceived bool   // MAIL FROM accepted
	from         string
	to           []string // recipients accepted since MAIL FROM
	rcpts        int      // recipients accepted since the last reset, across MAIL FROMs
	binaryMIME   bool     // the last MAIL FROM had BODY=BINARYMIME
	bdat         *bytes.Buffer
	bdatBytes    int64 // the BDAT chunks' total size

	// The transcript, for the emulator's inbox.
	tx      transcript
	authing bool   // reading AUTH responses: recorded as <redacted>
	token   string // the bearer token of the last AUTH XOAUTH2
	// noteRefusal makes the next reply, if a refusal, a refused attempt
	// at noteStage.
	noteRefusal bool
	noteStage   Stage
}

func newSession(s *Server, c *conn) *session {
	ss := &session{s: s, c: c}
	switch {
	case s.cfg.ImplicitTLS:
		ss.nc = tls.Server(c.raw, s.cfg.TLS)
		ss.isTLS = true
	default:
		ss.nc = c.raw
		ss.canSTARTTLS = !s.cfg.NoSTARTTLS
	}
	ss.newReader()
	return ss
}

// newReader reads from nc afresh: the line count restarts, and what was
// buffered is discarded.
func (ss *session) newReader() {
	ss.lim = &lineLimitReader{r: ss.nc, limit: MaxLineLength, last: time.Now()}
	ss.br = bufio.NewReader(ss.lim)
	ss.tr = textproto.NewReader(ss.br)
}

// serve runs the session until the connection ends.
func (ss *session) serve() {
	defer ss.end()
	if !ss.greet() {
		return
	}
	for !ss.closed {
		line, err := ss.readLine()
		if err != nil {
			ss.readFailed(err)
			return
		}
		if ss.canSTARTTLS && strings.EqualFold(strings.TrimSpace(line), "STARTTLS") {
			ss.startTLS()
			continue
		}
		if ss.tlsTooOld {
			ss.reply(replyTLSTooOld)
			return
		}
		cmd, arg, err := parseCmd(line)
		if err != nil {
			ss.unrecognized(line)
			continue
		}
		ss.handle(cmd, arg, line)
	}
}

// readFailed answers a failed read of a command, as the connection ends.
func (ss *session) readFailed(err error) {
	var ne net.Error
	switch {
	case err == io.EOF || errors.Is(err, net.ErrClosed):
	case errors.Is(err, errTooLongLine):
		ss.reply(replyLineTooLong)
	case errors.As(err, &ne) && ne.Timeout():
		ss.reply(replyIdleTimeout)
		ss.drop()
	default:
		ss.reply(replyConnectionError)
	}
}

// greet runs the connect and banner stages: the connect fault, the TLS
// handshake of implicit TLS, the banner fault and the banner. It reports
// false when the connection is gone.
func (ss *session) greet() bool {
	if f, ok := ss.s.cfg.Backend.Fault(StageConnect); ok {
		if !ss.applyFault(f) {
			return false
		}
		if f.Reply != "" {
			ss.c.raw.Write([]byte(strings.Join(replyLines(f.Reply), "\r\n") + "\r\n")) // in plain text, even for implicit TLS
			ss.drop()
			return false
		}
	}
	if ss.isTLS && !ss.handshake() {
		return false
	}
	if ss.tlsTooOld {
		// Implicit TLS below 1.2: the same refusal instead of the banner.
		ss.reply(replyTLSTooOld)
		return false
	}
	lines, ok := ss.fault(StageBanner)
	switch {
	case !ok:
		return false
	case lines != nil:
		ss.reply(lines...)
		if !strings.HasPrefix(lines[0], "2") {
			ss.drop()
			return false
		}
		return !ss.closed
	}
	ss.reply(replyBanner(ss.c.id))
	return !ss.closed
}

// handshake runs the server side of the TLS handshake on nc.
func (ss *session) handshake() bool {
	ctx, cancel := context.WithTimeout(ss.s.ctx, HandshakeTimeout)
	defer cancel()
	tc := ss.nc.(*tls.Conn)
	if err := tc.HandshakeContext(ctx); err != nil {
		ss.drop()
		return false
	}
	// Exchange completes a TLS 1.0 or 1.1 handshake and refuses the
	// session afterwards (zehm/sendEmail#1).
	ss.tlsTooOld = tc.ConnectionState().Version < tls.VersionTLS12
	return true
}

// startTLS answers STARTTLS on a plain connection that offers it, and
// upgrades the connection: the client must then EHLO again, and input
// pipelined after STARTTLS is discarded (RFC 3207).
func (ss *session) startTLS() {
	if lines, ok := ss.fault(StageSTARTTLS); !ok || lines != nil {
		ss.reply(lines...)
		return
	}
	ss.reply(replySTARTTLS)
	if ss.closed {
		return
	}
	ss.nc = tls.Server(ss.c.raw, ss.s.cfg.TLS)
	ss.isTLS, ss.canSTARTTLS = true, false
	if !ss.handshake() {
		return
	}
	ss.newReader()
	ss.helo, ss.errCount, ss.user, ss.binaryMIME = "", 0, "", false
	ss.reset()
}

// readLine reads a line, waiting at most the idle timeout.
func (ss *session) readLine() (string, error) {
	idle := ss.s.cfg.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	if err := ss.nc.SetReadDeadline(time.Now().Add(idle)); err != nil {
		return "", err
	}
	line, err := ss.tr.ReadLine()
	if err == nil {
		if ss.authing {
			ss.tx.add(true, "<redacted>")
		} else {
			ss.tx.add(true, redactCommand(line))
		}
	}
	return line, err
}

// reply writes a reply's lines. A reply with code 421 closes the
// connection once written.
func (ss *session) reply(lines ...string) {
	if ss.closed || len(lines) == 0 {
		return
	}
	if lat := ss.s.cfg.ReplyLatency; lat > 0 {
		// The input this answers arrived at lim.last (a pipelined
		// command's with the others of its batch).
		if !ss.s.sleep(time.Until(ss.lim.last.Add(lat))) {
			ss.drop()
			return
		}
	}
	if ss.noteRefusal {
		ss.noteRefusal = false
		ss.refused(ss.noteStage, nil, false, lines)
	}
	var b bytes.Buffer
	for _, l := range lines {
		ss.tx.add(false, l)
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	ss.nc.SetWriteDeadline(time.Now().Add(WriteTimeout))
	_, err := ss.nc.Write(b.Bytes())
	if err != nil || strings.HasPrefix(lines[len(lines)-1], "421") {
		ss.drop()
	}
}

// multiline renders a reply of several lines with code, such as the EHLO
// reply.
func multiline(code string, texts ...string) []string {
	out := make([]string, len(texts))
	for i, t := range texts {
		sep := "-"
		if i == len(texts)-1 {
			sep = " "
		}
		out[i] = code + sep + t
	}
	return out
}

// drop closes the connection abruptly.
func (ss *session) drop() {
	ss.closed = true
	ss.c.drop()
}

// end closes the connection at the end of the session, over TLS with a
// close_notify alert, unless it was dropped.
func (ss *session) end() {
	if ss.closed {
		return
	}
	ss.closed = true
	ss.c.forget()
	ss.nc.Close()
}

// protocolError answers a command that is not one, and closes the
// connection once there were too many.
func (ss *session) protocolError(reply string) {
	ss.reply(reply)
	ss.errCount++
	if ss.errCount > errThreshold {
		ss.reply(replyTooManyErrors)
		ss.end()
	}
}

// unrecognized answers a line that is no command Exchange knows, after
// the tarpit delay.
func (ss *session) unrecognized(line string) {
	if !ss.tarpit() {
		return
	}
	ss.protocolError(replyUnrecognized(line, ss.c.id))
}

// tarpit waits for Config.Tarpit before a refusal, as Exchange makes a
// failing client wait (failed AUTH after 4-8 s: simonrob/email-oauth2-proxy#237,
// #251; tarickb/sasl-xoauth2#96). It reports false when the service closed
// meanwhile.
func (ss *session) tarpit() bool {
	if !ss.s.sleep(ss.s.cfg.Tarpit) {
		ss.drop()
		return false
	}
	return true
}

// reset ends the mail transaction, as RSET does.
func (ss *session) reset() {
	ss.fromReceived, ss.from, ss.to, ss.rcpts = false, "", nil, 0
	ss.bdat, ss.bdatBytes = nil, 0
}
