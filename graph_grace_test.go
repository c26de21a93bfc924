package o365smtp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/clock"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// TestGraphGrace: when ctx ends after a sendMail (or a large message's
// send) has been written, Send still waits ReplyGrace for the answer: an
// answer within it is success, none is ErrUnknownOutcome. Time is a Fake
// clock; the emulator holds the answer until the test releases it.
func TestGraphGrace(t *testing.T) {
	t.Parallel()
	for _, op := range []string{o365smtptest.GraphSendMail, o365smtptest.GraphSend} {
		for _, answered := range []bool{true, false} {
			t.Run(op+map[bool]string{true: " answered", false: " unanswered"}[answered], func(t *testing.T) {
				srv := o365smtptest.NewServer()
				defer srv.Close()
				release := make(chan struct{})
				srv.FailGraph(o365smtptest.GraphFault{Op: op, Hang: true, Release: release, Times: 1})
				cfg := srv.Config()
				cfg.Transport, cfg.MaxAttempts, cfg.CoolOff, cfg.MessagesPerMinute = o365smtp.TransportGraph, 1, -1, -1
				clk := clock.NewFake(time.Now())
				s, err := o365smtp.NewWithClock(cfg, clk)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				m, requests := graphMsg(t, "a@example.com"), 1
				if op == o365smtptest.GraphSend {
					m, _ = largeMsg(t, 3_000_000, 100)
					requests = 4 // the draft, the upload session, one chunk, send
				}
				// The request that hangs is the last one written.
				written := make(chan struct{}, 8)
				o365smtp.OnGraphWritten(s, func() { written <- struct{}{} })
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- s.Send(ctx, m) }()
				for range requests {
					<-written
				}
				cancel()
				if err := clk.BlockUntil(context.Background(), 1); err != nil {
					t.Fatal(err)
				}
				if answered {
					close(release)
					if err := <-done; err != nil {
						t.Fatalf("answered within the grace: %v", err)
					}
					if len(srv.Messages()) != 1 {
						t.Errorf("%d messages", len(srv.Messages()))
					}
					return
				}
				clk.Advance(o365smtp.ReplyGrace)
				err = <-done
				if !errors.Is(err, o365smtp.ErrUnknownOutcome) {
					t.Fatalf("no answer within the grace: %v", err)
				}
				close(release)
			})
		}
	}
}

// TestGraphCanceledBeforeWritten: a context that ends before the request
// is written gets no grace: ErrCanceled, nothing sent.
func TestGraphCanceledBeforeWritten(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := graphSender(t, srv, o365smtp.TransportGraph)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Send(ctx, graphMsg(t, "a@example.com"))
	if !errors.Is(err, o365smtp.ErrCanceled) || len(srv.Messages()) != 0 {
		t.Fatalf("err %v", err)
	}
}
