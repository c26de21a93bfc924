package o365smtp

import (
	"strings"
	"sync"
	"time"
)

// coolOff is the fail-fast after a setup failure: until it ends, Send
// returns a copy of that failure at once, with no token request and no
// connection, so that a queue of messages does not feed Exchange's
// continuous-error throttling or Entra's request-loop detection.
// Config.CoolOff sets its length; Verify ignores it and, on success, ends it.
type coolOff struct {
	mu    sync.Mutex
	err   *Error
	until time.Time
}

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

// start begins a cool-off with e that lasts until until.
func (c *coolOff) start(e *Error, until time.Time) {
	c.mu.Lock()
	c.err, c.until = e, until
	c.mu.Unlock()
}

// active returns a copy of the failure, and when the cool-off ends, while
// one lasts at now.
func (c *coolOff) active(now time.Time) (*Error, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil || now.After(c.until) {
		c.err = nil
		return nil, time.Time{}
	}
	e := *c.err
	e.Hint = strings.TrimRight(e.Hint, "\n") + "\n(Failed fast: the same error occurred moments ago, so this send made no token request and no connection. It fails fast until " +
		c.until.UTC().Format(time.RFC3339) + " (Config.CoolOff). Fix the setup; Verify retries at once.)"
	return &e, c.until
}

// end ends the cool-off.
func (c *coolOff) end() {
	c.mu.Lock()
	c.err = nil
	c.mu.Unlock()
}

// ends returns when the cool-off ends; zero when none lasts at now.
func (c *coolOff) ends(now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil || now.After(c.until) {
		return time.Time{}
	}
	return c.until
}
