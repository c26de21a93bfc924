package o365smtp

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp/internal/catalog"
	"github.com/o365smtp/o365smtp/internal/clock"
)

// Retry and fail-fast tuning. Exchange Online answers transient trouble
// (421, 432 4.3.2, 451 4.7.5xx) in seconds; Entra's transient errors clear
// as fast. Three attempts spaced about 1 s and 2 s apart ride out a blip
// without holding a notification for long, and stay far from Exchange's
// 30 messages a minute.
const (
	retryMax = 15 * time.Second // cap of one backoff
	// maxRecipients is Exchange Online's per-message recipient limit.
	maxRecipients = 500
)

// Sender sends mail as one mailbox. It is safe for concurrent use by
// multiple goroutines. The zero value is not usable; use New.
type Sender struct {
	*core
	smtp      *smtpTransport
	graph     *graphTransport // nil with TransportSMTP
	auto      *autoTransport  // non-nil with TransportAuto
	transport transport
	limiter   Limiter // Config.Limiter; nil: the Fleet's admission

	stats    senderStats
	life     context.Context // ends with Close: every Send's context ends with it
	stop     context.CancelFunc
	mu       sync.Mutex // guards closed
	closed   bool
	inflight sync.WaitGroup // Sends and Verifies that started before Shutdown or Close
	cool     coolOff
}

type senderStats struct {
	sent, failed, attempts, retries atomic.Int64
	coolOffs                        atomic.Int64
	govWaits, govWaitNanos          atomic.Int64
	mu                              sync.Mutex
	byKind                          map[Kind]int64
}

func newSender(r *resolved) (*Sender, error) {
	c := &core{r: r, fleet: newFleetGuard(r)}
	switch r.cfg.Transport {
	case TransportGraph:
		c.tokens = newGraphSource(r)
		c.graphTokens = c.tokens
	case TransportAuto:
		c.tokens, c.graphTokens = newCachedSource(r), newGraphSource(r)
	default:
		c.tokens = newCachedSource(r)
	}
	s := &Sender{core: c, smtp: newSMTPTransport(c)}
	s.transport = s.smtp
	switch r.cfg.Transport {
	case TransportGraph:
		s.graph = newGraphTransport(c)
		s.transport = s.graph
	case TransportAuto:
		s.graph = newGraphTransport(c)
		s.auto = &autoTransport{smtp: s.smtp, graph: s.graph}
		s.transport = s.auto
	}
	s.life, s.stop = context.WithCancel(context.Background())
	s.limiter = r.cfg.Limiter
	return s, nil
}

// Send submits one message. A message with neither From nor an envelope
// sender gets From = Mailbox; the envelope sender is the envelope from if
// set, else From. Before the first attempt Send sets Date and Message-ID
// if they are missing and renders the message once, so retries carry the
// same Message-ID and the same bytes; do not send one *mail.Msg from two
// goroutines at once.
//
// Attachments and embeds are streamed: their content is read and encoded
// into the connection on each attempt (and read once before, to count the
// message's size), so memory does not grow with their size. Their content
// must read the same each time (a file must not change during Send; an
// attachment that changed fails the attempt before the message is
// complete, with ErrInvalidMessage). A message with middleware, S/MIME or
// DKIM signing is rendered into memory instead. See docs/performance.md.
//
// Send returns nil only if the server accepted the message, and every error
// is an *Error. Its policy, all within ctx:
//
//   - Pacing: each attempt (retries included) waits for a connection slot
//     (at most MaxConnections) and for the per-minute governor
//     (MessagesPerMinute in any rolling 60 s, or Config.Limiter).
//   - Retries: a failure whose Retryable reports true is retried, up to
//     MaxAttempts attempts in all, after RetryBackoff (1 s), then twice as
//     long each time (at most 15 s), each with ±50% jitter. After 432 4.3.2
//     one connection slot is held back for 30 s.
//   - Cool-off: after a failure that needs a person (a rejected secret or
//     token, SMTP AUTH disabled, the sender suspended...), further sends
//     return the same error at once, with no token request or connection,
//     for CoolOff (30 s), and for 15 minutes after the daily recipient
//     quota (ErrQuotaExceeded); Stats and Trace.CoolOff show it, and a
//     Verify that passes ends it. With Config.Fleet every process sending
//     as the mailbox fails fast, and the slots and the per-minute pace
//     above are the fleet's.
//   - Grace: once the message data has been sent, Send waits for the
//     server's verdict up to 3 s past the end of ctx, because giving up
//     there leaves the outcome unknown. If the connection or that wait
//     ends first, the error is ErrUnknownOutcome: the message may have been
//     delivered, and it is never resent.
//
// Shutdown waits for the Sends that are in flight; Sends after Shutdown or
// Close fail with ErrClosed.
func (s *Sender) Send(ctx context.Context, msg *mail.Msg) error {
	var err *Error
	if ctx, done, ok := s.enter(ctx); ok {
		err = s.closedWhile(ctx, s.send(ctx, msg))
		done()
	} else {
		err = closedError()
	}
	if err != nil {
		s.stats.failed.Add(1)
		s.stats.mu.Lock()
		if s.stats.byKind == nil {
			s.stats.byKind = make(map[Kind]int64)
		}
		s.stats.byKind[err.Kind]++
		s.stats.mu.Unlock()
		s.logDebug("send failed", "kind", string(err.Kind), "error", err.Error())
		return err
	}
	s.stats.sent.Add(1)
	return nil
}

