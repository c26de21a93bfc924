package redisfleet

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
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

const mailbox = "sender@contoso.com"

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newMsg(t testing.TB, i int) *mail.Msg {
	t.Helper()
	m := mail.NewMsg()
	if err := m.To("alice@example.net"); err != nil {
		t.Fatal(err)
	}
	m.Subject("fleet " + strings.Repeat("x", i%3))
	m.SetBodyString(mail.TypeTextPlain, "hello from a replica")
	return m
}

// replica is a Sender with a redisfleet.Fleet of its own, on a Redis client
// of its own, as a process of a fleet would have.
func replica(t testing.TB, r *testRedis, srv *o365smtptest.Server, prefix string, opts ...Option) (*o365smtp.Sender, *Fleet) {
	t.Helper()
	f := New(r.client(t), append([]Option{WithPrefix(prefix)}, opts...)...)
	cfg := srv.Config()
	cfg.Fleet = f
	s, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, f
}

// eventually polls cond, for state that follows an external process (Redis
// going away or coming back), with a deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after 15 s: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// burst sends per messages from each of workers goroutines of every
// replica, and returns the errors.
func burst(t testing.TB, ctx context.Context, senders []*o365smtp.Sender, workers, per int) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, s := range senders {
		for w := range workers {
			wg.Go(func() {
				for i := range per {
					if err := s.Send(ctx, newMsg(t, w+i)); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	return errs
}

// TestFourReplicasThreeSessions: 4 replicas x 8 goroutines, each replica
// allowed MaxConnections 3, never have more than 3 sessions open at the
// emulator between them (which refuses a 4th with 432 4.3.2), and every
// message goes through. Without the Fleet the same load opens up to 12.
func TestFourReplicasThreeSessions(t *testing.T) {
	r := startRedis(t)
	t.Logf("redis: %s at %s", r.kind, r.addr)
	for _, shared := range []bool{true, false} {
		name := map[bool]string{true: "fleet", false: "own limits"}[shared]
		t.Run(name, func(t *testing.T) {
			srv := o365smtptest.NewServer()
			defer srv.Close()
			prefix := newPrefix(t)
			var senders []*o365smtp.Sender
			for range 4 {
				if shared {
					s, _ := replica(t, r, srv, prefix)
					senders = append(senders, s)
					continue
				}
				cfg := srv.Config()
				cfg.RetryBackoff = time.Millisecond // 432s are retried; keep the test short
				s, err := o365smtp.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				senders = append(senders, s)
			}
			start := time.Now()
			errs := burst(t, ctxT(t), senders, 8, 5)
			took := time.Since(start)
			st := srv.Stats()
			t.Logf("%s: 4 replicas x 8 goroutines x 5 messages: %d accepted, %d failed, max concurrent sessions %d, connections %d, %v",
				name, len(srv.Messages()), len(errs), st.MaxConcurrentConnections, st.Connections, took.Round(time.Millisecond))
			if !shared {
				if st.MaxConcurrentConnections <= 3 {
					t.Logf("without the Fleet the replicas happened to stay within 3 sessions")
				}
				return
			}
			if len(errs) > 0 {
				t.Errorf("%d sends failed, first: %v", len(errs), errs[0])
			}
			if st.MaxConcurrentConnections > 3 || len(srv.Messages()) != 160 {
				t.Errorf("max concurrent sessions %d, %d messages; want at most 3 and 160", st.MaxConcurrentConnections, len(srv.Messages()))
			}
			for i, s := range senders {
				if ss := s.Stats(); !ss.FleetShared || ss.FleetFailures != 0 {
					t.Errorf("replica %d: Stats %+v; want shared limits and no Fleet failure", i, ss)
				}
			}
			// The idle connections hold their leases: the keys are there,
			// each with an expiry.
			if n := r.checkExpiry(t, r.client(t), prefix); n == 0 {
				t.Errorf("no keys of prefix %s", prefix)
			}
		})
	}
}

// TestRollingWindowAcrossReplicas: 4 Fleets, 8 goroutines each, one
// admission each, 4 per rolling minute between them, on a fake clock (the
// scripts take their time from it): never more than 4 in any window, and
// exactly 4 more each time the window moves on.
func TestRollingWindowAcrossReplicas(t *testing.T) {
	r := startRedis(t)
	clk := clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	prefix := newPrefix(t)
	const n, window, total = 4, time.Minute, 32
	var mu sync.Mutex
	var times []int64
	var wg sync.WaitGroup
	ctx := ctxT(t)
	admittedCh := make(chan struct{}, total)
	for range 4 {
		f := New(r.client(t), WithPrefix(prefix))
		f.opts.clock = clk
		for range 8 {
			wg.Go(func() {
				at, err := f.admit(ctx, mailbox, o365smtp.ResourceMessages, n, window)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				times = append(times, at)
				mu.Unlock()
				admittedCh <- struct{}{}
			})
		}
	}
	for admitted := n; ; admitted += n {
		for range n {
			<-admittedCh
		}
		if admitted >= total {
			break
		}
		// Every goroutine not admitted yet waits on the clock.
		if err := clk.BlockUntil(ctx, total-admitted); err != nil {
			t.Fatal(err)
		}
		if extra := len(admittedCh); extra != 0 {
			t.Fatalf("%d more admitted before the window moved", extra)
		}
		clk.Advance(window)
	}
	wg.Wait()
	slices.Sort(times)
	if len(times) != total {
		t.Fatalf("%d admitted; want %d", len(times), total)
	}
	for i := 0; i+n < len(times); i++ {
		if d := time.Duration(times[i+n]-times[i]) * time.Millisecond; d < window {
			t.Errorf("admissions %d and %d are %v apart: %d in one window", i, i+n, d, n+1)
		}
	}
	if n := r.checkExpiry(t, r.client(t), prefix); n != 1 {
		t.Errorf("%d keys; want the admission log only", n)
	}
}

// TestLeasesFIFOAndHold: slots are granted in order; a back-off holds one
// back (never the last one); a release wakes a waiter at once.
func TestLeasesFIFOAndHold(t *testing.T) {
	r := startRedis(t)
	prefix := newPrefix(t)
	c := r.client(t)
	a, b := New(c, WithPrefix(prefix)), New(r.client(t), WithPrefix(prefix))
	ctx := ctxT(t)
	var held []o365smtp.Lease
	for range 2 {
		l, err := a.Acquire(ctx, mailbox, o365smtp.ResourceSMTP, 3)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
	}
	for range 5 {
		if err := b.BackOff(ctx, mailbox, o365smtp.ResourceSMTP, 3, time.Minute, 0); err != nil {
			t.Fatal(err)
		}
	}
	k := a.keys(mailbox, o365smtp.ResourceSMTP)
	if n := c.ZCard(ctx, k.holds).Val(); n != 2 {
		t.Fatalf("%d slots held back after five back-offs; want 2 (never the last)", n)
	}
	// 2 leases and 2 holds of 3 slots: a waiter queues.
	got := make(chan o365smtp.Lease, 1)
	go func() {
		l, err := b.Acquire(ctx, mailbox, o365smtp.ResourceSMTP, 3)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	eventually(t, "the waiter is queued in Redis", func() bool { return c.ZCard(ctx, k.queue).Val() == 1 })
	if err := c.Del(ctx, k.holds).Err(); err != nil {
		t.Fatal(err)
	}
	l := <-got
	if l == nil {
		t.Fatal("no lease")
	}
	held[0].Release()
	held[0].Release() // twice is harmless
	l2, err := a.Acquire(ctx, mailbox, o365smtp.ResourceSMTP, 3)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.ZCard(ctx, k.leases).Val(); n != 3 {
		t.Errorf("%d leases; want 3", n)
	}
	for _, l := range []o365smtp.Lease{held[1], l, l2} {
		l.Release()
	}
	if n := c.ZCard(ctx, k.leases).Val(); n != 0 {
		t.Errorf("%d leases after release; want 0", n)
	}
}

// TestSharedBackOffAfter432: a 432 4.3.2 that one replica gets holds a slot
// back for every replica.
func TestSharedBackOffAfter432(t *testing.T) {
	r := startRedis(t)
	srv := o365smtptest.NewServer()
	defer srv.Close()
	prefix := newPrefix(t)
	fa := New(r.client(t), WithPrefix(prefix))
	cfg := srv.Config()
	cfg.Fleet, cfg.RetryBackoff = fa, time.Millisecond
	a, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := ctxT(t)
	srv.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: "432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.", Times: 1})
	if err := a.Send(ctx, newMsg(t, 0)); err != nil {
		t.Fatalf("Send (432, then retried): %v", err)
	}
	a.Close() // its connection gives its lease back
	c := r.client(t)
	k := fa.keys(mailbox, o365smtp.ResourceSMTP)
	if n, ttl := c.ZCard(ctx, k.holds).Val(), c.PTTL(ctx, k.holds).Val(); n != 1 || ttl <= 0 {
		t.Fatalf("holds: %d with TTL %v; want 1 with an expiry", n, ttl)
	}
	// Another replica now gets 2 of the 3 slots.
	b := New(r.client(t), WithPrefix(prefix))
	for range 2 {
		l, err := b.Acquire(ctx, mailbox, o365smtp.ResourceSMTP, 3)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		l, err := b.Acquire(wctx, mailbox, o365smtp.ResourceSMTP, 3)
		if l != nil {
			l.Release()
		}
		done <- err
	}()
	eventually(t, "the third Acquire waits", func() bool { return c.ZCard(ctx, k.queue).Val() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("third Acquire = %v; want it to wait until canceled", err)
	}
}

// TestSharedCoolOff: once one replica learns that the secret expired, the
// others fail fast with the same Kind, with no token request; Verify's
// success on one ends it for all.
func TestSharedCoolOff(t *testing.T) {
	r := startRedis(t)
	srv := o365smtptest.NewServer()
	defer srv.Close()
	prefix := newPrefix(t)
	a, _ := replica(t, r, srv, prefix)
	b, _ := replica(t, r, srv, prefix)
	ctx := ctxT(t)
	srv.SetClientSecretExpired(true)
	if err := a.Send(ctx, newMsg(t, 0)); !errors.Is(err, o365smtp.ErrClientSecretExpired) {
		t.Fatalf("first send = %v; want ErrClientSecretExpired", err)
	}
	before := srv.Stats().TokenRequests
	err := b.Send(ctx, newMsg(t, 1))
	var e *o365smtp.Error
	if !errors.As(err, &e) || e.Kind != o365smtp.ErrClientSecretExpired || !strings.Contains(e.Hint, "Failed fast") {
		t.Fatalf("other replica's send = %v; want a fail-fast ErrClientSecretExpired", err)
	}
	if srv.Stats().TokenRequests != before || b.Stats().CoolOffs != 1 {
		t.Errorf("the other replica asked Entra (%d -> %d) or did not count the cool-off: %+v", before, srv.Stats().TokenRequests, b.Stats())
	}
	for _, tok := range srv.IssuedTokens() {
		if c := r.client(t); strings.Contains(c.Get(ctx, "{"+prefix+":"+mailbox+"}:block").Val(), tok) {
			t.Error("a token is stored in Redis")
		}
	}
	srv.SetClientSecretExpired(false)
	if _, err := a.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := b.Send(ctx, newMsg(t, 2)); err != nil {
		t.Errorf("send after Verify passed on another replica: %v", err)
	}
}

// TestSharedQuota: once Exchange reports the daily quota to one replica,
// every replica fails fast with ErrQuotaExceeded.
func TestSharedQuota(t *testing.T) {
	r := startRedis(t)
	srv := o365smtptest.NewServer()
	defer srv.Close()
	prefix := newPrefix(t)
	a, _ := replica(t, r, srv, prefix)
	b, _ := replica(t, r, srv, prefix)
	ctx := ctxT(t)
	srv.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception", Times: 1})
	if err := a.Send(ctx, newMsg(t, 0)); !errors.Is(err, o365smtp.ErrQuotaExceeded) {
		t.Fatalf("first send = %v; want ErrQuotaExceeded", err)
	}
	conns := srv.Stats().Connections
	if err := b.Send(ctx, newMsg(t, 1)); !errors.Is(err, o365smtp.ErrQuotaExceeded) || srv.Stats().Connections != conns {
		t.Errorf("other replica's send = %v (connections %d -> %d); want ErrQuotaExceeded at once", err, conns, srv.Stats().Connections)
	}
}

// TestBadRedisData: keys of the wrong type and a corrupt Block make the
// Sender fall back to its own limits (logged once at Warn, counted), never
// fail a Send or panic.
func TestBadRedisData(t *testing.T) {
	r := startRedis(t)
	srv := o365smtptest.NewServer()
	defer srv.Close()
	prefix := newPrefix(t)
	c := r.client(t)
	ctx := ctxT(t)
	tag := "{" + prefix + ":" + mailbox + "}"
	for _, kv := range [][2]string{{tag + ":block", "not json"}, {tag + ":smtp:leases", "a string"}, {tag + ":messages:log", "a string"}} {
		if err := c.Set(ctx, kv[0], kv[1], time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	f := New(r.client(t), WithPrefix(prefix))
	cfg := srv.Config()
	cfg.Fleet = f
	cfg.MessagesPerMinute = 100
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		if err := s.Send(ctx, newMsg(t, i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	st := s.Stats()
	mu.Lock()
	warns := strings.Count(logs.String(), "level=WARN")
	mu.Unlock()
	if st.FleetShared || st.FleetFallbacks != 1 || st.FleetFailures == 0 || warns != 1 {
		t.Errorf("Stats %+v, %d Warn lines; want own limits, 1 fallback, failures counted, 1 Warn", st, warns)
	}
	if len(srv.Messages()) != 3 {
		t.Errorf("%d messages; want 3", len(srv.Messages()))
	}
	// A huge value is not read whole.
	if err := c.Set(ctx, tag+":block", strings.Repeat("x", 1<<20), time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Blocked(ctx, mailbox); !errors.Is(err, errCorrupt) {
		t.Errorf("Blocked with a 1 MiB value = %v; want errCorrupt", err)
	}
	// An unknown Kind in a well-formed Block is bad data too: the core
	// refuses it.
	if err := c.Del(ctx, tag+":smtp:leases", tag+":messages:log").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, tag+":block", `{"kind":"nonsense","until":"2999-01-01T00:00:00Z"}`, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	s2, _ := replica(t, r, srv, prefix)
	if err := s2.Send(ctx, newMsg(t, 9)); err != nil {
		t.Fatalf("send with a Block of an unknown Kind: %v", err)
	}
	if st := s2.Stats(); st.FleetFallbacks != 1 || st.Failed != 0 {
		t.Errorf("Stats %+v; want the Block refused as bad data and the message sent", st)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestRedisOutage: Redis stopped and started again while 2 replicas send
// continuously: no Send fails, both fall back to their own limits and
// return to the shared ones, and the emulator has every message exactly
// once.
func TestRedisOutage(t *testing.T) {
	r := startRedis(t)
	if r.kind == "url" {
		t.Skip("cannot stop the Redis of REDIS_URL")
	}
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.SetConnectionLimit(0) // while Redis is down each replica has its own 3
	srv.SetDailyRecipientLimit(0)
	prefix := newPrefix(t)
	var senders []*o365smtp.Sender
	for range 2 {
		s, _ := replica(t, r, srv, prefix, WithCallTimeout(200*time.Millisecond))
		senders = append(senders, s)
	}
	ctx := ctxT(t)
	var sent, failed atomic.Int64
	progress := make(chan struct{}, 1024)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	for _, s := range senders {
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if err := s.Send(ctx, newMsg(t, w+i)); err != nil {
						failed.Add(1)
						errMu.Lock()
						firstErr = cmpOr(firstErr, err)
						errMu.Unlock()
						continue
					}
					sent.Add(1)
					select {
					case progress <- struct{}{}:
					default:
					}
				}
			})
		}
	}
	wait := func(n int) {
		for range n {
			<-progress
		}
	}
	wait(20)
	r.Stop()
	outage := time.Now()
	eventually(t, "both replicas use their own limits", func() bool {
		return !senders[0].Stats().FleetShared && !senders[1].Stats().FleetShared
	})
	fellBack := time.Since(outage)
	wait(20)
	r.Start()
	back := time.Now()
	eventually(t, "both replicas share the limits again", func() bool {
		return senders[0].Stats().FleetShared && senders[1].Stats().FleetShared
	})
	returned := time.Since(back)
	wait(20)
	close(stop)
	wg.Wait()
	t.Logf("redis %s: %d sent, %d failed; fell back %v after the stop, shared again %v after the start", r.kind, sent.Load(), failed.Load(), fellBack.Round(time.Millisecond), returned.Round(time.Millisecond))
	if failed.Load() != 0 {
		t.Errorf("%d sends failed, first: %v", failed.Load(), firstErr)
	}
	msgs := srv.Messages()
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[m.Header.Get("Message-ID")] = true
	}
	if int64(len(msgs)) != sent.Load() || len(ids) != len(msgs) {
		t.Errorf("emulator: %d messages, %d Message-IDs; want %d, each once", len(msgs), len(ids), sent.Load())
	}
	for i, s := range senders {
		if st := s.Stats(); st.FleetFallbacks < 1 {
			t.Errorf("replica %d: FleetFallbacks %d; want at least 1", i, st.FleetFallbacks)
		}
	}
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// TestKeysExpire: every key has an expiry, and the keys are gone once the
// leases, windows and holds have passed (miniredis: FastForward; a real
// server: its own expiry, waited for with a deadline).
func TestKeysExpire(t *testing.T) {
	r := startRedis(t)
	prefix := newPrefix(t)
	c := r.client(t)
	f := New(c, WithPrefix(prefix), WithLeaseTTL(300*time.Millisecond))
	ctx := ctxT(t)
	l, err := f.Acquire(ctx, mailbox, o365smtp.ResourceSMTP, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Admit(ctx, mailbox, o365smtp.ResourceMessages, 30, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := f.BackOff(ctx, mailbox, o365smtp.ResourceSMTP, 3, 200*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.BackOff(ctx, mailbox, o365smtp.ResourceGraph, 4, 0, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := f.Block(ctx, mailbox, o365smtp.Block{Kind: o365smtp.ErrAuthFailed, Until: time.Now().Add(200 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if n := r.checkExpiry(t, c, prefix); n != 5 {
		t.Errorf("%d keys; want 5 (leases, log, holds, pause, block): %v", n, r.keys(t, c, prefix))
	}
	l.Release()
	if r.kind == "miniredis" {
		r.mini.FastForward(2 * time.Second)
	}
	eventually(t, "every key expired", func() bool { return len(r.keys(t, c, prefix)) == 0 })
}

// TestMessagesPerWindow: 4 replicas x 8 goroutines, one message each, with
// MessagesPerMinute 5: with the Fleet, 5 go through in the minute between
// them and the other 27 wait for it (their contexts end first); with each
// replica's own governor, 20 (4 x 5).
func TestMessagesPerWindow(t *testing.T) {
	r := startRedis(t)
	for _, shared := range []bool{true, false} {
		name := map[bool]string{true: "fleet", false: "own limits"}[shared]
		t.Run(name, func(t *testing.T) {
			srv := o365smtptest.NewServer()
			defer srv.Close()
			prefix := newPrefix(t)
			want := 5
			if !shared {
				want = 20
				srv.SetConnectionLimit(0) // count messages, not 432s
			}
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			var wg sync.WaitGroup
			var canceled atomic.Int64
			for range 4 {
				cfg := srv.Config()
				cfg.MessagesPerMinute = 5
				if shared {
					cfg.Fleet = New(r.client(t), WithPrefix(prefix))
				}
				s, err := o365smtp.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				for i := range 8 {
					wg.Go(func() {
						err := s.Send(ctx, newMsg(t, i))
						switch {
						case errors.Is(err, o365smtp.ErrCanceled):
							canceled.Add(1)
						case err != nil:
							t.Errorf("Send: %v", err)
						}
					})
				}
			}
			eventually(t, "the window's messages are accepted", func() bool { return len(srv.Messages()) >= want })
			if shared {
				k := New(nil, WithPrefix(prefix)).keys(mailbox, o365smtp.ResourceMessages)
				eventually(t, "the other sends wait", func() bool { return r.client(t).ZCard(ctx, k.log).Val() == 5 })
			}
			cancel()
			wg.Wait()
			got := len(srv.Messages())
			t.Logf("%s: 4 replicas x 8 goroutines, MessagesPerMinute 5: %d accepted in the first minute, %d still waiting when canceled", name, got, canceled.Load())
			if got != want || canceled.Load() != int64(32-want) {
				t.Errorf("%d accepted, %d canceled; want %d and %d", got, canceled.Load(), want, 32-want)
			}
		})
	}
}

// gate is an http.RoundTripper that holds every Graph sendMail request
// until open is closed, and reports each arrival.
type gate struct {
	next    http.RoundTripper
	arrived chan struct{}
	open    chan struct{}
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/sendMail") {
		g.arrived <- struct{}{}
		<-g.open
	}
	return g.next.RoundTrip(req)
}

// TestGraphAcrossReplicas: with Microsoft Graph, 3 replicas x 8 goroutines
// share the mailbox's 4 concurrent requests. Requests are held at the
// client until 4 are in flight and the others queue in Redis (each replica
// alone would have 4 in flight, 12 between them); then every message goes
// through, and Graph's 10,000-per-10-minutes log in Redis counts every
// request of every replica.
func TestGraphAcrossReplicas(t *testing.T) {
	r := startRedis(t)
	srv := o365smtptest.NewServer()
	defer srv.Close()
	prefix := newPrefix(t)
	g := &gate{next: srv.Client().Transport, arrived: make(chan struct{}, 100), open: make(chan struct{})}
	var senders []*o365smtp.Sender
	for range 3 {
		cfg := srv.Config()
		cfg.Transport, cfg.MaxAttempts = o365smtp.TransportGraph, 1
		cfg.HTTPClient = &http.Client{Transport: g}
		cfg.Fleet = New(r.client(t), WithPrefix(prefix))
		s, err := o365smtp.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		senders = append(senders, s)
	}
	done := make(chan []error)
	go func() { done <- burst(t, ctxT(t), senders, 8, 3) }()
	for range 4 {
		<-g.arrived
	}
	k := New(nil, WithPrefix(prefix)).keys(mailbox, o365smtp.ResourceGraph)
	c := r.client(t)
	eventually(t, "the other requests queue in Redis", func() bool { return c.ZCard(context.Background(), k.queue).Val() == 8 })
	if n := len(g.arrived); n != 0 {
		t.Errorf("%d more Graph requests in flight; want 4 at most", 4+n)
	}
	close(g.open)
	if errs := <-done; len(errs) > 0 {
		t.Errorf("%d of 72 Graph sends failed, first: %v", len(errs), errs[0])
	}
	if n := len(srv.Messages()); n != 72 {
		t.Errorf("%d messages; want 72", n)
	}
	if n := c.ZCard(context.Background(), k.log).Val(); n != 72 {
		t.Errorf("Graph's admission log holds %d; want 72", n)
	}
}
