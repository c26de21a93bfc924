package o365smtp_test

// Issue 14: pipelining (RFC 2920). The emulator advertises PIPELINING, as
// Exchange Online does, so the Sender sends MAIL, every RCPT and DATA in one
// write. Each mixed outcome of the batch keeps the Kinds and the
// never-duplicate rule of the command-by-command transaction.

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

func pipeSender(t *testing.T, srv *o365smtptest.Server, tr *transcript) *o365smtp.Sender {
	t.Helper()
	cfg := srv.Config()
	cfg.MaxAttempts = 1
	cfg.MaxConnections = 1
	if tr != nil {
		cfg.Logger = slog.New(tr)
	}
	s, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pipeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestPipelinedOutcomes: each outcome of the batch, then a message that
// must go through on the same or a new connection, as the outcome allows.
func TestPipelinedOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		to        []string
		inject    func(*o365smtptest.Server)
		kind      o365smtp.Kind // "" : delivered
		op        string
		refused   []string
		delivered int  // messages the emulator has after the failed Send
		redial    bool // the session was retired: the next Send dials
	}{
		{name: "all accepted", to: []string{"a@example.net", "b@example.net"}, delivered: 1},
		{name: "one RCPT refused, DATA 354: the connection is closed, the message goes to no one",
			to:   []string{"a@example.net", "reject-1@example.net", "b@example.net", "reject-2@example.net"},
			kind: o365smtp.ErrRecipientRejected, op: "rcpt", refused: []string{"reject-1@example.net", "reject-2@example.net"}, redial: true},
		{name: "every RCPT refused, DATA 503: RSET, the session goes on",
			to:   []string{"reject-1@example.net", "reject-2@example.net"},
			kind: o365smtp.ErrRecipientRejected, op: "rcpt", refused: []string{"reject-1@example.net", "reject-2@example.net"}},
		{name: "MAIL 451 mid-batch: RCPT and DATA 503, RSET",
			to: []string{"a@example.net"},
			inject: func(s *o365smtptest.Server) {
				s.Fail(o365smtptest.StageMail, o365smtptest.Fault{Reply: "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)", Times: 1})
			},
			kind: o365smtp.ErrThrottled, op: "mail"},
		{name: "RCPT 451 on the only recipient: DATA 503, RSET",
			to: []string{"a@example.net"},
			inject: func(s *o365smtptest.Server) {
				s.Fail(o365smtptest.StageRcpt, o365smtptest.Fault{Reply: "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)", Times: 1})
			},
			kind: o365smtp.ErrThrottled, op: "rcpt", refused: []string{"a@example.net"}},
		{name: "DATA 451: RSET",
			to: []string{"a@example.net"},
			inject: func(s *o365smtptest.Server) {
				s.Fail(o365smtptest.StageData, o365smtptest.Fault{Reply: "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)", Times: 1})
			},
			kind: o365smtp.ErrThrottled, op: "data"},
		// As before pipelining, a pooled session that fails at MAIL is
		// replaced at once: nothing of the message was sent.
		{name: "MAIL 421 mid-batch on a pooled session: the replies behind it are not read, a new session delivers it",
			to: []string{"a@example.net"},
			inject: func(s *o365smtptest.Server) {
				s.Fail(o365smtptest.StageMail, o365smtptest.Fault{Reply: "421 4.3.2 Service not available", Times: 1})
			},
			delivered: 1},
		{name: "drop at RCPT mid-batch",
			to:     []string{"a@example.net", "b@example.net"},
			inject: func(s *o365smtptest.Server) { s.Fail(o365smtptest.StageRcpt, o365smtptest.Fault{Drop: true, Times: 1}) },
			kind:   o365smtp.ErrConnection, op: "rcpt", redial: true},
		{name: "drop at DATA mid-batch",
			to:     []string{"a@example.net"},
			inject: func(s *o365smtptest.Server) { s.Fail(o365smtptest.StageData, o365smtptest.Fault{Drop: true, Times: 1}) },
			kind:   o365smtp.ErrConnection, op: "data", redial: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := o365smtptest.NewServer()
			defer srv.Close()
			tr := &transcript{}
			s := pipeSender(t, srv, tr)
			ctx := pipeCtx(t)
			send(t, ctx, s) // warm: the session is pooled
			srv.ClearMessages()
			if tc.inject != nil {
				tc.inject(srv)
			}
			err := s.Send(ctx, newMsg(t, tc.to...))
			var e *o365smtp.Error
			switch {
			case tc.kind == "" && err != nil:
				t.Fatalf("Send = %v, want nil", err)
			case tc.kind != "" && !errors.As(err, &e):
				t.Fatalf("Send = %v, want an *Error of Kind %s", err, tc.kind)
			case tc.kind != "":
				if e.Kind != tc.kind || e.Op != tc.op {
					t.Errorf("Send = %v (Kind %s, Op %s), want Kind %s, Op %s", e, e.Kind, e.Op, tc.kind, tc.op)
				}
				if !slices.Equal(e.Recipients, tc.refused) {
					t.Errorf("Recipients = %v, want %v", e.Recipients, tc.refused)
				}
			}
			if got := len(srv.Messages()); got != tc.delivered {
				t.Errorf("the emulator has %d messages, want %d", got, tc.delivered)
			}
			srv.ClearFaults()
			dials := s.Stats().Dials
			send(t, ctx, s)
			wantDials := dials
			if tc.redial {
				wantDials++
			}
			if got := s.Stats().Dials; got != wantDials {
				t.Errorf("after the outcome, the next Send made %d dials, want %d (session retired: %v)", got-dials, wantDials-dials, tc.redial)
			}
			if got := len(srv.Messages()); got != tc.delivered+1 {
				t.Errorf("the emulator has %d messages after the next Send, want %d", got, tc.delivered+1)
			}
			if tc.kind == "" && tr.count("RSET") != 0 {
				t.Errorf("the client sent %d RSET after completed transactions, want none", tr.count("RSET"))
			}
		})
	}
}

// TestPipelinedRoundTrips: with 40 ms per reply, a message on a warm
// connection costs two round trips (the batch, then the data and its
// verdict), not the five of MAIL, RCPT, DATA, the data, RSET. The bound is
// loose (3.5 round trips) so that a slow machine does not fail it.
func TestPipelinedRoundTrips(t *testing.T) {
	t.Parallel()
	const lat = 40 * time.Millisecond
	srv := o365smtptest.NewServer(o365smtptest.WithLatency(lat))
	defer srv.Close()
	s := pipeSender(t, srv, nil)
	ctx := pipeCtx(t)
	send(t, ctx, s)
	const n = 5
	start := time.Now()
	for range n {
		send(t, ctx, s)
	}
	rt := float64(time.Since(start)) / n / float64(lat)
	t.Logf("%.2f round trips per message", rt)
	if rt < 1.9 || rt > 3.5 {
		t.Errorf("%.2f round trips per message, want about 2", rt)
	}
}

// TestTLSSessionResumption: a new connection of the Sender resumes the TLS
// session of an earlier one (the Sender's session cache).
func TestTLSSessionResumption(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := pipeSender(t, srv, nil)
	ctx := pipeCtx(t)
	if _, resumed, err := o365smtp.DialOnce(ctx, s); err != nil || resumed {
		t.Fatalf("first dial: resumed %v, %v; want a full handshake", resumed, err)
	}
	if _, resumed, err := o365smtp.DialOnce(ctx, s); err != nil || !resumed {
		t.Fatalf("second dial: resumed %v, %v; want a resumed session", resumed, err)
	}
	send(t, ctx, s) // a pooled connection dialled with the cache still works
}
