package o365smtptest

// The SMTP service is a go-smtp server behind a net.Conn wrapper (smtpConn).
// go-smtp runs the protocol; the wrapper
//
//   - rewrites go-smtp's fixed reply texts into Exchange Online's (banner,
//     EHLO capabilities, 235, 250 Sender OK, 354, 221, ...),
//   - implements STARTTLS itself, so that it stays above TLS and can keep
//     rewriting after the upgrade: it answers STARTTLS, does the handshake,
//     ends the plain-text go-smtp connection and hands the TLS connection to
//     the same go-smtp server through a second, in-memory listener (the
//     client must then EHLO again, as with Exchange),
//   - injects the faults of the stages that have no Session hook (connect,
//     banner, EHLO, STARTTLS, the DATA command).
//
// Since go-smtp cannot see that the wrapper is TLS, AllowInsecureAuth is
// set and the session itself refuses AUTH on a connection without TLS.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

var errDropped = errors.New("o365smtptest: connection dropped by a fault")

// Exchange Online's replies.
var (
	errNotAuthenticated  = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 57}, Message: "Client not authenticated to send mail."}
	errSendAsMail        = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 60}, Message: "SMTP; Client does not have permissions to send as this sender"}
	errRecipientNotFound = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 10}, Message: "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"}
	errTooLarge          = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message size exceeds fixed maximum message size"}
	errConcurrent        = &smtp.SMTPError{Code: 432, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information. [Hostname=" + storeHost + "]"}
	errConnDropped       = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Connection dropped"}
	errUnrecognizedAuth  = &smtp.SMTPError{Code: 504, EnhancedCode: smtp.EnhancedCode{5, 7, 4}, Message: "Unrecognized authentication type"}
	errBadData           = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Invalid message content"}
)

// Rewrites of go-smtp's fixed replies into Exchange Online's.
var exactRewrites = map[string]string{
	"250 2.0.0 Session reset":                    "250 2.0.0 Resetting",
	"221 2.0.0 Bye":                              "221 2.0.0 Service closing transmission channel",
	"250 2.0.0 I have successfully done nothing": "250 2.0.0 OK",
	"235 2.0.0 Authentication succeeded":         "235 2.7.0 Authentication successful",
	"502 5.5.1 Please introduce yourself first.": "503 5.5.2 Send hello first",
	"502 5.5.1 Missing MAIL FROM command.":       "503 5.5.2 Need mail command",
	"502 5.5.1 Missing RCPT TO command.":         "503 5.5.2 Need rcpt command",
	"503 5.5.1 Already authenticated":            "503 5.5.2 Already authenticated",
	"552 5.3.4 Max message size exceeded":        "552 5.3.4 Message size exceeds fixed maximum message size",
}

const (
	goSMTPDataReply    = "354 Go ahead. End your data with <CR><LF>.<CR><LF>"
	exchangeDataReply  = "354 Start mail input; end with <CRLF>.<CRLF>"
	goSMTPMailOK       = "250 2.0.0 Roger, accepting mail from <"
	goSMTPRcptOK       = "250 2.0.0 I'll make sure <"
	goSMTPTooManyRcpts = "452 4.5.3 Maximum limit of "
	goSMTPUnknownCmd   = "500 5.5.2 Syntax errors, "
)

func rewrite(line string) string {
	if r, ok := exactRewrites[line]; ok {
		return r
	}
	switch {
	case strings.HasPrefix(line, goSMTPMailOK):
		return "250 2.1.0 Sender OK"
	case strings.HasPrefix(line, goSMTPRcptOK):
		return "250 2.1.5 Recipient OK"
	case strings.HasPrefix(line, goSMTPTooManyRcpts):
		return "452 4.5.3 Too many recipients"
	case strings.HasPrefix(line, goSMTPUnknownCmd):
		cmd := strings.TrimSuffix(strings.TrimPrefix(line, goSMTPUnknownCmd), " command unrecognized")
		return "500 5.3.3 Unrecognized command '" + cmd + "' [" + authHost + "]"
	}
	return line
}

