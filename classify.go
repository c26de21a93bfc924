package o365smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"

	"github.com/o365smtp/o365smtp/internal/catalog"
	"github.com/o365smtp/o365smtp/internal/httpguard"
	"github.com/o365smtp/o365smtp/internal/redact"
	"github.com/o365smtp/o365smtp/internal/smtpclient"
)

// This file builds every *Error of the SMTP path from the structure of the
// failure: the step that failed, and either the server's reply (classified
// by the catalogue) or the local error (network, TLS, a refusal of the
// client's own).

// smtpOp is the Error.Op of each step.
var smtpOp = map[smtpclient.Step]string{
	smtpclient.StepGreeting:  "connect",
	smtpclient.StepEHLO:      "connect",
	smtpclient.StepStartTLS:  "tls",
	smtpclient.StepHandshake: "tls",
	smtpclient.StepAuth:      "auth",
	smtpclient.StepMail:      "mail",
	smtpclient.StepRcpt:      "rcpt",
	smtpclient.StepData:      "data",
	smtpclient.StepDataEnd:   "data",
	smtpclient.StepReset:     "mail",
	smtpclient.StepQuit:      "connect",
}

// smtpStage is the catalogue's stage of each step that has replies.
var smtpStage = map[smtpclient.Step]string{
	smtpclient.StepGreeting: catalog.StageConnect,
	smtpclient.StepEHLO:     catalog.StageEHLO,
	smtpclient.StepStartTLS: catalog.StageStartTLS,
	smtpclient.StepAuth:     catalog.StageAuth,
	smtpclient.StepMail:     catalog.StageMail,
	smtpclient.StepRcpt:     catalog.StageRcpt,
	smtpclient.StepData:     catalog.StageData,
	smtpclient.StepDataEnd:  catalog.StageDataEnd,
	smtpclient.StepReset:    catalog.StageMail,
}

// localError builds the *Error of the catalogue's local row id; msg says
// what was found, v fills the Hint, cause is the Err.
func localError(id, msg string, v catalog.Values, cause error) *Error {
	l := catalog.LocalFailure(id)
	return &Error{Kind: Kind(l.Kind), Op: l.Op, Message: msg, Hint: l.Hint(v), Err: cause, retry: retryOf(l.Retry)}
}

// renderError is the ErrInvalidMessage of a message that cannot be
// rendered, or whose attachment cannot be read (stream.go).
func renderError(err error) *Error {
	return localError("message.render", "the message cannot be rendered: "+err.Error(), catalog.Values{}, err)
}

// configError is the ErrConfig of row id, about the Config itself.
func configError(id, msg string) *Error { return localError(id, msg, catalog.Values{}, nil) }

// inTransaction reports whether step is part of a message transaction
// (after AUTH): a broken connection there is worth a retry on a new one.
func inTransaction(step smtpclient.Step) bool {
	switch step {
	case smtpclient.StepMail, smtpclient.StepRcpt, smtpclient.StepData, smtpclient.StepReset:
		return true
	}
	return false
}

// localCause picks the catalogue row of a step that failed without a reply,
// and the Message.
func localCause(step smtpclient.Step, err error) (id, msg string) {
	var pe *smtpclient.ProtocolError
	var ne net.Error
	switch {
	case errors.Is(err, smtpclient.ErrNotEncrypted):
		return "smtp.not_encrypted", err.Error()
	case errors.Is(err, smtpclient.ErrNoSTARTTLS):
		return "smtp.no_starttls", err.Error()
	case errors.Is(err, smtpclient.ErrInjected):
		return "smtp.injected", err.Error()
	case errors.Is(err, smtpclient.ErrNoXOAUTH2):
		return "smtp.no_xoauth2", err.Error()
	case errors.Is(err, smtpclient.ErrInvalidAddress):
		return "message.bad_address", err.Error()
	}
	if id, msg := tlsCause(err); id != "" {
		return id, msg
	}
	switch {
	case errors.As(err, &pe) || errors.Is(err, smtpclient.ErrLineTooLong) || errors.Is(err, smtpclient.ErrReplyTooLong):
		if inTransaction(step) {
			return "smtp.broken_reply", catalog.Sanitize(err.Error())
		}
		return "smtp.not_smtp", catalog.Sanitize(err.Error())
	case step == smtpclient.StepGreeting && errors.As(err, &ne) && ne.Timeout():
		return "smtp.no_greeting", fmt.Sprintf("no SMTP greeting within %s", greetingTimeout)
	case errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET):
		if inTransaction(step) {
			return "smtp.broken", "the connection failed: " + err.Error()
		}
		return "smtp.unreachable", "the connection failed: " + err.Error()
	}
	return "smtp.session", "the SMTP session failed: " + catalog.Sanitize(err.Error())
}

