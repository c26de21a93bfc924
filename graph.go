package o365smtp

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync/atomic"

	"github.com/o365smtp/o365smtp/internal/catalog"
	"github.com/o365smtp/o365smtp/internal/graphclient"
	"github.com/o365smtp/o365smtp/internal/httpguard"
	"github.com/o365smtp/o365smtp/internal/redact"
)

// graphMaxConcurrent is Graph's limit of concurrent requests per mailbox
// (MailboxConcurrency): the Graph transport's slots.
const graphMaxConcurrent = 4

// newGraphSource returns the token source of the Graph transport: a second
// cachedSource from the same credential, for GraphScope. A TokenSource is
// used as it is (with TransportGraph it must give Graph tokens).
func newGraphSource(r *resolved) *cachedSource {
	gr := *r
	gr.scope = r.graphScope
	return newCachedSource(&gr)
}

// graphTransport sends with Microsoft Graph's sendMail: the message as
// MIME, base64, in one request of at most 4 MB. Graph has no idempotency
// key, so a request whose response never came is ErrUnknownOutcome and is
// never resent.
type graphTransport struct {
	*core
	client   *graphclient.Client
	slots    chan struct{}
	requests atomic.Int64 // sendMail requests made
}

func newGraphTransport(c *core) *graphTransport {
	n := graphMaxConcurrent
	if m := c.r.cfg.MaxConnections; m > 0 && m < n {
		n = m
	}
	return &graphTransport{core: c, slots: make(chan struct{}, n),
		client: &graphclient.Client{HTTP: c.r.httpClient, Base: c.r.graphURL, Grace: replyGrace, Clock: c.r.clock}}
}

// close has nothing to wait for beyond the Sends in flight, which the
// Sender waits for; idle HTTP connections belong to the HTTP client.
func (t *graphTransport) close(context.Context, bool) error { return nil }

// attempt makes one sendMail request for env, or for a message too large
// for one (sendLarge) a draft, upload sessions and send; on 401 with a
// cached token it drops the token and tries once more with a fresh one.
func (t *graphTransport) attempt(ctx context.Context, env *envelope) *Error {
	body, tooLarge, e := graphBody(env)
	var large *largeMessage
	if e != nil {
		if !tooLarge || env.msg == nil {
			return e
		}
		// Too large for sendMail: a draft and upload sessions.
		if large, e = splitLarge(env); e != nil {
			return e
		}
	}
	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		return canceledError("graph", ctx.Err())
	}
	defer func() { <-t.slots }()
	lease, err := t.fleet.Acquire(ctx, t.r.cfg.Mailbox, ResourceGraph, cap(t.slots))
	if err != nil {
		return canceledError("graph", err)
	}
	defer lease.Release()
	tr := traceFrom(ctx)
	for retried := false; ; retried = true {
		tok, cached, e := t.graphTokens.token(ctx)
		if e != nil {
			return e
		}
		if tr.TokenAcquired != nil {
			tr.TokenAcquired(tok.ExpiresOn, cached)
		}
		var refresh bool
		if large != nil {
			e, refresh = t.sendLarge(ctx, tok.AccessToken, large, env.hdrFrom)
		} else {
			e, refresh = t.sendMail(ctx, tok.AccessToken, body, env.hdrFrom)
		}
		if e == nil {
			return nil
		}
		if refresh && cached && !retried {
			t.logDebug("Graph refused the token; refreshing it once")
			t.graphTokens.invalidate(tok.AccessToken)
			continue
		}
		if e.Code == 429 && e.retryAfter > 0 {
			_ = t.fleet.BackOff(ctx, t.r.cfg.Mailbox, ResourceGraph, cap(t.slots), 0, e.retryAfter)
		}
		return e
	}
}

// sendMail makes one sendMail request; refresh says a fresh token may fix
// its failure.
func (t *graphTransport) sendMail(ctx context.Context, tok string, body []byte, from string) (*Error, bool) {
	t.requests.Add(1)
	resp, err := t.client.SendMail(ctx, tok, t.r.cfg.Mailbox, body)
	if err != nil {
		return t.requestError(ctx, err, tok), false
	}
	if resp.Status == 202 {
		t.accepted(ctx, resp)
		return nil, false
	}
	return t.responseError(resp, from, tok, "")
}

func (t *graphTransport) accepted(ctx context.Context, resp *graphclient.Response) {
	if tr := traceFrom(ctx); tr.Accepted != nil {
		tr.Accepted(strings.TrimSpace("202 Accepted " + graphRequestID(resp)))
	}
}

func graphRequestID(r *graphclient.Response) string {
	if r.RequestID == "" {
		return ""
	}
	return "request-id: " + catalog.Sanitize(r.RequestID)
}

// graphBody is the sendMail body of env: the MIME, with a Bcc header for
// the envelope recipients that To and Cc do not name (go-mail leaves Bcc
// out of the rendered message; Graph takes the recipients from the MIME
// and drops Bcc), in base64. tooLarge says the failure is only that the
// message does not fit in one request (a draft can take it); any other
// failure, such as an attachment that cannot be read, is final.
func graphBody(env *envelope) (body []byte, tooLarge bool, e *Error) {
	var bccHeader []byte
	if bcc := blindRecipients(env); len(bcc) > 0 {
		bccHeader = []byte("Bcc: " + strings.Join(bcc, ", ") + "\r\n")
	}
	// The MIME is rendered into memory only when its base64 fits in one
	// request.
	size := int64(len(bccHeader)) + env.size
	data, ok, err := env.render(bccHeader, int64(graphclient.MaxRequest)/4*3)
	if !ok {
		n := (size + 2) / 3 * 4
		return nil, true, localError("graph.too_large", fmt.Sprintf("the message is %d bytes, %d in base64: a Graph sendMail request may be at most %d", size, n, graphclient.MaxRequest), catalog.Values{}, nil)
	}
	if err != nil {
		return nil, false, renderError(err)
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(len(data)))
	base64.StdEncoding.Encode(out, data)
	return out, false, nil
}