func (s *Server) newSMTPServer() *smtp.Server {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		sc, ok := c.Conn().(*smtpConn)
		if !ok {
			return nil, &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service not available"}
		}
		return &session{s: s, c: sc}, nil
	}))
	srv.Domain = frontHost
	srv.MaxMessageBytes = s.opts.maxMessageBytes
	srv.MaxRecipients = maxRecipients
	srv.MaxLineLength = 64 << 10 // AUTH lines carry whole access tokens
	srv.AllowInsecureAuth = true // see the comment at the top of this file
	srv.EnableSMTPUTF8 = true
	srv.EnableBINARYMIME = true
	srv.EnableDSN = true
	srv.ReadTimeout = smtpIdleTimeout
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = log.New(io.Discard, "", 0)
	return srv
}

// listener tracks the SMTP connections it accepts.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	raw, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ci, ok := l.s.newConn(raw)
	if !ok {
		raw.Close()
		return nil, net.ErrClosed
	}
	c := &smtpConn{Conn: raw, s: l.s, ci: ci}
	switch {
	case l.s.opts.implicitTLS:
		c.Conn = tls.Server(raw, l.s.smtpTLS)
		c.isTLS = true
	case !l.s.opts.noSTARTTLS:
		c.intercept = true
		c.lineStart = true
	}
	return c, nil
}

// handoffListener passes connections upgraded by STARTTLS back to the
// go-smtp server.
type handoffListener struct {
	addr   net.Addr
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (h *handoffListener) Accept() (net.Conn, error) {
	select {
	case <-h.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.closed:
		return nil, net.ErrClosed
	}
}

func (h *handoffListener) Close() error {
	h.once.Do(func() { close(h.closed) })
	return nil
}

func (h *handoffListener) Addr() net.Addr { return h.addr }

// deliver hands c to Accept. It reports false if the listener is closed.
func (h *handoffListener) deliver(c net.Conn) bool {
	select {
	case h.ch <- c:
		return true
	case <-h.closed:
		return false
	}
}

// connInfo is one TCP connection, across STARTTLS.
type connInfo struct {
	s        *Server
	raw      net.Conn
	id       string // the session ID in the banner and in AUTH failures
	remoteIP string
	once     sync.Once
	forgot   sync.Once
	user     string // the mailbox it authenticated as; guarded by s.mu
}

func (s *Server) newConn(raw net.Conn) (*connInfo, bool) {
	ip := raw.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	ci := &connInfo{s: s, raw: raw, id: randHex(8), remoteIP: ip}
	s.conns[ci] = struct{}{}
	s.connections++
	s.openConns++
	s.maxConns = max(s.maxConns, s.openConns)
	s.connWG.Add(1)
	return ci, true
}

// finish closes the connection for good and forgets it.
func (ci *connInfo) finish() {
	ci.once.Do(func() {
		ci.forget()
		ci.raw.Close()
		ci.s.connWG.Done()
	})
}

// forget stops counting the connection. It runs before the socket is
// closed, as on a server that has ended the session: a client that saw the
// close may connect again at once and must not be counted with it.
func (ci *connInfo) forget() {
	ci.forgot.Do(func() {
		s := ci.s
		s.mu.Lock()
		delete(s.conns, ci)
		s.openConns--
		if ci.user != "" {
			s.authed[ci.user] = slices.DeleteFunc(s.authed[ci.user], func(o *connInfo) bool { return o == ci })
			if len(s.authed[ci.user]) == 0 {
				delete(s.authed, ci.user)
			}
		}
		s.mu.Unlock()
	})
}

// registerAuth records that ci authenticated as mailbox.
func (s *Server) registerAuth(ci *connInfo, mailbox string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ci.user = mailbox
	s.authed[mailbox] = append(s.authed[mailbox], ci)
}

// overLimit reports whether ci is beyond its mailbox's connection limit.
func (s *Server) overLimit(ci *connInfo) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	lim := s.tenant.connLimit
	return lim > 0 && ci.user != "" && slices.Index(s.authed[ci.user], ci) >= lim
}