// tlsCause picks the row of a failed TLS handshake, or returns "".
func tlsCause(err error) (id, msg string) {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var rhe tls.RecordHeaderError
	var ae tls.AlertError
	var oe *net.OpError
	switch {
	case errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne):
		return "tls.verify", "the server's certificate cannot be verified: " + err.Error()
	case errors.As(err, &rhe) || errors.As(err, &ae):
		return "tls.handshake", "the TLS handshake failed: " + err.Error()
	case errors.As(err, &oe) && oe.Op == "remote error":
		// A TLS alert from the server, e.g. "protocol version not supported".
		return "tls.refused", "the server refused the TLS handshake: " + err.Error()
	}
	return "", ""
}

// replyCause is the Err of a reply's *Error: the reply as net/textproto
// represents one, with the sanitized text.
func replyCause(cr catalog.Reply) *textproto.Error {
	msg := cr.Text
	if cr.Enhanced != "" {
		msg = cr.Enhanced + " " + msg
	}
	return &textproto.Error{Code: cr.Code, Msg: msg}
}

// The token side.

// tokenError turns a token failure into an *Error.
func (c *cachedSource) tokenError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Op == "" {
			e.Op = "token"
		}
		return e
	}
	secrets := redact.New(c.redact()...)
	var ie *identityError
	if errors.As(err, &ie) {
		return c.identityError(ie, secrets)
	}
	var ae *assertionError
	if errors.As(err, &ae) {
		return localError("token.assertion", "the ClientAssertion callback failed: "+excerpt(secrets, ae.err.Error()), c.hints, ae.err)
	}
	var re *httpguard.RedirectError
	switch {
	case errors.Is(err, httpguard.ErrTooLarge):
		return localError("token.too_large", "the token endpoint's response is larger than 1 MiB", c.hints, httpguard.ErrTooLarge)
	case errors.As(err, &re):
		return localError("token.redirect", re.Error(), c.hints, re)
	}
	var ce msalerrors.CallErr
	if errors.As(err, &ce) && ce.Resp != nil {
		return c.entraError(ce.Resp, secrets)
	}
	if id, msg := tlsCause(err); id != "" {
		return localError("token.tls", "the token endpoint: "+msg, c.hints, causeText(excerpt(secrets, msg)))
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		msg := "the token endpoint cannot be reached"
		if ue != nil {
			msg += ": " + ue.Err.Error()
		}
		return localError("token.unreachable", excerpt(secrets, msg), c.hints, causeText(excerpt(secrets, msg)))
	}
	// Anything else (a response that is not JSON...) may quote the body,
	// which may echo the request: keep a short, scrubbed excerpt, and not
	// the error itself.
	msg := excerpt(secrets, firstLine(err.Error()))
	return localError("token.other", msg, c.hints, causeText(msg))
}

// identityError classifies a failure of the managed identity endpoint
// (not Entra: App Service's, the instance metadata service's, Arc's).
func (c *cachedSource) identityError(ie *identityError, secrets *redact.Set) *Error {
	v := c.hints
	v.Subject = identityName(c.identity)
	v.Authority = "the instance metadata service (169.254.169.254)"
	if ep := os.Getenv("IDENTITY_ENDPOINT"); ep != "" && ie.source != managedidentity.DefaultToIMDS {
		v.Authority = ep
	}
	err := ie.err
	if ie.build {
		return localError("token.mi_client", excerpt(secrets, firstLine(err.Error())), v, causeText(excerpt(secrets, firstLine(err.Error()))))
	}
	var re *httpguard.RedirectError
	switch {
	case errors.Is(err, httpguard.ErrTooLarge):
		return localError("token.mi_other", "the identity endpoint's response is larger than 1 MiB", v, httpguard.ErrTooLarge)
	case errors.As(err, &re):
		return localError("token.mi_other", "the identity endpoint redirected: "+re.Error(), v, re)
	}
	var ce msalerrors.CallErr
	if errors.As(err, &ce) && ce.Resp != nil {
		status := ce.Resp.StatusCode
		msg := fmt.Sprintf("the identity endpoint answered HTTP %d", status)
		if text := identityMessage(ce.Err.Error()); text != "" {
			msg += ": " + text
		}
		msg = excerpt(secrets, msg)
		id := "token.mi_refused"
		switch {
		case identityUnknown(status, msg):
			id = "token.mi_not_assigned"
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			id = "token.mi_header"
		case status == http.StatusTooManyRequests || status == http.StatusGone || status >= 500:
			id = "token.mi_unavailable"
		}
		e := localError(id, msg, v, &httpStatusError{service: "identity endpoint", status: status})
		e.retryAfter = retryAfter(ce.Resp.Header.Get("Retry-After"), c.clock.Now())
		return e
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		msg := "the managed identity endpoint cannot be reached"
		if ue != nil {
			msg += ": " + ue.Err.Error()
		}
		msg = excerpt(secrets, msg)
		id := "token.mi_unreachable"
		if ie.source == managedidentity.DefaultToIMDS {
			id = "token.mi_no_endpoint"
		}
		return localError(id, msg, v, causeText(msg))
	}
	msg := excerpt(secrets, "managed identity: "+firstLine(err.Error()))
	return localError("token.mi_other", msg, v, causeText(msg))
}

