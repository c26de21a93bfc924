package o365smtp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// TestFaultMatrix injects a dropped connection and a temporary reply at every
// SMTP stage, and a 5xx, a slow response and a timeout at the token
// endpoint, sends messages concurrently through each, and checks that every
// message was delivered exactly once or came back as a typed error, with
// ErrUnknownOutcome only for the drop after the end of the data, and that no
// call outlived its context by more than the documented grace.
func TestFaultMatrix(t *testing.T) {
	type outcome struct {
		delivered int
		kinds     map[o365smtp.Kind]int
	}
	stages := []struct {
		name  string
		stage o365smtptest.Stage
		temp  string
	}{
		{"connect", o365smtptest.StageConnect, "421 4.3.2 Service not available"},
		{"banner", o365smtptest.StageBanner, "421 4.7.0 Temporary server error. Please try again later. PRX4"},
		{"ehlo", o365smtptest.StageEHLO, "421 4.3.2 Service not available"},
		{"starttls", o365smtptest.StageSTARTTLS, "454 4.7.0 TLS not available due to temporary reason"},
		{"auth", o365smtptest.StageAuth, "454 4.7.0 Temporary authentication failure"},
		{"mail", o365smtptest.StageMail, "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)"},
		{"rcpt", o365smtptest.StageRcpt, "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)"},
		{"data", o365smtptest.StageData, "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)"},
		{"end of data", o365smtptest.StageDataEnd, "432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information."},
	}
	type cell struct {
		name   string
		inject func(*o365smtptest.Server)
		// unknownOK: ErrUnknownOutcome is allowed (drop after end of data).
		unknownOK bool
		timeout   time.Duration
	}
	var cells []cell
	for _, st := range stages {
		st := st
		cells = append(cells,
			cell{name: st.name + "/drop", inject: func(s *o365smtptest.Server) {
				s.Fail(st.stage, o365smtptest.Fault{Drop: true, Times: 2})
			}, unknownOK: st.stage == o365smtptest.StageDataEnd},
			cell{name: st.name + "/temporary reply", inject: func(s *o365smtptest.Server) {
				s.Fail(st.stage, o365smtptest.Fault{Reply: st.temp, Times: 2})
			}},
		)
	}
	cells = append(cells,
		cell{name: "token/5xx", inject: func(s *o365smtptest.Server) { s.FailToken(o365smtptest.TokenFault{Status: 503, Times: 2}) }},
		cell{name: "token/slow", inject: func(s *o365smtptest.Server) {
			s.FailToken(o365smtptest.TokenFault{Delay: 300 * time.Millisecond, Times: 1})
		}},
		cell{name: "token/timeout", inject: func(s *o365smtptest.Server) { s.FailToken(o365smtptest.TokenFault{Hang: true}) }, timeout: time.Second},
	)
	const messages = 6
	var mu sync.Mutex
	matrix := map[string]string{}
	for _, c := range cells {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := o365smtptest.NewServer()
			defer srv.Close()
			c.inject(srv)
			cfg := srv.Config()
			cfg.MaxAttempts = 4
			s, err := o365smtp.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			o365smtp.SetRetryBackoff(s, 5*time.Millisecond)
			timeout := c.timeout
			if timeout == 0 {
				timeout = 15 * time.Second
			}
			var wg sync.WaitGroup
			errs := make([]error, messages)
			ids := make([]string, messages)
			for i := range messages {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), timeout)
					defer cancel()
					m := newMsg(t)
					m.Subject(fmt.Sprintf("matrix %d", i))
					start := time.Now()
					errs[i] = s.Send(ctx, m)
					if over := time.Since(start) - timeout; over > o365smtp.ReplyGrace+500*time.Millisecond {
						t.Errorf("message %d: Send outlived its context by %v", i, over)
					}
					ids[i] = m.GetGenHeader("Message-ID")[0]
				})
			}
			wg.Wait()
			got := map[string]int{}
			for _, m := range srv.Messages() {
				for _, id := range ids {
					if strings.Contains(string(m.Data), id) {
						got[id]++
					}
				}
			}
			o := outcome{kinds: map[o365smtp.Kind]int{}}
			for i, err := range errs {
				n := got[ids[i]]
				if n > 1 {
					t.Errorf("message %d delivered %d times", i, n)
				}
				if err == nil {
					if n != 1 {
						t.Errorf("message %d: Send returned nil but it was delivered %d times", i, n)
					}
					o.delivered++
					continue
				}
				var e *o365smtp.Error
				if !errors.As(err, &e) || e.Kind == "" {
					t.Errorf("message %d: untyped error %v", i, err)
					continue
				}
				o.kinds[e.Kind]++
				if e.Kind == o365smtp.ErrUnknownOutcome && !c.unknownOK {
					t.Errorf("message %d: ErrUnknownOutcome at %s", i, c.name)
				}
				if e.Kind != o365smtp.ErrUnknownOutcome && n != 0 {
					t.Errorf("message %d: delivered but Send returned %v", i, err)
				}
			}
			res := fmt.Sprintf("%d/%d delivered", o.delivered, messages)
			for k, n := range o.kinds {
				res += fmt.Sprintf(", %d %s", n, string(k))
			}
			mu.Lock()
			matrix[c.name] = res
			mu.Unlock()
			t.Logf("%s: %s", c.name, res)
		})
	}
}
