package o365smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/o365smtp/o365smtp/internal/catalog"
	"github.com/o365smtp/o365smtp/internal/smtpclient"
)

// transport is the way one attempt of a message travels. The Sender's
// policy (validation, cool-off, pacing, retries) sits above it and is the
// same for every transport.
type transport interface {
	// attempt makes one delivery attempt of env; nil means accepted.
	attempt(ctx context.Context, env *envelope) *Error
	// close stops the transport: graceful waits, within ctx, for the
	// attempts in flight; otherwise everything is closed at once.
	close(ctx context.Context, graceful bool) error
}

// smtpTransport submits over SMTP AUTH: a pool of authenticated sessions
// of at most MaxConnections, dialled with a token from the core's source.
type smtpTransport struct {
	*core
	pool  *pool
	dials atomic.Int64 // sessions dialled
	// bdat sends each message with BDAT n LAST pipelined behind MAIL and
	// RCPT (one round trip) where the server offers CHUNKING and
	// PIPELINING. It is off and set only by the benchmarks
	// (export_stream_test.go): a refused recipient among accepted ones
	// would get the message to the accepted ones (docs/performance.md).
	bdat bool
}

// sessionCacheSize is the number of TLS sessions kept for resumption: one
// per server name, a few to spare.
const sessionCacheSize = 8

func newSMTPTransport(c *core) *smtpTransport {
	// The pool's connections resume the TLS session of an earlier one
	// (a ticket, RFC 8446 2.2): a new connection skips the certificate
	// exchange and its verification. The TLS config is the Sender's own
	// clone; a cache the caller set is kept.
	if c.r.tlsConfig != nil && c.r.tlsConfig.ClientSessionCache == nil {
		c.r.tlsConfig.ClientSessionCache = tls.NewLRUClientSessionCache(sessionCacheSize)
	}
	t := &smtpTransport{core: c, pool: newPool(c.r.maxConns, c.r.clock)}
	if c.fleet.sharing() {
		t.pool.idleFor, t.pool.watch = fleetIdleTimeout, true
	}
	return t
}

func (t *smtpTransport) close(ctx context.Context, graceful bool) error {
	return t.pool.close(ctx, graceful)
}

// attempt makes one submission attempt on a pooled or new connection.
func (t *smtpTransport) attempt(ctx context.Context, env *envelope) *Error {
	if err := t.pool.acquire(ctx); err != nil {
		return err
	}
	defer t.pool.releaseSlot()
	tr := traceFrom(ctx)
	for {
		c, err := t.connection(ctx, tr)
		if err != nil {
			return err
		}
		c.c.Bind(ctx, sendTimeout)
		e, state := t.transact(ctx, c, env, tr)
		switch state {
		case sessionOK:
			t.pool.put(c)
		case sessionDead:
			t.pool.discard(c)
			if e != nil && c.reused && e.Op == "mail" && ctx.Err() == nil {
				// A pooled connection died while idle: replace it
				// without failing the message (nothing was sent).
				t.logDebug("pooled connection was dead; dialling a new one")
				continue
			}
		}
		if e != nil && e.Kind == ErrThrottled && e.Code == 432 {
			t.pool.backOff()
			_ = t.fleet.BackOff(ctx, t.r.cfg.Mailbox, ResourceSMTP, t.r.maxConns, concurrencyBackoff, 0)
		}
		return e
	}
}

// connection returns a pooled connection or dials one; on 535 5.7.3 with a
// cached token it drops the token and tries once more with a fresh one.
func (t *smtpTransport) connection(ctx context.Context, tr *Trace) (*conn, *Error) {
	if c := t.pool.take(); c != nil {
		return c, nil
	}
	for retried := false; ; retried = true {
		tok, cached, err := t.tokens.token(ctx)
		if err != nil {
			return nil, err
		}
		if tr.TokenAcquired != nil {
			tr.TokenAcquired(tok.ExpiresOn, cached)
		}
		if c := tokenClaims(tok.AccessToken); c.Decoded && c.Aud != "" && !exchangeAudience(c.Aud, t.r.scope) {
			// Exchange would refuse it with 535 5.7.3: say why, and do not
			// send a token to a server that cannot use it.
			return nil, localError("token.audience", "the token's aud is "+c.Aud+", which Exchange Online's SMTP AUTH refuses (535 5.7.3)", t.hintValues(), nil)
		}
		c, e := t.dial(ctx, tok, tr, nil)
		if e == nil {
			if !t.pool.added(c) {
				return nil, closedError()
			}
			return c, nil
		}
		if !retried && cached && tokenRejected(e) {
			t.logDebug("token rejected; refreshing it once")
			t.tokens.invalidate(tok.AccessToken)
			continue
		}
		return nil, e
	}
}

// sessionState says what a transaction left the connection in.
type sessionState int

