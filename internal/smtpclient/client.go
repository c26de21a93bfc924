// Package smtpclient is o365smtp's SMTP submission client: one explicit step
// per protocol exchange (greeting, EHLO, STARTTLS, AUTH XOAUTH2, MAIL, RCPT,
// DATA, RSET, QUIT), each returning either the server's reply or an error
// that names the step, so the caller classifies every failure where it
// happens. Every reply is read within the bounds of reply.go; every I/O is
// bounded by the context bound with Bind.
package smtpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/o365smtp/o365smtp/internal/redact"
)

// Step names a protocol exchange.
type Step string

// The steps, in session order.
const (
	StepGreeting  Step = "greeting"
	StepHandshake Step = "handshake" // the TLS handshake (implicit TLS, or after STARTTLS)
	StepEHLO      Step = "ehlo"
	StepStartTLS  Step = "starttls"
	StepAuth      Step = "auth"
	StepMail      Step = "mail"
	StepRcpt      Step = "rcpt"
	StepData      Step = "data"     // the DATA command and the message body, up to the final dot
	StepDataEnd   Step = "data_end" // the final dot and the server's verdict on the message
	StepReset     Step = "rset"
	StepQuit      Step = "quit"
)

// ReplyError is a reply other than the one the step expects.
type ReplyError struct {
	Step  Step
	Reply Reply
}

func (e *ReplyError) Error() string { return string(e.Step) + ": " + e.Reply.String() }

// Error is a step that failed without a usable reply: an I/O or TLS error,
// a reply that is not SMTP or too long, or a refusal of this client's own.
type Error struct {
	Step Step
	Err  error
}

