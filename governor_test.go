package o365smtp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp/internal/clock"
)

func newFakeGovernor(n int) (*governor, *clock.Fake) {
	clk := clock.NewFake(testStart)
	g := newGovernor(n, clk)
	return g, clk
}

// waitsFor checks that a governor wait is pending on clk and is due exactly
// want from now: it is still pending after want-1ns, and Advance(want)
// releases it.
func waitsFor(t *testing.T, clk *clock.Fake, want time.Duration) {
	t.Helper()
	if err := clk.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(want - time.Nanosecond)
	if clk.Timers() != 1 {
		t.Fatalf("the wait ended before %v", want)
	}
	clk.Advance(time.Nanosecond)
	if clk.Timers() != 0 {
		t.Fatalf("the wait is still pending after %v", want)
	}
}

func TestGovernorSlidingWindow(t *testing.T) {
	g, clk := newFakeGovernor(30)
	ctx := context.Background()
	// 30 admissions spread over the first 30 s.
	for i := range 30 {
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if i < 29 {
			clk.Advance(time.Second)
		}
	}
	// The 31st must wait until the first leaves the window (at t=60s):
	// now is 29 s, so 31 s.
	done := make(chan error)
	go func() { done <- g.Wait(ctx) }()
	waitsFor(t, clk, 31*time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A token bucket of 30 would now let many more through at once; the log
	// admits only as the old admissions expire: at 60s only one had.
	go func() { done <- g.Wait(ctx) }()
	waitsFor(t, clk, time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// In any 60 s window, at most 30: count admissions in [1s, 61s).
	g.mu.Lock()
	n := len(g.log)
	first, last := g.log[0], g.log[len(g.log)-1]
	g.mu.Unlock()
	if n != 30 || last.Sub(first) >= time.Minute {
		t.Errorf("log has %d admissions spanning %v; want 30 within a minute", n, last.Sub(first))
	}
}

func TestGovernorReportsWaitByItsClock(t *testing.T) {
	g, clk := newFakeGovernor(1)
	ctx := context.Background()
	if d, err := g.wait(ctx); err != nil || d != 0 {
		t.Fatalf("first wait = %v, %v; want 0, nil", d, err)
	}
	type result struct {
		d   time.Duration
		err error
	}
	done := make(chan result)
	go func() { d, err := g.wait(ctx); done <- result{d, err} }()
	waitsFor(t, clk, time.Minute)
	if r := <-done; r.err != nil || r.d != time.Minute {
		t.Errorf("second wait = %v, %v; want 1m0s, nil", r.d, r.err)
	}
}

func TestGovernorCancel(t *testing.T) {
	g, clk := newFakeGovernor(1)
	ctx, cancel := context.WithCancel(context.Background())
	if err := g.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- g.Wait(ctx) }()
	if err := clk.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v; want context.Canceled", err)
	}
	if n := clk.Timers(); n != 0 {
		t.Errorf("%d timers pending after a canceled wait; want the timer stopped", n)
	}
}
