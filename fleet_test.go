package o365smtp_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// memFleet is a Fleet of the test's own: it counts the leases it lends
// and, while fail is set, fails every call as a store that is down would.
type memFleet struct {
	fail     atomic.Bool
	nilLease atomic.Bool

	mu       sync.Mutex
	leases   map[o365smtp.Resource]int
	acquired map[o365smtp.Resource]int
	admitted map[o365smtp.Resource]int
	block    o365smtp.Block
}

var errDown = errors.New("the store is down")

func newMemFleet() *memFleet {
	return &memFleet{leases: map[o365smtp.Resource]int{}, acquired: map[o365smtp.Resource]int{}, admitted: map[o365smtp.Resource]int{}}
}

func (f *memFleet) Acquire(_ context.Context, _ string, res o365smtp.Resource, slots int) (o365smtp.Lease, error) {
	if f.fail.Load() {
		return nil, errDown
	}
	if f.nilLease.Load() {
		return nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leases[res] >= slots {
		return nil, errors.New("memFleet: over its slots (the test does not wait)")
	}
	f.leases[res]++
	f.acquired[res]++
	return &memLease{f: f, res: res}, nil
}

func (f *memFleet) Admit(_ context.Context, _ string, res o365smtp.Resource, _ int, _ time.Duration) error {
	if f.fail.Load() {
		return errDown
	}
	f.mu.Lock()
	f.admitted[res]++
	f.mu.Unlock()
	return nil
}

func (f *memFleet) BackOff(context.Context, string, o365smtp.Resource, int, time.Duration, time.Duration) error {
	if f.fail.Load() {
		return errDown
	}
	return nil
}

func (f *memFleet) Block(_ context.Context, _ string, b o365smtp.Block) error {
	if f.fail.Load() {
		return errDown
	}
	f.mu.Lock()
	f.block = b
	f.mu.Unlock()
	return nil
}

func (f *memFleet) Blocked(context.Context, string) (o365smtp.Block, error) {
	if f.fail.Load() {
		return o365smtp.Block{}, errDown
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.block, nil
}

func (f *memFleet) Unblock(context.Context, string) error {
	if f.fail.Load() {
		return errDown
	}
	f.mu.Lock()
	f.block = o365smtp.Block{}
	f.mu.Unlock()
	return nil
}

func (f *memFleet) counts(res o365smtp.Resource) (held, acquired, admitted int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leases[res], f.acquired[res], f.admitted[res]
}

type memLease struct {
	f    *memFleet
	res  o365smtp.Resource
	once sync.Once
}

func (l *memLease) Release() {
	l.once.Do(func() {
		l.f.mu.Lock()
		l.f.leases[l.res]--
		l.f.mu.Unlock()
	})
}

func (l *memLease) Wanted() bool { return false }

// TestFleetLeaseCoversConnection: with a Fleet, every SMTP connection holds
// a lease from its dial until it is closed (idle time included), every
// attempt is admitted, and Close gives every lease back.
func TestFleetLeaseCoversConnection(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	f := newMemFleet()
	cfg := srv.Config()
	cfg.Fleet = f
	cfg.MessagesPerMinute = 100
	s := newSender(t, cfg)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if err := s.Send(ctx, newMsg(t)); err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	held, acquired, admitted := f.counts(o365smtp.ResourceSMTP)
	_, _, msgs := f.counts(o365smtp.ResourceMessages)
	if held != st.OpenConnections || int64(acquired) != st.Dials || msgs != 6 || admitted != 0 {
		t.Errorf("leases held %d, acquired %d, admissions %d; Stats %+v: want one lease per open connection and per dial, 6 admissions", held, acquired, msgs, st)
	}
	if !st.FleetShared || st.FleetFallbacks != 0 {
		t.Errorf("Stats %+v; want the Fleet in use", st)
	}
	s.Close()
	if held, _, _ := f.counts(o365smtp.ResourceSMTP); held != 0 {
		t.Errorf("%d leases held after Close; want 0", held)
	}
}

// TestFleetFallback: while the Fleet fails, Sends go through on the
// Sender's own limits, with one Warn and the Stats counting it; a second
// later the Sender asks the Fleet again and shares once it answers.
func TestFleetFallback(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	f := newMemFleet()
	var logs syncBuffer
	cfg := srv.Config()
	cfg.Fleet = f
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, clk := newFakeClockSender(t, cfg)
	ctx := ctxT(t)
	f.fail.Store(true)
	for range 3 {
		send(t, ctx, s)
	}
	st := s.Stats()
	if st.FleetShared || st.FleetFallbacks != 1 || st.FleetFailures != 1 {
		t.Errorf("Stats %+v; want own limits, 1 fallback, 1 failure (the others within the second use the own limits)", st)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || strings.Contains(logs.String(), errDown.Error()) == false {
		t.Errorf("%d Warn lines; want 1 naming the Fleet's error:\n%s", n, logs.String())
	}
	f.fail.Store(false)
	clk.Advance(time.Second)
	send(t, ctx, s)
	if st := s.Stats(); !st.FleetShared || st.FleetFallbacks != 1 {
		t.Errorf("Stats %+v after the Fleet answers again; want shared", st)
	}
	if !strings.Contains(logs.String(), "answers again") {
		t.Errorf("no Info line on the return:\n%s", logs.String())
	}
	if len(srv.Messages()) != 4 {
		t.Errorf("%d messages; want 4", len(srv.Messages()))
	}
}

// TestFleetNilLeaseAndBadBlock: a Fleet that returns no Lease, or a Block of
// a Kind that does not fail fast, counts as failing; Sends go through.
func TestFleetNilLeaseAndBadBlock(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	f := newMemFleet()
	f.nilLease.Store(true)
	f.block = o365smtp.Block{Kind: o365smtp.ErrRecipientRejected, Until: time.Now().Add(time.Hour)}
	cfg := srv.Config()
	cfg.Fleet = f
	s := newSender(t, cfg)
	send(t, ctxT(t), s)
	if st := s.Stats(); st.FleetShared || st.FleetFallbacks != 1 || st.Failed != 0 {
		t.Errorf("Stats %+v; want a fallback and the message sent", st)
	}
}