// envelope is a prepared message: its envelope addresses, and its data,
// streamed from a skeleton (stream.go) or, where streaming cannot
// reproduce go-mail's rendering, rendered once into data.
type envelope struct {
	from     string
	rcpts    []string
	msg      *mail.Msg // the message (the Graph transport's large messages render parts of it)
	skel     *skeleton // the streamed rendering; nil: data holds it
	data     []byte    // the buffered rendering; nil when streamed
	size     int64     // the rendered message's length in bytes
	hdrFrom  string
	utf8     bool // an envelope address is not ASCII: MAIL needs SMTPUTF8
	eightBit bool // the data has 8-bit bytes: MAIL says BODY=8BITMIME
}

// mailParams returns the MAIL FROM parameters env needs on c. Exchange
// Online advertises SMTPUTF8 but answers the parameter with 502 5.3.3
// (go-mail#545, email-oauth2-proxy#416), so it is sent only when an address
// needs it; BODY=8BITMIME only when the data is not 7-bit.
func (env *envelope) mailParams(c *conn) ([]string, *Error) {
	var p []string
	if env.eightBit && c.eightBit {
		p = append(p, "BODY=8BITMIME")
	}
	if env.utf8 {
		if !c.utf8 {
			return nil, localError("message.utf8_address", "an envelope address is not ASCII and the server does not offer SMTPUTF8", catalog.Values{}, nil)
		}
		p = append(p, "SMTPUTF8")
	}
	return p, nil
}

