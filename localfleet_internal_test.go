package o365smtp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp/internal/clock"
)

// The in-process Fleet: a back-off holds a slot back (never the last, a
// busy one when its lease is released), a pause delays admissions on the
// clock, and a Block lasts until its Until.
func TestLocalFleet(t *testing.T) {
	clk := clock.NewFake(testStart)
	f := newLocalFleet(clk)
	ctx := context.Background()
	const mbx = "Sender@contoso.com"
	var leases []Lease
	for range 3 {
		l, err := f.Acquire(ctx, mbx, ResourceSMTP, 3)
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	for range 3 {
		_ = f.BackOff(ctx, "sender@contoso.com", ResourceSMTP, 3, 30*time.Second, 0) // the same mailbox, any case
	}
	leases[0].Release()
	leases[0].Release() // twice is harmless
	leases[1].Release()
	leases[2].Release()
	// Two held back (debts paid by the first releases), one free.
	l, err := f.Acquire(ctx, mbx, ResourceSMTP, 3)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Acquire(cctx, mbx, ResourceSMTP, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with two slots held back and one taken = %v; want it to wait", err)
	}
	clk.Advance(30 * time.Second)
	l2, err := f.Acquire(ctx, mbx, ResourceSMTP, 3)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	l2.Release()

	_ = f.BackOff(ctx, mbx, ResourceGraph, 4, 0, 5*time.Second)
	done := make(chan error)
	go func() { done <- f.Admit(ctx, mbx, ResourceGraph, 10, time.Minute) }()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5*time.Second - time.Nanosecond)
	if clk.Waiters() != 1 {
		t.Fatal("the admission did not wait for the pause")
	}
	clk.Advance(time.Nanosecond)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	b := Block{Kind: ErrClientSecretExpired, Until: clk.Now().Add(time.Second)}
	_ = f.Block(ctx, mbx, b)
	if got, _ := f.Blocked(ctx, "SENDER@contoso.com"); got.Kind != b.Kind {
		t.Errorf("Blocked = %+v; want %+v", got, b)
	}
	clk.Advance(time.Second + time.Nanosecond)
	if got, _ := f.Blocked(ctx, mbx); got.Kind != "" {
		t.Errorf("Blocked after Until = %+v; want none", got)
	}
}
