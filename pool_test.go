package o365smtp_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/clock"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// Tests of the connection pool, the per-minute governor and the message
// limits (issue 5). They run against the emulator on loopback. Nothing
// sleeps to order the test's steps: sends are held at a known point with
// holder (Trace.Accepted), clocks are injected through export_test.go, and
// the only polling is eventually, for what the emulator does on its own
// schedule after the client is done.

// holder holds sends inside Trace.Accepted: the server has accepted the
// message, and the send still holds its connection (RSET and the return to
// the pool come after the callback). This keeps connections busy for as
// long as a test needs, deterministically.
type holder struct {
	arrived chan struct{}
	release chan struct{}
}

func newHolder() *holder {
	return &holder{arrived: make(chan struct{}, 1000), release: make(chan struct{})}
}

func (h *holder) ctx(parent context.Context) context.Context {
	return o365smtp.WithTrace(parent, &o365smtp.Trace{Accepted: func(string) {
		h.arrived <- struct{}{}
		<-h.release
	}})
}

// wait waits until n sends are held.
func (h *holder) wait(n int) {
	for range n {
		<-h.arrived
	}
}

// connCounter is a Config.DialContext that counts the TCP connections the
// Sender has open, as the client sees them: unlike the emulator's count, it
// does not lag behind a Close.
type connCounter struct {
	mu               sync.Mutex
	open, max, dials int
}

func (cc *connCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	cc.open++
	cc.dials++
	cc.max = max(cc.max, cc.open)
	cc.mu.Unlock()
	return &countedConn{Conn: c, cc: cc}, nil
}

func (cc *connCounter) counts() (open, maxOpen, dials int) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.open, cc.max, cc.dials
}

type countedConn struct {
	net.Conn
	cc   *connCounter
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.cc.mu.Lock()
		c.cc.open--
		c.cc.mu.Unlock()
	})
	return c.Conn.Close()
}

// transcript is a slog.Handler that keeps the client's side of the SMTP
// protocol log (Config.Logger at Debug): the commands the Sender sent.
type transcript struct {
	mu    sync.Mutex
	lines []string
	on    func(dir, line string) // if set, called with every line
}

func (tr *transcript) Enabled(context.Context, slog.Level) bool { return true }
func (tr *transcript) WithAttrs([]slog.Attr) slog.Handler       { return tr }
func (tr *transcript) WithGroup(string) slog.Handler            { return tr }

func (tr *transcript) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "smtp" {
		return nil
	}
	var dir, line string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "dir":
			dir = a.Value.String()
		case "line":
			line = a.Value.String()
		}
		return true
	})
	if tr.on != nil {
		tr.on(dir, line)
	}
	if dir == "client" {
		tr.mu.Lock()
		tr.lines = append(tr.lines, strings.ToUpper(strings.TrimSpace(line)))
		tr.mu.Unlock()
	}
	return nil
}

// count returns how many client commands start with verb.
func (tr *transcript) count(verb string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, l := range tr.lines {
		if strings.HasPrefix(l, verb) {
			n++
		}
	}
	return n
}

