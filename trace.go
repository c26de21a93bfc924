package o365smtp

import (
	"context"
	"crypto/tls"
	"time"
)

// Trace holds optional callbacks for the Send or Verify whose context
// carries it, in the manner of net/http/httptrace. Connection callbacks
// (Connected, TLSHandshakeDone, Authenticated) fire only when a new
// connection is made, not when a pooled one is reused. Nil fields are
// skipped. Callbacks run on the sending goroutine and must not block.
type Trace struct {
	// TokenAcquired is called when a token was obtained for a new
	// connection, with its expiry and whether it came from the cache.
	TokenAcquired func(expiresOn time.Time, fromCache bool)
	// Connected is called after the server's greeting, with the address
	// dialled and the greeting (for example "220 ... Microsoft ESMTP MAIL
	// Service ready ...").
	Connected func(addr, banner string)
	// TLSHandshakeDone is called when TLS is established (after STARTTLS,
	// or at once with implicit TLS).
	TLSHandshakeDone func(state tls.ConnectionState)
	// Authenticated is called after AUTH XOAUTH2 succeeded.
	Authenticated func(mailbox string)
	// Accepted is called with the server's final reply when a message was
	// accepted, for example "250 2.0.0 OK <id> [Hostname=...]".
	Accepted func(reply string)
	// CoolOff is called when Send fails at once, without a token request or
	// a connection, because a setup failure's cool-off lasts until until
	// (see Config.CoolOff).
	CoolOff func(until time.Time)
}

type traceKey struct{}

// WithTrace returns a context that carries t. Sends and Verifies made with it
// call t's callbacks.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// traceFrom returns the Trace of ctx; never nil.
func traceFrom(ctx context.Context) *Trace {
	if t, ok := ctx.Value(traceKey{}).(*Trace); ok && t != nil {
		return t
	}
	return &noTrace
}

var noTrace Trace