func (e *Error) Error() string { return string(e.Step) + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Refusals of the client itself.
var (
	// ErrNoSTARTTLS: the server did not offer STARTTLS.
	ErrNoSTARTTLS = errors.New("the server does not offer STARTTLS")
	// ErrNotEncrypted: AUTH was asked for on a connection without TLS; the
	// token was not sent.
	ErrNotEncrypted = errors.New("the connection is not encrypted; the access token was not sent")
	// ErrNoXOAUTH2: the server does not advertise AUTH XOAUTH2 after TLS;
	// the token was not sent.
	ErrNoXOAUTH2 = errors.New("the server does not offer AUTH XOAUTH2; the access token was not sent")
	// ErrInjected: the server sent more data after its reply to STARTTLS,
	// before the TLS handshake (the STARTTLS command-injection class of
	// attack, CVE-2011-0411).
	ErrInjected = errors.New("the server sent plaintext after its STARTTLS reply")
	// ErrUnsolicited: the server sent data nobody asked for; the session
	// is out of step.
	ErrUnsolicited = errors.New("the server sent data that no command asked for")
	// ErrInvalidAddress: an envelope address holds a character SMTP
	// cannot carry (CR, LF or NUL), which could inject a command.
	ErrInvalidAddress = errors.New("an envelope address contains a line break or NUL")
)

// Config configures a Client.
type Config struct {
	// TLS is the configuration for STARTTLS or implicit TLS; ServerName
	// must be set. It is used as is.
	TLS *tls.Config
	// LocalName is the EHLO name; "localhost" if empty.
	LocalName string
	// Grace is how long the reply to the end of the message data is still
	// awaited after the bound context ended.
	Grace time.Duration
	// GreetingTimeout bounds the wait for the server's greeting (servers
	// greet at once; a silent one is usually not SMTP). Zero: no bound
	// beyond the context's.
	GreetingTimeout time.Duration
	// Log, if set, receives each line sent ("client") and received
	// ("server"); the AUTH command's payload is never passed to it.
	Log func(dir, line string)
}

// Client is one SMTP session. It is not safe for concurrent use.
type Client struct {
	cfg   Config
	dc    *deadlineConn
	conn  net.Conn // dc, or the TLS connection over it
	tls   *tls.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	ext   map[string]string
	greet Reply
	// secrets is what every reply is scrubbed of once AUTH has sent the
	// token: a server may echo the command back (500 5.3.3 Unrecognized
	// command '...'), whole, cut short or decoded.
	secrets *redact.Set
}

// New returns a Client for conn, a connection just made. Nothing is read or
// written yet.
func New(conn net.Conn, cfg Config) *Client {
	if cfg.LocalName == "" {
		cfg.LocalName = "localhost"
	}
	dc := &deadlineConn{Conn: conn, grace: cfg.Grace}
	c := &Client{cfg: cfg, dc: dc}
	c.setConn(dc)
	return c
}

func (c *Client) setConn(conn net.Conn) {
	c.conn = conn
	c.br = bufio.NewReaderSize(conn, MaxLineLength)
	c.bw = bufio.NewWriter(conn)
}

// Bind makes ctx govern the session's I/O until Unbind (fallback bounds it
// when ctx has no deadline).
func (c *Client) Bind(ctx context.Context, fallback time.Duration) { c.dc.bind(ctx, fallback) }

// Unbind detaches the bound context.
func (c *Client) Unbind() { c.dc.unbind() }

// HandshakeTLS starts TLS on the bare connection (implicit TLS).
func (c *Client) HandshakeTLS(ctx context.Context) error {
	tc := tls.Client(c.dc, c.cfg.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		return &Error{Step: StepHandshake, Err: err}
	}
	c.tls = tc
	c.setConn(tc)
	return nil
}

// TLS returns the TLS state, and false before TLS.
func (c *Client) TLS() (tls.ConnectionState, bool) {
	if c.tls == nil {
		return tls.ConnectionState{}, false
	}
	return c.tls.ConnectionState(), true
}

// Greeting reads the server's greeting, which must be 220.
func (c *Client) Greeting() (Reply, error) {
	if c.cfg.GreetingTimeout > 0 {
		_ = c.dc.SetReadDeadline(time.Now().Add(c.cfg.GreetingTimeout))
		defer c.dc.SetReadDeadline(time.Time{})
	}
	r, err := c.read(StepGreeting, 220)
	if err != nil {
		return r, err
	}
	c.greet = r
	return r, nil
}

// Hello sends EHLO and records the extensions the server advertises.
func (c *Client) Hello() error {
	r, err := c.cmd(StepEHLO, 250, "EHLO "+c.cfg.LocalName)
	if err != nil {
		return err
	}
	c.ext = make(map[string]string, len(r.Lines))
	for _, l := range r.Lines[1:] {
		k, v, _ := strings.Cut(l, " ")
		c.ext[strings.ToUpper(k)] = v
	}
	return nil
}

// Extension reports whether the last EHLO advertised name, and its
// parameters.
func (c *Client) Extension(name string) (bool, string) {
	v, ok := c.ext[strings.ToUpper(name)]
	return ok, v
}

// StartTLS upgrades the session: STARTTLS, the 220, then the handshake.
// The caller sends EHLO again afterwards.
func (c *Client) StartTLS(ctx context.Context) error {
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return &Error{Step: StepStartTLS, Err: ErrNoSTARTTLS}
	}
	if _, err := c.cmd(StepStartTLS, 220, "STARTTLS"); err != nil {
		return err
	}
	if c.br.Buffered() > 0 {
		return &Error{Step: StepStartTLS, Err: ErrInjected}
	}
	c.ext = nil
	return c.HandshakeTLS(ctx)
}