func isASCII[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (s *Sender) send(ctx context.Context, msg *mail.Msg) *Error {
	env, err := s.prepare(msg)
	if err != nil {
		return err
	}
	if e, until := s.coolingOff(ctx); e != nil {
		s.stats.coolOffs.Add(1)
		if tr := traceFrom(ctx); tr.CoolOff != nil {
			tr.CoolOff(until)
		}
		return e
	}
	var last *Error
	for attempt := 1; ; attempt++ {
		if err := s.pace(ctx); err != nil {
			if last != nil {
				err.Message += "; the previous attempt failed: " + last.Error()
			}
			return err
		}
		s.stats.attempts.Add(1)
		e := s.transport.attempt(ctx, env)
		if e == nil {
			return nil
		}
		last = e
		if !e.Retryable() || attempt >= s.r.maxAttempts {
			s.startCoolOff(ctx, e)
			return e
		}
		d := s.backoff(attempt, e)
		if d < 0 || !s.fits(ctx, d) {
			return e // waiting cannot help: Retry-After too long, or past ctx's deadline
		}
		s.stats.retries.Add(1)
		if err := clock.Sleep(ctx, s.r.clock, d); err != nil {
			ce := canceledError("message", err)
			ce.Message += "; the previous attempt failed: " + e.Error()
			return ce
		}
	}
}

// maxRetryAfter is the longest Retry-After a retry waits for; a longer one
// returns the failure at once.
const maxRetryAfter = 2 * time.Minute

// backoff is the wait before the retry that follows attempt: RetryBackoff,
// doubling per attempt up to retryMax, with ±50% jitter, or the server's
// Retry-After if that is longer. It is negative when Retry-After exceeds
// maxRetryAfter.
func (s *Sender) backoff(attempt int, e *Error) time.Duration {
	if e.retryAfter > maxRetryAfter {
		return -1
	}
	d := s.r.retryBackoff << (attempt - 1)
	if d > retryMax || d <= 0 {
		d = retryMax
	}
	d = d/2 + rand.N(d) // ±50% jitter
	return max(d, e.retryAfter)
}

// fits reports whether a wait of d ends before ctx's deadline.
func (s *Sender) fits(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}

// prepare validates and renders msg.
func (s *Sender) prepare(msg *mail.Msg) (*envelope, *Error) {
	if msg == nil {
		return nil, localError("message.nil", "the message is nil", catalog.Values{}, nil)
	}
	rcpts, err := msg.GetRecipients()
	if err != nil || len(rcpts) == 0 {
		return nil, localError("message.no_recipients", "the message has no recipients", catalog.Values{}, err)
	}
	if len(rcpts) > maxRecipients {
		return nil, localError("message.too_many_recipients", fmt.Sprintf("the message has %d recipients", len(rcpts)), catalog.Values{}, nil)
	}
	if len(msg.GetFrom()) == 0 && len(msg.GetAddrHeader(mail.HeaderEnvelopeFrom)) == 0 {
		if err := msg.From(s.r.cfg.Mailbox); err != nil {
			return nil, localError("message.from", "cannot set From to Mailbox", s.hintValues(), err)
		}
	}
	from, err := msg.GetSender(false)
	if err != nil || from == "" {
		return nil, localError("message.from", "the message has no usable sender", s.hintValues(), err)
	}
	// go-mail returns addresses in angle brackets; the envelope keeps them
	// bare, and the SMTP client adds the brackets.
	from = strings.Trim(from, "<>")
	for i, rc := range rcpts {
		rcpts[i] = strings.Trim(rc, "<>")
	}
	env := &envelope{from: from, rcpts: rcpts, hdrFrom: from, msg: msg}
	if f := msg.GetFrom(); len(f) > 0 {
		env.hdrFrom = f[0].Address
	}
	// Date and Message-ID are fixed now, as go-mail's first rendering
	// would fix them, so that every attempt carries the same ones.
	if len(msg.GetGenHeader(mail.HeaderDate)) == 0 {
		msg.SetDate()
	}
	if msg.GetMessageID() == "" {
		msg.SetMessageID()
	}
	env.utf8 = !isASCII(from) || slices.ContainsFunc(rcpts, func(r string) bool { return !isASCII(r) })
	sk, ok, err := renderSkeleton(msg)
	if err != nil {
		return nil, renderError(err)
	}
	if ok {
		env.skel, env.size, env.eightBit = sk, sk.size(), !isASCII(sk.text)
		return env, nil
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		return nil, renderError(err)
	}
	env.data, env.size = buf.Bytes(), int64(buf.Len())
	env.eightBit = !isASCII(env.data)
	return env, nil
}

// pace waits for the Fleet's admission (MessagesPerMinute in any rolling
// minute, the built-in governor by default; and, on Graph, Graph's request
// limit) or for Config.Limiter, which replaces the per-minute admission.
func (s *Sender) pace(ctx context.Context) *Error {
	start := s.r.clock.Now()
	var err error
	switch {
	case s.limiter != nil:
		err = s.limiter.Wait(ctx)
	case s.r.perMinute > 0:
		err = s.fleet.Admit(ctx, s.r.cfg.Mailbox, ResourceMessages, s.r.perMinute, governorWindow)
	}
	if err == nil && s.transportName() == TransportGraph.String() {
		err = s.fleet.Admit(ctx, s.r.cfg.Mailbox, ResourceGraph, graphPerWindow, graphWindow)
	}
	waited := s.r.clock.Now().Sub(start)
	if s.limiter != nil && waited <= time.Millisecond {
		// An external Limiter does not say whether it blocked: count
		// waits that took a noticeable time.
		waited = 0
	}
	if waited > 0 {
		s.stats.govWaits.Add(1)
		s.stats.govWaitNanos.Add(int64(waited))
	}
	if err != nil {
		if ctx.Err() != nil {
			return canceledError("message", ctx.Err())
		}
		return localError("sender.limiter", "the Limiter refused: "+err.Error(), catalog.Values{}, err)
	}
	return nil
}

// ctxEnded returns ctx's error, or context.DeadlineExceeded when its
// deadline has passed but its timer has not fired yet: connection deadlines
// are set to the context's, so an I/O timeout can win that race.
func ctxEnded(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// tokenRejected reports whether Exchange refused the token itself (535
// 5.7.3, or the High Volume endpoint's 501 5.5.127 "token will expire soon"),
// which a fresh token may fix.
func tokenRejected(e *Error) bool {
	return e.Kind == ErrAuthFailed && e.Op == "auth" &&
		(e.Code == 535 && e.EnhancedCode == "5.7.3" || e.Code == 501 && e.EnhancedCode == "5.5.127")
}

// Stats returns a snapshot of the Sender's counters.
func (s *Sender) Stats() Stats {
	open, idle, inUse := s.smtp.pool.counts()
	st := Stats{
		Sent: s.stats.sent.Load(), Failed: s.stats.failed.Load(),
		Attempts: s.stats.attempts.Load(), Retries: s.stats.retries.Load(),
		TokenRequests: s.tokens.requests.Load(), Dials: s.smtp.dials.Load(),
		OpenConnections: open, IdleConnections: idle, InUseConnections: inUse,
		ConnectionWaits: s.smtp.pool.waits.Load(), ConnectionWaitTime: time.Duration(s.smtp.pool.waitNanos.Load()),
		CoolOffs: s.stats.coolOffs.Load(), CoolOffUntil: s.cool.ends(s.r.clock.Now()),
		GovernorWaits: s.stats.govWaits.Load(), GovernorWaitTime: time.Duration(s.stats.govWaitNanos.Load()),
		Transport:      s.transportName(),
		FleetShared:    s.fleet.sharing() && !s.fleet.degradedNow(),
		FleetFallbacks: s.fleet.fallbacks.Load(), FleetFailures: s.fleet.failures.Load(),
	}
	if g := s.graphTokens; g != nil && g != s.tokens {
		st.TokenRequests += g.requests.Load()
	}
	if s.graph != nil {
		st.GraphRequests = s.graph.requests.Load()
	}
	s.stats.mu.Lock()
	if len(s.stats.byKind) > 0 {
		st.FailuresByKind = make(map[Kind]int64, len(s.stats.byKind))
		for k, v := range s.stats.byKind {
			st.FailuresByKind[k] = v
		}
	}
	s.stats.mu.Unlock()
	return st
}
