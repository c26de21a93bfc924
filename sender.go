package o365smtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/o365smtp/o365smtp/internal/catalog"
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
	r       *resolved
	tokens  *cachedSource
	pool    *pool
	limiter Limiter // nil: no pacing
	gov     *governor

	stats    senderStats
	closed   atomic.Bool
	coolMu   sync.Mutex
	coolErr  *Error
	coolTill time.Time
}

type senderStats struct {
	sent, failed, attempts, retries, dials atomic.Int64
	connWaits, connWaitNanos               atomic.Int64
	govWaits, govWaitNanos                 atomic.Int64
	mu                                     sync.Mutex
	byKind                                 map[Kind]int64
}

func newSender(r *resolved) (*Sender, error) {
	s := &Sender{r: r, tokens: newCachedSource(r)}
	s.pool = newPool(s, r.maxConns)
	switch {
	case r.cfg.Limiter != nil:
		s.limiter = r.cfg.Limiter
	case r.perMinute > 0:
		s.gov = newGovernor(r.perMinute)
		s.limiter = s.gov
	}
	return s, nil
}

// Send submits one message. A message with neither From nor an envelope
// sender gets From = Mailbox; the envelope sender is the envelope from if
// set, else From. Before the first attempt Send renders the message once,
// which sets Date and Message-ID if they are missing, so retries carry the
// same Message-ID; do not send one *mail.Msg from two goroutines at once.
//
// Send returns nil only if the server accepted the message. Retryable
// failures are retried up to MaxAttempts times within ctx. Every error is an
// *Error; ErrUnknownOutcome means the message may have been delivered and
// was not resent.
func (s *Sender) Send(ctx context.Context, msg *mail.Msg) error {
	err := s.send(ctx, msg)
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

// envelope is a rendered message.
type envelope struct {
	from    string
	rcpts   []string
	data    []byte
	hdrFrom string
}

func (s *Sender) send(ctx context.Context, msg *mail.Msg) *Error {
	if s.closed.Load() {
		return closedError()
	}
	env, err := s.prepare(msg)
	if err != nil {
		return err
	}
	if e := s.cooling(); e != nil {
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
		e := s.attempt(ctx, env)
		if e == nil {
			return nil
		}
		last = e
		if e.Kind == ErrThrottled && e.Code == 432 {
			s.pool.backOff()
		}
		if !e.Retryable() || attempt >= s.r.maxAttempts || s.closed.Load() {
			s.noteSetupFailure(e)
			return e
		}
		s.stats.retries.Add(1)
		if err := s.sleep(ctx, attempt); err != nil {
			err.Message += "; the previous attempt failed: " + e.Error()
			return err
		}
	}
}

// prepare validates and renders msg.
func (s *Sender) prepare(msg *mail.Msg) (*envelope, *Error) {
	if msg == nil {
		return nil, &Error{Kind: ErrInvalidMessage, Op: "message", Message: "the message is nil", Hint: "Pass a message made with mail.NewMsg."}
	}
	rcpts, err := msg.GetRecipients()
	if err != nil || len(rcpts) == 0 {
		return nil, &Error{Kind: ErrInvalidMessage, Op: "message", Message: "the message has no recipients",
			Hint: "Add at least one To, Cc or Bcc address."}
	}
	if len(rcpts) > maxRecipients {
		return nil, &Error{Kind: ErrInvalidMessage, Op: "message", Message: fmt.Sprintf("the message has %d recipients", len(rcpts)),
			Hint: "Exchange Online accepts at most 500 recipients per message (and 10,000 a day per mailbox): split the list into several messages."}
	}
	if len(msg.GetFrom()) == 0 && len(msg.GetAddrHeader(mail.HeaderEnvelopeFrom)) == 0 {
		if err := msg.From(s.r.cfg.Mailbox); err != nil {
			return nil, &Error{Kind: ErrInvalidMessage, Op: "message", Message: "cannot set From to Mailbox", Hint: "Set From on the message.", Err: err}
		}
	}
	from, err := msg.GetSender(false)
	if err != nil || from == "" {
		return nil, &Error{Kind: ErrInvalidMessage, Op: "message", Message: "the message has no usable sender",
			Hint: "Set From (or an envelope sender) to " + s.r.cfg.Mailbox + " or to an address the app may send as.", Err: err}
	}
	env := &envelope{from: from, rcpts: rcpts, hdrFrom: from}
	if f := msg.GetFrom(); len(f) > 0 {
		env.hdrFrom = f[0].Address
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		return nil, &Error{Kind: ErrInvalidMessage, Op: "message", Message: "the message cannot be rendered: " + err.Error(),
			Hint: "Check the message's parts and attachments.", Err: err}
	}
	env.data = buf.Bytes()
	return env, nil
}

// pace waits for the governor or Config.Limiter.
func (s *Sender) pace(ctx context.Context) *Error {
	if s.limiter == nil {
		return nil
	}
	var waited time.Duration
	var err error
	if s.gov != nil {
		waited, err = s.gov.wait(ctx)
	} else {
		// An external Limiter does not say whether it blocked: count
		// waits that took a noticeable time.
		start := time.Now()
		err = s.limiter.Wait(ctx)
		if d := time.Since(start); d > time.Millisecond {
			waited = d
		}
	}
	if waited > 0 {
		s.stats.govWaits.Add(1)
		s.stats.govWaitNanos.Add(int64(waited))
	}
	if err != nil {
		if ctx.Err() != nil {
			return canceledError("message", ctx.Err())
		}
		return &Error{Kind: ErrCanceled, Op: "message", Message: "the Limiter refused: " + err.Error(),
			Hint: "The Limiter's Wait returned an error (for *rate.Limiter: the context's deadline is too close for the next slot).", Err: err}
	}
	return nil
}

// sleep waits the backoff before the next attempt.
func (s *Sender) sleep(ctx context.Context, attempt int) *Error {
	d := s.r.retryBackoff << (attempt - 1)
	if d > retryMax || d <= 0 {
		d = retryMax
	}
	d = d/2 + rand.N(d) // ±50% jitter
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return canceledError("message", ctx.Err())
	}
}

