package o365smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/o365smtp/o365smtp/internal/catalog"
)

// Connection timing.
const (
	// dialTimeout bounds connecting, TLS and AUTH when ctx has no earlier
	// deadline.
	dialTimeout = 30 * time.Second
	// sendTimeout bounds one message transaction when ctx has no deadline.
	sendTimeout = 5 * time.Minute
	// replyGrace is how long Send still waits for the server's reply after
	// the end of the message data was sent, even when ctx has ended: giving
	// up there would leave the outcome unknown (ErrUnknownOutcome).
	replyGrace = 3 * time.Second
	// idleTimeout retires a pooled connection that was not used for this
	// long. Exchange Online drops idle sessions after a few minutes.
	idleTimeout = 60 * time.Second
	// maxConnAge retires a pooled connection after this long, whatever its
	// token's lifetime (Exchange's MX endpoints cap sessions near 20 min).
	maxConnAge = 10 * time.Minute
)

// errNoTLS is returned by the XOAUTH2 mechanism instead of sending a token on
// a connection without TLS.
var errNoTLS = errors.New("o365smtp: refusing to send the access token on a connection without TLS")

// xoauth2 is the SASL XOAUTH2 mechanism for one connection.
type xoauth2 struct {
	user, token string
	implicitTLS bool // the dialer completed a verified TLS handshake itself
	started     bool
}

// Start implements smtp.Auth. It refuses to send the token unless the
// connection is encrypted.
func (a *xoauth2) Start(si *smtp.ServerInfo) (string, []byte, error) {
	a.started = true
	if !si.TLS && !a.implicitTLS {
		return "", nil, errNoTLS
	}
	return "XOAUTH2", []byte("user=" + a.user + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
}

// Next implements smtp.Auth: an error challenge (334 with data) is answered
// with an empty line so that the server sends its final reply.
func (a *xoauth2) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return []byte{}, nil
	}
	return nil, nil
}

// String keeps the token out of any formatting of the mechanism.
func (a *xoauth2) String() string { return "xoauth2{user:" + a.user + " token:[REDACTED]}" }

// wireConn wraps the TCP connection: it clamps every deadline go-mail sets to
// the caller's context, aborts blocked I/O when the context ends, and records
// the server's greeting and the plaintext commands' stage.
type wireConn struct {
	net.Conn

	mu        sync.Mutex
	limit     time.Time // deadline from the bound context; zero: none
	canceled  bool
	grace     bool // reading the reply to the end of data: limit+replyGrace
	requested time.Time
	stop      func() bool
	gen       uint64 // bumped by bind and unbind; a stale AfterFunc does nothing

	capture   bool // record the greeting from reads (plaintext greeting)
	banner    []byte
	bannerOK  bool
	plainDone bool   // STARTTLS was sent: later bytes are TLS records
	lastVerb  string // last plaintext command verb
}

func (w *wireConn) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if w.capture {
		w.observe(p[:n])
	}
	return n, err
}

// observe records the greeting from bytes read, until it is complete.
func (w *wireConn) observe(b []byte) {
	if len(b) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.bannerOK {
		w.recordBanner(b)
	}
}

// recordBanner collects the greeting's lines until its last line.
func (w *wireConn) recordBanner(b []byte) {
	w.banner = append(w.banner, b...)
	for {
		i := bytes.Index(w.banner, []byte("\r\n"))
		if i < 0 || len(w.banner) > 4096 {
			return
		}
		line := w.banner[:i]
		if len(line) < 4 || line[3] != '-' { // last line of the reply
			w.banner = bytes.ReplaceAll(w.banner[:i], []byte("\r\n"), []byte(" "))
			w.bannerOK = true
			return
		}
		// a continuation line: keep scanning after it
		rest := w.banner[i+2:]
		if j := bytes.Index(rest, []byte("\r\n")); j < 0 {
			return
		}
		w.banner = append(append([]byte{}, line...), append([]byte(" "), rest...)...)
	}
}

func (w *wireConn) Write(p []byte) (int, error) {
	w.mu.Lock()
	if !w.plainDone {
		verb := p
		if i := bytes.IndexAny(verb, " \r"); i >= 0 {
			verb = verb[:i]
		}
		w.lastVerb = strings.ToUpper(string(verb))
		if w.lastVerb == "STARTTLS" {
			w.plainDone = true
		}
	}
	w.mu.Unlock()
	return w.Conn.Write(p)
}

func (w *wireConn) greeting() (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.banner), w.bannerOK
}

