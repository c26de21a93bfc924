// Package smtpd is the emulator's SMTP service: a purpose-built server state
// machine on net/textproto that speaks like Exchange Online's SMTP AUTH
// submission service (smtp.office365.com). It knows the protocol and
// Exchange's replies; what a tenant allows (tokens, mailboxes, Send As,
// recipients, the connection limit) and the faults to inject come from a
// Backend.
//
// The pieces, one per file: the listener and connection registry (this
// file), the per-connection session state (session.go), the commands
// (commands.go, auth.go, data.go), the replies as data (replies.go), the
// EHLO capabilities (caps.go), the bounded readers (reader.go), the
// argument parsers (params.go) and faults (fault.go).
//
// The replies follow Exchange Online as it behaves in 2026; each cites its
// public evidence next to it, and docs/exchange-behaviour.md lists them
// with the options and scenarios for the alternatives. What clients see is
// pinned, byte for byte, by the golden transcripts of package o365smtptest
// (testdata/transcripts, TestGoldenTranscripts), first recorded against the
// go-smtp based service this one replaced. Some of go-smtp's ways are kept
// on purpose so that they stay pinned: go-smtp's wording for the protocol
// errors whose Exchange wording was never recorded, any leading dot of a DATA
// line removed, a second MAIL FROM that keeps the transaction's recipient
// count, a line limit whose count includes the previous newline. A change
// of behaviour updates the transcripts (go test ./o365smtptest -run Golden
// -update) in the same commit.
package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"sync"
	"time"
)

// Limits of the service.
const (
	// MaxRecipients is how many RCPT TO a transaction accepts.
	MaxRecipients = 500
	// MaxLineLength bounds a command line, an AUTH response and a line of
	// a DATA message, in bytes: AUTH lines carry whole access tokens.
	MaxLineLength = 64 << 10
	// DefaultIdleTimeout is how long the service waits for a command
	// unless Config.IdleTimeout says otherwise: Exchange Online's front
	// ends drop a session idle for about 5 minutes with "Timeout waiting
	// for client input" (nodemailer/nodemailer#1205).
	DefaultIdleTimeout = 5 * time.Minute
	// WriteTimeout bounds the writing of a reply.
	WriteTimeout = time.Minute
	// HandshakeTimeout bounds a TLS handshake.
	HandshakeTimeout = time.Minute
)

// Config configures a Server.
type Config struct {
	// TLS is the server's TLS configuration, for STARTTLS or implicit TLS.
	TLS *tls.Config
	// ImplicitTLS speaks TLS from the first byte instead of offering
	// STARTTLS.
	ImplicitTLS bool
	// NoSTARTTLS serves plain text without offering STARTTLS. It has no
	// effect with ImplicitTLS.
	NoSTARTTLS bool
	// MaxMessageBytes is the SIZE advertised and enforced; it must be
	// positive.
	MaxMessageBytes int64
	// MaxSendBytes is the largest message the store accepts (the
	// mailbox's MaxSendSize), enforced after the final dot with 552 5.3.4
	// MapiExceptionMaxSubmissionExceeded; zero or less means
	// MaxMessageBytes only.
	MaxSendBytes int64
	// AcceptSMTPUTF8 accepts the SMTPUTF8 parameter of MAIL FROM, which
	// Exchange refuses with 502 5.3.3 although EHLO advertises it.
	AcceptSMTPUTF8 bool
	// SendAsAtMail refuses another sender at MAIL FROM with 550 5.7.60, as
	// older front ends did, instead of after the final dot.
	SendAsAtMail bool
	// IdleTimeout is how long the service waits for a command;
	// DefaultIdleTimeout if zero or less.
	IdleTimeout time.Duration
	// Tarpit delays failed AUTH, unrecognized commands and the permanent
	// refusals after the final dot, as Exchange does by seconds; zero
	// means no delay.
	Tarpit time.Duration
	// ReplyLatency delays each reply until this long after the input it
	// answers arrived, as a network round trip would: replies to pipelined
	// commands, which arrive together, leave together. Zero: no delay.
	ReplyLatency time.Duration
	// Backend makes the tenant's decisions.
	Backend Backend
}

