package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlagSet("demo", "[--verbose] [--timeout D]", `
Demo starts the emulator of Entra ID and Exchange Online in this process, on
loopback, and sends one message to it through the real path: a token from the
emulated token endpoint, a connection, STARTTLS, AUTH XOAUTH2 as the mailbox
and the message. It prints each step. No account and no network are needed.`, false)
	verbose := fs.Bool("verbose", false, "log the protocol (authentication redacted) to stderr")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this `duration`")
	if code, ok := parseOutcome(fs, parseFlags(fs, args), stdout, stderr); !ok {
		return code
	}

	srv, err := startEmulator()
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFailure
	}
	defer srv.Close()
	cfg := srv.Config()
	if *verbose {
		cfg.Logger = debugLogger(stderr)
	}
	fmt.Fprintf(stdout, "emulator: token endpoint %s, SMTP %s, tenant %s\n", srv.AuthorityHost, srv.SMTPAddr, srv.TenantID)

	sender, err := o365smtp.New(cfg)
	if err != nil {
		printError(stderr, "demo: failed", err)
		return exitFailure
	}
	defer sender.Close()

	msg := mail.NewMsg()
	to := "someone@example.com"
	if err := msg.To(to); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return exitFailure
	}
	msg.Subject("o365smtp demo")
	msg.SetBodyString(mail.TypeTextPlain, "Sent by 'o365smtp demo' to the built-in emulator.\n")

	trace := &o365smtp.Trace{
		TokenAcquired: func(expiresOn time.Time, fromCache bool) {
			src := "new"
			if fromCache {
				src = "from cache"
			}
			fmt.Fprintf(stdout, "token acquired (%s), expires %s\n", src, expiresOn.UTC().Format(time.RFC3339))
		},
		Connected: func(addr, banner string) {
			fmt.Fprintf(stdout, "connected to %s: %s\n", addr, banner)
		},
		TLSHandshakeDone: func(state tls.ConnectionState) {
			fmt.Fprintf(stdout, "TLS established: %s, %s\n", tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite))
		},
		Authenticated: func(mailbox string) {
			fmt.Fprintf(stdout, "authenticated as %s (AUTH XOAUTH2)\n", mailbox)
		},
		Accepted: func(reply string) {
			fmt.Fprintf(stdout, "accepted: %s\n", reply)
		},
	}
	fmt.Fprintf(stdout, "sending a message from %s to %s\n", srv.Mailbox, to)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := sender.Send(o365smtp.WithTrace(ctx, trace), msg); err != nil {
		printError(stderr, "demo: failed", err)
		return exitFailure
	}
	if err := sender.Shutdown(ctx); err != nil {
		printError(stderr, "demo: failed", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "emulator received %d message(s)\n", len(srv.Messages()))
	fmt.Fprintln(stdout, "demo: ok")
	return exitOK
}

// startEmulator starts an emulator, turning NewServer's panic (it cannot
// listen) into an error.
func startEmulator(opts ...o365smtptest.Option) (srv *o365smtptest.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot start the emulator: %v", r)
		}
	}()
	return o365smtptest.NewServer(opts...), nil
}
