package o365smtp_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// The benchmarks run each baseline in the same run as o365smtp, against the
// emulator on loopback with TLS, the governor off. Reproduce with:
//
//	go test -run '^$' -bench . -benchtime 300x ./
//
// BenchmarkRatios prints the ratios the README's Performance table gives.
// It times a fixed number of operations per contender (not b.N), in
// interleaved rounds, and keeps each contender's best round, so that its
// result does not depend on -benchtime.

func benchMsg() *mail.Msg {
	m := mail.NewMsg()
	m.To("alice@example.net")
	m.From("sender@contoso.com")
	m.Subject("benchmark")
	m.SetBodyString(mail.TypeTextPlain, "a short notification body, as most are.")
	return m
}

// runWorkers performs n operations with k goroutines through op.
func runWorkers(tb testing.TB, n, k int, op func() error) {
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			for range jobs {
				if err := op(); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// A contender sets up one way of doing the measured operation against srv
// (untimed: tokens fetched, connections warm, as in a long-running service)
// and returns a function that performs n operations, and a cleanup.
type contender func(tb testing.TB, srv *o365smtptest.Server) (run func(n int), cleanup func())

// goMailClient is go-mail configured for the emulator with a static token,
// without its per-send NOOP (o365smtp sends none either) and without the
// SMTPUTF8 parameter.
func goMailClient(tb testing.TB, srv *o365smtptest.Server, token string) *mail.Client {
	cfg := srv.Config()
	c, err := mail.NewClient(cfg.Host, mail.WithPort(cfg.Port), mail.WithTLSPolicy(mail.TLSMandatory),
		mail.WithTLSConfig(cfg.TLSConfig), mail.WithSMTPAuth(mail.SMTPAuthXOAUTH2),
		mail.WithUsername(cfg.Mailbox), mail.WithPassword(token), mail.WithoutNoop(),
		mail.WithoutSMTPUTF8()) // Exchange refuses the parameter it advertises (502 5.3.3)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func staticToken(tb testing.TB, srv *o365smtptest.Server) string {
	ts, err := o365smtp.NewTokenSource(srv.Config())
	if err != nil {
		tb.Fatal(err)
	}
	t, err := ts.Token(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return t.AccessToken
}

// tokenMSAL: MSAL's AcquireTokenByCredential with its cache warm.
func tokenMSAL(tb testing.TB, srv *o365smtptest.Server) (func(int), func()) {
	cfg := srv.Config()
	cred, err := confidential.NewCredFromSecret(cfg.ClientSecret)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := confidential.New(cfg.AuthorityHost+"/"+cfg.TenantID, cfg.ClientID, cred,
		confidential.WithHTTPClient(cfg.HTTPClient), confidential.WithInstanceDiscovery(false))
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	scopes := []string{srv.Scope}
	if _, err := c.AcquireTokenByCredential(ctx, scopes); err != nil {
		tb.Fatal(err)
	}
	return func(n int) {
		for range n {
			if _, err := c.AcquireTokenByCredential(ctx, scopes); err != nil {
				tb.Fatal(err)
			}
		}
	}, func() {}
}

// tokenCached: a cached Token call of NewTokenSource.
func tokenCached(tb testing.TB, srv *o365smtptest.Server) (func(int), func()) {
	ts, err := o365smtp.NewTokenSource(srv.Config())
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if _, err := ts.Token(ctx); err != nil {
		tb.Fatal(err)
	}
	return func(n int) {
		for range n {
			if _, err := ts.Token(ctx); err != nil {
				tb.Fatal(err)
			}
		}
	}, func() {}
}

// sendO365 sends with a Sender of conns pooled connections from workers
// goroutines.
func sendO365(conns, workers int) contender {
	return func(tb testing.TB, srv *o365smtptest.Server) (func(int), func()) {
		cfg := srv.Config()
		cfg.MaxConnections = conns
		s, err := o365smtp.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		ctx := context.Background()
		// Warm up: the token and the connections.
		runWorkers(tb, 4*conns, conns, func() error { return s.Send(ctx, benchMsg()) })
		return func(n int) {
			runWorkers(tb, n, workers, func() error { return s.Send(ctx, benchMsg()) })
		}, func() { s.Shutdown(context.Background()) } // QUIT: the server stops counting them
	}
}

// sendO365BDAT: one pooled connection sending each message with BDAT n
// LAST pipelined behind MAIL and RCPT (the test-only switch; never the
// default), checking from the transcript that BDAT was used, never DATA.
func sendO365BDAT(tb testing.TB, srv *o365smtptest.Server) (func(int), func()) {
	cfg := srv.Config()
	cfg.MaxConnections = 1
	tr := &transcript{}
	cfg.Logger = slog.New(tr)
	s, err := o365smtp.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	o365smtp.SetBDAT(s, true)
	ctx := context.Background()
	runWorkers(tb, 4, 1, func() error { return s.Send(ctx, benchMsg()) })
	return func(n int) {
			runWorkers(tb, n, 1, func() error { return s.Send(ctx, benchMsg()) })
			if b, d := tr.count("BDAT"), tr.count("DATA"); b < n+4 || d != 0 {
				tb.Fatalf("%d BDAT and %d DATA for %d messages: BDAT was not used", b, d, n+4)
			}
		}, func() {
			s.Shutdown(context.Background())
		}
}

// sendDialPerMessage: go-mail dialling (TLS, AUTH) for every message, from
// workers goroutines, with a token fetched beforehand.
func sendDialPerMessage(workers int) contender {
	return func(tb testing.TB, srv *o365smtptest.Server) (func(int), func()) {
		c := goMailClient(tb, srv, staticToken(tb, srv))
		ctx := context.Background()
		return func(n int) {
			runWorkers(tb, n, workers, func() error { return c.DialAndSendWithContext(ctx, benchMsg()) })
		}, func() {}
	}
}

// sendReused: go-mail on one connection dialled beforehand, one goroutine:
// the floor for one connection.
func sendReused(tb testing.TB, srv *o365smtptest.Server) (func(int), func()) {
	c := goMailClient(tb, srv, staticToken(tb, srv))
	if err := c.DialWithContext(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return func(n int) {
			for range n {
				if err := c.Send(benchMsg()); err != nil {
					tb.Fatal(err)
				}
			}
		}, func() {
			if err := c.Close(); err != nil {
				tb.Error(err)
			}
		}
}

// bench runs a contender for b.N operations; unit, if set, names a
// throughput metric (operations per second).
func bench(b *testing.B, srv *o365smtptest.Server, c contender, unit string) {
	run, cleanup := c(b, srv)
	defer cleanup()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	run(b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	if unit != "" {
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit)
	}
}

// BenchmarkToken: a cached Token call against MSAL's own warm cache hit.
func BenchmarkToken(b *testing.B) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	b.Run("baseline=msal-warm-cache", func(b *testing.B) { bench(b, srv, tokenMSAL, "") })
	b.Run("o365smtp-cached", func(b *testing.B) { bench(b, srv, tokenCached, "") })
}

// BenchmarkSend: o365smtp with 1 and 3 pooled connections against go-mail
// dialling per message in 1 and 3 goroutines, and go-mail on one reused
// connection (the floor). allocs/op include the in-process emulator's.
func BenchmarkSend(b *testing.B) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	b.Run("baseline=gomail-dial-per-msg/goroutines=1", func(b *testing.B) { bench(b, srv, sendDialPerMessage(1), "msgs/s") })
	b.Run("baseline=gomail-dial-per-msg/goroutines=3", func(b *testing.B) { bench(b, srv, sendDialPerMessage(3), "msgs/s") })
	b.Run("baseline=gomail-one-reused-conn", func(b *testing.B) { bench(b, srv, sendReused, "msgs/s") })
	b.Run("o365smtp/conns=1", func(b *testing.B) { bench(b, srv, sendO365(1, 1), "msgs/s") })
	b.Run("o365smtp/conns=3", func(b *testing.B) { bench(b, srv, sendO365(3, 3), "msgs/s") })
}

// BenchmarkConcurrency: many goroutines sending through one Sender with
// the default 3 connections; reports the token requests (one token
// lifetime: want 1) and the most connections the emulator saw at once
// (want at most 3), and fails if either is exceeded.
func BenchmarkConcurrency(b *testing.B) {
	for _, workers := range []int{3, 64, 256} {
		b.Run("goroutines="+strconv.Itoa(workers), func(b *testing.B) {
			srv := o365smtptest.NewServer()
			defer srv.Close()
			s, err := o365smtp.New(srv.Config())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			// Warm up as a running service is: the token, connections.
			runWorkers(b, 3, 3, func() error { return s.Send(ctx, benchMsg()) })
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			runWorkers(b, b.N, workers, func() error { return s.Send(ctx, benchMsg()) })
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			b.StopTimer()
			st := s.Stats()
			b.ReportMetric(float64(srv.Stats().TokenRequests), "token-requests")
			b.ReportMetric(float64(srv.Stats().MaxConcurrentConnections), "max-conns")
			b.ReportMetric(float64(st.ConnectionWaits)/float64(b.N), "conn-waits/op")
			if srv.Stats().TokenRequests != 1 || srv.Stats().MaxConcurrentConnections > 3 {
				b.Errorf("%d token requests, %d connections at once; want 1 and at most 3", srv.Stats().TokenRequests, srv.Stats().MaxConcurrentConnections)
			}
		})
	}
}

// ratioRounds and the operation counts of BenchmarkRatios.
const (
	ratioRounds = 5
	ratioTokens = 100000
	ratioMsgs   = 300
)

// BenchmarkRatios measures each pair on the same emulator and reports their
// ratios. testing.Benchmark cannot be called from inside a benchmark (it
// waits for the lock the running benchmark holds), so each contender is
// timed directly: a fixed number of operations per round, rounds
// interleaved, best round kept.
func BenchmarkRatios(b *testing.B) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	// Contenders run one after another; the limit is not what is measured
	// here (BenchmarkConcurrency checks it), so a baseline's sessions still
	// closing must not make the next contender's fail.
	srv.SetConnectionLimit(16)
	type entry struct {
		name string
		c    contender
		n    int
		best float64 // ns per operation
	}
	entries := []*entry{
		{name: "msal", c: tokenMSAL, n: ratioTokens},
		{name: "cached", c: tokenCached, n: ratioTokens},
		{name: "dial3", c: sendDialPerMessage(3), n: ratioMsgs},
		{name: "pool3", c: sendO365(3, 3), n: ratioMsgs},
		{name: "reused", c: sendReused, n: ratioMsgs},
		{name: "pool1", c: sendO365(1, 1), n: ratioMsgs},
	}
	for range ratioRounds {
		for _, e := range entries {
			run, cleanup := e.c(b, srv)
			start := time.Now()
			run(e.n)
			d := float64(time.Since(start).Nanoseconds()) / float64(e.n)
			cleanup()
			if e.best == 0 || d < e.best {
				e.best = d
			}
		}
	}
	// Allocations of a cached Token call.
	cachedRun, _ := tokenCached(b, srv)
	cachedAllocs := testing.AllocsPerRun(1000, func() { cachedRun(1) })
	for b.Loop() {
	}
	ns := func(name string) float64 {
		for _, e := range entries {
			if e.name == name {
				return e.best
			}
		}
		panic(name)
	}
	msal, cached := ns("msal"), ns("cached")
	dial3, pool3 := ns("dial3"), ns("pool3")
	reused, pool1 := ns("reused"), ns("pool1")
	b.ReportMetric(msal/cached, "token-speedup-x")
	b.ReportMetric(cachedAllocs, "cached-token-allocs")
	b.ReportMetric(dial3/pool3, "pool3-vs-dial3-x")
	b.ReportMetric(pool1/reused, "pool1-vs-reused-x")
	fmt.Printf("token: msal %.0f ns/op, cached %.0f ns/op (%.0fx), cached allocs/op %.0f\n", msal, cached, msal/cached, cachedAllocs)
	fmt.Printf("send, 3 conns: dial-per-msg %.0f ns/msg, pool %.0f ns/msg (%.2fx msgs/s)\n", dial3, pool3, dial3/pool3)
	fmt.Printf("send, 1 conn: go-mail reused %.0f ns/msg, pool %.0f ns/msg (%.2fx time)\n", reused, pool1, pool1/reused)
}

// benchLatency is the emulator's delay per reply in BenchmarkRoundTrips:
// one round trip to a server 20 ms away.
const benchLatency = 20 * time.Millisecond

// BenchmarkRoundTrips: per-message time on a warm connection through the
// emulator answering each command 20 ms after it arrived, for o365smtp
// (pipelined: MAIL, RCPT and DATA in one write, no RSET) and for go-mail on
// one reused connection, as round trips per message (time / 20 ms). Run
// with a small -benchtime (each message takes tens of milliseconds):
//
//	go test -run '^$' -bench RoundTrips -benchtime 20x ./
func BenchmarkRoundTrips(b *testing.B) {
	srv := o365smtptest.NewServer(o365smtptest.WithLatency(benchLatency))
	defer srv.Close()
	var base, ours float64
	measure := func(b *testing.B, c contender, into *float64) {
		run, cleanup := c(b, srv)
		defer cleanup()
		b.ResetTimer()
		start := time.Now()
		run(b.N)
		per := float64(time.Since(start)) / float64(b.N)
		b.StopTimer()
		*into = per / float64(benchLatency)
		b.ReportMetric(*into, "round-trips/msg")
	}
	b.Run("baseline=gomail-one-reused-conn", func(b *testing.B) { measure(b, sendReused, &base) })
	b.Run("o365smtp/conns=1", func(b *testing.B) {
		measure(b, sendO365(1, 1), &ours)
		if base > 0 {
			b.ReportMetric(base/ours, "speedup-vs-gomail-x")
		}
	})
	// Not the default (docs/performance.md): BDAT n LAST behind MAIL and
	// RCPT, one flight, through the test-only switch.
	var chunked float64
	b.Run("o365smtp/conns=1/bdat", func(b *testing.B) {
		measure(b, sendO365BDAT, &chunked)
		if base > 0 {
			b.ReportMetric(base/chunked, "speedup-vs-gomail-x")
		}
		if ours > 0 {
			b.ReportMetric(ours/chunked, "speedup-vs-data-x")
		}
	})
}

// BenchmarkReconnect: a fresh connection's dial (TCP, greeting, EHLO,
// STARTTLS, EHLO, AUTH) with the TLS session cache the Sender sets up,
// against the same dial without it (a full handshake every time).
//
//	go test -run '^$' -bench Reconnect -benchtime 200x ./
func BenchmarkReconnect(b *testing.B) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	var full float64
	for _, cache := range []bool{false, true} {
		name := "baseline=no-session-cache"
		if cache {
			name = "o365smtp-session-cache"
		}
		b.Run(name, func(b *testing.B) {
			s, err := o365smtp.New(srv.Config())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			o365smtp.SetSessionCache(s, cache)
			ctx := context.Background()
			if _, _, err := o365smtp.DialOnce(ctx, s); err != nil { // the token, and a ticket
				b.Fatal(err)
			}
			b.ResetTimer()
			var total time.Duration
			resumed := 0
			for range b.N {
				d, r, err := o365smtp.DialOnce(ctx, s)
				if err != nil {
					b.Fatal(err)
				}
				total += d
				if r {
					resumed++
				}
			}
			per := float64(total) / float64(b.N)
			b.ReportMetric(float64(resumed)/float64(b.N), "resumed/op")
			if !cache {
				full = per
			} else if full > 0 {
				b.ReportMetric(full/per, "speedup-x")
			}
			if cache != (resumed == b.N) {
				b.Errorf("%d of %d dials resumed a TLS session; want all with the cache, none without", resumed, b.N)
			}
		})
	}
}