// AuthXOAUTH2 authenticates user with the bearer token (SASL XOAUTH2, the
// one-step form). It refuses to send the token before TLS or when the server
// does not advertise XOAUTH2. A 334 challenge (an error in JSON) is answered
// with an empty line, as the mechanism requires, and the final reply is
// returned as the error.
func (c *Client) AuthXOAUTH2(user, token string) error {
	if c.tls == nil {
		return &Error{Step: StepAuth, Err: ErrNotEncrypted}
	}
	if ok, mechs := c.Extension("AUTH"); !ok || !hasWord(mechs, "XOAUTH2") {
		return &Error{Step: StepAuth, Err: ErrNoXOAUTH2}
	}
	blob := base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"))
	c.secrets = redact.New(token, blob)
	c.logLine("client", "AUTH XOAUTH2 <redacted>")
	if err := c.write(StepAuth, "AUTH XOAUTH2 "+blob, false); err != nil {
		return err
	}
	r, err := c.readAny(StepAuth)
	if err != nil {
		return err
	}
	if r.Code == 334 {
		if r, err = c.cmd(StepAuth, 0, ""); err != nil {
			return err
		}
	}
	if r.Code != 235 {
		return &ReplyError{Step: StepAuth, Reply: r}
	}
	return nil
}

// Mail starts a transaction: MAIL FROM:<from> with the given parameters
// (for example "SMTPUTF8", "BODY=8BITMIME", "SIZE=1234").
func (c *Client) Mail(from string, params ...string) error {
	if strings.ContainsAny(from, "\r\n\x00") {
		return &Error{Step: StepMail, Err: ErrInvalidAddress}
	}
	_, err := c.cmd(StepMail, 250, mailLine(from, params))
	return err
}

// Rcpt adds a recipient: RCPT TO:<to>.
func (c *Client) Rcpt(to string) error {
	if strings.ContainsAny(to, "\r\n\x00") {
		return &Error{Step: StepRcpt, Err: ErrInvalidAddress}
	}
	_, err := c.cmd(StepRcpt, 250, "RCPT TO:<"+to+">")
	return err
}

func mailLine(from string, params []string) string {
	line := "MAIL FROM:<" + from + ">"
	if len(params) > 0 {
		line += " " + strings.Join(params, " ")
	}
	return line
}

// Envelope is what the server said to a transaction's commands before the
// message data (see Client.Envelope). A nil error is the expected reply;
// each non-nil one is a *ReplyError.
type Envelope struct {
	Mail error
	// Rcpt has one entry per recipient whose reply was read.
	Rcpt []error
	// Data is the reply to DATA when it was sent (or, with Chunk, to the
	// message's BDAT); nil with DataOpen, or when it was not sent.
	Data error
	// DataOpen: DATA was answered 354, the server now reads the message:
	// the caller sends it with Body, or closes the connection (the message
	// must not go to only some of the recipients).
	DataOpen bool
	// DataSent: DATA (or BDAT) was sent and its reply read.
	DataSent bool
	// Closing: a reply was 421, the server closes the connection; the
	// replies after it were not read.
	Closing bool
}

// Accepted reports whether the server accepted MAIL and every recipient.
func (e *Envelope) Accepted(rcpts int) bool {
	if e.Mail != nil || len(e.Rcpt) != rcpts {
		return false
	}
	for _, err := range e.Rcpt {
		if err != nil {
			return false
		}
	}
	return true
}