func (w *wireConn) stage() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastVerb
}

// effective returns the deadline to apply for a requested one.
func (w *wireConn) effective(t time.Time) time.Time {
	limit := w.limit
	if w.canceled {
		if w.grace {
			return time.Now().Add(replyGrace)
		}
		return time.Unix(1, 0)
	}
	if !limit.IsZero() && w.grace {
		limit = limit.Add(replyGrace)
	}
	if !limit.IsZero() && (t.IsZero() || limit.Before(t)) {
		return limit
	}
	return t
}

func (w *wireConn) SetDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requested = t
	return w.Conn.SetDeadline(w.effective(t))
}

func (w *wireConn) SetReadDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Conn.SetReadDeadline(w.effective(t))
}

func (w *wireConn) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Conn.SetWriteDeadline(w.effective(t))
}

// bind makes ctx govern the connection's I/O until unbind is called. With no
// deadline in ctx, fallback bounds the whole bound period.
func (w *wireConn) bind(ctx context.Context, fallback time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.canceled, w.grace = false, false
	if d, ok := ctx.Deadline(); ok {
		w.limit = d
	} else {
		w.limit = time.Now().Add(fallback)
	}
	w.requested = time.Time{}
	_ = w.Conn.SetDeadline(w.effective(time.Time{}))
	w.gen++
	gen := w.gen
	w.stop = context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.gen != gen {
			return // unbound meanwhile
		}
		w.canceled = true
		_ = w.Conn.SetDeadline(w.effective(w.requested))
	})
}

// startGrace extends the deadline by replyGrace for the reply to the end of
// the data.
func (w *wireConn) startGrace() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.grace = true
	_ = w.Conn.SetDeadline(w.effective(w.requested))
}

// unbind detaches the context; the idle connection has no deadline.
func (w *wireConn) unbind() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	w.gen++
	w.limit, w.canceled, w.grace, w.requested = time.Time{}, false, false, time.Time{}
	_ = w.Conn.SetDeadline(time.Time{})
}

// bannerConn records the greeting read through an implicit TLS connection.
type bannerConn struct {
	net.Conn
	w *wireConn
}

func (b *bannerConn) Read(p []byte) (int, error) {
	n, err := b.Conn.Read(p)
	b.w.observe(p[:n])
	return n, err
}

// conn is one authenticated SMTP session.
type conn struct {
	c        *smtp.Client
	w        *wireConn
	tls      tls.ConnectionState
	token    string    // the access token it authenticated with
	retireAt time.Time // token refresh margin or maximum age
	lastUsed time.Time
	size     int64 // SIZE advertised after TLS, 0 if none
	reused   bool
	log      *slogAdapter // nil: no logging
}

// close closes the connection without QUIT.
func (c *conn) close() { _ = c.w.Close() }

// quitTimeout bounds the QUIT of a connection being retired.
const quitTimeout = 2 * time.Second

// quit sends QUIT and reads the reply (so the server has ended the session
// before a replacement is dialled), with a short deadline, then closes.
func (c *conn) quit() {
	_ = c.w.Conn.SetDeadline(time.Now().Add(quitTimeout))
	t := c.c.Text
	if id, err := t.Cmd("QUIT"); err == nil {
		c.log.line("client", "QUIT")
		t.StartResponse(id)
		code, msg, err := t.ReadResponse(221)
		t.EndResponse(id)
		c.log.line("server", fmt.Sprintf("%d %s", code, msg))
		if err == nil {
			// Wait for the server to close its end, so that it no longer
			// counts this session when a replacement connects.
			_, _ = io.Copy(io.Discard, t.R)
		}
	}
	c.close()
}

