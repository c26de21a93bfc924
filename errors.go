package o365smtp

import (
	"strconv"
	"strings"
	"time"
)

// Kind is a class of failure. Each Kind is itself an error, so
// errors.Is(err, o365smtp.ErrSendAsDenied) reports whether err is an *Error of
// that Kind. The string value is stable; JSON output uses it.
type Kind string

// Error returns "o365smtp: " followed by the Kind's value.
func (k Kind) Error() string { return "o365smtp: " + string(k) }

// The Kinds. See the README's "Errors and what to do" for the replies and
// token errors behind each.
const (
	// ErrConfig: the Config is invalid (a missing field, a malformed ID, a
	// Secret ID pasted instead of the secret's Value, a weak TLSConfig).
	ErrConfig Kind = "config"
	// ErrInvalidMessage: a nil message, no recipients, more than 500
	// recipients, larger than the server's SIZE, or no usable sender.
	ErrInvalidMessage Kind = "invalid_message"
	// ErrCanceled: the caller's context ended before the message was sent.
	// Err wraps ctx.Err().
	ErrCanceled Kind = "canceled"
	// ErrClosed: Send or Verify after Shutdown or Close.
	ErrClosed Kind = "closed"
	// ErrInvalidClientSecret: Entra rejected the client secret
	// (AADSTS7000215), usually because the Secret ID was used instead of
	// the Value.
	ErrInvalidClientSecret Kind = "invalid_client_secret"
	// ErrClientSecretExpired: the client secret has expired (AADSTS7000222).
	ErrClientSecretExpired Kind = "client_secret_expired"
	// ErrInvalidCertificate: Entra rejected the certificate or client
	// assertion (AADSTS700027, 700024, 50012).
	ErrInvalidCertificate Kind = "invalid_certificate"
	// ErrAppNotFound: no application with ClientID in the tenant
	// (AADSTS700016, 700011).
	ErrAppNotFound Kind = "app_not_found"
	// ErrTenantNotFound: the tenant does not exist in this cloud
	// (AADSTS90002, 900023, 900021).
	ErrTenantNotFound Kind = "tenant_not_found"
	// ErrTokenRequest: any other failure to get a token; Retryable for
	// transient ones (HTTP 5xx, AADSTS90033, 50196, 90055, network errors).
	ErrTokenRequest Kind = "token_request"
	// ErrAuthFailed: Exchange rejected the token (535 5.7.3) or the session
	// is not authenticated (530 5.7.57).
	ErrAuthFailed Kind = "auth_failed"
	// ErrSMTPAuthDisabled: SMTP AUTH is disabled for the tenant or the
	// mailbox (535 5.7.139).
	ErrSMTPAuthDisabled Kind = "smtp_auth_disabled"
	// ErrSendAsDenied: the app may not send as this address (550 5.7.60,
	// 554 5.2.252 SendAsDenied, 554 5.2.0 ...SendAsDenied...).
	ErrSendAsDenied Kind = "send_as_denied"
	// ErrThrottled: too many concurrent connections (432 4.3.2) or
	// temporary restriction (451 4.7.500-699): retry in seconds.
	ErrThrottled Kind = "throttled"
	// ErrSenderSuspended: continuous-error throttling (550 5.2.251-255):
	// fix the root cause; do not retry soon.
	ErrSenderSuspended Kind = "sender_suspended"
	// ErrQuotaExceeded: the mailbox's recipient or submission quota is
	// used up (554 5.2.0 SubmissionQuotaExceededException, 5.1.90, 5.2.2).
	ErrQuotaExceeded Kind = "quota_exceeded"
	// ErrMailboxFull: the sending mailbox itself is full (554 5.2.2).
	ErrMailboxFull Kind = "mailbox_full"
	// ErrSenderBlocked: the mailbox or tenant is blocked from sending
	// (550 5.1.8, 5.7.501-503, 5.7.705, 5.7.708, 5.7.750).
	ErrSenderBlocked Kind = "sender_blocked"
	// ErrRecipientRejected: one or more recipients were refused (5.1.x,
	// 5.4.1, 452 4.5.3). Recipients lists them.
	ErrRecipientRejected Kind = "recipient_rejected"
	// ErrMessageRejected: the message itself was refused (552 5.3.4, 5.2.3,
	// 5.6.x).
	ErrMessageRejected Kind = "message_rejected"
	// ErrTLS: no STARTTLS offered, a failed handshake or certificate
	// verification, TLS below 1.2, or 421 4.7.66.
	ErrTLS Kind = "tls"
	// ErrConnection: the connection could not be made or broke, a timeout,
	// or 421 service not available.
	ErrConnection Kind = "connection"
	// ErrUnknownOutcome: the connection or deadline ended after the message
	// data was sent and before the server's reply: the message may have
	// been delivered. It is never retried automatically.
	ErrUnknownOutcome Kind = "unknown_outcome"
	// ErrUnexpectedReply: an SMTP reply that is not classified above.
	ErrUnexpectedReply Kind = "unexpected_reply"
)

