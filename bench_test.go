package o365smtp_test

import (
	"context"
	"fmt"
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

func benchMsg() *mail.Msg {
	m := mail.NewMsg()
	m.To("alice@example.net")
	m.From("sender@contoso.com")
	m.Subject("benchmark")
	m.SetBodyString(mail.TypeTextPlain, "a short notification body, as most are.")
	return m
}

// runWorkers sends n messages with k goroutines through send.
func runWorkers(b *testing.B, n, k int, send func() error) {
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			for range jobs {
				if err := send(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// goMailClient is go-mail configured for the emulator with a static token.
func goMailClient(b *testing.B, srv *o365smtptest.Server, token string) *mail.Client {
	cfg := srv.Config()
	c, err := mail.NewClient(cfg.Host, mail.WithPort(cfg.Port), mail.WithTLSPolicy(mail.TLSMandatory),
		mail.WithTLSConfig(cfg.TLSConfig), mail.WithSMTPAuth(mail.SMTPAuthXOAUTH2),
		mail.WithUsername(cfg.Mailbox), mail.WithPassword(token), mail.WithoutNoop())
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func staticToken(b *testing.B, srv *o365smtptest.Server) string {
	ts, err := o365smtp.NewTokenSource(srv.Config())
	if err != nil {
		b.Fatal(err)
	}
	t, err := ts.Token(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return t.AccessToken
}

func msalClient(b *testing.B, srv *o365smtptest.Server) confidential.Client {
	cfg := srv.Config()
	cred, _ := confidential.NewCredFromSecret(cfg.ClientSecret)
	c, err := confidential.New(cfg.AuthorityHost+"/"+cfg.TenantID, cfg.ClientID, cred,
		confidential.WithHTTPClient(cfg.HTTPClient), confidential.WithInstanceDiscovery(false))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchTokenMSAL(b *testing.B, srv *o365smtptest.Server) {
	c := msalClient(b, srv)
	ctx := context.Background()
	scopes := []string{srv.Scope}
	if _, err := c.AcquireTokenByCredential(ctx, scopes); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.AcquireTokenByCredential(ctx, scopes); err != nil {
			b.Fatal(err)
		}
	}
}

func benchTokenCached(b *testing.B, srv *o365smtptest.Server) {
	ts, _ := o365smtp.NewTokenSource(srv.Config())
	ctx := context.Background()
	if _, err := ts.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ts.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToken: a cached Token call against MSAL's own warm cache hit.
func BenchmarkToken(b *testing.B) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	b.Run("baseline=msal-warm-cache", func(b *testing.B) { benchTokenMSAL(b, srv) })
	b.Run("o365smtp-cached", func(b *testing.B) { benchTokenCached(b, srv) })
}

func benchSendO365(b *testing.B, srv *o365smtptest.Server, conns, workers int) {
	cfg := srv.Config()
	cfg.MaxConnections = conns
	s, err := o365smtp.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// Warm up: token and connections, as a long-running service has them.
	runWorkers(b, conns, conns, func() error { return s.Send(ctx, benchMsg()) })
	b.ResetTimer()
	start := time.Now()
	runWorkers(b, b.N, workers, func() error { return s.Send(ctx, benchMsg()) })
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func benchSendDialPerMessage(b *testing.B, srv *o365smtptest.Server, workers int) {
	c := goMailClient(b, srv, staticToken(b, srv))
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	runWorkers(b, b.N, workers, func() error { return c.DialAndSendWithContext(ctx, benchMsg()) })
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func benchSendReused(b *testing.B, srv *o365smtptest.Server) {
	c := goMailClient(b, srv, staticToken(b, srv))
	if err := c.DialWithContext(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if err := c.Send(benchMsg()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkSend: o365smtp with 1 and 3 pooled connections against go-mail
// dialling per message in 1 and 3 goroutines, and go-mail on one reused
// connection (the floor).
func BenchmarkSend(b *testing.B) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	b.Run("baseline=gomail-dial-per-msg/goroutines=1", func(b *testing.B) { benchSendDialPerMessage(b, srv, 1) })
	b.Run("baseline=gomail-dial-per-msg/goroutines=3", func(b *testing.B) { benchSendDialPerMessage(b, srv, 3) })
	b.Run("baseline=gomail-one-reused-conn", func(b *testing.B) { benchSendReused(b, srv) })
	b.Run("o365smtp/conns=1", func(b *testing.B) { benchSendO365(b, srv, 1, 1) })
	b.Run("o365smtp/conns=3", func(b *testing.B) { benchSendO365(b, srv, 3, 3) })
}

// BenchmarkConcurrency: 64 goroutines sending through one Sender; reports
// the token requests and the most connections the emulator saw at once.
func BenchmarkConcurrency(b *testing.B) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s, err := o365smtp.New(srv.Config())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	runWorkers(b, b.N, 64, func() error { return s.Send(ctx, benchMsg()) })
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(srv.TokenRequests()), "token-requests")
	b.ReportMetric(float64(srv.MaxConcurrentConnections()), "max-conns")
}

// BenchmarkRatios measures each pair in one run and reports their ratios.
func BenchmarkRatios(b *testing.B) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	nsop := func(f func(b *testing.B)) float64 {
		r := testing.Benchmark(f)
		return float64(r.T.Nanoseconds()) / float64(r.N)
	}
	msal := nsop(func(b *testing.B) { benchTokenMSAL(b, srv) })
	cached := nsop(func(b *testing.B) { benchTokenCached(b, srv) })
	dial3 := nsop(func(b *testing.B) { benchSendDialPerMessage(b, srv, 3) })
	pool3 := nsop(func(b *testing.B) { benchSendO365(b, srv, 3, 3) })
	reused := nsop(func(b *testing.B) { benchSendReused(b, srv) })
	pool1 := nsop(func(b *testing.B) { benchSendO365(b, srv, 1, 1) })
	for b.Loop() {
	}
	b.ReportMetric(msal/cached, "token-speedup-x")
	b.ReportMetric(dial3/pool3, "pool3-vs-dial3-x")
	b.ReportMetric(pool1/reused, "pool1-vs-reused-x")
	fmt.Printf("token: msal %.0f ns/op, cached %.1f ns/op (%.0fx)\n", msal, cached, msal/cached)
	fmt.Printf("send, 3 conns: dial-per-msg %.0f ns/msg, pool %.0f ns/msg (%.2fx msgs/s)\n", dial3, pool3, dial3/pool3)
	fmt.Printf("send, 1 conn: go-mail reused %.0f ns/msg, pool %.0f ns/msg (%.2fx time)\n", reused, pool1, pool1/reused)
}