// eventually polls cond, every millisecond for at most 10 s. It is used only
// for what the emulator does on its own schedule after the client is done
// (the server goroutine notices a closed or QUIT connection after the
// client has moved on), never to order the test's own steps.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after 10 s: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// send sends one message and fails the test if it fails.
func send(t *testing.T, ctx context.Context, s *o365smtp.Sender) {
	t.Helper()
	if err := s.Send(ctx, newMsg(t)); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

// TestPoolReusesConnection: N sends, one dial, one token, one AUTH; no RSET
// after a completed message and never a NOOP; Verify's connection goes back to
// the pool too.
func TestPoolReusesConnection(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	tr := &transcript{}
	cfg := srv.Config()
	cfg.Logger = slog.New(tr)
	s := newSender(t, cfg)
	ctx := ctxT(t)

	if rep, err := s.Verify(ctx, srv.Mailbox); err != nil {
		t.Fatalf("Verify: %v (%+v)", err, rep)
	}
	const n = 10
	for range n {
		send(t, ctx, s)
	}
	// From several goroutines, one at a time: still the same connection.
	for range 3 {
		done := make(chan struct{})
		go func() { defer close(done); send(t, ctx, s) }()
		<-done
	}
	st := s.Stats()
	if st.Sent != n+3 || st.Dials != 1 || st.TokenRequests != 1 {
		t.Errorf("Stats = %+v; want %d sent, 1 dial, 1 token request", st, n+3)
	}
	if c, a := srv.Stats().Connections, srv.Stats().AuthAttempts; c != 1 || a != 1 {
		t.Errorf("emulator saw %d connections and %d AUTH; want 1 and 1", c, a)
	}
	if st.OpenConnections != 1 || st.IdleConnections != 1 || st.InUseConnections != 0 {
		t.Errorf("pool: open %d idle %d in use %d; want 1 1 0", st.OpenConnections, st.IdleConnections, st.InUseConnections)
	}
	if got := tr.count("NOOP"); got != 0 {
		t.Errorf("the client sent %d NOOP; want none", got)
	}
	mails, rsets := tr.count("MAIL FROM"), tr.count("RSET")
	if mails != n+3+1 || rsets != 1 {
		t.Errorf("client sent %d MAIL FROM and %d RSET; want %d and 1 (only Verify's probe ends with RSET: a completed transaction leaves the session ready)", mails, rsets, n+3+1)
	}
}

// TestPoolNeverExceedsMaxConnections: many goroutines, alone and with
// concurrent Verify calls, never have more than MaxConnections open, as the
// client counts them and as the emulator does; one token serves them all.
func TestPoolNeverExceedsMaxConnections(t *testing.T) {
	t.Parallel()
	for _, verifiers := range []int{0, 4} {
		for _, maxConns := range []int{1, 2, 3} {
			name := "sends/max=" + strconv.Itoa(maxConns)
			if verifiers > 0 {
				name = "sends+verify/max=" + strconv.Itoa(maxConns)
			}
			t.Run(name, func(t *testing.T) { testPoolBound(t, maxConns, 40, verifiers) })
		}
	}
}

func testPoolBound(t *testing.T, maxConns, senders, verifiers int) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cc := &connCounter{}
	cfg := srv.Config()
	cfg.DialContext = cc.dial
	if maxConns != 3 {
		cfg.MaxConnections = maxConns // 3 is the default
	}
	s := newSender(t, cfg)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range senders {
		wg.Go(func() {
			<-start
			if err := s.Send(ctx, newMsg(t)); err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
	for range verifiers {
		wg.Go(func() {
			<-start
			if rep, err := s.Verify(ctx, srv.Mailbox); err != nil {
				t.Errorf("Verify: %v (%+v)", err, rep)
			}
		})
	}
	close(start)
	wg.Wait()
	_, maxOpen, dials := cc.counts()
	if maxOpen > maxConns {
		t.Errorf("the client had %d connections open at once; MaxConnections is %d", maxOpen, maxConns)
	}
	if got := len(srv.Messages()); got != senders {
		t.Errorf("emulator got %d messages; want %d", got, senders)
	}
	st := s.Stats()
	if st.TokenRequests != 1 || srv.Stats().TokenRequests != 1 {
		t.Errorf("token requests: Stats %d, emulator %d; want 1", st.TokenRequests, srv.Stats().TokenRequests)
	}
	if st.OpenConnections > maxConns || st.InUseConnections != 0 {
		t.Errorf("pool after the burst: %+v", st)
	}
	if int64(dials) != st.Dials {
		t.Errorf("Stats.Dials = %d; the client dialled %d times", st.Dials, dials)
	}
	// Every Verify dials afresh (it tests connect, TLS and AUTH); sends
	// reuse: at most one dial per Verify on top of the pool's.
	if dials > verifiers+maxConns {
		t.Errorf("%d dials for %d sends and %d Verify; want at most %d", dials, senders, verifiers, verifiers+maxConns)
	}
	if got := srv.Stats().MaxConcurrentConnections; got > maxConns {
		t.Errorf("the emulator saw %d connections at once; MaxConnections is %d", got, maxConns)
	}
}

// TestPoolStatsAndWaiterHonoursContext: with every connection busy, a
// further Send waits for one instead of dialling, and gives up with
// ErrCanceled when its context ends.
func TestPoolStatsAndWaiterHonoursContext(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.MaxConnections = 2
	s := newSender(t, cfg)
	h := newHolder()
	ctx := ctxT(t)
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- s.Send(h.ctx(ctx), newMsg(t)) }()
	}
	h.wait(2)
	st := s.Stats()
	if st.OpenConnections != 2 || st.InUseConnections != 2 || st.IdleConnections != 0 {
		t.Errorf("with 2 sends held: open %d in use %d idle %d; want 2 2 0", st.OpenConnections, st.InUseConnections, st.IdleConnections)
	}

	// A third send must wait; cancel it. Whether the cancellation comes
	// before or while it waits, it cannot have a connection: both are held.
	wctx, cancel := context.WithCancel(ctx)
	waiter := make(chan error, 1)
	go func() { waiter <- s.Send(wctx, newMsg(t)) }()
	cancel()
	err := <-waiter
	e := asError(t, err)
	if !errors.Is(err, o365smtp.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Errorf("waiting send = %v (kind %s); want ErrCanceled wrapping context.Canceled", err, e.Kind)
	}
	if srv.Stats().Connections != 2 {
		t.Errorf("the emulator saw %d connections; the waiter must not dial", srv.Stats().Connections)
	}

	close(h.release)
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("held send: %v", err)
		}
	}
	st = s.Stats()
	if st.OpenConnections != 2 || st.InUseConnections != 0 || st.IdleConnections != 2 {
		t.Errorf("after the held sends: open %d in use %d idle %d; want 2 0 2", st.OpenConnections, st.InUseConnections, st.IdleConnections)
	}
	if st.Sent != 2 || st.Failed != 1 || st.FailuresByKind[o365smtp.ErrCanceled] != 1 || st.Dials != 2 {
		t.Errorf("Stats = %+v; want 2 sent, 1 canceled, 2 dials", st)
	}
	send(t, ctx, s)
	if st := s.Stats(); st.Dials != 2 {
		t.Errorf("the next send dialled: %d dials", st.Dials)
	}
}