// retryClass is how a failure may be retried.
type retryClass uint8

const (
	retryDefault   retryClass = iota // decided by Kind
	retryNever                       // permanent: needs a change
	retryTransient                   // worth retrying unchanged soon
	retryPerson                      // temporary, but needs a person first
)

// Error is the type of every error returned by New, Send, Verify, Shutdown
// and NewTokenSource. Use errors.Is with a Kind to branch, and errors.As to
// read the fields.
type Error struct {
	// Kind is the class of failure; never empty.
	Kind Kind
	// Op is the step that failed: "config", "message", "token", "connect",
	// "tls", "auth", "mail", "rcpt", "data", "graph" (a Microsoft Graph
	// request) or "shutdown".
	Op string
	// Code is the SMTP reply code, or for Op "graph" the HTTP status, or 0.
	Code int
	// EnhancedCode is the RFC 3463 enhanced status code, such as "5.7.60",
	// or "".
	EnhancedCode string
	// Message is the server's text, with Exchange's [host time session]
	// suffix and Entra's trace and correlation IDs kept (Microsoft support
	// asks for them), or a description of a local failure. Never a secret.
	Message string
	// AADSTS is the Entra error code of a token failure, such as 7000215,
	// or 0.
	AADSTS int
	// Recipients lists the refused recipients when Op is "rcpt".
	Recipients []string
	// Hint says what to change to fix it, concretely. It may span lines.
	Hint string
	// Err is the underlying cause, or nil.
	Err error

	retry      retryClass
	retryAfter time.Duration // the server's Retry-After, if any
}

// Error returns "o365smtp: <op>: <code> <enhanced> <text>", leaving out the
// parts that are empty. It never includes the Hint.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("o365smtp: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	n := b.Len()
	sep := func() {
		if b.Len() > n {
			b.WriteByte(' ')
		}
	}
	if e.Code != 0 {
		b.WriteString(strconv.Itoa(e.Code))
	}
	if e.EnhancedCode != "" {
		sep()
		b.WriteString(e.EnhancedCode)
	}
	text := e.Message
	if i := strings.IndexAny(text, "\r\n"); i >= 0 {
		text = text[:i] // Entra's trace and correlation IDs stay in Message
	}
	if text == "" && b.Len() == n {
		text = string(e.Kind)
	}
	if text != "" {
		sep()
		b.WriteString(text)
	}
	return b.String()
}

// text is Error without the "o365smtp: <op>: " prefix.
func (e *Error) text() string {
	s := strings.TrimPrefix(e.Error(), "o365smtp: ")
	if e.Op != "" {
		s = strings.TrimPrefix(s, e.Op+": ")
	}
	return s
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Kind, so errors.Is(err, ErrAuthFailed)
// works through any wrapping.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// Retryable reports whether the failure is worth retrying unchanged soon. It
// is false for ErrUnknownOutcome (the message may have been delivered) and
// for failures that need a person, even when the server used a 4xx code.
func (e *Error) Retryable() bool {
	switch e.retry {
	case retryTransient:
		return true
	case retryNever, retryPerson:
		return false
	}
	switch e.Kind {
	case ErrThrottled, ErrConnection:
		return true
	}
	return false
}
