package o365smtp

import (
	"context"
	"sync"
	"time"

	"github.com/o365smtp/o365smtp/internal/clock"
)

// governorWindow is the rolling window of MessagesPerMinute, the default
// window of a governor.
const governorWindow = time.Minute

// governor admits at most n submissions in any rolling window. It is the
// admission of the in-process Fleet (localFleet.Admit). It keeps a
// log of the admission times (a sliding log, not a token bucket: a bucket of
// 30 lets about 59 through in one window). It implements Limiter.
type governor struct {
	n      int
	window time.Duration
	clock  clock.Clock // tells the time and times the waits

	mu  sync.Mutex
	log []time.Time // admission times, oldest first; len <= n
}

// newGovernor returns a governor of n per minute on c.
func newGovernor(n int, c clock.Clock) *governor {
	return &governor{n: n, window: governorWindow, clock: c}
}

// Wait blocks until a submission is admitted, or ctx ends.
func (g *governor) Wait(ctx context.Context) error {
	_, err := g.wait(ctx)
	return err
}

// wait is Wait that also reports how long it blocked, by the governor's
// clock (zero when admitted at once).
func (g *governor) wait(ctx context.Context) (time.Duration, error) {
	var start time.Time
	for {
		g.mu.Lock()
		now := g.clock.Now()
		// Drop admissions that left the window.
		i := 0
		for i < len(g.log) && !now.Before(g.log[i].Add(g.window)) {
			i++
		}
		g.log = g.log[i:]
		if len(g.log) < g.n {
			g.log = append(g.log, now)
			g.mu.Unlock()
			if start.IsZero() {
				return 0, nil
			}
			return max(now.Sub(start), 1), nil
		}
		if start.IsZero() {
			start = now
		}
		wait := g.log[0].Add(g.window).Sub(now)
		g.mu.Unlock()
		t := g.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C():
		}
	}
}