// signalLimiter is a Config.Limiter that lets everything through and
// reports each Wait: the send's next step is to take a connection.
type signalLimiter struct {
	calls  atomic.Int64
	passed chan struct{}
	err    error
}

func (l *signalLimiter) Wait(ctx context.Context) error {
	l.calls.Add(1)
	if l.passed != nil {
		l.passed <- struct{}{}
	}
	return l.err
}

// TestPoolConnectionWaits: sends queued behind the only connection get it
// in turn, reuse it, and are counted in Stats.ConnectionWaits.
func TestPoolConnectionWaits(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.MaxConnections = 1
	const queued = 10
	lim := &signalLimiter{passed: make(chan struct{}, queued+1)}
	cfg.Limiter = lim
	s := newSender(t, cfg)
	ctx := ctxT(t)
	h := newHolder()
	first := make(chan error, 1)
	go func() { first <- s.Send(h.ctx(ctx), newMsg(t)) }()
	h.wait(1)
	<-lim.passed
	var wg sync.WaitGroup
	for range queued {
		wg.Go(func() {
			if err := s.Send(ctx, newMsg(t)); err != nil {
				t.Errorf("queued send: %v", err)
			}
		})
	}
	// Every queued send is past the limiter, at the pool, while the only
	// connection is held: they have to wait for it.
	for range queued {
		<-lim.passed
	}
	close(h.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	st := s.Stats()
	if st.Sent != queued+1 || st.Dials != 1 || srv.Stats().MaxConcurrentConnections != 1 {
		t.Errorf("Stats = %+v, emulator max connections %d; want %d sent on 1 connection", st, srv.Stats().MaxConcurrentConnections, queued+1)
	}
	if st.ConnectionWaits < 1 || st.ConnectionWaitTime <= 0 {
		t.Errorf("ConnectionWaits = %d, ConnectionWaitTime = %v; want the queued sends counted", st.ConnectionWaits, st.ConnectionWaitTime)
	}
}

// TestPoolRetiresConnectionBeforeTokenExpiry: a connection is retired once
// half its token's lifetime is gone, and the next send re-authenticates with
// a new token on a new connection. The clock is injected through
// NewWithClock: the token cache and the pool run on it.
func TestPoolRetiresConnectionBeforeTokenExpiry(t *testing.T) {
	// MSAL does not cache tokens this short, so every refresh reaches the
	// emulator. 100 s: retirement at 50 s comes before the idle timeout.
	srv := o365smtptest.NewServer(o365smtptest.WithTokenLifetime(100 * time.Second))
	defer srv.Close()
	s, clk := newFakeClockSender(t, srv.Config())
	advance := func(d time.Duration) {
		clk.Advance(d) // the pool and the token cache both run on clk
		if n := o365smtp.AgeIdleConnections(s, 0); n != 1 {
			t.Fatalf("%d idle connections; want 1", n)
		}
	}
	ctx := ctxT(t)
	send(t, ctx, s)
	advance(45 * time.Second) // 5 s before the retirement point
	send(t, ctx, s)
	if st := s.Stats(); st.Dials != 1 || st.TokenRequests != 1 {
		t.Fatalf("at 45 s of a 100 s token: %d dials, %d token requests; want 1 and 1", st.Dials, st.TokenRequests)
	}
	advance(10 * time.Second) // 55 s: past half the lifetime, idle only 10 s
	send(t, ctx, s)
	st := s.Stats()
	if st.Dials != 2 || st.TokenRequests != 2 || srv.Stats().TokenRequests != 2 || srv.Stats().AuthAttempts != 2 {
		t.Errorf("at 55 s: %d dials, %d token requests (emulator %d), %d AUTH; want a new token on a new connection (2, 2, 2, 2)",
			st.Dials, st.TokenRequests, srv.Stats().TokenRequests, srv.Stats().AuthAttempts)
	}
	if st.Failed != 0 || st.Retries != 0 {
		t.Errorf("retirement must not fail or retry a message: %+v", st)
	}
	if st.OpenConnections != 1 {
		t.Errorf("pool has %d connections; want the retired one closed", st.OpenConnections)
	}
	eventually(t, "the emulator sees the retired connection closed", func() bool { return srv.Stats().OpenConnections == 1 })
}

// TestOneTokenRequestPerLifetimeUnderConcurrency: however many goroutines
// send, each token lifetime costs one token request: when the pooled
// connections retire together, their replacements share one refresh.
func TestOneTokenRequestPerLifetimeUnderConcurrency(t *testing.T) {
	srv := o365smtptest.NewServer(o365smtptest.WithTokenLifetime(100 * time.Second))
	defer srv.Close()
	s, clk := newFakeClockSender(t, srv.Config())
	ctx := ctxT(t)
	burst := func() {
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if err := s.Send(ctx, newMsg(t)); err != nil {
					t.Errorf("Send: %v", err)
				}
			})
		}
		wg.Wait()
	}
	burst()
	if n := srv.Stats().TokenRequests; n != 1 {
		t.Fatalf("first lifetime: %d token requests; want 1", n)
	}
	// 55 s later: the token is due for refresh and every pooled connection
	// for retirement (half of 100 s), none for the idle timeout.
	clk.Advance(55 * time.Second)
	aged := o365smtp.AgeIdleConnections(s, 55*time.Second)
	burst()
	if n := srv.Stats().TokenRequests; n != 2 {
		t.Errorf("second lifetime: %d token requests in all; want 2", n)
	}
	st := s.Stats()
	if st.Sent != 100 || st.Dials <= int64(aged) || st.Dials > int64(aged)+3 || srv.Stats().MaxConcurrentConnections > 3 {
		t.Errorf("Stats = %+v, emulator max connections %d; want 100 sent, the %d retired connections replaced, at most 3 at once",
			st, srv.Stats().MaxConcurrentConnections, aged)
	}
}

