package o365smtp

import (
	"time"

	"github.com/o365smtp/o365smtp/internal/clock"
)

// SetRetryBackoff shortens the retry backoff for tests of package
// o365smtp_test.
func SetRetryBackoff(s *Sender, d time.Duration) { s.r.retryBackoff = d }

// ReplyGrace is the documented grace after the end of the data.
const ReplyGrace = replyGrace

// NewWithClock is New with c as the Sender's clock: its token cache and
// its built-in per-minute governor tell the time and wait on c.
func NewWithClock(cfg Config, c clock.Clock) (*Sender, error) {
	r, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	r.clock = c
	return newSender(r)
}

// NewTokenSourceWithClock is NewTokenSource with c as the cache's clock.
func NewTokenSourceWithClock(cfg Config, c clock.Clock) (TokenSource, error) {
	r, err := resolveTokenSource(cfg)
	if err != nil {
		return nil, err
	}
	r.clock = c
	return newCachedSource(r), nil
}

// idleConns returns the pool's idle connections.
func idleConns(s *Sender) []*conn {
	s.smtp.pool.mu.Lock()
	defer s.smtp.pool.mu.Unlock()
	return append([]*conn(nil), s.smtp.pool.idle...)
}

// AgeIdleConnections moves the last-use time and the retirement time of
// every idle pooled connection d into the past: as far as the pool can
// tell (it compares them with time.Now), d has passed. It returns the
// number of idle connections.
func AgeIdleConnections(s *Sender, d time.Duration) int {
	s.smtp.pool.mu.Lock()
	defer s.smtp.pool.mu.Unlock()
	for _, c := range s.smtp.pool.idle {
		c.lastUsed = c.lastUsed.Add(-d)
		c.retireAt = c.retireAt.Add(-d)
	}
	return len(s.smtp.pool.idle)
}

// IdleRetireTimes returns when each idle pooled connection is due to be
// retired (token refresh margin or maximum age), most recently used last.
func IdleRetireTimes(s *Sender) []time.Time {
	var out []time.Time
	for _, c := range idleConns(s) {
		out = append(out, c.retireAt)
	}
	return out
}

// ExpireIdleConnections does now what the pool's idle janitor does once
// the idle timeout has passed: it ages every idle connection past the
// timeout and sweeps. It returns how many it retired.
func ExpireIdleConnections(s *Sender) int {
	n := AgeIdleConnections(s, idleTimeout)
	s.smtp.pool.sweep()
	return n
}

// ConnectionSlotsTaken returns how many of the pool's connection slots are
// taken now, including one held back after a 432 4.3.2.
func ConnectionSlotsTaken(s *Sender) int { return len(s.smtp.pool.slots) }

// IdleTimeout, MaxConnAge and ConcurrencyBackoff are the pool's timings.
const (
	IdleTimeout        = idleTimeout
	MaxConnAge         = maxConnAge
	ConcurrencyBackoff = concurrencyBackoff
)

// Closing reports whether Shutdown or Close has begun: Sends from now on
// fail with ErrClosed.
func Closing(s *Sender) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// OnGraphWritten calls f whenever one of s's Graph requests has been
// written whole (for tests of the grace).
func OnGraphWritten(s *Sender, f func()) { s.graph.client.OnWritten = f }
