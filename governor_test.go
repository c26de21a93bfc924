package o365smtp

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeTimers fires timers only when the test advances the clock.
type fakeTimers struct {
	clk     *fakeClock
	pending chan time.Duration
	fire    chan time.Time
}

func newFakeGovernor(n int) (*governor, *fakeClock, *fakeTimers) {
	clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	ft := &fakeTimers{clk: clk, pending: make(chan time.Duration, 1), fire: make(chan time.Time)}
	g := newGovernor(n)
	g.now = clk.now
	g.after = func(d time.Duration) (<-chan time.Time, func() bool) {
		ft.pending <- d
		return ft.fire, func() bool { return true }
	}
	return g, clk, ft
}

func TestGovernorSlidingWindow(t *testing.T) {
	g, clk, ft := newFakeGovernor(30)
	ctx := context.Background()
	// 30 admissions spread over the first 30 s.
	for i := range 30 {
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if i < 29 {
			clk.advance(time.Second)
		}
	}
	// The 31st must wait until the first leaves the window (at t=60s).
	done := make(chan error)
	go func() { done <- g.Wait(ctx) }()
	if d := <-ft.pending; d != 31*time.Second {
		t.Fatalf("31st waits %v; want 31s (first admission at 0s leaves the window at 60s, now is 29s)", d)
	}
	clk.advance(31 * time.Second)
	ft.fire <- clk.now()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A token bucket of 30 would now let many more through at once; the log
	// admits only as the old admissions expire: at 60s only one had.
	go func() { done <- g.Wait(ctx) }()
	if d := <-ft.pending; d != time.Second {
		t.Fatalf("32nd waits %v; want 1s", d)
	}
	clk.advance(time.Second)
	ft.fire <- clk.now()
	<-done
	// In any 60 s window, at most 30: count admissions in [1s, 61s).
	g.mu.Lock()
	n := len(g.log)
	first, last := g.log[0], g.log[len(g.log)-1]
	g.mu.Unlock()
	if n != 30 || last.Sub(first) >= time.Minute {
		t.Errorf("log has %d admissions spanning %v; want 30 within a minute", n, last.Sub(first))
	}
}

func TestGovernorCancel(t *testing.T) {
	g, _, ft := newFakeGovernor(1)
	ctx, cancel := context.WithCancel(context.Background())
	if err := g.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- g.Wait(ctx) }()
	<-ft.pending
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v; want context.Canceled", err)
	}
}
