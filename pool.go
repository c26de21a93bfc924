package o365smtp

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/o365smtp/o365smtp/internal/clock"
)

// concurrencyBackoff is how long the pool holds back one connection slot
// after Exchange answered 432 4.3.2 (too many concurrent connections).
const concurrencyBackoff = 30 * time.Second

// pool keeps up to max authenticated connections and lends them out one
// sender at a time. A slot in slots is the right to hold one connection
// (open or being dialled), so at most max connections ever exist in this
// process. Each connection also holds a lease of the Sender's Fleet for its
// whole life (taken in dial, given back in conn.close), which bounds the
// connections of every process sending as the mailbox; with the in-process
// Fleet the two bounds coincide.
//
// Idle connections are swept by one pool-wide timer (the janitor), armed
// for the oldest idle connection; a connection found stale when taken is
// retired there and then. Retired connections get QUIT, so that the server
// has counted them closed before a replacement is dialled.
type pool struct {
	max   int
	slots chan struct{}
	clock clock.Clock
	// idleFor is how long an idle connection is kept: idleTimeout, or
	// fleetIdleTimeout with a shared Fleet, where it holds a lease that
	// another process may want. With watch set (a shared Fleet) the
	// janitor also runs every fleetSweep, and retires idle connections
	// whose lease someone waits for.
	idleFor time.Duration
	watch   bool

	waits, waitNanos atomic.Int64 // sends that waited for a slot, and for how long

	mu       sync.Mutex
	idle     []*conn // most recently used last
	all      map[*conn]struct{}
	inUse    int
	held     int // slots held back after 432 4.3.2
	debt     int // slots to hold back as soon as a sender releases one
	janitor  clock.Timer
	closed   bool
	done     chan struct{}
	inflight sync.WaitGroup // senders holding a slot
}

func newPool(max int, c clock.Clock) *pool {
	return &pool{max: max, slots: make(chan struct{}, max), clock: c, idleFor: idleTimeout,
		done: make(chan struct{}), all: make(map[*conn]struct{})}
}

// acquire waits for a slot. The caller must call releaseSlot.
func (p *pool) acquire(ctx context.Context) *Error {
	select {
	case p.slots <- struct{}{}:
	default:
		start := p.clock.Now()
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return canceledError("connect", ctx.Err())
		case <-p.done:
			return closedError()
		}
		p.waits.Add(1)
		p.waitNanos.Add(int64(p.clock.Now().Sub(start)))
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return closedError()
	}
	p.inflight.Add(1)
	p.mu.Unlock()
	return nil
}

// releaseSlot gives the slot back, or keeps it held back if a 432 asked
// for fewer connections.
func (p *pool) releaseSlot() {
	p.mu.Lock()
	keep := p.debt > 0 && !p.closed
	if keep {
		p.debt--
		p.holdLocked()
	}
	p.mu.Unlock()
	p.inflight.Done()
	if !keep {
		<-p.slots
	}
}

// holdLocked records one slot held back and schedules its release.
func (p *pool) holdLocked() {
	p.held++
	p.clock.AfterFunc(concurrencyBackoff, func() {
		p.mu.Lock()
		p.held--
		p.mu.Unlock()
		<-p.slots
	})
}

// backOff holds one slot back for concurrencyBackoff after a 432 4.3.2, so
// the Sender uses fewer connections for a while (never fewer than one): a
// free slot is taken at once, otherwise the next one a sender releases.
func (p *pool) backOff() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.held+p.debt >= p.max-1 {
		return
	}
	select {
	case p.slots <- struct{}{}:
		p.holdLocked()
	default:
		p.debt++
	}
}

// take returns an idle connection that is still fresh, or nil. A stale one
// is retired (QUIT, waiting for the server's close) before the next is
// looked at, so the caller, which holds a slot, never has more than one
// connection at a time, and one it dials next is not counted by the server
// together with the stale one.
func (p *pool) take() *conn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		now := p.clock.Now()
		if now.After(c.retireAt) || now.Sub(c.lastUsed) >= p.idleFor {
			delete(p.all, c)
			p.mu.Unlock()
			c.quit()
			continue
		}
		c.reused = true
		p.inUse++
		p.mu.Unlock()
		if c.c.Idle() != nil {
			// Closed by the server while idle, or out of step.
			p.discard(c)
			continue
		}
		return c
	}
}