// TestPoolRetireTimes: a connection is due for retirement halfway to its
// token's expiry, and after MaxConnAge at the latest (also when the expiry
// is unknown). The bounds come from time.Now read before and after Send,
// so they hold however long the send takes.
func TestPoolRetireTimes(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	for _, tc := range []struct {
		name     string
		lifetime time.Duration // 0: unknown expiry
		want     func(t0, t1, exp time.Time) (lo, hi time.Time)
	}{
		{"100s token: half its lifetime", 100 * time.Second, func(t0, t1, exp time.Time) (time.Time, time.Time) {
			return t0.Add(50 * time.Second), t1.Add(50 * time.Second)
		}},
		{"2h token: maximum age", 2 * time.Hour, func(t0, t1, exp time.Time) (time.Time, time.Time) {
			return t0.Add(o365smtp.MaxConnAge), t1.Add(o365smtp.MaxConnAge)
		}},
		{"unknown expiry: maximum age", 0, func(t0, t1, exp time.Time) (time.Time, time.Time) {
			return t0.Add(o365smtp.MaxConnAge), t1.Add(o365smtp.MaxConnAge)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner, err := o365smtp.NewTokenSource(srv.Config())
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			var exp time.Time
			if tc.lifetime > 0 {
				exp = t0.Add(tc.lifetime)
			}
			var calls atomic.Int64
			cfg := srv.Config()
			cfg.ClientSecret = ""
			cfg.TokenSource = o365smtp.TokenSourceFunc(func(ctx context.Context) (o365smtp.Token, error) {
				calls.Add(1)
				tok, err := inner.Token(ctx)
				tok.ExpiresOn = exp
				return tok, err
			})
			s := newSender(t, cfg)
			ctx := ctxT(t)
			send(t, ctx, s)
			t1 := time.Now()
			rt := o365smtp.IdleRetireTimes(s)
			if len(rt) != 1 {
				t.Fatalf("%d idle connections; want 1", len(rt))
			}
			lo, hi := tc.want(t0, t1, exp)
			if rt[0].Before(lo) || rt[0].After(hi) {
				t.Errorf("retirement at t0%+v; want within [t0%+v, t0%+v]", rt[0].Sub(t0), lo.Sub(t0), hi.Sub(t0))
			}
			if !exp.IsZero() && !rt[0].Before(exp) {
				t.Errorf("retirement at or after the token's expiry")
			}
			// A token of unknown expiry is not cached, but the connection
			// it authenticated is reused: no new token for the next send.
			send(t, ctx, s)
			if st := s.Stats(); st.Dials != 1 || calls.Load() != 1 {
				t.Errorf("second send: %d dials, %d token calls; want 1 and 1", st.Dials, calls.Load())
			}
		})
	}
}

// TestPoolIdleRetirement: a connection idle longer than the idle timeout is
// not reused (whether the pool finds it stale on take, or the pool's idle
// janitor retired it); the token is.
func TestPoolIdleRetirement(t *testing.T) {
	for _, tc := range []struct {
		name   string
		expire func(s *o365smtp.Sender) int
	}{
		{"stale on take", func(s *o365smtp.Sender) int { return o365smtp.AgeIdleConnections(s, o365smtp.IdleTimeout+time.Second) }},
		{"idle timer", o365smtp.ExpireIdleConnections},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := o365smtptest.NewServer()
			defer srv.Close()
			tr := &transcript{}
			cfg := srv.Config()
			cfg.Logger = slog.New(tr)
			s := newSender(t, cfg)
			ctx := ctxT(t)
			send(t, ctx, s)
			// Just inside the idle timeout: reused.
			o365smtp.AgeIdleConnections(s, o365smtp.IdleTimeout-time.Second)
			send(t, ctx, s)
			if st := s.Stats(); st.Dials != 1 {
				t.Fatalf("idle for less than the idle timeout: %d dials; want the connection reused", st.Dials)
			}
			if n := tc.expire(s); n != 1 {
				t.Fatalf("expired %d idle connections; want 1", n)
			}
			if tc.name == "idle timer" {
				// The timer QUITs and closes the connection at once.
				if st := s.Stats(); st.OpenConnections != 0 || st.IdleConnections != 0 {
					t.Errorf("after the idle timer: %+v; want no connection", st)
				}
				if tr.count("QUIT") != 1 {
					t.Errorf("the idle timer closed the connection without QUIT")
				}
				eventually(t, "the emulator sees the idle connection closed", func() bool { return srv.Stats().OpenConnections == 0 })
			}
			send(t, ctx, s)
			st := s.Stats()
			if st.Dials != 2 || st.TokenRequests != 1 || st.Failed != 0 {
				t.Errorf("after the idle timeout: %d dials, %d token requests, %d failed; want 2, 1, 0", st.Dials, st.TokenRequests, st.Failed)
			}
			if st.OpenConnections != 1 {
				t.Errorf("pool has %d connections; want 1", st.OpenConnections)
			}
			eventually(t, "the emulator sees the retired connection closed", func() bool { return srv.Stats().OpenConnections == 1 })
		})
	}
}

