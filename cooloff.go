package o365smtp

import (
	"context"
	"strings"
	"sync"
	"time"
)

// The cool-off is the fail-fast after a setup failure: until it ends, Send
// returns a copy of that failure at once, with no token request and no
// connection, so that a queue of messages does not feed Exchange's
// continuous-error throttling or Entra's request-loop detection.
// Config.CoolOff sets its length; Verify ignores it and, on success, ends
// it. The daily recipient quota starts one too, of quotaHold. It lives in
// the Fleet (Block), so that every process sending as the mailbox fails
// fast once one of them has learnt of the failure.

// isSetupKind reports whether k is a failure that no retry can fix: one
// that starts a cool-off.
func isSetupKind(k Kind) bool {
	switch k {
	case ErrAuthFailed, ErrSMTPAuthDisabled, ErrInvalidClientSecret, ErrClientSecretExpired,
		ErrAppNotFound, ErrTenantNotFound, ErrSenderSuspended:
		return true
	}
	return false
}

// blocks reports whether a failure of Kind k makes later sends fail fast.
func blocks(k Kind) bool { return isSetupKind(k) || k == ErrQuotaExceeded }

// coolOff remembers the last Block this Sender saw, for Stats.
type coolOff struct {
	mu    sync.Mutex
	until time.Time
}

func (c *coolOff) saw(until time.Time) {
	c.mu.Lock()
	c.until = until
	c.mu.Unlock()
}

// ends returns when the cool-off ends; zero when none lasts at now.
func (c *coolOff) ends(now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.After(c.until) {
		return time.Time{}
	}
	return c.until
}

// coolingOff returns the failure to fail fast with, and when the cool-off
// ends, while one lasts; nil when none does.
func (s *Sender) coolingOff(ctx context.Context) (*Error, time.Time) {
	b, err := s.fleet.Blocked(ctx, s.r.cfg.Mailbox)
	now := s.r.clock.Now()
	if err != nil || b.Kind == "" || now.After(b.Until) {
		return nil, time.Time{}
	}
	e := blockError(b)
	if e == nil {
		return nil, time.Time{}
	}
	s.cool.saw(b.Until)
	why := "(Config.CoolOff)"
	if e.Kind == ErrQuotaExceeded {
		why = "(after the daily quota, 15 minutes; a negative Config.CoolOff disables it)"
	}
	e.Hint = strings.TrimRight(e.Hint, "\n") + "\n(Failed fast: the same error occurred moments ago, so this send made no token request and no connection. It fails fast until " +
		b.Until.UTC().Format(time.RFC3339) + " " + why + ". Fix the setup; Verify retries at once.)"
	return e, b.Until
}

// startCoolOff makes later sends fail fast after e, when e is a failure
// that needs a person and the cool-off is enabled.
func (s *Sender) startCoolOff(ctx context.Context, e *Error) {
	if s.r.coolOff <= 0 || !blocks(e.Kind) {
		return
	}
	d := s.r.coolOff
	if e.Kind == ErrQuotaExceeded {
		d = quotaHold
	}
	until := s.r.clock.Now().Add(d)
	_ = s.fleet.Block(context.WithoutCancel(ctx), s.r.cfg.Mailbox, blockOf(e, until))
	s.cool.saw(until)
}

// endCoolOff ends the cool-off (Verify passed).
func (s *Sender) endCoolOff(ctx context.Context) {
	_ = s.fleet.Unblock(context.WithoutCancel(ctx), s.r.cfg.Mailbox)
	s.cool.saw(time.Time{})
}