// identityMessage is the text of an identity endpoint's error body, from
// MSAL's "http call(...) error: reply status code was N:\n<body>": the
// body's error_description, message or error, or the body itself.
func identityMessage(s string) string {
	_, body, ok := strings.Cut(s, "\n")
	if !ok {
		return ""
	}
	var b map[string]any
	if json.Unmarshal([]byte(body), &b) == nil {
		for k, val := range b {
			switch strings.ToLower(k) {
			case "error_description", "message":
				if t, ok := val.(string); ok && t != "" {
					return t
				}
			}
		}
		if t, ok := b["error"].(string); ok {
			return t
		}
	}
	return firstLine(body)
}

// identityUnknown reports whether an identity endpoint's refusal says the
// identity is not there: IMDS's 400 "Identity not found", App Service's
// 400 "Unable to load the proper Managed Identity." (also with several
// user-assigned identities and none named, Azure/azure-sdk-for-net#43691),
// the older "No MSI found for specified ClientId/ResourceId."
// (MicrosoftDocs/azure-docs#43543), IMDS's "Multiple user assigned
// identities exist".
func identityUnknown(status int, msg string) bool {
	if status != http.StatusBadRequest && status != http.StatusNotFound {
		return false
	}
	m := strings.ToLower(msg)
	for _, k := range []string{"identity not found", "unable to load the proper managed identity", "no msi found", "multiple user assigned identities", "no managed identity"} {
		if strings.Contains(m, k) {
			return true
		}
	}
	return false
}

// entraError classifies Entra's error response; a Retry-After it carries
// is honoured by the retry.
func (c *cachedSource) entraError(resp *http.Response, secrets *redact.Set) *Error {
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, httpguard.MaxBody))
	}
	tc := catalog.ClassifyToken(resp.StatusCode, body)
	e := &Error{Kind: Kind(tc.Kind), Op: "token", AADSTS: tc.AADSTS, Message: excerpt(secrets, tc.Message),
		Hint: tc.Hint(c.hints), Err: &httpStatusError{service: "token endpoint", status: resp.StatusCode, code: tc.Error}, retry: retryOf(tc.Retry)}
	e.retryAfter = retryAfter(resp.Header.Get("Retry-After"), c.clock.Now())
	return e
}

// retryAfter parses a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(n, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// maxExcerpt bounds the part of a peer's text that a Message keeps.
const maxExcerpt = 512

// excerpt is s, scrubbed of secrets and cut to maxExcerpt bytes.
func excerpt(secrets *redact.Set, s string) string {
	if len(s) > 16<<10 {
		s = s[:16<<10] // this bounds the work
	}
	s = catalog.Sanitize(secrets.String(s))
	if len(s) > maxExcerpt {
		s = strings.ToValidUTF8(s[:maxExcerpt], "") + "..."
	}
	return s
}

// firstLine is s up to its first line break: MSAL puts the body it could
// not parse ("raw message was: ...") on the lines after its own text.
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// causeText is the Err of a failure whose original error may hold what a
// peer sent: only its scrubbed excerpt is kept.
type causeText string

func (c causeText) Error() string { return string(c) }

func retryOf(r catalog.Retry) retryClass {
	switch r {
	case catalog.Transient:
		return retryTransient
	case catalog.NeedsPerson:
		return retryPerson
	}
	return retryNever
}

