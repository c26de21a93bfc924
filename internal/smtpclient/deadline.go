package smtpclient

import (
	"context"
	"net"
	"sync"
	"time"
)

// deadlineConn wraps the TCP connection: while a context is bound, every
// deadline is clamped to the context's, and blocked I/O is aborted when the
// context ends. During the grace (the reply to the end of the message data)
// the clamp is extended by the grace period, so a reply that is on its way
// is still read.
type deadlineConn struct {
	net.Conn
	grace time.Duration

	mu        sync.Mutex
	limit     time.Time // deadline from the bound context; zero: none
	canceled  bool
	inGrace   bool
	requested time.Time // the deadline the client asked for itself
	stop      func() bool
	gen       uint64 // bumped by bind and unbind; a stale AfterFunc does nothing
}

// effective returns the deadline to apply for a requested one.
func (w *deadlineConn) effective(t time.Time) time.Time {
	limit := w.limit
	if w.canceled {
		if w.inGrace && w.grace > 0 {
			return time.Now().Add(w.grace)
		}
		// A deadline in the past takes effect at once; "now" would race
		// the runtime's timer against data already on its way.
		return time.Unix(1, 0)
	}
	if !limit.IsZero() && w.inGrace {
		limit = limit.Add(w.grace)
	}
	if !limit.IsZero() && (t.IsZero() || limit.Before(t)) {
		return limit
	}
	return t
}

// SetDeadline applies t, clamped to the bound context's deadline.
func (w *deadlineConn) SetDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requested = t
	return w.Conn.SetDeadline(w.effective(t))
}

// SetReadDeadline applies t to reads, clamped like SetDeadline.
func (w *deadlineConn) SetReadDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Conn.SetReadDeadline(w.effective(t))
}

// SetWriteDeadline applies t to writes, clamped like SetDeadline.
func (w *deadlineConn) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Conn.SetWriteDeadline(w.effective(t))
}

// bind makes ctx govern the connection's I/O until unbind. With no deadline
// in ctx, fallback bounds the whole bound period.
func (w *deadlineConn) bind(ctx context.Context, fallback time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.canceled, w.inGrace = false, false
	if d, ok := ctx.Deadline(); ok {
		w.limit = d
	} else {
		w.limit = time.Now().Add(fallback)
	}
	w.requested = time.Time{}
	_ = w.Conn.SetDeadline(w.effective(time.Time{}))
	w.gen++
	gen := w.gen
	w.stop = context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.gen != gen {
			return // unbound meanwhile
		}
		w.canceled = true
		_ = w.Conn.SetDeadline(w.effective(w.requested))
	})
}

// startGrace extends the deadline by the grace for the reply to the end of
// the data.
func (w *deadlineConn) startGrace() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inGrace = true
	_ = w.Conn.SetDeadline(w.effective(w.requested))
}

// unbind detaches the context; the idle connection has no deadline.
func (w *deadlineConn) unbind() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	w.gen++
	w.limit, w.canceled, w.inGrace, w.requested = time.Time{}, false, false, time.Time{}
	_ = w.Conn.SetDeadline(time.Time{})
}