// TestPoolReplacesDeadConnection: a pooled connection that died while idle
// is replaced without failing or retrying the message.
func TestPoolReplacesDeadConnection(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := newSender(t, srv.Config())
	ctx := ctxT(t)
	send(t, ctx, s)
	srv.Fail(o365smtptest.StageMail, o365smtptest.Fault{Drop: true, Times: 1})
	send(t, ctx, s)
	st := s.Stats()
	if st.Sent != 2 || st.Dials != 2 || st.Failed != 0 || st.Retries != 0 || st.Attempts != 2 || len(st.FailuresByKind) != 0 {
		t.Errorf("Stats = %+v; want 2 sent, 2 dials, 2 attempts, no failure, no retry", st)
	}
	if srv.Stats().Connections != 2 || srv.Stats().TokenRequests != 1 || len(srv.Messages()) != 2 {
		t.Errorf("emulator: %d connections, %d token requests, %d messages; want 2, 1, 2", srv.Stats().Connections, srv.Stats().TokenRequests, len(srv.Messages()))
	}
}

// TestPoolNeverResendsAfterData: a pooled connection that dies after the
// message data was sent gives ErrUnknownOutcome; the message is not sent
// again, and the next message gets a new connection.
func TestPoolNeverResendsAfterData(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := newSender(t, srv.Config())
	o365smtp.SetRetryBackoff(s, time.Millisecond)
	ctx := ctxT(t)
	send(t, ctx, s)
	srv.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Drop: true, Times: 1})
	err := s.Send(ctx, newMsg(t))
	e := asError(t, err)
	if e.Kind != o365smtp.ErrUnknownOutcome || e.Retryable() {
		t.Fatalf("Send = %v (kind %s, retryable %v); want ErrUnknownOutcome, not retryable", err, e.Kind, e.Retryable())
	}
	st := s.Stats()
	if st.Attempts != 2 || st.Retries != 0 || st.Dials != 1 {
		t.Errorf("Stats = %+v; want 2 attempts (one per send), no retry, 1 dial", st)
	}
	send(t, ctx, s)
	if st := s.Stats(); st.Dials != 2 || st.OpenConnections != 1 {
		t.Errorf("after the unknown outcome: %d dials, %d open; want a new connection", st.Dials, st.OpenConnections)
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("emulator recorded %d messages; want 2 (the dropped one is not resent)", n)
	}
}