// Envelope runs the commands of a transaction up to the message data: MAIL
// FROM:<from> with params, RCPT TO for each recipient, then DATA.
//
// With pipeline (the server advertised PIPELINING, RFC 2920), every command
// goes out in one write and the replies are read in order: one round trip.
// Without it, each command waits for its reply; after a refused MAIL
// nothing more is sent, and DATA only when every recipient was accepted.
//
// The error is an I/O or protocol failure reading a reply (a *Error naming
// the command whose reply failed): the session is lost, and the Envelope
// holds the replies read before it. Addresses are checked before anything
// is written: an invalid one is a *Error with ErrInvalidAddress and the
// session is unchanged.
func (c *Client) Envelope(from string, params, rcpts []string, pipeline bool) (*Envelope, error) {
	if err := checkAddrs(from, rcpts); err != nil {
		return nil, err
	}
	ev := &Envelope{Rcpt: make([]error, 0, len(rcpts))}
	mail := mailLine(from, params)
	if pipeline {
		c.queue(mail)
		for _, to := range rcpts {
			c.queue("RCPT TO:<" + to + ">")
		}
		c.queue("DATA")
		if err := c.bw.Flush(); err != nil {
			return ev, &Error{Step: StepMail, Err: err}
		}
		// The replies, in order. After a 421 the server is gone: the
		// replies behind it are not read.
		r, err := c.read(StepMail, 250)
		if ev.Mail, err = replyOnly(err); err != nil {
			return ev, err
		}
		if ev.Closing = r.Code == 421; ev.Closing {
			return ev, nil
		}
		for range rcpts {
			r, err := c.read(StepRcpt, 250)
			rerr, err := replyOnly(err)
			if err != nil {
				return ev, err
			}
			ev.Rcpt = append(ev.Rcpt, rerr)
			if ev.Closing = r.Code == 421; ev.Closing {
				return ev, nil
			}
		}
		r, err = c.read(StepData, 354)
		if ev.Data, err = replyOnly(err); err != nil {
			return ev, err
		}
		ev.DataSent, ev.DataOpen, ev.Closing = true, r.Code == 354, r.Code == 421
		return ev, nil
	}
	r, err := c.cmd(StepMail, 250, mail)
	if ev.Mail, err = replyOnly(err); err != nil {
		return ev, err
	}
	if ev.Closing = r.Code == 421; ev.Mail != nil {
		return ev, nil
	}
	for _, to := range rcpts {
		r, err := c.cmd(StepRcpt, 250, "RCPT TO:<"+to+">")
		rerr, err := replyOnly(err)
		if err != nil {
			return ev, err
		}
		ev.Rcpt = append(ev.Rcpt, rerr)
		if ev.Closing = r.Code == 421; ev.Closing {
			return ev, nil
		}
	}
	if !ev.Accepted(len(rcpts)) {
		return ev, nil
	}
	r, err = c.cmd(StepData, 354, "DATA")
	if ev.Data, err = replyOnly(err); err != nil {
		return ev, err
	}
	ev.DataSent, ev.DataOpen, ev.Closing = true, r.Code == 354, r.Code == 421
	return ev, nil
}

// Chunk runs a whole transaction in one flight, for a server that
// advertises PIPELINING and CHUNKING (RFC 3030): MAIL FROM:<from> with
// params, RCPT TO for each recipient, "BDAT size LAST" and the message's
// size bytes as they are (no dot-stuffing) go out in one write, and the
// replies are read in order: one round trip. Unlike DATA, the message is
// sent before any reply is read, so a server that refused one recipient
// and accepted another delivers it to the one it accepted; a caller that
// must never deliver to only some recipients uses Envelope and Body.
//
// The reply to BDAT is the verdict: a positive one is returned with a nil
// ev.Data; any other is ev.Data (a *ReplyError of StepDataEnd). The error
// is as Envelope's; once the data has been written, a failure to read the
// replies is a *Error of StepDataEnd (the outcome is unknown). A body that
// writes other than size bytes is a *Error of StepData: the session is
// out of step and must be closed.
func (c *Client) Chunk(from string, params, rcpts []string, body io.WriterTo, size int64) (*Envelope, Reply, error) {
	if err := checkAddrs(from, rcpts); err != nil {
		return nil, Reply{}, err
	}
	ev := &Envelope{Rcpt: make([]error, 0, len(rcpts))}
	c.queue(mailLine(from, params))
	for _, to := range rcpts {
		c.queue("RCPT TO:<" + to + ">")
	}
	c.queue(fmt.Sprintf("BDAT %d LAST", size))
	n, err := body.WriteTo(c.bw)
	switch {
	case err != nil:
		return ev, Reply{}, &Error{Step: StepData, Err: err}
	case n != size:
		return ev, Reply{}, &Error{Step: StepData, Err: fmt.Errorf("the message is %d bytes, not the %d BDAT announced", n, size)}
	}
	c.logLine("client", "<message data>")
	c.dc.startGrace()
	if err := c.bw.Flush(); err != nil {
		return ev, Reply{}, &Error{Step: StepDataEnd, Err: err}
	}
	fatal := func(err error) error {
		var se *Error
		if errors.As(err, &se) {
			se.Step = StepDataEnd // the message was sent: the outcome is unknown
		}
		return err
	}
	r, err := c.read(StepMail, 250)
	if ev.Mail, err = replyOnly(err); err != nil {
		return ev, Reply{}, fatal(err)
	}
	if ev.Closing = r.Code == 421; ev.Closing {
		return ev, Reply{}, nil
	}
	for range rcpts {
		r, err := c.read(StepRcpt, 250)
		rerr, err := replyOnly(err)
		if err != nil {
			return ev, Reply{}, fatal(err)
		}
		ev.Rcpt = append(ev.Rcpt, rerr)
		if ev.Closing = r.Code == 421; ev.Closing {
			return ev, Reply{}, nil
		}
	}
	r, err = c.readAny(StepDataEnd)
	if err != nil {
		return ev, r, err
	}
	ev.DataSent, ev.Closing = true, r.Code == 421
	if !r.Positive() {
		ev.Data = &ReplyError{Step: StepDataEnd, Reply: r}
	}
	return ev, r, nil
}

