package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// defaultTarpit is how long the standalone emulator makes a failing client
// wait by default: Exchange answers failed AUTH after 4 to 8 seconds
// (simonrob/email-oauth2-proxy#237, #251; tarickb/sasl-xoauth2#96).
const defaultTarpit = 5 * time.Second

func cmdEmulate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	var scen strings.Builder
	for _, s := range emulator.Scenarios() {
		fmt.Fprintf(&scen, "  %-29s %s\n", s.Name, s.Description)
	}
	fs := newFlagSet("emulate", "[--env-file F] [--scenario NAME] [flags]", `
Emulate runs the emulator of Microsoft Entra ID (token endpoint) and Exchange
Online (SMTP AUTH with XOAUTH2) on loopback, with TLS from its own CA, until
interrupted (SIGINT or SIGTERM). It prints what a client needs; with
--env-file it also writes the O365SMTP_* variables to a file that a shell can
source, once the servers accept connections:

  rm -f /tmp/emu.env; o365smtp emulate --env-file /tmp/emu.env &
  until [ -s /tmp/emu.env ]; do sleep 0.1; done
  set -a; . /tmp/emu.env; set +a
  o365smtp verify

The client secret it prints is the emulator's own, not a real secret.
Received messages are shown by its web inbox at / on the authority host
(trust the CA certificate, or accept the browser's warning), and served by
its HTTP API there: GET /api/messages, GET /api/messages/{id}, DELETE
/api/messages, GET /api/refused, GET and POST /api/scenario.

It behaves like Exchange Online in 2026 (docs/exchange-behaviour.md): MAIL
FROM with SMTPUTF8 gets 502 5.3.3 Command not implemented; another sender is
accepted at MAIL FROM and refused after the final dot with 554 5.2.252
SendAsDenied; a message over the mailbox's 35 MB MaxSendSize gets 552 5.3.4
MapiExceptionMaxSubmissionExceeded after the final dot although EHLO says
SIZE 157286400; Entra issues tokens for any resource of the tenant and AUTH
refuses a wrong audience with 535 5.7.3; TLS 1.0/1.1 get 421 4.7.66 after
the handshake; failed AUTH and unrecognized commands are answered after a
delay (--tarpit); an idle session is dropped after 5 minutes with 451 4.7.0
Timeout waiting for client input (--idle-timeout). Recipients whose local
part starts with "reject" are refused at RCPT with 550 5.1.10 (the real
service mostly accepts them and bounces later).

Scenarios (--scenario), with the real replies they give:
`+scen.String(), false)
	envFile := fs.String("env-file", "", "write the client's environment to `file` (KEY=VALUE lines)")
	scenario := fs.String("scenario", "", "apply the scenario `name` (see the list above), to make the emulator fail like the real service")
	smtpAddr := fs.String("smtp-addr", "127.0.0.1:0", "SMTP listen `address` (port 0: a free port)")
	httpAddr := fs.String("http-addr", "127.0.0.1:0", "token endpoint and HTTP API listen `address` (port 0: a free port)")
	caFile := fs.String("ca-file", "", "write the emulator's CA certificate to `file` (default: a new file in the temporary directory, removed at exit)")
	lifetime := fs.Duration("token-lifetime", 0, "lifetime of the tokens it issues (default: the emulator's, 1h)")
	implicitTLS := fs.Bool("implicit-tls", false, "serve SMTP with TLS from the first byte instead of STARTTLS")
	tarpit := fs.Duration("tarpit", defaultTarpit, "delay before failed AUTH, unrecognized commands and permanent refusals after DATA, as Exchange's")
	noTarpit := fs.Bool("no-tarpit", false, "answer failures at once (the same as --tarpit 0)")
	latency := fs.Duration("latency", 0, "answer each command this long after it arrived, as a server one round trip away would (pipelined commands share one)")
	idle := fs.Duration("idle-timeout", 5*time.Minute, "drop a session idle this long with 451 4.7.0 Timeout waiting for client input")
	maxSend := fs.Int64("max-send-size", 0, "the mailbox's MaxSendSize in `bytes`, enforced after the final dot (default Exchange's 35 MB; -1: only SIZE)")
	acceptUTF8 := fs.Bool("accept-smtputf8", false, "accept the SMTPUTF8 parameter of MAIL FROM (Exchange refuses it with 502 5.3.3)")
	sendAsAtMail := fs.Bool("send-as-at-mail", false, "refuse another sender at MAIL FROM with 550 5.7.60, as older front ends did")
	if code, ok := parseOutcome(fs, parseFlags(fs, args), stdout, stderr); !ok {
		return code
	}
	for _, a := range []struct{ flag, addr string }{{"smtp-addr", *smtpAddr}, {"http-addr", *httpAddr}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return usageOutcome(fs, stderr, "--%s: %v", a.flag, err)
		}
	}
	if *lifetime < 0 {
		return usageOutcome(fs, stderr, "--token-lifetime must not be negative")
	}
	if *latency < 0 {
		return usageOutcome(fs, stderr, "--latency must not be negative")
	}
	if *tarpit < 0 || *idle <= 0 {
		return usageOutcome(fs, stderr, "--tarpit must not be negative and --idle-timeout must be positive")
	}
	if *noTarpit {
		*tarpit = 0
	}
	// From here on, SIGINT and SIGTERM end the emulator cleanly.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := []o365smtptest.Option{emulator.WithSMTPAddr(*smtpAddr), emulator.WithHTTPAddr(*httpAddr), emulator.WithMessageAPI(), emulator.WithInbox()}
	if *scenario != "" {
		if err := emulator.LookupScenario(*scenario); err != nil {
			return usageOutcome(fs, stderr, "--scenario: %v (see --help for the list)", err)
		}
		opts = append(opts, emulator.WithScenario(*scenario))
	}
	if *lifetime > 0 {
		opts = append(opts, o365smtptest.WithTokenLifetime(*lifetime))
	}
	if *implicitTLS {
		opts = append(opts, o365smtptest.WithImplicitTLS())
	}
	opts = append(opts, o365smtptest.WithTarpit(*tarpit), o365smtptest.WithIdleTimeout(*idle))
	if *latency > 0 {
		opts = append(opts, o365smtptest.WithLatency(*latency))
	}
	if *maxSend != 0 {
		opts = append(opts, o365smtptest.WithMaxSendSize(*maxSend))
	}
	if *acceptUTF8 {
		opts = append(opts, emulator.WithSMTPUTF8Accepted())
	}
	if *sendAsAtMail {
		opts = append(opts, emulator.WithSendAsRefusedAtMail())
	}
	srv, err := startEmulator(opts...)
	if err != nil {
		fmt.Fprintf(stderr, "emulate: %v\n", err)
		return exitFailure
	}
	defer srv.Close()

	ca := *caFile
	if ca == "" {
		f, err := os.CreateTemp("", "o365smtp-emulator-ca-*.pem")
		if err != nil {
			fmt.Fprintf(stderr, "emulate: %v\n", err)
			return exitFailure
		}
		ca = f.Name()
		f.Close()
		defer os.Remove(ca)
	}
	if err := os.WriteFile(ca, srv.CACertPEM(), 0o644); err != nil {
		return usageOutcome(fs, stderr, "--ca-file: %v", err)
	}
	if abs, err := filepath.Abs(ca); err == nil {
		ca = abs
	}

	cfg := srv.Config()
	env := emulatorEnv(srv, cfg, ca)
	// NewServer returned with both listeners open, so connections are
	// accepted from now on: the env file may appear.
	if *envFile != "" {
		if err := writeEnvFile(*envFile, env); err != nil {
			return usageOutcome(fs, stderr, "--env-file: %v", err)
		}
	}

	p := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	p("o365smtp emulator (scenario: %s)", orDefault(*scenario, "ok"))
	p("  SMTP:                        %s (%s)", srv.SMTPAddr, map[bool]string{false: "STARTTLS", true: "implicit TLS"}[*implicitTLS])
	p("  authority host:              %s", cfg.AuthorityHost)
	p("  inbox (web page):            %s/", strings.TrimRight(cfg.AuthorityHost, "/"))
	p("  messages API:                %s/api/messages", strings.TrimRight(cfg.AuthorityHost, "/"))
	p("  tenant ID:                   %s (%s)", srv.TenantID, srv.TenantDomain)
	p("  client ID:                   %s", srv.ClientID)
	p("  client secret:               %s (the emulator's, not a real secret)", srv.ClientSecret)
	p("  mailbox:                     %s", srv.Mailbox)
	p("  service principal object ID: %s (Enterprise application; the token's oid)", srv.ServicePrincipalID)
	p("  app registration object ID:  %s (NOT the one Exchange needs)", srv.AppObjectID)
	p("  scope:                       %s", cfg.Scope)
	p("  CA certificate:              %s", ca)
	p("  tarpit, idle timeout:        %s, %s", *tarpit, *idle)
	if *envFile != "" {
		p("  environment file:            %s", *envFile)
		p("Use it: set -a; . %s; set +a; o365smtp verify", shellQuote(*envFile))
	} else {
		p("Environment for a client:")
		for _, kv := range env {
			p("  export %s=%s", kv[0], shellQuote(kv[1]))
		}
	}
	p("Stop with Ctrl-C.")
	p("emulate: ready")

	<-ctx.Done()
	srv.Close()
	p("emulate: stopped")
	return exitOK
}