// smtpConn is the net.Conn go-smtp sees: see the comment at the top of
// this file. Read and Write are called by go-smtp's connection goroutine,
// and, during BDAT, by the goroutine running Session.Data while the
// connection goroutine waits for it.
type smtpConn struct {
	net.Conn            // the transport: the TCP connection, or TLS over it
	s         *Server   //
	ci        *connInfo //
	isTLS     bool      // the transport is TLS
	intercept bool      // plain text with STARTTLS offered: Read watches for STARTTLS
	handedOff bool      // the TLS half of a STARTTLS connection: its banner was sent already

	greeted   bool
	out       []byte // a partial reply line written by go-smtp
	ehlo      bool   // collecting go-smtp's EHLO reply
	swallow   int    // number of go-smtp replies to drop
	in        []byte // input not yet passed to go-smtp (intercept)
	inErr     error
	rbuf      []byte
	lineStart bool   // in starts a command line (intercept)
	inject    []byte // input to pass to go-smtp before the client's

	dataRejected atomic.Bool // the DATA command got a fault's Reply: Session.Data must not deliver
	next         *smtpConn   // the TLS connection to hand off when go-smtp closes this one
	closeOnce    sync.Once
}

func (c *smtpConn) Close() error {
	c.closeOnce.Do(func() {
		if c.next != nil && c.s.handoff.deliver(c.next) {
			return
		}
		c.ci.forget()
		c.Conn.Close()
		c.ci.finish()
	})
	return nil
}

// drop closes the connection abruptly.
func (c *smtpConn) drop() { c.ci.raw.Close() }

// hang discards the client's input until it closes the connection or the
// server closes, then drops the connection.
func (c *smtpConn) hang() {
	buf := make([]byte, 512)
	for {
		if _, err := c.ci.raw.Read(buf); err != nil {
			break
		}
	}
	c.drop()
}

// applyFault runs f's Delay, Hang and Drop. It reports false when the
// connection is gone.
func (c *smtpConn) applyFault(f Fault) bool {
	if !c.s.sleep(f.Delay) {
		c.drop()
		return false
	}
	if f.Hang {
		c.hang()
		return false
	}
	if f.Drop {
		c.drop()
		return false
	}
	return true
}

// send writes reply lines to the client. A 421 reply closes the connection
// after it is written.
func (c *smtpConn) send(lines ...string) error {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	_, err := c.Conn.Write(b.Bytes())
	if len(lines) > 0 && strings.HasPrefix(lines[len(lines)-1], "421") {
		c.drop()
		if err == nil {
			err = errDropped
		}
	}
	return err
}

func (c *smtpConn) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	for {
		i := bytes.Index(c.out, []byte("\r\n"))
		if i < 0 {
			return len(p), nil
		}
		line := string(c.out[:i])
		c.out = c.out[i+2:]
		if err := c.reply(line); err != nil {
			c.out = nil
			return 0, err
		}
	}
}

// reply handles one reply line written by go-smtp.
func (c *smtpConn) reply(line string) error {
	switch {
	case !c.greeted:
		c.greeted = true
		return c.greet()
	case c.ehlo:
		if strings.HasPrefix(line, "250 ") {
			c.ehlo = false
			return c.sendEHLO(true)
		}
		return nil
	case c.swallow > 0:
		c.swallow--
		return nil
	case strings.HasPrefix(line, "250-Hello "):
		c.ehlo = true
		return nil
	case strings.HasPrefix(line, "250 2.0.0 Hello "):
		return c.sendEHLO(false)
	case line == goSMTPDataReply:
		return c.dataCommand()
	}
	return c.send(rewrite(line))
}

