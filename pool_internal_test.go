package o365smtp

import (
	"github.com/o365smtp/o365smtp/internal/clock"

	"context"
	"testing"
)

// In-package tests of the pool's slot accounting, without connections (the
// emulator cannot be imported here: it imports this package). The
// end-to-end pool tests are in pool_test.go.

func (p *pool) heldBack() (held, debt int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held, p.debt
}

func TestBackOffNeverHoldsTheLastSlot(t *testing.T) {
	p := newPool(3, clock.NewFake(testStart))
	for range 5 {
		p.backOff()
	}
	if held, debt := p.heldBack(); held != 2 || debt != 0 || len(p.slots) != 2 {
		t.Fatalf("after five 432s with 3 free slots: held %d, debt %d, slots taken %d; want 2, 0, 2 (never the last one)", held, debt, len(p.slots))
	}
	ctx := context.Background()
	if err := p.acquire(ctx); err != nil {
		t.Fatalf("acquire the last slot: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.acquire(cctx); err == nil || err.Kind != ErrCanceled {
		t.Fatalf("acquire with every slot taken and ctx done = %v; want ErrCanceled", err)
	}
	p.releaseSlot()
	if err := p.close(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := p.acquire(ctx); err == nil || err.Kind != ErrClosed {
		t.Errorf("acquire after close = %v; want ErrClosed", err)
	}
}

// With every slot in use, a 432 holds back the next slot a sender releases.
func TestBackOffDebtPaidByNextRelease(t *testing.T) {
	p := newPool(2, clock.NewFake(testStart))
	ctx := context.Background()
	for range 2 {
		if err := p.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	p.backOff()
	if held, debt := p.heldBack(); held != 0 || debt != 1 {
		t.Fatalf("held %d, debt %d; want 0, 1", held, debt)
	}
	p.releaseSlot()
	if held, debt := p.heldBack(); held != 1 || debt != 0 || len(p.slots) != 2 {
		t.Fatalf("after one release: held %d, debt %d, slots taken %d; want 1, 0, 2", held, debt, len(p.slots))
	}
	p.releaseSlot()
	if len(p.slots) != 1 {
		t.Fatalf("slots taken = %d; want 1 (the held-back one)", len(p.slots))
	}
	// A waiter blocked on the held-back pool ends on close.
	if err := p.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	waiter := make(chan *Error, 1)
	go func() { waiter <- p.acquire(ctx) }()
	if err := p.close(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := <-waiter; err == nil || err.Kind != ErrClosed {
		t.Errorf("acquire waiting during close = %v; want ErrClosed", err)
	}
}