// dial opens, secures and authenticates a new connection with tok. The
// returned error is an *Error; the connection is always closed on failure.
func (s *Sender) dial(ctx context.Context, tok Token, tr *Trace) (*conn, *Error) {
	r := s.r
	addr := net.JoinHostPort(r.host, strconv.Itoa(r.port))
	auth := &xoauth2{user: r.cfg.Mailbox, token: tok.AccessToken, implicitTLS: r.implicitTLS}
	var w *wireConn
	var tc *tls.Conn
	dt := &dialTrace{tr: tr, addr: addr, w: &w}
	tlsConfig := r.tlsConfig.Clone()
	userVerify := tlsConfig.VerifyConnection
	tlsConfig.VerifyConnection = func(cs tls.ConnectionState) error {
		if userVerify != nil {
			if err := userVerify(cs); err != nil {
				return err
			}
		}
		dt.tlsDone(cs)
		return nil
	}
	dialFn := func(ctx context.Context, network, address string) (net.Conn, error) {
		var raw net.Conn
		var err error
		if r.cfg.DialContext != nil {
			raw, err = r.cfg.DialContext(ctx, network, address)
		} else {
			var d net.Dialer
			raw, err = d.DialContext(ctx, network, address)
		}
		if err != nil {
			return nil, err
		}
		w = &wireConn{Conn: raw, capture: !r.implicitTLS}
		w.bind(ctx, dialTimeout)
		if !r.implicitTLS {
			return w, nil
		}
		tc = tls.Client(w, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, &tlsHandshakeError{err}
		}
		return &bannerConn{Conn: tc, w: w}, nil
	}
	opts := []mail.Option{
		mail.WithPort(r.port),
		mail.WithTimeout(dialTimeout),
		mail.WithTLSConfig(tlsConfig),
		mail.WithSMTPAuthCustom(auth),
		mail.WithDialContextFunc(dialFn),
	}
	if r.implicitTLS {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	var logger *slogAdapter
	if r.logger != nil {
		logger = &slogAdapter{l: r.logger, secrets: s.secretValues}
		opts = append(opts, mail.WithDebugLog(), mail.WithLogger(logger))
	}
	mc, err := mail.NewClient(r.host, opts...)
	if err != nil {
		return nil, &Error{Kind: ErrConfig, Op: "connect", Message: "cannot configure the SMTP client: " + err.Error(),
			Hint: "Check Host and Port.", Err: err}
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	sc, err := mc.DialToSMTPClientWithContext(dctx)
	if err != nil {
		// go-mail v0.8.1 leaks the connection of a failed dial; closing
		// twice is harmless if a later version closes it too.
		if w != nil {
			dt.connected()
			w.unbind()
			_ = w.Close()
		}
		return nil, s.dialError(ctx, err, w, auth)
	}
	w.unbind()
	now := s.pool.now()
	c := &conn{c: sc, w: w, token: tok.AccessToken, lastUsed: now, log: logger}
	if tc != nil {
		c.tls = tc.ConnectionState()
	} else if st, err := sc.GetTLSConnectionState(); err == nil {
		c.tls = *st
	}
	if ok, v := sc.Extension("SIZE"); ok {
		c.size, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	c.retireAt = now.Add(maxConnAge)
	if !tok.ExpiresOn.IsZero() {
		margin := min(tok.ExpiresOn.Sub(now)/2, maxRefreshMargin)
		if t := tok.ExpiresOn.Add(-margin); t.Before(c.retireAt) {
			c.retireAt = t
		}
	}
	s.stats.dials.Add(1)
	dt.connected()
	dt.tlsDone(c.tls)
	if tr.Authenticated != nil {
		tr.Authenticated(r.cfg.Mailbox)
	}
	s.logDebug("smtp connection authenticated", "addr", addr, "tls", tls.VersionName(c.tls.Version))
	return c, nil
}

// dialTrace fires a dial's Connected and TLSHandshakeDone callbacks once
// each, as soon as what they report is known: Connected when the greeting
// has been read, TLSHandshakeDone when the server's certificate has been
// verified (from tls.Config.VerifyConnection), even if AUTH then fails.
type dialTrace struct {
	tr           *Trace
	addr         string
	w            **wireConn
	conn, secure bool
}

func (d *dialTrace) connected() {
	if d.conn || *d.w == nil {
		return
	}
	banner, ok := (*d.w).greeting()
	if !ok {
		return
	}
	d.conn = true
	if d.tr.Connected != nil {
		d.tr.Connected(d.addr, banner)
	}
}

func (d *dialTrace) tlsDone(cs tls.ConnectionState) {
	d.connected()
	if d.secure {
		return
	}
	d.secure = true
	if d.tr.TLSHandshakeDone != nil {
		d.tr.TLSHandshakeDone(cs)
	}
}

// tlsHandshakeError marks a failed implicit TLS handshake.
type tlsHandshakeError struct{ err error }

func (e *tlsHandshakeError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *tlsHandshakeError) Unwrap() error { return e.err }

// dialError classifies a failed dial from the error's structure and from
// what the connection saw.
func (s *Sender) dialError(ctx context.Context, err error, w *wireConn, auth *xoauth2) *Error {
	if err := ctxEnded(ctx); err != nil {
		return canceledError("connect", err)
	}
	addr := net.JoinHostPort(s.r.host, strconv.Itoa(s.r.port))
	stage := ""
	greeted := false
	if w != nil {
		stage = w.stage()
		_, greeted = w.greeting()
	}
	if errors.Is(err, errNoTLS) {
		return &Error{Kind: ErrTLS, Op: "tls", Message: "the connection is not encrypted; the access token was not sent",
			Hint: "Exchange Online requires STARTTLS on port 587. Check Host, Port and Security.", Err: errNoTLS, retry: retryNever}
	}
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		op, st := "connect", "connect"
		switch {
		case auth.started:
			op, st = "auth", "auth"
		case stage == "STARTTLS":
			op, st = "tls", "starttls"
		case stage == "EHLO" || stage == "HELO":
			op, st = "connect", "ehlo"
		}
		return s.replyError(op, st, tpe, nil, "")
	}
	var hs *tlsHandshakeError
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var rhe tls.RecordHeaderError
	var ae tls.AlertError
	switch {
	case errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne):
		return &Error{Kind: ErrTLS, Op: "tls", Message: "the server's certificate cannot be verified: " + err.Error(),
			Hint: fmt.Sprintf("Connect to %s by the DNS name on its certificate (smtp.office365.com, never an IP address). Behind a TLS-inspecting proxy, add its CA to TLSConfig.RootCAs.", addr),
			Err:  err, retry: retryNever}
	case errors.As(err, &rhe) || errors.As(err, &ae):
		return &Error{Kind: ErrTLS, Op: "tls", Message: "the TLS handshake failed: " + err.Error(),
			Hint: "Exchange Online requires TLS 1.2 or newer. Check that Host and Port point at the SMTP submission service and that nothing intercepts TLS.",
			Err:  err, retry: retryNever}
	}
	var pe textproto.ProtocolError
	if errors.As(err, &pe) {
		return &Error{Kind: ErrUnexpectedReply, Op: "connect", Message: "the server's reply is not SMTP: " + catalog.Sanitize(pe.Error()),
			Hint: fmt.Sprintf("%s does not speak SMTP. Check Host and Port (Exchange Online: smtp.office365.com, port 587).", addr),
			Err:  err, retry: retryNever}
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" {
		// A TLS alert from the server, e.g. "protocol version not supported".
		return &Error{Kind: ErrTLS, Op: "tls", Message: "the server refused the TLS handshake: " + err.Error(),
			Hint: "Exchange Online requires TLS 1.2 or newer; this server refused the versions and ciphers offered. Check that Host and Port point at the SMTP submission service.",
			Err:  err, retry: retryNever}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
		msg := "the connection failed: " + err.Error()
		op := "connect"
		switch {
		case auth.started:
			op = "auth"
		case stage == "STARTTLS" || errors.As(err, &hs):
			op = "tls"
		}
		return &Error{Kind: ErrConnection, Op: op, Message: msg,
			Hint: fmt.Sprintf("Check that %s is reachable from here (DNS, firewall, egress proxy). Many networks block outbound SMTP ports; Exchange Online submission uses 587.", addr),
			Err:  err, retry: retryTransient}
	}
	if greeted && !s.r.implicitTLS && stage != "STARTTLS" && !auth.started {
		// go-mail refused to continue without STARTTLS (TLSMandatory).
		return &Error{Kind: ErrTLS, Op: "tls", Message: "the server did not offer STARTTLS",
			Hint: fmt.Sprintf("%s did not offer STARTTLS, so the token was not sent. Exchange Online offers it on port 587: check Host and Port.", addr),
			Err:  err, retry: retryNever}
	}
	return &Error{Kind: ErrConnection, Op: "connect", Message: "the SMTP session could not be set up: " + err.Error(),
		Hint: "Check Host, Port and Security.", Err: err, retry: retryNever}
}

// replyError builds an *Error from an SMTP reply.
// from is the message's From address, if known, for the Hints that name it.
func (s *Sender) replyError(op, stage string, tpe *textproto.Error, recipients []string, from string) *Error {
	cr := catalog.ClassifyReply(stage, tpe.Code, tpe.Msg)
	v := s.hintValuesFrom(from)
	e := &Error{Kind: Kind(cr.Kind), Op: op, Code: cr.Code, EnhancedCode: cr.Enhanced, Message: cr.Text,
		Recipients: recipients, Hint: cr.Hint(v), Err: tpe, retry: retryOf(cr.Retry)}
	return e
}