// checkAddrs refuses an envelope address that could inject a command.
func checkAddrs(from string, rcpts []string) error {
	if strings.ContainsAny(from, "\r\n\x00") {
		return &Error{Step: StepMail, Err: ErrInvalidAddress}
	}
	for _, to := range rcpts {
		if strings.ContainsAny(to, "\r\n\x00") {
			return &Error{Step: StepRcpt, Err: ErrInvalidAddress}
		}
	}
	return nil
}

// replyOnly splits a step's error into a reply refusal (the first result)
// and a failure to read a reply (the second).
func replyOnly(err error) (reply, fatal error) {
	var re *ReplyError
	if err == nil || errors.As(err, &re) {
		return err, nil
	}
	return nil, err
}

// Data sends DATA, then body (dot-stuffed, line endings made CRLF) and the
// final dot, and returns the server's verdict. Any 2xx verdict is success.
// Failures up to the body are StepData; from the final dot on, StepDataEnd:
// the server may have the whole message by then.
func (c *Client) Data(body io.WriterTo) (Reply, error) {
	if _, err := c.cmd(StepData, 354, "DATA"); err != nil {
		return Reply{}, err
	}
	return c.Body(body)
}

// Body sends the message after DATA's 354 (Envelope's DataOpen): body,
// dot-stuffed with CRLF line endings, through the connection's fixed-size
// buffer, then the final dot, and returns the server's verdict, as Data.
func (c *Client) Body(body io.WriterTo) (Reply, error) {
	dw := textproto.NewWriter(c.bw).DotWriter()
	if _, err := body.WriteTo(dw); err != nil {
		return Reply{}, &Error{Step: StepData, Err: err}
	}
	c.dc.startGrace()
	if err := dw.Close(); err != nil { // writes the final dot and flushes
		return Reply{}, &Error{Step: StepDataEnd, Err: err}
	}
	c.logLine("client", "<message data> .")
	r, err := c.readAny(StepDataEnd)
	if err != nil {
		return r, err
	}
	if !r.Positive() {
		return r, &ReplyError{Step: StepDataEnd, Reply: r}
	}
	return r, nil
}

// Reset aborts the transaction: RSET.
func (c *Client) Reset() error {
	_, err := c.cmd(StepReset, 250, "RSET")
	return err
}

