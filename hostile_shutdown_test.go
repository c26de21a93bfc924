package o365smtp_test

// Issue 12, item 6: Shutdown finishes what it started; Close cancels
// everything at once, a token request in flight included, and leaves no
// goroutine behind.

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

type hsProbeKey struct{}

// hsPassLimiter is a Config.Limiter that lets everything through and
// reports each Send that passed it (its next step is to take a connection
// slot): such a Send has certainly started. Probes (contexts with
// hsProbeKey) are not reported.
type hsPassLimiter struct{ passed chan struct{} }

func (l *hsPassLimiter) Wait(ctx context.Context) error {
	if ctx.Value(hsProbeKey{}) == nil {
		l.passed <- struct{}{}
	}
	return nil
}

// hsWaitN waits for n signals on ch, or fails the test when ctx ends.
func hsWaitN(t *testing.T, ctx context.Context, ch <-chan struct{}, n int, what string) {
	t.Helper()
	for i := range n {
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("%s: only %d of %d before the deadline", what, i, n)
		}
	}
}

// Shutdown with 3 sends on their connections and 61 queued for a slot:
// every one of the 64, which all started before Shutdown, is delivered or
// fails on its own terms, none with ErrClosed; Shutdown returns nil once
// they are done; a Send after Shutdown gets ErrClosed.
func TestHostileShutdownFinishesWhatItStarted(t *testing.T) {
	const senders, maxConns = 64, 3
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.MaxConnections = maxConns
	lim := &hsPassLimiter{passed: make(chan struct{}, senders)}
	cfg.Limiter = lim
	s := hsSender(t, cfg)
	ctx := hsCtx(t, 20*time.Second)

	h := newHolder()
	errs := make([]error, senders)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() { errs[i] = s.Send(h.ctx(ctx), hsMsg(t, "shutdown "+strconv.Itoa(i))) })
	}
	hsWaitN(t, ctx, lim.passed, senders, "sends past pacing")
	h.wait(maxConns) // three hold their connections; the rest queue for a slot

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	// Shutdown has begun once a new Send is refused with ErrClosed. The
	// probe's context is already canceled: before Shutdown it fails with
	// ErrCanceled at the full pool, so polling never blocks.
	probeCtx, cancelProbe := context.WithCancel(context.WithValue(ctx, hsProbeKey{}, true))
	cancelProbe()
	for {
		err := s.Send(probeCtx, hsMsg(t, "probe"))
		if errors.Is(err, o365smtp.ErrClosed) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Shutdown never began refusing new sends (last probe: %v)", err)
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-shut:
		t.Errorf("Shutdown returned (%v) while 64 sends were still in flight or queued", err)
	default:
	}
	close(h.release)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("the sends did not finish before the deadline")
	}
	delivered, closed := 0, 0
	byKind := map[o365smtp.Kind]int{}
	for i, err := range errs {
		switch {
		case err == nil:
			delivered++
		case errors.Is(err, o365smtp.ErrClosed):
			closed++
			if closed <= 3 {
				t.Errorf("send %d, started before Shutdown, failed with ErrClosed: %v", i, err)
			}
		default:
			byKind[hsAsError(t, err).Kind]++
		}
	}
	if closed > 0 {
		t.Errorf("%d of %d sends started before Shutdown failed with ErrClosed; want none", closed, senders)
	}
	if n := len(srv.Messages()); n != delivered {
		t.Errorf("the emulator has %d messages, and %d sends returned nil", n, delivered)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown = %v, want nil", err)
		}
	case <-ctx.Done():
		t.Fatalf("Shutdown did not return after every send was done")
	}
	if err := s.Send(ctx, hsMsg(t, "after")); !errors.Is(err, o365smtp.ErrClosed) {
		t.Errorf("Send after Shutdown = %v, want ErrClosed", err)
	}
	if st := s.Stats(); st.OpenConnections != 0 {
		t.Errorf("after Shutdown: %d connections open", st.OpenConnections)
	}
	t.Logf("Shutdown with %d sends: %d delivered, %d ErrClosed, others %v", senders, delivered, closed, byKind)
}

// Close while every send waits for a token request that hangs: Close
// returns promptly, so do the sends, and no goroutine of the library is
// left (the token request in flight is canceled, not left to time out).
func TestHostileCloseCancelsEverything(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	opt := goleak.IgnoreCurrent()
	srv.FailToken(o365smtptest.TokenFault{Hang: true})
	cfg := srv.Config()
	cfg.MaxConnections = 3
	s, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	const n = 5
	results := make(chan error, n)
	for i := range n {
		go func() { results <- s.Send(ctx, hsMsg(t, "close "+strconv.Itoa(i))) }()
	}
	for srv.Stats().TokenRequests == 0 {
		if ctx.Err() != nil {
			t.Fatalf("no token request reached the endpoint")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	bound := time.NewTimer(5 * time.Second)
	defer bound.Stop()
	kinds := map[o365smtp.Kind]int{}
	for i := 0; i < n; i++ {
		select {
		case err := <-results:
			if err == nil {
				t.Errorf("a send returned nil after Close with no token")
				continue
			}
			kinds[hsAsError(t, err).Kind]++
		case <-bound.C:
			t.Errorf("%d of %d sends still waiting 5 s after Close: the token request in flight was not canceled", n-i, n)
			i = n
		}
	}
	if err := s.Send(context.Background(), hsMsg(t, "after close")); !errors.Is(err, o365smtp.ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	t.Logf("sends after Close: %v in %v", kinds, time.Since(start))
	// Idle keep-alive connections belong to the caller's HTTPClient.
	cfg.HTTPClient.CloseIdleConnections()
	goleak.VerifyNone(t, opt,
		// The emulator's own side of a connection, until the client hangs up.
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"))
}
