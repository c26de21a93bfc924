package o365smtp

import (
	"bytes"
	"context"
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
}

func newSMTPTransport(c *core) *smtpTransport {
	return &smtpTransport{core: c, pool: newPool(c.r.maxConns, c.r.clock)}
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
	if c.size > 0 && int64(len(env.data)) > c.size {
		return localError("message.too_large", fmt.Sprintf("the message is %d bytes; the server accepts at most %d", len(env.data), c.size), catalog.Values{}, nil), sessionOK
	}
	params, perr := env.mailParams(c)
	if perr != nil {
		return perr, sessionOK
	}
	sc := c.c
	fail := func(err error, refused []string) *Error { return t.sessionError(ctx, err, refused, env.hdrFrom) }
	if err := sc.Mail(env.from, params...); err != nil {
		return fail(err, nil), stateAfter(err, sc)
	}
	var refused []string
	var firstRefusal error
	for _, rc := range env.rcpts {
		if err := sc.Rcpt(rc); err != nil {
			var re *smtpclient.ReplyError
			if !errors.As(err, &re) {
				return fail(err, nil), sessionDead
			}
			refused = append(refused, rc)
			if firstRefusal == nil {
				firstRefusal = err
			}
		}
	}
	if firstRefusal != nil {
		return fail(firstRefusal, refused), t.reset(sc)
	}
	reply, err := sc.Data(bytes.NewReader(env.data))
	if err != nil {
		var re *smtpclient.ReplyError
		switch {
		case errors.As(err, &re) && re.Step == smtpclient.StepData:
			return fail(err, nil), stateAfter(err, sc)
		case errors.As(err, &re) && re.Reply.Code != 421:
			return fail(err, nil), sessionOK // the transaction is over; the session goes on
		}
		return fail(err, nil), sessionDead
	}
	if tr.Accepted != nil {
		tr.Accepted(reply.String())
	}
	// A second verdict (or anything else) behind the first means the session
	// is out of step: never reuse it.
	if sc.Idle() != nil || sc.Reset() != nil || sc.Idle() != nil {
		// Delivered; only the session is in doubt (or out of step: a
		// server that sent more than one reply is never reused).
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