// Quit ends the session politely: QUIT, the 221, then it waits (within the
// bound context) for the server to close its end, so that the server no
// longer counts the session when the caller connects again.
func (c *Client) Quit() error {
	if _, err := c.cmd(StepQuit, 221, "QUIT"); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c.br, MaxReplyLength))
	return nil
}

// Close closes the connection without QUIT.
func (c *Client) Close() error { return c.dc.Conn.Close() }

// idleProbe is how long Idle waits for data that is not yet there, where
// the socket cannot be peeked at.
const idleProbe = time.Millisecond

// pendingProbe bounds the read of bytes the socket is known to hold.
const pendingProbe = 100 * time.Millisecond

// Idle checks that the server sent nothing since the last reply. A session
// with unread or unsolicited data, or one the server closed, is out of step
// and must not be reused. On a TCP socket it peeks without waiting (unix);
// elsewhere it waits up to idleProbe for one read.
func (c *Client) Idle() error {
	if c.br.Buffered() > 0 {
		return ErrUnsolicited
	}
	probe := idleProbe
	if pending, err, ok := peekSocket(c.dc.Conn); ok {
		switch {
		case err != nil:
			return err
		case !pending:
			return nil
		}
		// Bytes are there: read them (through TLS, a close_notify is
		// the end of the session, not unsolicited data). The read does
		// not wait unless a TLS record arrived only in part.
		probe = pendingProbe
	}
	// A deadline already past fails the read before any syscall; a short
	// one ahead makes one real read, which sees pending data or EOF.
	_ = c.dc.Conn.SetReadDeadline(time.Now().Add(probe))
	_, err := c.br.Peek(1)
	_ = c.dc.Conn.SetReadDeadline(time.Time{})
	var ne net.Error
	switch {
	case err == nil:
		return ErrUnsolicited
	case errors.As(err, &ne) && ne.Timeout() && probe == idleProbe:
		return nil
	case errors.As(err, &ne) && ne.Timeout():
		return ErrUnsolicited // bytes that do not make a TLS record
	}
	return err
}

// cmd writes line and reads the reply, which must have the expected code
// (0: any).
func (c *Client) cmd(step Step, expect int, line string) (Reply, error) {
	if err := c.write(step, line, true); err != nil {
		return Reply{}, err
	}
	return c.read(step, expect)
}

// read reads a reply that must have the code expect (0: any).
func (c *Client) read(step Step, expect int) (Reply, error) {
	r, err := c.readAny(step)
	if err != nil {
		return r, err
	}
	if expect != 0 && r.Code != expect {
		return r, &ReplyError{Step: step, Reply: r}
	}
	return r, nil
}

func (c *Client) readAny(step Step) (Reply, error) {
	r, err := readReply(c.br)
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			pe.Detail = c.secrets.String(pe.Detail)
		}
		return Reply{}, &Error{Step: step, Err: err}
	}
	if !c.secrets.Empty() {
		for i, l := range r.Lines {
			r.Lines[i] = c.secrets.String(l)
		}
	}
	if c.cfg.Log != nil {
		for i, l := range r.Lines {
			sep := "-"
			if i == len(r.Lines)-1 {
				sep = " "
			}
			c.logLine("server", fmt.Sprintf("%d%s%s", r.Code, sep, l))
		}
	}
	return r, nil
}

// queue buffers one command line without flushing it (pipelining).
func (c *Client) queue(line string) {
	c.logLine("client", line)
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
}

// write sends one command line and flushes it.
func (c *Client) write(step Step, line string, log bool) error {
	if log {
		c.logLine("client", line)
	}
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	if err := c.bw.Flush(); err != nil {
		return &Error{Step: step, Err: err}
	}
	return nil
}

func (c *Client) logLine(dir, line string) {
	if c.cfg.Log != nil {
		c.cfg.Log(dir, line)
	}
}

func hasWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, w) {
			return true
		}
	}
	return false
}
