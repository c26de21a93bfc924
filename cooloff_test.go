package o365smtp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// TestCoolOff: after a setup failure, sends fail at once for Config.CoolOff
// (with no token request and no connection), Stats and Trace show it, and
// it ends on the Sender's clock; a negative CoolOff disables it.
func TestCoolOff(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.CoolOff = 10 * time.Second
	s, clk := newFakeClockSender(t, cfg)
	srv.SetServicePrincipalRegistered(false)
	ctx := ctxT(t)
	if e := asError(t, s.Send(ctx, newMsg(t))); e.Kind != o365smtp.ErrAuthFailed {
		t.Fatalf("first send: %v", e)
	}
	start := clk.Now()
	before := srv.Stats()
	var traced time.Time
	tctx := o365smtp.WithTrace(ctx, &o365smtp.Trace{CoolOff: func(until time.Time) { traced = until }})
	e := asError(t, s.Send(tctx, newMsg(t)))
	if e.Kind != o365smtp.ErrAuthFailed || !strings.Contains(e.Hint, "Failed fast") || !strings.Contains(e.Hint, "Config.CoolOff") {
		t.Errorf("send during the cool-off: %v\n%s", e, e.Hint)
	}
	if after := srv.Stats(); after.Connections != before.Connections || after.TokenRequests != before.TokenRequests {
		t.Errorf("the fail-fast send reached the emulator: %+v, then %+v", before, after)
	}
	want := start.Add(10 * time.Second)
	if !traced.Equal(want) {
		t.Errorf("Trace.CoolOff until = %v, want %v", traced, want)
	}
	if st := s.Stats(); st.CoolOffs != 1 || !st.CoolOffUntil.Equal(want) {
		t.Errorf("Stats: CoolOffs %d, CoolOffUntil %v; want 1, %v", st.CoolOffs, st.CoolOffUntil, want)
	}

	srv.SetServicePrincipalRegistered(true)
	clk.Advance(10*time.Second + time.Nanosecond)
	if st := s.Stats(); !st.CoolOffUntil.IsZero() {
		t.Errorf("CoolOffUntil after the cool-off = %v, want zero", st.CoolOffUntil)
	}
	if err := s.Send(ctx, newMsg(t)); err != nil {
		t.Errorf("send after the cool-off: %v", err)
	}
}

func TestCoolOffDisabled(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.CoolOff = -1
	s := newSender(t, cfg)
	srv.SetServicePrincipalRegistered(false)
	for i := range 2 {
		e := asError(t, s.Send(ctxT(t), newMsg(t)))
		if e.Kind != o365smtp.ErrAuthFailed || strings.Contains(e.Hint, "Failed fast") {
			t.Errorf("send %d: %v\n%s", i, e, e.Hint)
		}
	}
	// Both sends reached Exchange: the first with a new token, the second
	// with the cached one and, after the 535, once more with a fresh one.
	if st := s.Stats(); st.CoolOffs != 0 || srv.Stats().AuthAttempts != 3 {
		t.Errorf("with CoolOff < 0: CoolOffs %d, AUTH attempts %d; want 0 and 3", st.CoolOffs, srv.Stats().AuthAttempts)
	}
}
