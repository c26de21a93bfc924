package o365smtp_test

// Issue 12: bounded memory. Each hostile server of hostile_smtp_test.go
// and hostile_token_test.go attacks a Sender while a goroutine samples the
// heap every millisecond; the peak growth over the baseline must stay under
// 64 MB. The table of peaks is logged. There is no timing assertion.

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
)

const hsHeapBudget = 64 << 20

// hsHeapPeak samples the heap every millisecond until stop is called, and
// returns the peak growth of HeapAlloc and HeapInuse over the baseline
// taken when it starts (after a GC).
func hsHeapPeak() (stop func() (alloc, inuse uint64)) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseAlloc, baseInuse := ms.HeapAlloc, ms.HeapInuse
	var mu sync.Mutex
	var peakAlloc, peakInuse uint64
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		peakAlloc = max(peakAlloc, m.HeapAlloc)
		peakInuse = max(peakInuse, m.HeapInuse)
		mu.Unlock()
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				sample()
			}
		}
	}()
	return func() (uint64, uint64) {
		sample()
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		var a, i uint64
		if peakAlloc > baseAlloc {
			a = peakAlloc - baseAlloc
		}
		if peakInuse > baseInuse {
			i = peakInuse - baseInuse
		}
		return a, i
	}
}

type hsHeapRow struct {
	attack      string
	took        time.Duration
	kind        string
	alloc, used uint64
}

func TestHeapUnderHostilePeers(t *testing.T) {
	hsBombParts() // built before any baseline
	var rows []hsHeapRow
	run := func(name string, attack func() error) {
		stop := hsHeapPeak()
		start := time.Now()
		err := attack()
		took := time.Since(start)
		alloc, used := stop()
		kind := "nil"
		var e *o365smtp.Error
		if errors.As(err, &e) {
			kind = string(e.Kind)
		} else if err != nil {
			kind = fmt.Sprintf("%T", err)
		}
		rows = append(rows, hsHeapRow{name, took, kind, alloc, used})
		if alloc >= hsHeapBudget {
			t.Errorf("%s: the heap grew by %.1f MB (HeapAlloc), want under 64 MB", name, float64(alloc)/(1<<20))
		}
	}
	for _, tc := range hsFloodCases {
		run("smtp "+tc.name, func() error {
			srv := newHSSMTP(t, tc.on)
			s := hsSender(t, srv.config(hsJWT(t)))
			defer s.Close()
			return s.Send(hsCtx(t, 15*time.Second), hsMsg(t, "heap "+tc.name))
		})
	}
	for _, a := range hsTokenAttacks {
		run("token "+a.name, func() error {
			e := newHSEntra(t, a.handler)
			cfg := e.config(hsSecret(t), nil)
			var valve *hsValve
			cfg.HTTPClient, valve = hsValveClient(cfg.HTTPClient)
			s := hsSender(t, cfg)
			defer s.Close()
			err := s.Send(hsCtx(t, 15*time.Second), hsMsg(t, "heap "+a.name))
			if valve.tripped.Load() {
				t.Logf("token %s: the client read %d MiB of the response; the test's valve cut it off", a.name, hsValveCap>>20)
			}
			return err
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-32s %12s %-18s %14s %14s\n", "attack", "returned in", "Kind", "peak HeapAlloc", "peak HeapInuse")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-32s %12v %-18s %11.1f MB %11.1f MB\n", r.attack, r.took.Round(time.Microsecond*100), r.kind,
			float64(r.alloc)/(1<<20), float64(r.used)/(1<<20))
	}
	t.Log(b.String())
}
