package o365smtp

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/o365smtp/o365smtp/internal/clock"
)

// localFleet is the in-process Fleet: the one a Sender uses when
// Config.Fleet is nil, and the one it falls back to while its Fleet fails.
// Its slots are semaphores, its admissions the governor's sliding log and
// its blocks the cool-off, all on the Sender's clock.
type localFleet struct {
	clock clock.Clock

	mu     sync.Mutex
	sems   map[fleetKey]*semaphore
	govs   map[govKey]*governor
	pauses map[fleetKey]time.Time
	blocks map[string]Block
}

type fleetKey struct {
	mailbox string
	res     Resource
}

type govKey struct {
	fleetKey
	n      int
	window time.Duration
}

var _ Fleet = (*localFleet)(nil)

func newLocalFleet(c clock.Clock) *localFleet {
	return &localFleet{clock: c, sems: map[fleetKey]*semaphore{}, govs: map[govKey]*governor{},
		pauses: map[fleetKey]time.Time{}, blocks: map[string]Block{}}
}

func key(mailbox string, res Resource) fleetKey {
	return fleetKey{strings.ToLower(mailbox), res}
}

// sem returns the semaphore of k with slots slots.
func (f *localFleet) sem(k fleetKey, slots int) *semaphore {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sems[k]
	if s == nil || cap(s.slots) != slots {
		// A different slot count starts afresh; leases of the old one
		// are released to it.
		s = &semaphore{slots: make(chan struct{}, max(slots, 1)), clock: f.clock}
		f.sems[k] = s
	}
	return s
}

// Acquire takes a slot of the semaphore of mailbox and res.
func (f *localFleet) Acquire(ctx context.Context, mailbox string, res Resource, slots int) (Lease, error) {
	s := f.sem(key(mailbox, res), slots)
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	return &localLease{s: s}, nil
}

// Admit waits for any pause of res, then for the governor of mailbox and
// res.
func (f *localFleet) Admit(ctx context.Context, mailbox string, res Resource, n int, window time.Duration) error {
	k := key(mailbox, res)
	f.mu.Lock()
	until := f.pauses[k]
	gk := govKey{k, n, window}
	g := f.govs[gk]
	if g == nil {
		g = newGovernor(n, f.clock)
		g.window = window
		f.govs[gk] = g
	}
	f.mu.Unlock()
	if d := until.Sub(f.clock.Now()); d > 0 {
		if err := clock.Sleep(ctx, f.clock, d); err != nil {
			return err
		}
	}
	_, err := g.wait(ctx)
	return err
}

// BackOff holds a slot back for hold and pauses admissions for pause.
func (f *localFleet) BackOff(_ context.Context, mailbox string, res Resource, slots int, hold, pause time.Duration) error {
	k := key(mailbox, res)
	if hold > 0 {
		f.sem(k, slots).backOff(hold)
	}
	if pause > 0 {
		f.mu.Lock()
		if until := f.clock.Now().Add(pause); until.After(f.pauses[k]) {
			f.pauses[k] = until
		}
		f.mu.Unlock()
	}
	return nil
}

// Block records b for mailbox.
func (f *localFleet) Block(_ context.Context, mailbox string, b Block) error {
	f.mu.Lock()
	f.blocks[strings.ToLower(mailbox)] = b
	f.mu.Unlock()
	return nil
}

// Blocked returns the Block of mailbox in force now.
func (f *localFleet) Blocked(_ context.Context, mailbox string) (Block, error) {
	m := strings.ToLower(mailbox)
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blocks[m]
	if !ok {
		return Block{}, nil
	}
	if !b.Active(f.clock.Now()) {
		delete(f.blocks, m)
		return Block{}, nil
	}
	return b, nil
}

// Unblock forgets the Block of mailbox.
func (f *localFleet) Unblock(_ context.Context, mailbox string) error {
	f.mu.Lock()
	delete(f.blocks, strings.ToLower(mailbox))
	f.mu.Unlock()
	return nil
}

// semaphore is a counting semaphore whose slots a back-off can hold back
// for a while, in the manner of the pool's.
type semaphore struct {
	slots   chan struct{}
	clock   clock.Clock
	waiting atomic.Int64

	mu      sync.Mutex
	held    int
	debt    int
	debtFor time.Duration // the hold of the slot owed
}

func (s *semaphore) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *semaphore) release() {
	s.mu.Lock()
	keep := s.debt > 0
	if keep {
		s.debt--
		s.holdLocked(s.debtFor)
	}
	s.mu.Unlock()
	if !keep {
		<-s.slots
	}
}

func (s *semaphore) holdLocked(d time.Duration) {
	s.held++
	s.clock.AfterFunc(d, func() {
		s.mu.Lock()
		s.held--
		s.mu.Unlock()
		<-s.slots
	})
}

// backOff holds one slot back for d, never the last one.
func (s *semaphore) backOff(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held+s.debt >= cap(s.slots)-1 {
		return
	}
	select {
	case s.slots <- struct{}{}:
		s.holdLocked(d)
	default:
		s.debt++
		s.debtFor = d
	}
}

// localLease is a slot of a semaphore.
type localLease struct {
	s    *semaphore
	once sync.Once
}

func (l *localLease) Release()     { l.once.Do(l.s.release) }
func (l *localLease) Wanted() bool { return l.s.waiting.Load() > 0 }
