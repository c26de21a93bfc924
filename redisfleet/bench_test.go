package redisfleet

import (
	"context"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// BenchmarkSharedAdmissionAndLease measures, in one run, what sharing the
// limits in Redis costs per message: b.N sequential Sends through the
// in-process Fleet (the baseline) and b.N through a redisfleet.Fleet, both
// against the emulator on loopback with the per-minute admission on, and
// then b.N bare Admit + Acquire + Release round trips to Redis. It reports
// each path's ns per message, the ratio and the difference. A pooled
// connection keeps its lease, so a Send pays the Block check and the
// admission (two Redis round trips); a lease (one more, plus a renewal
// every 200 ms while held) is paid per connection.
//
//	go test -run '^$' -bench SharedAdmissionAndLease -benchtime 2000x ./redisfleet/
func BenchmarkSharedAdmissionAndLease(b *testing.B) {
	r := startRedis(b)
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.SetDailyRecipientLimit(0)
	prefix := newPrefix(b)
	sender := func(f o365smtp.Fleet) *o365smtp.Sender {
		cfg := srv.Config()
		cfg.MessagesPerMinute = 1 << 30 // admission on, never waiting
		if f != nil {
			cfg.Fleet = f
		}
		s, err := o365smtp.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	local, shared := sender(nil), sender(New(r.client(b), WithPrefix(prefix)))
	ctx := context.Background()
	send := func(s *o365smtp.Sender, i int) time.Duration {
		m := newMsg(b, i)
		start := time.Now()
		if err := s.Send(ctx, m); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for _, s := range []*o365smtp.Sender{local, shared} { // dial outside the timing
		if err := s.Send(ctx, newMsg(b, 0)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	// Interleaved, so that drift in the machine's load hits both alike.
	var tl, ts time.Duration
	for i := range b.N {
		tl += send(local, i)
		ts += send(shared, i)
	}
	f := New(r.client(b), WithPrefix(prefix+"-raw"))
	start := time.Now()
	for range b.N {
		if err := f.Admit(ctx, mailbox, o365smtp.ResourceMessages, 1<<30, time.Minute); err != nil {
			b.Fatal(err)
		}
		l, err := f.Acquire(ctx, mailbox, o365smtp.ResourceSMTP, 3)
		if err != nil {
			b.Fatal(err)
		}
		l.Release()
	}
	traw := time.Since(start)
	b.StopTimer()
	if st := shared.Stats(); !st.FleetShared || st.FleetFailures != 0 {
		b.Fatalf("the shared Sender did not use Redis throughout: %+v", st)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tl.Nanoseconds())/n, "local-ns/msg")
	b.ReportMetric(float64(ts.Nanoseconds())/n, "fleet-ns/msg")
	b.ReportMetric(float64(ts)/float64(tl), "fleet/local")
	b.ReportMetric(float64((ts-tl).Nanoseconds())/n, "overhead-ns/msg")
	b.ReportMetric(float64(traw.Nanoseconds())/n, "redis-admit+lease-ns")
	b.Logf("redis: %s", r.kind)
}