// Stats are the service's counters.
type Stats struct {
	Connections              int // accepted so far; STARTTLS does not make a new one
	OpenConnections          int // open now
	MaxConcurrentConnections int // the most open at once
	AuthAttempts             int // AUTH commands processed after EHLO, whatever their outcome
}

// Server is a running SMTP service.
type Server struct {
	cfg    Config
	ln     net.Listener
	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	serve  sync.WaitGroup // the accept loop
	connWG sync.WaitGroup // connections not yet finished

	mu     sync.Mutex
	closed bool
	conns  map[*conn]struct{}
	authed map[string][]*conn // mailbox -> connections authenticated as it, oldest first
	stats  Stats
}

// Serve starts serving ln with cfg. Close stops it.
func Serve(ln net.Listener, cfg Config) *Server {
	s := &Server{cfg: cfg, ln: ln, conns: map[*conn]struct{}{}, authed: map[string][]*conn{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.serve.Add(1)
	go func() {
		defer s.serve.Done()
		var backoff time.Duration // after a failed Accept, such as EMFILE
		for {
			raw, err := ln.Accept()
			if err != nil {
				if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return
				}
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.sleep(backoff)
				continue
			}
			backoff = 0
			c, ok := s.open(raw)
			if !ok {
				raw.Close()
				continue
			}
			go func() {
				defer c.finish()
				newSession(s, c).serve()
			}()
		}
	}()
	return s
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close stops the service, closes every connection, interrupts every
// delayed or hanging fault and waits until every connection has finished.
func (s *Server) Close() {
	s.cancel()
	s.ln.Close()
	s.mu.Lock()
	s.closed = true
	open := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		open = append(open, c)
	}
	s.mu.Unlock()
	for _, c := range open {
		c.raw.Close()
	}
	s.serve.Wait()
	s.connWG.Wait()
}

// sleep waits for d, or until Close. It reports whether the full delay
// elapsed.
func (s *Server) sleep(d time.Duration) bool { return Sleep(s.ctx, d) }

// Sleep waits for d, or until ctx ends. It reports whether the full delay
// elapsed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// conn is one TCP connection, across STARTTLS.
type conn struct {
	s        *Server
	raw      net.Conn
	id       string // the session ID in the banner and in AUTH failures
	remoteIP string
	once     sync.Once
	forgot   sync.Once
	user     string // the mailbox it authenticated as; guarded by s.mu
}

func (s *Server) open(raw net.Conn) (*conn, bool) {
	ip := raw.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	c := &conn{s: s, raw: raw, id: randHex(8), remoteIP: ip}
	s.conns[c] = struct{}{}
	s.stats.Connections++
	s.stats.OpenConnections++
	s.stats.MaxConcurrentConnections = max(s.stats.MaxConcurrentConnections, s.stats.OpenConnections)
	s.connWG.Add(1)
	return c, true
}

// finish closes the connection for good and forgets it.
func (c *conn) finish() {
	c.once.Do(func() {
		c.forget()
		c.raw.Close()
		c.s.connWG.Done()
	})
}

// drop forgets the connection and closes it abruptly. It forgets it first,
// as a server that has ended the session does: a client that saw the close
// may connect again at once and must not be counted with it.
func (c *conn) drop() {
	c.forget()
	c.raw.Close()
}

func (c *conn) forget() {
	c.forgot.Do(func() {
		s := c.s
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.conns, c)
		s.stats.OpenConnections--
		if c.user != "" {
			s.authed[c.user] = slices.DeleteFunc(s.authed[c.user], func(o *conn) bool { return o == c })
			if len(s.authed[c.user]) == 0 {
				delete(s.authed, c.user)
			}
		}
	})
}

// authenticated records that c authenticated as mailbox.
func (c *conn) authenticated(mailbox string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c.user = mailbox
	s.authed[mailbox] = append(s.authed[mailbox], c)
}

// overLimit reports whether c is beyond its mailbox's connection limit
// (in order of authentication).
func (c *conn) overLimit() bool {
	lim := c.s.cfg.Backend.ConnectionLimit()
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return lim > 0 && c.user != "" && slices.Index(s.authed[c.user], c) >= lim
}

func (s *Server) countAuth() {
	s.mu.Lock()
	s.stats.AuthAttempts++
	s.mu.Unlock()
}