// isSetupKind reports whether k is a failure that no retry can fix.
func isSetupKind(k Kind) bool {
	switch k {
	case ErrAuthFailed, ErrSMTPAuthDisabled, ErrInvalidClientSecret, ErrClientSecretExpired,
		ErrAppNotFound, ErrTenantNotFound, ErrSenderSuspended:
		return true
	}
	return false
}

func (s *Sender) noteSetupFailure(e *Error) {
	if !isSetupKind(e.Kind) || s.r.coolOff == 0 {
		return
	}
	s.coolMu.Lock()
	s.coolErr, s.coolTill = e, time.Now().Add(s.r.coolOff)
	s.coolMu.Unlock()
}

// cooling returns a copy of the last setup failure while its cool-off lasts.
func (s *Sender) cooling() *Error {
	s.coolMu.Lock()
	defer s.coolMu.Unlock()
	if s.coolErr == nil || time.Now().After(s.coolTill) {
		s.coolErr = nil
		return nil
	}
	e := *s.coolErr
	e.Hint = strings.TrimRight(e.Hint, "\n") + fmt.Sprintf("\n(Failed fast: the same error occurred less than %s ago, so this send made no token request and no connection. Fix the setup; Verify retries at once.)", s.r.coolOff)
	return &e
}

func (s *Sender) clearCoolOff() {
	s.coolMu.Lock()
	s.coolErr = nil
	s.coolMu.Unlock()
}

