package o365smtp_test

// Issue 12: a randomized chaos test with fixed seeds. Hundreds of messages
// from tens of goroutines against the emulator, with faults injected at
// every stage and per-Send cancellations, each chosen per message from a
// seeded PCG. The interleaving is the scheduler's; the assertions are
// invariants that hold for every interleaving:
//
//   - every error is an *o365smtp.Error;
//   - no message is delivered twice;
//   - a nil return means delivered exactly once;
//   - a definite error (any Kind but ErrUnknownOutcome) means not
//     delivered. ErrCanceled is definite: it says the caller's context
//     ended before the message was sent. Only ErrUnknownOutcome may have
//     been delivered.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// hsChaosFault is a fault that the chaos test may inject.
type hsChaosFault struct {
	stage o365smtptest.Stage
	fault o365smtptest.Fault
}

const hsBusy = "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)"

var hsChaosFaults = []hsChaosFault{
	{o365smtptest.StageConnect, o365smtptest.Fault{Drop: true, Times: 1}},
	{o365smtptest.StageBanner, o365smtptest.Fault{Reply: "421 4.3.2 Service not available", Times: 1}},
	{o365smtptest.StageEHLO, o365smtptest.Fault{Reply: "421 4.7.0 Temporary server error. Please try again later. PRX5", Times: 1}},
	{o365smtptest.StageEHLO, o365smtptest.Fault{Drop: true, Times: 1}},
	{o365smtptest.StageSTARTTLS, o365smtptest.Fault{Reply: "454 4.7.0 TLS not available due to temporary reason", Times: 1}},
	{o365smtptest.StageSTARTTLS, o365smtptest.Fault{Drop: true, Times: 1}},
	{o365smtptest.StageAuth, o365smtptest.Fault{Reply: "535 5.7.3 Authentication unsuccessful [BN0PR04CA0123.namprd04.prod.outlook.com]", Times: 1}},
	{o365smtptest.StageAuth, o365smtptest.Fault{Delay: 3 * time.Millisecond, Times: 2}},
	{o365smtptest.StageMail, o365smtptest.Fault{Reply: hsBusy, Times: 2}},
	{o365smtptest.StageMail, o365smtptest.Fault{Drop: true, Times: 1}},
	{o365smtptest.StageRcpt, o365smtptest.Fault{Reply: "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", Times: 1}},
	{o365smtptest.StageRcpt, o365smtptest.Fault{Reply: "421 4.3.2 Service not available", Times: 1}},
	{o365smtptest.StageData, o365smtptest.Fault{Drop: true, Times: 1}},
	{o365smtptest.StageData, o365smtptest.Fault{Reply: hsBusy, Times: 1}},
	{o365smtptest.StageDataEnd, o365smtptest.Fault{Drop: true, Times: 1}},
	{o365smtptest.StageDataEnd, o365smtptest.Fault{Delay: 20 * time.Millisecond, Times: 2}},
	{o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: "554 5.6.0 Corrupt message content", Times: 1}},
	{o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: hsBusy, Times: 1}},
}

// The ways a Send is canceled after it started.
const (
	hsCancelNone = iota
	hsCancelTimer
	hsCancelOnToken
	hsCancelOnConnected
	hsCancelOnAuthenticated
	hsCancelOnAccepted
)

var hsCancelNames = []string{"none", "timer", "on-token", "on-connected", "on-authenticated", "on-accepted"}

// hsChaosPlan is what happens around one message.
type hsChaosPlan struct {
	fault  int // index in hsChaosFaults, or -1
	cancel int
	delay  time.Duration // for hsCancelTimer
}

func TestChaos(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 20261201} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { hsChaos(t, seed, 300, 24) })
	}
}

