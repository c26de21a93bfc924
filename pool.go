package o365smtp

import (
	"context"
	"sync"
	"time"
)

// concurrencyBackoff is how long the pool holds back one connection slot
// after Exchange answered 432 4.3.2 (too many concurrent connections).
const concurrencyBackoff = 30 * time.Second

// pool keeps up to max authenticated connections and lends them out one
// sender at a time. A slot in slots is the right to hold one connection
// (open or being dialled), so at most max connections ever exist.
type pool struct {
	s     *Sender
	max   int
	slots chan struct{}

	mu       sync.Mutex
	idle     []*conn // most recently used last
	all      map[*conn]struct{}
	inUse    int
	held     int // slots held back after 432
	closed   bool
	done     chan struct{}
	inflight sync.WaitGroup // senders holding a slot
}

func newPool(s *Sender, max int) *pool {
	return &pool{s: s, max: max, slots: make(chan struct{}, max), done: make(chan struct{}), all: make(map[*conn]struct{})}
}

// acquire waits for a slot. The caller must call release.
func (p *pool) acquire(ctx context.Context) *Error {
	select {
	case p.slots <- struct{}{}:
	default:
		start := time.Now()
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return canceledError("connect", ctx.Err())
		case <-p.done:
			return closedError()
		}
		p.s.stats.connWaits.Add(1)
		p.s.stats.connWaitNanos.Add(int64(time.Since(start)))
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

// releaseSlot gives the slot back.
func (p *pool) releaseSlot() {
	p.inflight.Done()
	<-p.slots
}

// take returns an idle connection that is still fresh, or nil. Stale ones
// are closed.
func (p *pool) take() *conn {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if c.idle != nil && !c.idle.Stop() {
			// The idle timer fired; expire will not find it in idle.
			delete(p.all, c)
			c.close()
			continue
		}
		if now.After(c.retireAt) || now.Sub(c.lastUsed) > idleTimeout {
			delete(p.all, c)
			c.close()
			continue
		}
		c.reused = true
		p.inUse++
		return c
	}
	return nil
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

// put returns a healthy connection to the idle list.
func (p *pool) put(c *conn) {
	c.lastUsed = time.Now()
	c.w.unbind()
	p.mu.Lock()
	p.inUse--
	if p.closed || len(p.idle)+p.inUse >= p.max-p.held {
		delete(p.all, c)
		p.mu.Unlock()
		c.quit()
		return
	}
	c.idle = time.AfterFunc(idleTimeout, func() { p.expire(c) })
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// discard closes a connection whose session is in doubt.
func (p *pool) discard(c *conn) {
	p.mu.Lock()
	p.inUse--
	delete(p.all, c)
	p.mu.Unlock()
	c.w.unbind()
	c.close()
}

// expire closes an idle connection whose idle timer fired.
func (p *pool) expire(c *conn) {
	p.mu.Lock()
	for i, x := range p.idle {
		if x == c {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			delete(p.all, c)
			p.mu.Unlock()
			c.quit()
			return
		}
	}
	p.mu.Unlock()
}

// backOff holds one slot back for concurrencyBackoff after a 432 4.3.2, so
// the Sender uses fewer connections for a while (never fewer than one).
func (p *pool) backOff() {
	p.mu.Lock()
	if p.closed || p.held >= p.max-1 {
		p.mu.Unlock()
		return
	}
	p.held++
	p.mu.Unlock()
	go func() {
		select {
		case p.slots <- struct{}{}:
		case <-p.done:
			p.mu.Lock()
			p.held--
			p.mu.Unlock()
			return
		}
		t := time.NewTimer(concurrencyBackoff)
		select {
		case <-t.C:
		case <-p.done:
			t.Stop()
		}
		<-p.slots
		p.mu.Lock()
		p.held--
		p.mu.Unlock()
	}()
}

// counts returns open, idle and in-use connections.
func (p *pool) counts() (open, idle, inUse int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all), len(p.idle), p.inUse
}

// close stops the pool. With graceful set it waits for senders holding a
// slot (or ctx), then QUITs every idle connection; otherwise it closes idle
// connections at once. Connections in use are closed by their senders when
// they finish, since the pool is closed.
func (p *pool) close(ctx context.Context, graceful bool) error {
	p.mu.Lock()
	already := p.closed
	if !already {
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
	var busy []*conn
	for c := range p.all {
		busy = append(busy, c)
	}
	clear(p.all)
	p.mu.Unlock()
	for _, c := range idle {
		if c.idle != nil {
			c.idle.Stop()
		}
		if graceful {
			c.quit()
		}
	}
	// Closing is idempotent: this also stops connections still in use.
	for _, c := range busy {
		c.close()
	}
	return err
}

func closedError() *Error {
	return &Error{Kind: ErrClosed, Op: "message", Message: "the Sender is closed",
		Hint: "Create a new Sender with New; Send and Verify fail after Shutdown or Close.", retry: retryNever}
}