// httpStatusError is the cause of an error an HTTP service answered (the
// token endpoint, Graph): who, the status and the service's error code,
// nothing that could hold a secret.
type httpStatusError struct {
	service string // "token endpoint", "Graph"
	status  int
	code    string // the OAuth error or Graph's error code
}

func (e *httpStatusError) Error() string {
	s := fmt.Sprintf("%s answered HTTP %d", e.service, e.status)
	if e.code != "" {
		s += " " + e.code
	}
	return s
}

// assertionError marks an error returned by Config.ClientAssertion.
type assertionError struct{ err error }

func (e *assertionError) Error() string { return "client assertion: " + e.err.Error() }
func (e *assertionError) Unwrap() error { return e.err }

// redactAll replaces every non-empty secret in s.
func redactAll(s string, secrets []string) string {
	for _, x := range secrets {
		if len(x) >= 4 {
			s = strings.ReplaceAll(s, x, "[REDACTED]")
		}
	}
	return s
}

// canceledError is the ErrCanceled for a context that ended.
func canceledError(op string, err error) *Error {
	e := localError("sender.canceled", err.Error(), catalog.Values{}, err)
	e.Op = op
	return e
}

// closedError is the ErrClosed of a Send or Verify after Shutdown or Close.
func closedError() *Error {
	return localError("sender.closed", "the Sender is closed", catalog.Values{}, nil)
}

// sessionError classifies a failed step of an SMTP session. refused lists
// the refused recipients of an "rcpt" failure; from is the message's From,
// for the Hints that name it.
func (t *smtpTransport) sessionError(ctx context.Context, err error, refused []string, from string) *Error {
	var re *smtpclient.ReplyError
	if errors.As(err, &re) {
		return t.replyError(re.Step, re.Reply, refused, from)
	}
	var src *sourceError
	if errors.As(err, &src) {
		// An attachment failed while streaming: the final dot was not
		// sent, so the server has no message.
		return renderError(src)
	}
	step := smtpclient.StepGreeting
	var se *smtpclient.Error
	if errors.As(err, &se) {
		step, err = se.Step, se.Err
	}
	op := smtpOp[step]
	if step == smtpclient.StepDataEnd {
		return t.smtpLocal("smtp.unknown_outcome", op, "the connection ended after the message data was sent, before the server's reply: "+err.Error(), err)
	}
	if cerr := ctxEnded(ctx); cerr != nil {
		return canceledError(op, cerr)
	}
	id, msg := localCause(step, err)
	return t.smtpLocal(id, op, msg, err)
}

// smtpLocal is the *Error of a local SMTP failure: row id, with op as the
// Op unless the row fixes it.
func (t *smtpTransport) smtpLocal(id, op, msg string, err error) *Error {
	v := t.hintValues()
	v.Addr = t.addr()
	e := localError(id, msg, v, err)
	if e.Op == "" {
		e.Op = op
	}
	return e
}

// connectError classifies a failed TCP connect.
func (t *smtpTransport) connectError(ctx context.Context, err error) *Error {
	if cerr := ctxEnded(ctx); cerr != nil {
		return canceledError("connect", cerr)
	}
	return t.smtpLocal("smtp.unreachable", "connect", "the connection failed: "+err.Error(), err)
}

// replyError builds an *Error from an SMTP reply at step. from is the
// message's From address, if known, for the Hints that name it.
func (t *smtpTransport) replyError(step smtpclient.Step, reply smtpclient.Reply, recipients []string, from string) *Error {
	cr := catalog.ClassifyReply(smtpStage[step], reply.Code, reply.Text())
	v := t.hintValuesFrom(from)
	return &Error{Kind: Kind(cr.Kind), Op: smtpOp[step], Code: cr.Code, EnhancedCode: cr.Enhanced, Message: cr.Text,
		Recipients: recipients, Hint: cr.Hint(v), Err: replyCause(cr), retry: retryOf(cr.Retry)}
}

// blockError is the failure a Block shared through the Fleet stands for,
// or nil when b is not one that fails fast (bad data in the Fleet's store).
func blockError(b Block) *Error {
	if !blocks(b.Kind) {
		return nil
	}
	return &Error{Kind: b.Kind, Op: b.Op, Code: b.Code, EnhancedCode: b.EnhancedCode, AADSTS: b.AADSTS,
		Message: catalog.Sanitize(b.Message), Hint: strings.ToValidUTF8(b.Hint, "\uFFFD"), retry: retryPerson}
}