// attempt makes one submission attempt on a pooled or new connection.
func (s *Sender) attempt(ctx context.Context, env *envelope) *Error {
	if err := s.pool.acquire(ctx); err != nil {
		return err
	}
	defer s.pool.releaseSlot()
	tr := traceFrom(ctx)
	for {
		c, err := s.connection(ctx, tr)
		if err != nil {
			return err
		}
		c.w.bind(ctx, sendTimeout)
		e, state := s.transact(ctx, c, env, tr)
		switch state {
		case sessionOK:
			s.pool.put(c)
		case sessionDead:
			s.pool.discard(c)
			if e != nil && c.reused && e.Op == "mail" && ctx.Err() == nil {
				// A pooled connection died while idle: replace it
				// without failing the message (nothing was sent).
				s.logDebug("pooled connection was dead; dialling a new one")
				continue
			}
		}
		return e
	}
}

// connection returns a pooled connection or dials one; on 535 5.7.3 with a
// cached token it drops the token and tries once more with a fresh one.
func (s *Sender) connection(ctx context.Context, tr *Trace) (*conn, *Error) {
	if c := s.pool.take(); c != nil {
		return c, nil
	}
	for retried := false; ; retried = true {
		tok, cached, err := s.tokens.token(ctx)
		if err != nil {
			return nil, err
		}
		if tr.TokenAcquired != nil {
			tr.TokenAcquired(tok.ExpiresOn, cached)
		}
		c, e := s.dial(ctx, tok, tr)
		if e == nil {
			if !s.pool.added(c) {
				return nil, closedError()
			}
			return c, nil
		}
		if !retried && cached && tokenRejected(e) {
			s.logDebug("token rejected; refreshing it once")
			s.tokens.invalidate(tok.AccessToken)
			continue
		}
		return nil, e
	}
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

// sessionState says what a transaction left the connection in.
type sessionState int

const (
	sessionOK   sessionState = iota // reusable
	sessionDead                     // in doubt: close it
)

// transact runs MAIL, RCPT, DATA and RSET for env on c.
func (s *Sender) transact(ctx context.Context, c *conn, env *envelope, tr *Trace) (*Error, sessionState) {
	if c.size > 0 && int64(len(env.data)) > c.size {
		return &Error{Kind: ErrInvalidMessage, Op: "message", Message: fmt.Sprintf("the message is %d bytes; the server accepts at most %d", len(env.data), c.size),
			Hint: "Make the message smaller: Exchange Online's default limit is 35 MB per message (150 MB at most), and attachments grow by a third when encoded."}, sessionOK
	}
	sc := c.c
	if err := sc.Mail(env.from); err != nil {
		return s.stepError(ctx, "mail", "mail", err, nil, env), stateAfter(err, sc)
	}
	var refused []string
	var firstRefusal error
	for _, rc := range env.rcpts {
		if err := sc.Rcpt(rc); err != nil {
			var tpe *textproto.Error
			if !errors.As(err, &tpe) {
				return s.stepError(ctx, "rcpt", "rcpt", err, nil, env), sessionDead
			}
			refused = append(refused, strings.Trim(rc, "<>"))
			if firstRefusal == nil {
				firstRefusal = err
			}
		}
	}
	if firstRefusal != nil {
		e := s.stepError(ctx, "rcpt", "rcpt", firstRefusal, refused, env)
		return e, s.reset(sc)
	}
	w, err := sc.Data()
	if err != nil {
		return s.stepError(ctx, "data", "data", err, nil, env), stateAfter(err, sc)
	}
	if _, err := w.Write(env.data); err != nil {
		return s.stepError(ctx, "data", "data", err, nil, env), sessionDead
	}
	c.w.startGrace()
	if err := w.Close(); err != nil {
		var tpe *textproto.Error
		if errors.As(err, &tpe) {
			return s.stepError(ctx, "data", "data_end", err, nil, env), sessionOK
		}
		return &Error{Kind: ErrUnknownOutcome, Op: "data", Message: "the connection ended after the message data was sent, before the server's reply: " + err.Error(),
			Hint: "The message may have been delivered. It was not resent, to avoid a duplicate: check the recipient or the mailbox's Sent Items before sending it again.",
			Err:  err, retry: retryNever}, sessionDead
	}
	reply := "250"
	if dc, ok := w.(*smtp.DataCloser); ok {
		reply += " " + dc.ServerResponse()
	}
	if tr.Accepted != nil {
		tr.Accepted(reply)
	}
	if err := sc.Reset(); err != nil {
		// Delivered; only the session is in doubt.
		return nil, sessionDead
	}
	return nil, sessionOK
}

// reset aborts the transaction; a failure retires the connection.
func (s *Sender) reset(sc *smtp.Client) sessionState {
	if err := sc.Reset(); err != nil {
		return sessionDead
	}
	return sessionOK
}

// stateAfter decides whether a failed command left a usable session: a
// reply keeps it (after RSET), an I/O error does not.
func stateAfter(err error, sc *smtp.Client) sessionState {
	var tpe *textproto.Error
	if errors.As(err, &tpe) && tpe.Code != 421 {
		if sc.Reset() == nil {
			return sessionOK
		}
	}
	return sessionDead
}

// stepError classifies a failure of one SMTP command.
func (s *Sender) stepError(ctx context.Context, op, stage string, err error, refused []string, env *envelope) *Error {
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		from := ""
		if env != nil {
			from = env.hdrFrom
		}
		return s.replyError(op, stage, tpe, refused, from)
	}
	if err := ctxEnded(ctx); err != nil {
		return canceledError(op, err)
	}
	var pe textproto.ProtocolError
	if errors.As(err, &pe) {
		return &Error{Kind: ErrUnexpectedReply, Op: op, Message: "the server's reply is not SMTP: " + catalog.Sanitize(pe.Error()),
			Hint: "The server broke the SMTP protocol; the message was not sent. It is retried on a new connection if attempts remain.",
			Err:  err, retry: retryTransient}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return &Error{Kind: ErrConnection, Op: op, Message: "the connection failed: " + err.Error(),
			Hint: "The connection broke before the message was sent; it is retried on a new connection.", Err: err, retry: retryTransient}
	}
	return &Error{Kind: ErrInvalidMessage, Op: op, Message: err.Error(),
		Hint: "An address contains characters SMTP cannot carry (such as a line break).", Err: err, retry: retryNever}
}

