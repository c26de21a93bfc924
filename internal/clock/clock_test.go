package clock

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestFakeFiresDueTimersInOrder(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	t2 := f.NewTimer(2 * time.Second)
	t1 := f.NewTimer(time.Second)
	var fired atomic.Int32
	done := make(chan struct{})
	f.AfterFunc(3*time.Second, func() { fired.Add(1); close(done) })
	stopped := f.NewTimer(time.Second)
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer = false")
	}
	if n := f.Timers(); n != 3 {
		t.Fatalf("Timers() = %d, want 3", n)
	}
	f.Advance(time.Second)
	select {
	case at := <-t1.C():
		if !at.Equal(start.Add(time.Second)) {
			t.Errorf("t1 fired at %v, want %v", at, start.Add(time.Second))
		}
	default:
		t.Fatal("t1 did not fire after 1s")
	}
	select {
	case <-t2.C():
		t.Fatal("t2 fired early")
	default:
	}
	f.Advance(2 * time.Second)
	<-t2.C()
	<-done
	if fired.Load() != 1 {
		t.Errorf("AfterFunc ran %d times, want 1", fired.Load())
	}
	if got := f.Now(); !got.Equal(start.Add(3 * time.Second)) {
		t.Errorf("Now() = %v, want %v", got, start.Add(3*time.Second))
	}
	select {
	case <-stopped.C():
		t.Error("a stopped timer fired")
	default:
	}
}

func TestSleepOnFake(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	errc := make(chan error, 1)
	go func() { errc <- Sleep(context.Background(), f, time.Minute) }()
	if err := f.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	f.Advance(time.Minute)
	if err := <-errc; err != nil {
		t.Errorf("Sleep = %v, want nil", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() { errc <- Sleep(ctx, f, time.Minute) }()
	if err := f.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Errorf("Sleep after cancel = %v, want context.Canceled", err)
	}
}

func TestReal(t *testing.T) {
	var c Clock = Real{}
	before := time.Now()
	if now := c.Now(); now.Before(before) {
		t.Errorf("Real.Now() = %v, before %v", now, before)
	}
	tm := c.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Error("Stop of a fresh real timer = false")
	}
	af := c.AfterFunc(time.Hour, func() {})
	if af.C() != nil {
		t.Error("AfterFunc timer has a channel")
	}
	af.Stop()
}