// TestShutdownWaitsForInFlight: Shutdown refuses new sends at once, lets
// the send in flight finish, then QUITs every connection.
func TestShutdownWaitsForInFlight(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	tr := &transcript{}
	cfg := srv.Config()
	cfg.MaxConnections = 1
	cfg.Logger = slog.New(tr)
	s := newSender(t, cfg)
	ctx := ctxT(t)
	h := newHolder()
	inflight := make(chan error, 1)
	go func() { inflight <- s.Send(h.ctx(ctx), newMsg(t)) }()
	h.wait(1)

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	// A send that starts once Shutdown has begun gets ErrClosed (one that
	// started before would wait for the connection and be sent).
	eventually(t, "Shutdown has begun", func() bool { return o365smtp.Closing(s) })
	if err := s.Send(ctx, newMsg(t)); !errors.Is(err, o365smtp.ErrClosed) {
		t.Fatalf("Send during Shutdown = %v; want ErrClosed", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a send was in flight", err)
	default:
	}
	if _, err := s.Verify(ctx); !errors.Is(err, o365smtp.ErrClosed) {
		t.Errorf("Verify during Shutdown = %v; want ErrClosed", err)
	}
	close(h.release)
	if err := <-inflight; err != nil {
		t.Errorf("in-flight send: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if st := s.Stats(); st.OpenConnections != 0 || st.Sent != 1 {
		t.Errorf("after Shutdown: %+v; want 1 sent, no connection", st)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("emulator got %d messages; want 1", n)
	}
	if tr.count("QUIT") != 1 {
		t.Errorf("client sent %d QUIT; want 1", tr.count("QUIT"))
	}
	eventually(t, "the emulator sees every connection closed", func() bool { return srv.Stats().OpenConnections == 0 })
	if err := s.Send(ctx, newMsg(t)); !errors.Is(err, o365smtp.ErrClosed) {
		t.Errorf("Send after Shutdown = %v; want ErrClosed", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// senderSignallingData returns a Sender for srv and a channel closed when
// the server first answers DATA with 354 (the message data is about to be
// sent), read from the Sender's protocol log.
func senderSignallingData(t *testing.T, srv *o365smtptest.Server) (*o365smtp.Sender, <-chan struct{}) {
	t.Helper()
	data := make(chan struct{})
	var once sync.Once
	tr := &transcript{on: func(dir, line string) {
		if dir == "server" && strings.HasPrefix(line, "354") {
			once.Do(func() { close(data) })
		}
	}}
	cfg := srv.Config()
	cfg.Logger = slog.New(tr)
	return newSender(t, cfg), data
}

// TestShutdownWaitsForReplyAtDataEnd: Shutdown called while a send waits
// for the server's reply to its data (delayed by the emulator) returns only
// after that send has its reply, and the message is delivered once.
func TestShutdownWaitsForReplyAtDataEnd(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s, data := senderSignallingData(t, srv)
	ctx := ctxT(t)
	// The delay only makes it likely that Shutdown starts before the
	// reply; the test holds whatever the timing.
	srv.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Delay: 200 * time.Millisecond, Times: 1})
	inflight := make(chan error, 1)
	go func() { inflight <- s.Send(ctx, newMsg(t)) }()
	<-data // the send is past DATA: writing its data or waiting for the reply
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	// The emulator records a message after the delay, just before its
	// reply: Shutdown waited for the send to get that far.
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("when Shutdown returned the emulator had %d messages; want 1", n)
	}
	if err := <-inflight; err != nil {
		t.Errorf("in-flight send: %v", err)
	}
	if st := s.Stats(); st.Sent != 1 || st.Failed != 0 || st.OpenConnections != 0 {
		t.Errorf("Stats = %+v; want 1 sent, no failure, no connection", st)
	}
	eventually(t, "the emulator sees every connection closed", func() bool { return srv.Stats().OpenConnections == 0 })
}

// TestShutdownContextEnds: when Shutdown's context ends first, it returns
// ErrCanceled and closes the connections at once.
func TestShutdownContextEnds(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := newSender(t, srv.Config())
	ctx := ctxT(t)
	h := newHolder()
	inflight := make(chan error, 1)
	go func() { inflight <- s.Send(h.ctx(ctx), newMsg(t)) }()
	h.wait(1)
	sctx, cancel := context.WithCancel(ctx)
	cancel()
	err := s.Shutdown(sctx)
	if e := asError(t, err); e.Kind != o365smtp.ErrCanceled || !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v; want ErrCanceled", err)
	}
	close(h.release)
	// The server had accepted the message before the connection was
	// closed: the send reports success (only RSET failed).
	if err := <-inflight; err != nil {
		t.Errorf("in-flight send: %v", err)
	}
	if st := s.Stats(); st.OpenConnections != 0 {
		t.Errorf("after Shutdown: %+v; want no connection", st)
	}
	eventually(t, "the emulator sees every connection closed", func() bool { return srv.Stats().OpenConnections == 0 })
}

// TestCloseFailsInFlight: Close does not wait: a send in the middle of its
// transaction fails (once the data is sent, with ErrUnknownOutcome: it may
// have been delivered) and is not retried.
func TestCloseFailsInFlight(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s, data := senderSignallingData(t, srv)
	o365smtp.SetRetryBackoff(s, time.Millisecond)
	ctx := ctxT(t)
	srv.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Hang: true, Times: 1})
	inflight := make(chan error, 1)
	go func() { inflight <- s.Send(ctx, newMsg(t)) }()
	<-data // the server said 354: the send is writing its data, then waits for a reply that never comes
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	err := <-inflight
	e := asError(t, err)
	if e.Kind != o365smtp.ErrUnknownOutcome && e.Kind != o365smtp.ErrConnection {
		t.Errorf("in-flight send after Close = %v (kind %s); want ErrUnknownOutcome or ErrConnection", err, e.Kind)
	}
	st := s.Stats()
	if st.Retries != 0 || st.Attempts != 1 || st.OpenConnections != 0 {
		t.Errorf("Stats = %+v; want 1 attempt, no retry, no connection", st)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("emulator has %d messages; want 0", n)
	}
	eventually(t, "the emulator sees every connection closed", func() bool { return srv.Stats().OpenConnections == 0 })
	if err := s.Send(ctx, newMsg(t)); !errors.Is(err, o365smtp.ErrClosed) {
		t.Errorf("Send after Close = %v; want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseIdle: Close closes idle connections at once.
func TestCloseIdle(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := newSender(t, srv.Config())
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() { send(t, ctx, s) })
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if st := s.Stats(); st.OpenConnections != 0 || st.IdleConnections != 0 {
		t.Errorf("after Close: %+v", st)
	}
	eventually(t, "the emulator sees every connection closed", func() bool { return srv.Stats().OpenConnections == 0 })
}

// newFakeClockSender returns a Sender whose token cache and governor run on
// a fake clock that starts now (the emulator's tokens expire by real time).
func newFakeClockSender(t *testing.T, cfg o365smtp.Config) (*o365smtp.Sender, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Now())
	s, err := o365smtp.NewWithClock(cfg, clk)
	if err != nil {
		t.Fatalf("NewWithClock: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk
}

// governorWaits checks that a governor wait is pending on clk and is due
// exactly want from now, then lets it through: the wait is still pending
// after want-1ns and released by the last nanosecond.
func governorWaits(t *testing.T, clk *clock.Fake, want time.Duration) {
	t.Helper()
	if err := clk.BlockUntil(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(want - time.Nanosecond)
	if clk.Waiters() != 1 {
		t.Errorf("the governor wait ended before %v", want)
	}
	clk.Advance(time.Nanosecond)
}

// TestGovernorThroughSend: MessagesPerMinute 3 lets three sends through at
// once and holds the fourth until the first leaves the rolling minute.
func TestGovernorThroughSend(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.MessagesPerMinute = 3
	s, clk := newFakeClockSender(t, cfg)
	ctx := ctxT(t)
	for range 3 {
		send(t, ctx, s)
		clk.Advance(time.Second)
	}
	if st := s.Stats(); st.GovernorWaits != 0 {
		t.Errorf("GovernorWaits = %d after 3 sends; want 0", st.GovernorWaits)
	}
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, newMsg(t)) }()
	// Admissions at 0 s, 1 s, 2 s; now 3 s: the first leaves at 60 s.
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n, st := len(srv.Messages()), s.Stats(); n != 3 || st.Attempts != 3 {
		t.Errorf("while the 4th waits: %d messages, %d attempts; want 3 and 3", n, st.Attempts)
	}
	governorWaits(t, clk, 57*time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Sent != 4 || st.GovernorWaits != 1 || st.GovernorWaitTime != 57*time.Second {
		t.Errorf("Stats = %+v; want 4 sent, 1 governor wait of 57s", st)
	}
	// Log: 1 s, 2 s, 60 s; now 60 s. A fifth waits 1 s; its context ends.
	wctx, cancel := context.WithCancel(ctx)
	go func() { done <- s.Send(wctx, newMsg(t)) }()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second - time.Nanosecond)
	if clk.Waiters() != 1 {
		t.Error("the 5th send's wait ended before 1s")
	}
	cancel()
	err := <-done
	if e := asError(t, err); e.Kind != o365smtp.ErrCanceled || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled governor wait = %v; want ErrCanceled", err)
	}
	if n := len(srv.Messages()); n != 4 {
		t.Errorf("emulator got %d messages; want 4", n)
	}
}