// hintValues returns the values Hints are filled with.
func (s *Sender) hintValues() catalog.Values { return s.hintValuesFrom("") }

func (s *Sender) hintValuesFrom(from string) catalog.Values {
	v := s.tokens.hints
	v.Mailbox = s.r.cfg.Mailbox
	v.From = from
	if ct := s.tokens.cur.Load(); ct != nil {
		v.ObjectID = tokenClaims(ct.tok.AccessToken).OID
	}
	return v
}

// Stats returns a snapshot of the Sender's counters.
func (s *Sender) Stats() Stats {
	open, idle, inUse := s.pool.counts()
	st := Stats{
		Sent: s.stats.sent.Load(), Failed: s.stats.failed.Load(),
		Attempts: s.stats.attempts.Load(), Retries: s.stats.retries.Load(),
		TokenRequests: s.tokens.requests.Load(), Dials: s.stats.dials.Load(),
		OpenConnections: open, IdleConnections: idle, InUseConnections: inUse,
		ConnectionWaits: s.stats.connWaits.Load(), ConnectionWaitTime: time.Duration(s.stats.connWaitNanos.Load()),
		GovernorWaits: s.stats.govWaits.Load(), GovernorWaitTime: time.Duration(s.stats.govWaitNanos.Load()),
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

// Shutdown stops accepting sends, waits for those in flight (or for ctx to
// end), then QUITs and closes every connection. Send and Verify after
// Shutdown fail with ErrClosed. Calling it again is harmless.
func (s *Sender) Shutdown(ctx context.Context) error {
	s.closed.Store(true)
	if err := s.pool.close(ctx, true); err != nil {
		return err
	}
	return nil
}

// Close stops accepting sends and closes every connection at once, including
// those in use (their sends fail). Calling it again is harmless.
func (s *Sender) Close() error {
	s.closed.Store(true)
	_ = s.pool.close(context.Background(), false)
	return nil
}