func hsChaos(t *testing.T, seed uint64, messages, workers int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	plans := make([]hsChaosPlan, messages)
	for i := range plans {
		p := hsChaosPlan{fault: -1}
		if rng.IntN(100) < 35 {
			p.fault = rng.IntN(len(hsChaosFaults))
		}
		if rng.IntN(100) < 20 {
			p.cancel = 1 + rng.IntN(len(hsCancelNames)-1)
			p.delay = time.Duration(rng.IntN(4000)) * time.Microsecond
		}
		plans[i] = p
	}

	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.MaxAttempts = 4
	cfg.RetryBackoff = time.Millisecond
	cfg.CoolOff = -1 // every message meets the faults on its own
	s := hsSender(t, cfg)
	base := hsCtx(t, 40*time.Second)

	subject := func(i int) string { return fmt.Sprintf("chaos-%d-%03d", seed, i) }
	errs := make([]error, messages)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for i := range next {
				p := plans[i]
				if p.fault >= 0 {
					f := hsChaosFaults[p.fault]
					srv.Fail(f.stage, f.fault)
				}
				ctx, cancel := context.WithTimeout(base, 10*time.Second)
				later := func() { go cancel() }
				tr := &o365smtp.Trace{}
				var tm *time.Timer
				switch p.cancel {
				case hsCancelTimer:
					tm = time.AfterFunc(p.delay, cancel)
				case hsCancelOnToken:
					tr.TokenAcquired = func(time.Time, bool) { later() }
				case hsCancelOnConnected:
					tr.Connected = func(string, string) { later() }
				case hsCancelOnAuthenticated:
					tr.Authenticated = func(string) { later() }
				case hsCancelOnAccepted:
					tr.Accepted = func(string) { later() }
				}
				errs[i] = s.Send(o365smtp.WithTrace(ctx, tr), hsMsg(t, subject(i)))
				if tm != nil {
					tm.Stop()
				}
				cancel()
			}
		})
	}
	for i := range messages {
		next <- i
	}
	close(next)
	wg.Wait()
	took := time.Since(start)

	got := map[string]int{}
	for _, m := range srv.Messages() {
		got[m.Header.Get("Subject")]++
	}
	kinds := map[string]int{}
	var cancelKinds [6]map[string]int
	for i := range cancelKinds {
		cancelKinds[i] = map[string]int{}
	}
	delivered, unknownDelivered := 0, 0
	for i, err := range errs {
		n := got[subject(i)]
		if n > 1 {
			t.Errorf("message %d delivered %d times (returned %v)", i, n, err)
		}
		kind := "nil"
		if err != nil {
			var e *o365smtp.Error
			if !errors.As(err, &e) {
				t.Errorf("message %d: error %v (%T) is not an *o365smtp.Error", i, err, err)
				continue
			}
			kind = string(e.Kind)
		}
		kinds[kind]++
		cancelKinds[plans[i].cancel][kind]++
		switch {
		case err == nil && n != 1:
			t.Errorf("message %d: Send returned nil, delivered %d times", i, n)
		case err == nil:
			delivered++
		case errors.Is(err, o365smtp.ErrUnknownOutcome):
			if n > 0 {
				unknownDelivered++
			}
		case n > 0:
			t.Errorf("message %d delivered after a definite error (fault %d, cancel %s): %v", i, plans[i].fault, hsCancelNames[plans[i].cancel], err)
		}
	}
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	var line []string
	for _, k := range names {
		line = append(line, fmt.Sprintf("%s=%d", k, kinds[k]))
	}
	st := s.Stats()
	es := srv.Stats()
	t.Logf("seed %d: %d messages from %d goroutines in %v: delivered %d (emulator holds %d); by result: %s; ErrUnknownOutcome that were delivered: %d",
		seed, messages, workers, took.Round(time.Millisecond), delivered, len(srv.Messages()), strings.Join(line, " "), unknownDelivered)
	for c, m := range cancelKinds {
		if c != hsCancelNone && len(m) > 0 {
			t.Logf("  cancel %-16s %v", hsCancelNames[c], m)
		}
	}
	t.Logf("  sender: attempts %d retries %d dials %d token requests %d; emulator: connections %d auth %d",
		st.Attempts, st.Retries, st.Dials, st.TokenRequests, es.Connections, es.AuthAttempts)
}