// added records a newly dialled connection as in use. It reports false, and
// closes c, if the pool was closed meanwhile.
func (p *pool) added(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.close()
		return false
	}
	p.all[c] = struct{}{}
	p.inUse++
	return true
}

// put returns a healthy connection to the idle list, or QUITs it when the
// pool is full or someone waits for its Fleet lease (so that a process
// that sends all the time does not keep the mailbox's connections from
// the others).
func (p *pool) put(c *conn) {
	c.c.Unbind()
	wanted := c.lease != nil && c.lease.Wanted()
	p.mu.Lock()
	c.lastUsed = p.clock.Now()
	p.inUse--
	if p.closed || wanted || len(p.idle)+p.inUse >= p.max-p.held {
		delete(p.all, c)
		p.mu.Unlock()
		c.quit()
		return
	}
	p.idle = append(p.idle, c)
	if p.janitor == nil {
		p.janitor = p.clock.AfterFunc(p.sweepAfter(p.idleFor), p.sweep)
	}
	p.mu.Unlock()
}

// sweepAfter is when the janitor should run next, d from now unless the
// pool watches its leases.
func (p *pool) sweepAfter(d time.Duration) time.Duration {
	if p.watch {
		return min(d, fleetSweep)
	}
	return d
}

// sweep retires idle connections unused for idleTimeout and re-arms the
// janitor for the oldest remaining one. It holds a free slot for each
// connection while it QUITs it, so no sender dials a replacement that the
// server would count together with it; a stale connection it cannot get a
// slot for stays idle, and take retires it.
func (p *pool) sweep() {
	now := p.clock.Now()
	var stale, wanted []*conn
	p.mu.Lock()
	p.janitor = nil
	keep := p.idle[:0]
	for _, c := range p.idle {
		if now.Sub(c.lastUsed) >= p.idleFor || now.After(c.retireAt) {
			select {
			case p.slots <- struct{}{}:
				delete(p.all, c)
				stale = append(stale, c)
				continue
			default:
			}
		}
		if p.watch && c.lease.Wanted() {
			// Its lease, given back only once it is closed, keeps a
			// replacement from being counted with it: no slot needed.
			delete(p.all, c)
			wanted = append(wanted, c)
			continue
		}
		keep = append(keep, c)
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	if len(p.idle) > 0 && !p.closed {
		next := p.sweepAfter(max(p.idle[0].lastUsed.Add(p.idleFor).Sub(now), time.Second))
		p.janitor = p.clock.AfterFunc(next, p.sweep)
	}
	p.mu.Unlock()
	quitAll(append(stale, wanted...))
	for range stale {
		<-p.slots
	}
}

// discard closes a connection whose session is in doubt.
func (p *pool) discard(c *conn) { p.remove(c, (*conn).close) }

// retire QUITs a healthy connection the caller took but will not use.
func (p *pool) retire(c *conn) { p.remove(c, (*conn).quit) }

// remove forgets an in-use connection and ends it with end.
func (p *pool) remove(c *conn, end func(*conn)) {
	p.mu.Lock()
	p.inUse--
	delete(p.all, c)
	p.mu.Unlock()
	c.c.Unbind()
	end(c)
}

// counts returns open, idle and in-use connections.
func (p *pool) counts() (open, idle, inUse int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all), len(p.idle), p.inUse
}

// close stops the pool. With graceful set it waits for senders holding a
// slot (or ctx), then QUITs every idle connection; otherwise, or when ctx
// ends first, it closes every connection at once, including those in use.
func (p *pool) close(ctx context.Context, graceful bool) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
	var err error
	if graceful {
		waited := make(chan struct{})
		go func() { p.inflight.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-ctx.Done():
			err = canceledError("shutdown", ctx.Err())
			graceful = false
		}
	}
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	if p.janitor != nil {
		p.janitor.Stop()
		p.janitor = nil
	}
	var busy []*conn
	for c := range p.all {
		busy = append(busy, c)
	}
	clear(p.all)
	p.mu.Unlock()
	if graceful {
		quitAll(idle)
	}
	// Closing is idempotent: this also stops connections still in use.
	for _, c := range busy {
		c.close()
	}
	return err
}

// quitAll QUITs connections in parallel (each bounded by quitTimeout).
func quitAll(cs []*conn) {
	switch len(cs) {
	case 0:
		return
	case 1:
		cs[0].quit()
		return
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(c.quit)
	}
	wg.Wait()
}
