package o365smtptest_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"go.uber.org/goleak"

	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// TestNoLeak closes a busy emulator and checks that nothing is left running.
func TestNoLeak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	for _, opts := range [][]o365smtptest.Option{nil, {o365smtptest.WithImplicitTLS()}} {
		s := o365smtptest.NewServer(opts...)
		cred, _ := confidential.NewCredFromSecret(s.ClientSecret)
		msal := newMSAL(t, s, s.TenantID, cred)
		res, err := msal.AcquireTokenByCredential(context.Background(), []string{s.Scope})
		if err != nil {
			t.Fatal(err)
		}
		// An idle authenticated session, a half-open one and a hanging one.
		if len(opts) == 0 {
			c, err := login(t, s, s.Mailbox, res.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if err := send(c, s.Mailbox, []string{"a@example.com"}, message(s.Mailbox, "a@example.com", "leak")); err != nil {
				t.Fatal(err)
			}
			dialRaw(t, s.SMTPAddr).lines()
			s.Fail(o365smtptest.StageEHLO, o365smtptest.Fault{Hang: true})
			r := dialRaw(t, s.SMTPAddr)
			r.lines()
			r.tp.PrintfLine("EHLO x")
		} else {
			dialRaw(t, s.SMTPAddr) // never handshakes
		}
		s.Close()
	}
}

func TestListenFailurePanics(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, opt := range []o365smtptest.Option{emulator.WithSMTPAddr(held.Addr().String()), emulator.WithHTTPAddr(held.Addr().String())} {
		func() {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, "o365smtptest: failed to listen on "+held.Addr().String()) {
					t.Errorf("NewServer on a busy address: panic %v", r)
				}
			}()
			s := o365smtptest.NewServer(opt)
			s.Close()
		}()
	}
}

func TestListenAddresses(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := newServer(t, emulator.WithHTTPAddr(addr), emulator.WithSMTPAddr("127.0.0.1:0"))
	if s.AuthorityHost != "https://"+addr {
		t.Errorf("AuthorityHost = %q, want https://%s", s.AuthorityHost, addr)
	}
	accessToken(t, s)
	mustLogin(t, s)
}