const (
	sessionOK   sessionState = iota // reusable
	sessionDead                     // in doubt: close it
)

// transact runs MAIL, RCPT, DATA and RSET for env on c.
func (t *smtpTransport) transact(ctx context.Context, c *conn, env *envelope, tr *Trace) (*Error, sessionState) {
	if c.size > 0 && env.size > c.size {
		return localError("message.too_large", fmt.Sprintf("the message is %d bytes; the server accepts at most %d", env.size, c.size), catalog.Values{}, nil), sessionOK
	}
	params, perr := env.mailParams(c)
	if perr != nil {
		return perr, sessionOK
	}
	sc := c.c
	fail := func(err error, refused []string) *Error { return t.sessionError(ctx, err, refused, env.hdrFrom) }
	if t.bdat && c.pipelining && c.chunking {
		return t.transactChunk(c, env, params, tr, fail)
	}
	// MAIL, every RCPT and DATA: one round trip when the server pipelines.
	ev, ioErr := sc.Envelope(env.from, params, env.rcpts, c.pipelining)
	if ev == nil { // an invalid address: nothing was sent
		return fail(ioErr, nil), sessionOK
	}
	e := envelopeError(ev, env, ioErr, fail)
	switch {
	case e == nil && ev.DataOpen:
		// Every command accepted: the message follows.
	case ioErr != nil || ev.Closing:
		return e, sessionDead
	case ev.DataOpen:
		// DATA was answered 354 although a command before it failed (RFC
		// 2920 3.1): the server now reads a message, and ending it, even
		// empty, would deliver it to the recipients it accepted. Close
		// the connection instead: the server drops the transaction.
		return e, sessionDead
	default:
		return e, t.reset(sc)
	}
	reply, err := sc.Body(env)
	if err != nil {
		var re *smtpclient.ReplyError
		if errors.As(err, &re) && re.Reply.Code != 421 {
			return fail(err, nil), sessionOK // the transaction is over; the session goes on
		}
		return fail(err, nil), sessionDead
	}
	if tr.Accepted != nil {
		tr.Accepted(reply.String())
	}
	// The transaction is over and the session is ready for the next MAIL
	// (no RSET needed). Anything the server sent behind its verdict (a
	// second verdict, say) means the session is out of step: never reuse it.
	if sc.Idle() != nil {
		return nil, sessionDead // delivered; only the session is in doubt
	}
	return nil, sessionOK
}

// envelopeError is the Error of a transaction's replies: the first
// refusal, in the order of the commands, or else the I/O failure. A
// refused recipient makes the message go to no one, and the Error lists
// every refused one.
func envelopeError(ev *smtpclient.Envelope, env *envelope, ioErr error, fail func(error, []string) *Error) *Error {
	var refused []string
	var firstRefusal error
	for i, err := range ev.Rcpt {
		if err != nil {
			refused = append(refused, env.rcpts[i])
			if firstRefusal == nil {
				firstRefusal = err
			}
		}
	}
	switch {
	case ev.Mail != nil:
		return fail(ev.Mail, nil)
	case firstRefusal != nil:
		return fail(firstRefusal, refused)
	case ev.Data != nil:
		return fail(ev.Data, nil)
	case ioErr != nil:
		return fail(ioErr, nil)
	}
	return nil
}

// transactChunk is transact with BDAT n LAST pipelined behind MAIL and
// RCPT (the benchmarks' switch, smtpTransport.bdat).
func (t *smtpTransport) transactChunk(c *conn, env *envelope, params []string, tr *Trace, fail func(error, []string) *Error) (*Error, sessionState) {
	sc := c.c
	ev, reply, ioErr := sc.Chunk(env.from, params, env.rcpts, env, env.size)
	if ev == nil {
		return fail(ioErr, nil), sessionOK
	}
	if e := envelopeError(ev, env, ioErr, fail); e != nil {
		if ioErr != nil || ev.Closing {
			return e, sessionDead
		}
		return e, t.reset(sc)
	}
	if tr.Accepted != nil {
		tr.Accepted(reply.String())
	}
	if sc.Idle() != nil {
		return nil, sessionDead
	}
	return nil, sessionOK
}

// reset aborts the transaction; a failure retires the connection.
func (t *smtpTransport) reset(sc *smtpclient.Client) sessionState {
	if err := sc.Reset(); err != nil {
		return sessionDead
	}
	return sessionOK
}

// stateAfter decides whether a failed command left a usable session: a
// reply keeps it (after RSET), an I/O error does not.
func stateAfter(err error, sc *smtpclient.Client) sessionState {
	var re *smtpclient.ReplyError
	if errors.As(err, &re) && re.Reply.Code != 421 {
		if sc.Reset() == nil {
			return sessionOK
		}
	}
	return sessionDead
}