// greet replaces go-smtp's banner, after the connect and banner faults.
func (c *smtpConn) greet() error {
	if c.handedOff {
		return nil // the client got the banner before STARTTLS
	}
	if f, ok := c.s.takeFault(StageConnect); ok {
		if !c.applyFault(f) {
			return errDropped
		}
		if f.Reply != "" {
			c.ci.raw.Write([]byte(strings.Join(formatReply(parseReply(f.Reply)), "\r\n") + "\r\n"))
			c.drop()
			return errDropped
		}
	}
	if tc, ok := c.Conn.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(c.s.ctx, handshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			c.drop()
			return err
		}
	}
	if f, ok := c.s.takeFault(StageBanner); ok {
		if !c.applyFault(f) {
			return errDropped
		}
		if f.Reply != "" {
			e := parseReply(f.Reply)
			if err := c.send(formatReply(e)...); err != nil {
				return err
			}
			if e.Code/100 != 2 {
				c.drop()
				return errDropped
			}
			return nil
		}
	}
	return c.send("220 " + frontHost + " Microsoft ESMTP MAIL Service ready at " +
		time.Now().UTC().Format("Mon, 2 Jan 2006 15:04:05 -0700") + " [" + c.ci.id + "]")
}

// sendEHLO replaces go-smtp's reply to EHLO (or HELO) with Exchange's.
func (c *smtpConn) sendEHLO(extended bool) error {
	if f, ok := c.s.takeFault(StageEHLO); ok {
		if !c.applyFault(f) {
			return errDropped
		}
		if f.Reply != "" {
			return c.send(formatReply(parseReply(f.Reply))...)
		}
	}
	hello := frontHost + " Hello [" + c.ci.remoteIP + "]"
	if !extended {
		return c.send("250 " + hello)
	}
	caps := []string{hello, "SIZE " + strconv.FormatInt(c.s.opts.maxMessageBytes, 10), "PIPELINING", "DSN", "ENHANCEDSTATUSCODES"}
	switch {
	case c.isTLS:
		caps = append(caps, "AUTH LOGIN XOAUTH2")
	case c.intercept:
		caps = append(caps, "STARTTLS")
	}
	caps = append(caps, "8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8")
	for i := range caps {
		sep := "-"
		if i == len(caps)-1 {
			sep = " "
		}
		caps[i] = "250" + sep + caps[i]
	}
	return c.send(caps...)
}

// dataCommand replaces go-smtp's 354, after the DATA faults. go-smtp has
// already committed to reading a message, so after a fault's Reply an empty
// message is fed to it and its verdict dropped.
func (c *smtpConn) dataCommand() error {
	if f, ok := c.s.takeFault(StageData); ok {
		if !c.applyFault(f) {
			return errDropped
		}
		if f.Reply != "" {
			c.inject = []byte(".\r\n")
			c.swallow = 1
			c.dataRejected.Store(true)
			return c.send(formatReply(parseReply(f.Reply))...)
		}
	}
	return c.send(exchangeDataReply)
}

func (c *smtpConn) Read(p []byte) (int, error) {
	if len(c.inject) > 0 {
		n := copy(p, c.inject)
		c.inject = c.inject[n:]
		return n, nil
	}
	if !c.intercept {
		return c.Conn.Read(p)
	}
	return c.readPlain(p)
}

