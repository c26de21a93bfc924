package o365smtp

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/o365smtp/o365smtp/internal/clock"
)

// fleetGuard is the Fleet a Sender talks to: Config.Fleet when it answers,
// otherwise the Sender's own in-process limits. A call that fails (an error
// other than the end of ctx, or data the Sender cannot use) switches the
// Sender to its localFleet for fleetRetry; the first failure of a run is
// logged at Warn, and the return at Info. Leases go back to the Fleet that
// gave them.
//
// While the Sender uses its own limits, every process counts only its own
// connections and messages: a fleet of n processes may open up to
// n x MaxConnections. That is what an outage of the shared store costs;
// Send does not fail because of it.
type fleetGuard struct {
	shared Fleet // nil: the local Fleet only
	local  *localFleet
	logger *slog.Logger
	clock  clock.Clock

	fallbacks atomic.Int64 // runs of falling back to the local Fleet
	failures  atomic.Int64 // failed calls to the shared Fleet

	mu       sync.Mutex
	degraded bool      // using the local Fleet
	retryAt  time.Time // when to ask the shared Fleet again
	probing  bool      // a call is asking it now
}

// errBadBlock is the failure of a Fleet whose Block the Sender cannot use.
var errBadBlock = errors.New("the Fleet returned a Block of a Kind that does not fail fast")

// errNoLease is the failure of a Fleet whose Acquire returned no Lease.
var errNoLease = errors.New("the Fleet's Acquire returned no Lease")

func newFleetGuard(r *resolved) *fleetGuard {
	return &fleetGuard{shared: r.cfg.Fleet, local: newLocalFleet(r.clock), logger: r.logger, clock: r.clock}
}

// pick returns the Fleet to ask now, and whether it is the shared one.
func (g *fleetGuard) pick() (Fleet, bool) {
	if g.shared == nil {
		return g.local, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.degraded {
		return g.shared, true
	}
	if !g.probing && !g.clock.Now().Before(g.retryAt) {
		g.probing = true
		return g.shared, true
	}
	return g.local, false
}

// answered records the outcome of a call to the shared Fleet. It reports
// whether the caller may use it: false means ask the local Fleet instead.
func (g *fleetGuard) answered(ctx context.Context, err error) bool {
	switch {
	case err == nil:
		g.mu.Lock()
		back := g.degraded
		g.degraded, g.probing = false, false
		g.mu.Unlock()
		if back && g.logger != nil {
			g.logger.Info("o365smtp: the Fleet answers again; sharing the mailbox's limits with it")
		}
		return true
	case ctx.Err() != nil:
		g.mu.Lock()
		g.probing = false
		g.mu.Unlock()
		return true
	}
	g.failures.Add(1)
	g.mu.Lock()
	first := !g.degraded
	g.degraded, g.probing = true, false
	g.retryAt = g.clock.Now().Add(fleetRetry)
	g.mu.Unlock()
	if first {
		g.fallbacks.Add(1)
		if g.logger != nil {
			g.logger.Warn("o365smtp: the Fleet failed; using this process's own limits until it answers", "error", err.Error())
		}
	}
	return false
}

// degradedNow reports whether the Sender uses its own limits now for want
// of the shared Fleet.
func (g *fleetGuard) degradedNow() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.degraded
}

// sharing reports whether a Fleet other than the local one is configured.
func (g *fleetGuard) sharing() bool { return g.shared != nil }

func (g *fleetGuard) Acquire(ctx context.Context, mailbox string, res Resource, slots int) (Lease, error) {
	if f, shared := g.pick(); shared {
		l, err := f.Acquire(ctx, mailbox, res, slots)
		if err == nil && l == nil {
			err = errNoLease
		}
		if g.answered(ctx, err) {
			return l, err
		}
	}
	return g.local.Acquire(ctx, mailbox, res, slots)
}

func (g *fleetGuard) Admit(ctx context.Context, mailbox string, res Resource, n int, window time.Duration) error {
	if f, shared := g.pick(); shared {
		if err := f.Admit(ctx, mailbox, res, n, window); g.answered(ctx, err) {
			return err
		}
	}
	return g.local.Admit(ctx, mailbox, res, n, window)
}

// BackOff tells both Fleets: the local one, so that the back-off also
// holds if the shared one fails later.
func (g *fleetGuard) BackOff(ctx context.Context, mailbox string, res Resource, slots int, hold, pause time.Duration) error {
	if f, shared := g.pick(); shared {
		g.answered(ctx, f.BackOff(ctx, mailbox, res, slots, hold, pause))
	}
	return g.local.BackOff(ctx, mailbox, res, slots, hold, pause)
}

// Block tells both Fleets, like BackOff.
func (g *fleetGuard) Block(ctx context.Context, mailbox string, b Block) error {
	if f, shared := g.pick(); shared {
		g.answered(ctx, f.Block(ctx, mailbox, b))
	}
	return g.local.Block(ctx, mailbox, b)
}

// Blocked asks the shared Fleet, falling back to the local one; a Block
// of a Kind that does not fail fast counts as the shared Fleet's failure.
func (g *fleetGuard) Blocked(ctx context.Context, mailbox string) (Block, error) {
	if f, shared := g.pick(); shared {
		b, err := f.Blocked(ctx, mailbox)
		if err == nil && b.Kind != "" && !blocks(b.Kind) {
			err = errBadBlock
		}
		if g.answered(ctx, err) {
			return b, err
		}
	}
	return g.local.Blocked(ctx, mailbox)
}

// Unblock tells both Fleets.
func (g *fleetGuard) Unblock(ctx context.Context, mailbox string) error {
	if f, shared := g.pick(); shared {
		g.answered(ctx, f.Unblock(ctx, mailbox))
	}
	return g.local.Unblock(ctx, mailbox)
}
