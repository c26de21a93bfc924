package o365smtp

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/o365smtp/o365smtp/internal/smtpclient"
)

// Connection timing.
const (
	// dialTimeout bounds connecting, TLS and AUTH when ctx has no earlier
	// deadline.
	dialTimeout = 30 * time.Second
	// greetingTimeout bounds the wait for the server's greeting. Exchange
	// greets within milliseconds; a server that stays silent is usually
	// not SMTP on that port (HTTPS, or implicit TLS where STARTTLS was
	// asked for).
	greetingTimeout = 5 * time.Second
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
	// quitTimeout bounds the QUIT of a connection being retired.
	quitTimeout = 2 * time.Second
)

// conn is one authenticated SMTP session.
type conn struct {
	c        *smtpclient.Client
	tls      tls.ConnectionState
	token    string    // the access token it authenticated with
	retireAt time.Time // token refresh margin or maximum age
	lastUsed time.Time
	size     int64 // SIZE advertised after TLS, 0 if none
	utf8     bool  // SMTPUTF8 advertised
	eightBit bool  // 8BITMIME advertised
	// pipelining: PIPELINING advertised (RFC 2920): MAIL, RCPT and DATA
	// go out in one write.
	pipelining bool
	chunking   bool // CHUNKING advertised (RFC 3030): BDAT
	reused     bool
	// lease is the Fleet's slot the connection holds for its whole life,
	// idle time included (Exchange counts open connections); close gives
	// it back once the connection is closed.
	lease Lease
}

// close closes the connection without QUIT, and gives its lease back.
func (c *conn) close() {
	_ = c.c.Close()
	if c.lease != nil {
		c.lease.Release()
	}
}

// quit sends QUIT and waits, briefly, for the server to end the session
// (so that it no longer counts it when a replacement connects), then closes.
func (c *conn) quit() {
	ctx, cancel := context.WithTimeout(context.Background(), quitTimeout)
	c.c.Bind(ctx, quitTimeout)
	_ = c.c.Quit()
	c.c.Unbind()
	cancel()
	c.close()
}

// dialMarks records when each phase of a dial ended, for Verify's steps.
type dialMarks struct {
	start, connected, secured, authenticated time.Time
	tls                                      tls.ConnectionState
	authMechs                                string // the AUTH mechanisms advertised after TLS
}

// dial opens, secures and authenticates a new connection with tok, one
// explicit step at a time. The connection is always closed on failure.
func (t *smtpTransport) dial(ctx context.Context, tok Token, tr *Trace, marks *dialMarks) (*conn, *Error) {
	r := t.r
	if marks == nil {
		marks = &dialMarks{}
	}
	marks.start = r.clock.Now()
	// The Fleet's lease comes first: a connection counts from its TCP
	// connect until it is closed.
	lease, err := t.fleet.Acquire(ctx, r.cfg.Mailbox, ResourceSMTP, r.maxConns)
	if err != nil {
		return nil, canceledError("connect", err)
	}
	addr := net.JoinHostPort(r.host, strconv.Itoa(r.port))
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	raw, err := t.dialTCP(dctx, addr)
	if err != nil {
		lease.Release()
		return nil, t.connectError(ctx, err)
	}
	sc := smtpclient.New(raw, smtpclient.Config{TLS: r.tlsConfig, Grace: replyGrace,
		GreetingTimeout: greetingTimeout, Log: t.protocolLog()})
	sc.Bind(dctx, dialTimeout)
	c, e := t.handshake(dctx, sc, tok, tr, addr, marks)
	sc.Unbind()
	if e != nil {
		_ = sc.Close()
		lease.Release()
		if err := ctxEnded(ctx); err != nil && e.Kind != ErrCanceled {
			return nil, canceledError(e.Op, err)
		}
		return nil, e
	}
	c.lease = lease
	t.dials.Add(1)
	t.logDebug("smtp connection authenticated", "addr", addr, "tls", tls.VersionName(c.tls.Version))
	return c, nil
}

func (t *smtpTransport) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	if t.r.cfg.DialContext != nil {
		return t.r.cfg.DialContext(ctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// handshake runs greeting, EHLO, TLS and AUTH on sc, firing the trace as
// each step completes.
func (t *smtpTransport) handshake(ctx context.Context, sc *smtpclient.Client, tok Token, tr *Trace, addr string, marks *dialMarks) (*conn, *Error) {
	r := t.r
	fail := func(err error) (*conn, *Error) { return nil, t.sessionError(ctx, err, nil, "") }
	if r.implicitTLS {
		if err := sc.HandshakeTLS(ctx); err != nil {
			return fail(err)
		}
	}
	banner, err := sc.Greeting()
	if err != nil {
		return fail(err)
	}
	if tr.Connected != nil {
		tr.Connected(addr, banner.String())
	}
	if !r.implicitTLS {
		if err := sc.Hello(); err != nil {
			return fail(err)
		}
		marks.connected = r.clock.Now()
		if err := sc.StartTLS(ctx); err != nil {
			return fail(err)
		}
	} else {
		marks.connected = r.clock.Now()
	}
	state, _ := sc.TLS()
	if tr.TLSHandshakeDone != nil {
		tr.TLSHandshakeDone(state)
	}
	if err := sc.Hello(); err != nil {
		return fail(err)
	}
	marks.secured, marks.tls = r.clock.Now(), state
	_, marks.authMechs = sc.Extension("AUTH")
	if err := sc.AuthXOAUTH2(r.cfg.Mailbox, tok.AccessToken); err != nil {
		return fail(err)
	}
	marks.authenticated = r.clock.Now()
	if tr.Authenticated != nil {
		tr.Authenticated(r.cfg.Mailbox)
	}
	now := r.clock.Now()
	c := &conn{c: sc, tls: state, token: tok.AccessToken, lastUsed: now, retireAt: now.Add(maxConnAge)}
	if ok, v := sc.Extension("SIZE"); ok {
		c.size, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	c.utf8, _ = sc.Extension("SMTPUTF8")
	c.eightBit, _ = sc.Extension("8BITMIME")
	c.pipelining, _ = sc.Extension("PIPELINING")
	c.chunking, _ = sc.Extension("CHUNKING")
	if !tok.ExpiresOn.IsZero() {
		if t := refreshAt(tok.ExpiresOn, now); t.Before(c.retireAt) {
			c.retireAt = t
		}
	}
	return c, nil
}