// readPlain passes the client's input to go-smtp one line at a time,
// answering STARTTLS itself. Since go-smtp reads only once it has answered
// every line it was given, a STARTTLS line at the head of the input comes
// after every earlier reply.
func (c *smtpConn) readPlain(p []byte) (int, error) {
	for {
		if len(c.in) > 0 {
			i := bytes.IndexByte(c.in, '\n')
			wait := false
			if c.lineStart {
				switch {
				case i >= 0 && isSTARTTLS(c.in[:i]):
					c.in = c.in[i+1:]
					if err := c.startTLS(); err != nil {
						return 0, err
					}
					continue
				case i < 0 && len(c.in) < 64 && c.inErr == nil:
					wait = true // a short partial line could still be STARTTLS
				}
			}
			if !wait {
				end := len(c.in)
				if i >= 0 {
					end = i + 1
				}
				n := copy(p, c.in[:end])
				c.in = c.in[n:]
				c.lineStart = i >= 0 && n == end
				return n, nil
			}
		}
		if c.inErr != nil {
			return 0, c.inErr
		}
		if c.rbuf == nil {
			c.rbuf = make([]byte, 4096)
		}
		n, err := c.Conn.Read(c.rbuf)
		c.in = append(c.in, c.rbuf[:n]...)
		if err != nil {
			c.inErr = err
		}
	}
}

func isSTARTTLS(line []byte) bool {
	return strings.EqualFold(strings.TrimSpace(string(line)), "STARTTLS")
}

// startTLS answers STARTTLS and upgrades the connection. On success it
// returns io.EOF, which ends the plain-text go-smtp connection; its Close
// then hands the TLS connection over.
func (c *smtpConn) startTLS() error {
	if f, ok := c.s.takeFault(StageSTARTTLS); ok {
		if !c.applyFault(f) {
			return errDropped
		}
		if f.Reply != "" {
			return c.send(formatReply(parseReply(f.Reply))...)
		}
	}
	c.in = nil // RFC 3207: discard anything pipelined after STARTTLS
	if err := c.send("220 2.0.0 SMTP server ready"); err != nil {
		return err
	}
	tc := tls.Server(c.ci.raw, c.s.smtpTLS)
	ctx, cancel := context.WithTimeout(c.s.ctx, handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		c.drop()
		return err
	}
	c.next = &smtpConn{Conn: tc, s: c.s, ci: c.ci, isTLS: true, handedOff: true}
	return io.EOF
}

// session is a go-smtp session: from EHLO to the end of the connection or
// to STARTTLS.
type session struct {
	s    *Server
	c    *smtpConn
	user string // the authenticated mailbox, in lower case
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

// bracket returns the [host time session] suffix of Exchange's AUTH
// failures.
func (ss *session) bracket() string {
	return "[" + authHost + " " + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + ss.c.ci.id + "]"
}

func (ss *session) authFailed() *smtp.SMTPError {
	return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 3}, Message: "Authentication unsuccessful " + ss.bracket()}
}

// fault applies stage's fault, if any. It returns the reply to give instead
// of the normal one, or nil to proceed.
func (ss *session) fault(stage Stage) *smtp.SMTPError {
	f, ok := ss.s.takeFault(stage)
	if !ok {
		return nil
	}
	if !ss.c.applyFault(f) {
		return errConnDropped
	}
	if f.Reply != "" {
		return parseReply(f.Reply)
	}
	return nil
}

func (ss *session) AuthMechanisms() []string {
	if ss.c.isTLS {
		return []string{"LOGIN", "XOAUTH2"}
	}
	return nil
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	ss.s.mu.Lock()
	ss.s.authAttempts++
	ss.s.mu.Unlock()
	if ss.c.isTLS {
		switch mech {
		case "XOAUTH2":
			return &xoauth2Server{auth: ss.authXOAUTH2}, nil
		case "LOGIN":
			return &loginServer{auth: ss.authLogin}, nil
		}
	}
	return nil, errUnrecognizedAuth
}

// authXOAUTH2 is the verdict on an XOAUTH2 client response.
func (ss *session) authXOAUTH2(resp []byte) error {
	if e := ss.fault(StageAuth); e != nil {
		return e
	}
	user, token, err := parseXOAUTH2(resp)
	if err != nil {
		return ss.authFailed()
	}
	mailbox := strings.ToLower(user)
	if e := ss.s.checkAuth(ss, mailbox, token); e != nil {
		return e
	}
	ss.user = mailbox
	ss.s.registerAuth(ss.c.ci, mailbox)
	return nil
}

