// Package clock is the one time seam of o365smtp: the token cache, the
// connection pool, the per-minute governor, the cool-off and the retry
// backoff read time and wait through a Clock, so tests drive them with a Fake
// instead of sleeping.
package clock

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed, unless
	// the returned Timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTimer returns a Timer whose channel receives once d has passed.
	NewTimer(d time.Duration) Timer
}

// Timer is a stoppable timer.
type Timer interface {
	// C returns the channel the timer fires on; nil for AfterFunc timers.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return realTimer{time.AfterFunc(d, f)} }

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// Sleep waits d on c, or until ctx ends; it returns ctx.Err() in that case.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Fake is a Clock for tests: time moves only when Advance is called, and
// timers due by then fire in order. The zero value starts at the Unix epoch;
// use NewFake for another start. Safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	waiters []chan struct{} // woken when a timer is added
}

// NewFake returns a Fake clock that starts at t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the fake time forward by d and fires every timer due by
// then, earliest first (AfterFunc callbacks run in their own goroutine).
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	now := f.now
	var due []*fakeTimer
	keep := f.timers[:0]
	for _, t := range f.timers {
		if !t.at.After(now) {
			due = append(due, t)
		} else {
			keep = append(keep, t)
		}
	}
	clear(f.timers[len(keep):])
	f.timers = keep
	f.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *fakeTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.fire(now)
	}
}

// Timers returns how many timers are pending (NewTimer and AfterFunc).
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// Waiters returns how many NewTimer timers are pending: the waits of
// goroutines sleeping on the clock (AfterFunc callbacks are not counted).
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waitersLocked()
}

func (f *Fake) waitersLocked() int {
	n := 0
	for _, t := range f.timers {
		if t.fn == nil {
			n++
		}
	}
	return n
}

// BlockUntil waits until at least n goroutines wait on the clock (n
// NewTimer timers are pending), or ctx ends: a test calls it to know that
// the code under test is waiting on the clock before it calls Advance.
func (f *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		if f.waitersLocked() >= n {
			f.mu.Unlock()
			return nil
		}
		w := make(chan struct{})
		f.waiters = append(f.waiters, w)
		f.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// AfterFunc schedules f on the fake time line.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer { return f.add(d, fn) }

// NewTimer returns a timer on the fake time line.
func (f *Fake) NewTimer(d time.Duration) Timer { return f.add(d, nil) }

func (f *Fake) add(d time.Duration, fn func()) *fakeTimer {
	t := &fakeTimer{f: f, fn: fn}
	if fn == nil {
		t.c = make(chan time.Time, 1)
	}
	f.mu.Lock()
	t.at = f.now.Add(d)
	if d <= 0 {
		now := f.now
		f.mu.Unlock()
		t.fire(now)
		return t
	}
	f.timers = append(f.timers, t)
	ws := f.waiters
	f.waiters = nil
	f.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
	return t
}

type fakeTimer struct {
	f  *Fake
	at time.Time
	fn func()
	c  chan time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	for i, x := range t.f.timers {
		if x == t {
			t.f.timers = append(t.f.timers[:i], t.f.timers[i+1:]...)
			return true
		}
	}
	return false
}

func (t *fakeTimer) fire(now time.Time) {
	if t.fn != nil {
		go t.fn()
		return
	}
	select {
	case t.c <- now:
	default:
	}
}