// blindRecipients are env's recipients that neither To nor Cc names.
func blindRecipients(env *envelope) []string {
	m, err := mail.ReadMessage(bytes.NewReader(env.head()))
	if err != nil {
		return nil
	}
	named := map[string]bool{}
	for _, h := range []string{"To", "Cc"} {
		list, _ := m.Header.AddressList(h)
		for _, a := range list {
			named[strings.ToLower(a.Address)] = true
		}
	}
	var out []string
	for _, rc := range env.rcpts {
		if !named[strings.ToLower(rc)] {
			out = append(out, "<"+rc+">")
		}
	}
	return out
}

// graphValues are the Hint values of the Graph transport.
func (t *graphTransport) graphValues(from string) catalog.Values {
	v := t.hintValuesFrom(from)
	v.Addr = t.r.graphURL
	v.Scope = t.r.graphScope
	if ct := t.graphTokens.cur.Load(); ct != nil && v.ObjectID == "" {
		v.ObjectID = tokenClaims(ct.tok.AccessToken).OID
	}
	return v
}

// requestError classifies a request that got no response.
func (t *graphTransport) requestError(ctx context.Context, err error, token string) *Error {
	secrets := redact.New(token)
	v := t.graphValues("")
	var rd *httpguard.RedirectError
	var re *graphclient.RequestError
	sent := errors.As(err, &re) && re.Sent
	switch {
	case errors.As(err, &rd):
		return localError("graph.redirect", rd.Error(), v, rd)
	case errors.Is(err, httpguard.ErrTooLarge):
		return localError("graph.response", "Graph's response is larger than 1 MiB", v, httpguard.ErrTooLarge)
	case sent:
		msg := excerpt(secrets, "the sendMail request was sent and no response came: "+err.Error())
		return localError("graph.unknown_outcome", msg, v, causeText(msg))
	}
	if cerr := ctxEnded(ctx); cerr != nil {
		return canceledError("graph", cerr)
	}
	if id, msg := tlsCause(err); id != "" {
		msg = excerpt(secrets, "Graph: "+msg)
		return localError("graph.tls", msg, v, causeText(msg))
	}
	msg := excerpt(secrets, "Graph cannot be reached: "+err.Error())
	return localError("graph.unreachable", msg, v, causeText(msg))
}

// responseError classifies Graph's error response, once, through the
// catalogue; refresh says a fresh token may fix it.
func (t *graphTransport) responseError(resp *graphclient.Response, from, token, step string, secret ...string) (*Error, bool) {
	if resp.OK() {
		return localError("graph.response", fmt.Sprintf("Graph answered HTTP %d, not the 2xx this request expects (202 to sendMail and send, 201 to a draft, an upload session and a last chunk, 200 to other chunks)", resp.Status), t.graphValues(from), nil), false
	}
	g := catalog.ClassifyGraphStep(step, resp.Status, resp.Body, resp.RequestID)
	secrets := redact.New(append([]string{token}, secret...)...)
	e := &Error{Kind: Kind(g.Kind), Op: "graph", Code: resp.Status, Message: secrets.String(g.Message),
		Hint: g.Hint(t.graphValues(from)), Err: &httpStatusError{service: "Graph", status: resp.Status, code: g.Code}, retry: retryOf(g.Retry)}
	if resp.Status == 429 || resp.Status == 503 {
		e.retryAfter = retryAfter(resp.Header.Get("Retry-After"), t.r.clock.Now())
	}
	return e, g.Refresh
}

// autoTransport sends over SMTP until Exchange answers that SMTP AUTH is
// disabled (535 5.7.139); it then sends that message over Graph and, once
// Graph has accepted one, every later message too.
type autoTransport struct {
	smtp    *smtpTransport
	graph   *graphTransport
	onGraph atomic.Bool
}

func (a *autoTransport) close(ctx context.Context, graceful bool) error {
	return errors.Join(a.smtp.close(ctx, graceful), a.graph.close(ctx, graceful))
}

func (a *autoTransport) attempt(ctx context.Context, env *envelope) *Error {
	if a.onGraph.Load() {
		return a.graph.attempt(ctx, env)
	}
	e := a.smtp.attempt(ctx, env)
	if e == nil || e.Kind != ErrSMTPAuthDisabled {
		return e
	}
	ge := a.graph.attempt(ctx, env)
	if ge == nil {
		if a.onGraph.CompareAndSwap(false, true) {
			a.smtp.logDebug("SMTP AUTH is disabled for the mailbox; sending with Microsoft Graph from now on")
			_ = a.smtp.close(context.Background(), false) // its sessions are of no further use
		}
		return nil
	}
	if ge.Op == "graph" && (ge.Kind == ErrAuthFailed || ge.Kind == ErrSendAsDenied) {
		cp := *e
		cp.Message += "; Microsoft Graph refused too: " + ge.text()
		cp.Hint = "SMTP AUTH is disabled, and the app may not send with Microsoft Graph either. Fix one of the two:\n" +
			"1. Enable SMTP AUTH: " + e.Hint + "\n" +
			"2. Or let the app send with Graph: " + ge.Hint
		return &cp
	}
	return ge
}

// transportName is the transport the Sender uses now: "smtp" or "graph".
func (s *Sender) transportName() string {
	switch {
	case s.r.cfg.Transport == TransportGraph, s.auto != nil && s.auto.onGraph.Load():
		return TransportGraph.String()
	}
	return TransportSMTP.String()
}