// TestGovernorCountsRetries: every DATA attempt counts against the
// per-minute limit, retries included.
func TestGovernorCountsRetries(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.MessagesPerMinute = 2
	cfg.RetryBackoff = time.Millisecond
	s, clk := newFakeClockSender(t, cfg)
	ctx := ctxT(t)
	srv.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)", Times: 1})
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, newMsg(t)) }()
	// The retry's backoff (1 ms ±50%) runs on clk too.
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Millisecond)
	if err := <-done; err != nil { // attempt and retry: both admissions of this minute
		t.Fatal(err)
	}
	if st := s.Stats(); st.Attempts != 2 || st.Retries != 1 {
		t.Fatalf("Stats = %+v; want 2 attempts, 1 retry", st)
	}
	go func() { done <- s.Send(ctx, newMsg(t)) }()
	governorWaits(t, clk, time.Minute-2*time.Millisecond)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Sent != 2 || st.GovernorWaits != 1 {
		t.Errorf("Stats = %+v; want 2 sent, 1 governor wait", st)
	}
}

// TestLimiterReplacesGovernor: Config.Limiter is asked before every
// attempt, retries included, and the built-in governor is off; a Limiter
// error fails the send before any connection.
func TestLimiterReplacesGovernor(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.MessagesPerMinute = 1 // would hold the second send for a minute, past ctxT's deadline
	lim := &signalLimiter{}
	cfg.Limiter = lim
	s := newSender(t, cfg)
	o365smtp.SetRetryBackoff(s, time.Millisecond)
	ctx := ctxT(t)
	for range 3 {
		send(t, ctx, s)
	}
	srv.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)", Times: 1})
	send(t, ctx, s)
	if n := lim.calls.Load(); n != 5 {
		t.Errorf("Limiter.Wait called %d times; want 5 (4 sends, 1 retry)", n)
	}
	lim.err = errors.New("quota service says no")
	conns := srv.Stats().Connections
	err := s.Send(ctx, newMsg(t))
	if e := asError(t, err); e.Kind != o365smtp.ErrCanceled || !strings.Contains(e.Message, "quota service says no") {
		t.Errorf("Send with a refusing Limiter = %v; want ErrCanceled naming the Limiter's error", err)
	}
	if srv.Stats().Connections != conns || len(srv.Messages()) != 4 {
		t.Errorf("a refused send reached the server")
	}
}