// usageOutcome prints a usage error.
func usageOutcome(fs *flag.FlagSet, stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "o365smtp %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fmt.Fprintf(stderr, "Run 'o365smtp %s --help' for usage.\n", fs.Name())
	return exitUsage
}

// emulatorEnv returns the environment a client of srv needs, in order.
func emulatorEnv(srv *o365smtptest.Server, cfg o365smtp.Config, caFile string) [][2]string {
	return [][2]string{
		{"O365SMTP_TENANT_ID", srv.TenantID},
		{"O365SMTP_CLIENT_ID", srv.ClientID},
		{"O365SMTP_CLIENT_SECRET", srv.ClientSecret},
		{"O365SMTP_MAILBOX", srv.Mailbox},
		{"O365SMTP_HOST", cfg.Host},
		{"O365SMTP_PORT", strconv.Itoa(cfg.Port)},
		{"O365SMTP_SECURITY", cfg.Security.String()},
		{"O365SMTP_AUTHORITY_HOST", cfg.AuthorityHost},
		{"O365SMTP_SCOPE", cfg.Scope},
		{"O365SMTP_GRAPH_URL", cfg.GraphURL},
		{"O365SMTP_CA_FILE", caFile},
		{"SSL_CERT_FILE", caFile},
	}
}

// writeEnvFile writes env as KEY=VALUE lines, atomically: to a temporary
// file in the same directory, then renamed.
func writeEnvFile(name string, env [][2]string) error {
	var b strings.Builder
	b.WriteString("# Written by 'o365smtp emulate': the emulator's (fake) settings. Source it with: set -a; . FILE; set +a\n")
	for _, kv := range env {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], shellQuote(kv[1]))
	}
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), name); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
