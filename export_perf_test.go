package o365smtp

import (
	"context"
	"time"
)

// SetSessionCache turns the Sender's TLS session cache off (for the
// benchmark's baseline) or leaves it on.
func SetSessionCache(s *Sender, on bool) {
	if !on {
		s.r.tlsConfig.ClientSessionCache = nil
	}
}

// DialOnce dials, secures and authenticates one new connection, outside
// the pool, and closes it; it returns how long the dial took and whether
// TLS resumed a session.
func DialOnce(ctx context.Context, s *Sender) (time.Duration, bool, error) {
	tok, _, e := s.tokens.token(ctx)
	if e != nil {
		return 0, false, e
	}
	start := time.Now()
	c, e := s.smtp.dial(ctx, tok, traceFrom(ctx), nil)
	if e != nil {
		return 0, false, e
	}
	d := time.Since(start)
	c.close()
	return d, c.tls.DidResume, nil
}