// TestTooManyRecipients: more than 500 recipients fail before any
// connection, with a Hint; exactly 500 are sent.
func TestTooManyRecipients(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := newSender(t, srv.Config())
	ctx := ctxT(t)
	rcpts := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "r" + strconv.Itoa(i) + "@example.net"
		}
		return out
	}
	err := s.Send(ctx, newMsg(t, rcpts(501)...))
	e := asError(t, err)
	if e.Kind != o365smtp.ErrInvalidMessage || !strings.Contains(e.Message, "501") || !strings.Contains(e.Hint, "500") {
		t.Errorf("501 recipients: %v (Hint %q); want ErrInvalidMessage naming the limit", err, e.Hint)
	}
	if srv.Stats().Connections != 0 || srv.Stats().TokenRequests != 0 || s.Stats().Attempts != 0 {
		t.Errorf("501 recipients reached the network: %d connections, %d token requests", srv.Stats().Connections, srv.Stats().TokenRequests)
	}
	// The limit counts To, Cc and Bcc together.
	m := newMsg(t, rcpts(300)...)
	if err := m.Bcc(rcpts(201)[1:]...); err != nil {
		t.Fatal(err)
	}
	if err := m.AddCc("one-more@example.net"); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, m); !errors.Is(err, o365smtp.ErrInvalidMessage) {
		t.Errorf("300 To + 200 Bcc + 1 Cc: %v; want ErrInvalidMessage", err)
	}
	if err := s.Send(ctx, newMsg(t, rcpts(500)...)); err != nil {
		t.Fatalf("500 recipients: %v", err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || len(msgs[0].To) != 500 {
		t.Errorf("emulator got %d messages; want 1 with 500 recipients", len(msgs))
	}
}

// TestMessageLargerThanServerSize: a message larger than the SIZE the
// server advertised fails before MAIL FROM with ErrInvalidMessage and a
// Hint; the connection stays in the pool for the next message.
func TestMessageLargerThanServerSize(t *testing.T) {
	const limit = 4096
	srv := o365smtptest.NewServer(o365smtptest.WithMaxMessageSize(limit))
	defer srv.Close()
	tr := &transcript{}
	cfg := srv.Config()
	cfg.Logger = slog.New(tr)
	s := newSender(t, cfg)
	ctx := ctxT(t)
	big := newMsg(t)
	big.SetBodyString(mail.TypeTextPlain, strings.Repeat("0123456789abcdef\n", 2*limit/16))
	err := s.Send(ctx, big)
	e := asError(t, err)
	if e.Kind != o365smtp.ErrInvalidMessage || !strings.Contains(e.Message, strconv.Itoa(limit)) || e.Retryable() {
		t.Errorf("oversize message: %v (retryable %v); want ErrInvalidMessage naming the server's SIZE, not retryable", err, e.Retryable())
	}
	if n := tr.count("MAIL FROM"); n != 0 {
		t.Errorf("the client sent MAIL FROM %d times for an oversize message", n)
	}
	send(t, ctx, s)
	st := s.Stats()
	if st.Dials != 1 || st.Attempts != 2 || st.Retries != 0 || len(srv.Messages()) != 1 {
		t.Errorf("Stats = %+v, %d messages; want the connection reused, no retry, 1 message", st, len(srv.Messages()))
	}
}

// TestThrottled432BacksOff: after a 432 4.3.2 (too many concurrent
// connections) the Sender uses one connection fewer.
func TestThrottled432BacksOff(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config() // MaxConnections: 3
	s := newSender(t, cfg)
	o365smtp.SetRetryBackoff(s, time.Millisecond)
	ctx := ctxT(t)
	srv.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: "432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.", Times: 1})
	send(t, ctx, s) // 432, then retried successfully
	if st := s.Stats(); st.Retries != 1 || st.Failed != 0 {
		t.Fatalf("Stats = %+v; want the 432 retried once", st)
	}
	// backOff takes its slot on a goroutine of its own; wait for it.
	eventually(t, "the pool holds a connection slot back", func() bool { return o365smtp.ConnectionSlotsTaken(s) == 1 })

	h := newHolder()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := s.Send(h.ctx(ctx), newMsg(t)); err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
	h.wait(2)
	// Two sends are held on two connections; the third cannot have a slot.
	if n := o365smtp.ConnectionSlotsTaken(s); n != 3 {
		t.Errorf("%d slots taken; want 3 (2 sends and the one held back)", n)
	}
	if st := s.Stats(); st.OpenConnections != 2 || st.InUseConnections != 2 {
		t.Errorf("pool: %+v; want 2 connections in use", st)
	}
	close(h.release)
	wg.Wait()
	if got := srv.Stats().MaxConcurrentConnections; got != 2 {
		t.Errorf("the emulator saw %d connections at once after a 432; want 2", got)
	}
	if st := s.Stats(); st.Dials != 2 || st.Sent != 4 {
		t.Errorf("Stats = %+v; want 4 sent on 2 connections", st)
	}
}