// authLogin is the verdict on AUTH LOGIN: basic authentication is off.
func (ss *session) authLogin() error {
	if e := ss.fault(StageAuth); e != nil {
		return e
	}
	return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, basic authentication is disabled. " + ss.bracket()}
}

// checkAuth decides whether token lets the client authenticate as mailbox,
// in Exchange Online's order as far as it can be observed.
func (s *Server) checkAuth(ss *session, mailbox, token string) *smtp.SMTPError {
	claims, ok := s.verifyAccessToken(token)
	if !ok {
		return ss.authFailed()
	}
	s.mu.Lock()
	t := &s.tenant
	exists := t.mailboxes[mailbox]
	disabled, byMailbox := t.smtpAuthDisabledFor(mailbox)
	registered := t.spRegistered && strings.EqualFold(t.spObjectID, claims.oid)
	fullAccess := t.fullAccess[mailbox]
	s.mu.Unlock()
	switch {
	case !exists:
		return ss.authFailed()
	case disabled:
		scope := "Tenant"
		if byMailbox {
			scope = "Mailbox"
		}
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, SmtpClientAuthentication is disabled for the " +
			scope + ". Visit https://aka.ms/smtp_auth_disabled for more information. " + ss.bracket()}
	case !slices.Contains(claims.roles, roleSendAsApp), !strings.EqualFold(claims.appid, s.ClientID), !registered, !fullAccess:
		return ss.authFailed()
	}
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if e := ss.fault(StageMail); e != nil {
		return e
	}
	if ss.user == "" {
		return errNotAuthenticated
	}
	if !ss.s.maySendAs(ss.user, from) {
		return errSendAsMail
	}
	ss.from = from
	ss.to = nil
	return nil
}

func (s *Server) maySendAs(user, addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenant.maySendAs(user, addr)
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if e := ss.fault(StageRcpt); e != nil {
		return e
	}
	local := to
	if i := strings.LastIndexByte(to, '@'); i >= 0 {
		local = to[:i]
	}
	if strings.HasPrefix(strings.ToLower(strings.Trim(local, `"`)), "reject") {
		return errRecipientNotFound
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if ss.c.dataRejected.Swap(false) {
		return nil // the reply was the fault's; go-smtp's is dropped
	}
	switch {
	case err == smtp.ErrDataTooLarge:
		return errTooLarge
	case errors.Is(err, smtp.ErrTooLongLine):
		return errBadData
	case err != nil:
		return err // the connection is broken; nobody reads the reply
	}
	if e := ss.fault(StageDataEnd); e != nil {
		return e
	}
	if ss.s.overLimit(ss.c.ci) {
		return errConcurrent
	}
	var header mail.Header
	if m, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		header = m.Header
		if from, err := mail.ParseAddressList(header.Get("From")); err == nil {
			for _, a := range from {
				if !ss.s.maySendAs(ss.user, a.Address) {
					return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 2, 252}, Message: "SendAsDenied; " + ss.user + " not allowed to send as " + a.Address +
						"; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message. [Hostname=" + storeHost + "]"}
				}
			}
		}
	}
	if header == nil {
		header = mail.Header{}
	}
	msg := Message{
		ID:       msgIDPrefix + randHex(13),
		Mailbox:  ss.user,
		From:     ss.from,
		To:       slices.Clone(ss.to),
		Data:     data,
		Header:   header,
		Size:     len(data),
		Received: time.Now(),
	}
	ss.s.mu.Lock()
	ss.s.messages = append(ss.s.messages, msg)
	ss.s.mu.Unlock()
	// go-smtp writes any *SMTPError as the reply, whatever its code.
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK <" + msg.ID + "@" + storeHost + "> [Hostname=" + storeHost + "]"}
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }
