package catalog

import "strings"

// This file gives the README generator (internal/catalog/gen) the
// catalogue as plain data; the Markdown rendering lives in the generator,
// out of the library's import graph.

// kindInfo describes a Kind of package o365smtp for the README.
type kindInfo struct {
	value, name string
	doc         string // for the Kinds no row produces: where it comes from and what to do
}

// kinds are the Kinds of API.md, in its order. The list is complete: every
// row's kind is one of these.
var kinds = []kindInfo{
	{"config", "ErrConfig", "New refused the Config: a missing field, a malformed ID, a Secret ID pasted instead of the secret's Value, or a weak TLSConfig. The message names the field; nothing is retried."},
	{"invalid_message", "ErrInvalidMessage", "The message cannot be sent as it is: nil, no recipients, more than 500 recipients, larger than the server's SIZE, or no usable sender. Fix the message; nothing is retried."},
	{"canceled", "ErrCanceled", "The caller's context ended before the message was sent; Err wraps ctx.Err()."},
	{"closed", "ErrClosed", "Send or Verify after Shutdown or Close."},
	{"invalid_client_secret", "ErrInvalidClientSecret", ""},
	{"client_secret_expired", "ErrClientSecretExpired", ""},
	{"invalid_certificate", "ErrInvalidCertificate", ""},
	{"app_not_found", "ErrAppNotFound", ""},
	{"tenant_not_found", "ErrTenantNotFound", ""},
	{"token_request", "ErrTokenRequest", "Also: the token endpoint cannot be reached (retried), or a ClientAssertion or TokenSource failed."},
	{"auth_failed", "ErrAuthFailed", ""},
	{"smtp_auth_disabled", "ErrSMTPAuthDisabled", ""},
	{"send_as_denied", "ErrSendAsDenied", ""},
	{"throttled", "ErrThrottled", ""},
	{"sender_suspended", "ErrSenderSuspended", ""},
	{"quota_exceeded", "ErrQuotaExceeded", ""},
	{"mailbox_full", "ErrMailboxFull", ""},
	{"sender_blocked", "ErrSenderBlocked", ""},
	{"recipient_rejected", "ErrRecipientRejected", "Error.Recipients lists the refused recipients."},
	{"message_rejected", "ErrMessageRejected", ""},
	{"tls", "ErrTLS", "Also: no STARTTLS offered, a failed handshake or certificate verification (check that Host is the cloud's SMTP AUTH host and that no proxy intercepts TLS)."},
	{"connection", "ErrConnection", "Also: the connection could not be made, broke, or timed out (retried; check that port 587 to Host is open)."},
	{"unknown_outcome", "ErrUnknownOutcome", "The connection or the deadline ended after the message data was sent and before the server's reply: the message may have been delivered. It is never retried automatically; check the mailbox's Sent Items before sending again."},
	{"unexpected_reply", "ErrUnexpectedReply", ""},
}

// isKind reports whether k is a Kind value of API.md.
func isKind(k string) bool {
	for _, ki := range kinds {
		if ki.value == k {
			return true
		}
	}
	return false
}

// KindDoc describes a Kind of package o365smtp for the README.
type KindDoc struct {
	Value string // the Kind's value, e.g. "auth_failed"
	Name  string // the Kind's Go name, e.g. "ErrAuthFailed"
	Doc   string // for the Kinds no row produces: where it comes from and what to do; may be ""
}

// Kinds returns the Kinds of API.md, in its order: every row's Kind is one
// of them.
func Kinds() []KindDoc {
	out := make([]KindDoc, len(kinds))
	for i, k := range kinds {
		out[i] = KindDoc{Value: k.value, Name: k.name, Doc: k.doc}
	}
	return out
}

// ReplyDoc is one SMTP reply row of the catalogue, for the README.
type ReplyDoc struct {
	Kind     string   // the o365smtp Kind value the row classifies as
	Retry    Retry    // the row's retry class
	Stages   string   // space-separated stages where the row applies; "" for any
	Code     string   // "535", "4xx" or "5xx"; "" for any code of the enhanced code's class
	Enhanced string   // "5.7.3", "5.7.501-503", "5.1.*", or "" for any
	Text     []string // the row matches a reply containing any of these; nil for any text
	Doc      string   // the cause in one sentence
	Example  string   // a reply as Exchange sends it; "" for a fallback row
	Hint     string   // the Hint with stand-ins such as <mailbox> for the Sender's values
}

// ReplyDocs returns the SMTP reply rows, in the catalogue's order.
func ReplyDocs() []ReplyDoc {
	out := make([]ReplyDoc, len(replyRows))
	for i, r := range replyRows {
		d := ReplyDoc{Kind: r.kind, Retry: r.retry, Stages: r.stages, Code: r.code, Enhanced: r.enhanced,
			Text: append([]string(nil), r.text...), Doc: r.doc, Hint: docHint(r.hint)}
		if !r.fallback {
			d.Example = r.examples[0]
		}
		out[i] = d
	}
	return out
}

// TokenDoc is one Entra token error row of the catalogue, for the README.
type TokenDoc struct {
	Kind    string // the o365smtp Kind value the row classifies as
	Retry   Retry  // the row's retry class
	Codes   []int  // the AADSTS codes; nil for a row that matches Error or Status
	Error   string // the OAuth error
	Status  string // "5xx" or "429" for a row that matches an HTTP status
	Doc     string // the cause in one sentence
	Example string // an error_description as Entra sends it; may be ""
	Hint    string // the Hint with stand-ins such as <mailbox> for the Sender's values
}

// TokenDocs returns the token error rows, in the catalogue's order.
func TokenDocs() []TokenDoc {
	out := make([]TokenDoc, len(tokenRows))
	for i, r := range tokenRows {
		out[i] = TokenDoc{Kind: r.kind, Retry: r.retry, Codes: append([]int(nil), r.codes...), Error: r.error,
			Status: r.status, Doc: r.doc, Example: r.example, Hint: docHint(r.hint)}
	}
	return out
}

// docHint fills a Hint template with the stand-ins fill shows for unknown
// values, and the configured endpoints with stand-ins too, where fill would
// show the global cloud's defaults.
func docHint(h string) string { return fill(docValues.Replace(h), Values{}) }

var docValues = strings.NewReplacer("{Host}", "<Host>", "{Authority}", "<AuthorityHost>", "{Scope}", "<Scope>",
	"{Addr}", "<Host>:<Port>", "{Subject}", "<the setting>", "{Choices}", "<its values>")

// LocalDoc is one local failure row of the catalogue, for the README.
type LocalDoc struct {
	ID    string // the row's id, e.g. "config.tenant_empty"
	Kind  string // the o365smtp Kind value
	Retry Retry  // the row's retry class
	Doc   string // the cause in one sentence
	Hint  string // the Hint with stand-ins for the Sender's values
}

// LocalDocs returns the local failure rows, in the catalogue's order.
func LocalDocs() []LocalDoc {
	out := make([]LocalDoc, len(localRows))
	for i, r := range localRows {
		out[i] = LocalDoc{ID: r.id, Kind: r.kind, Retry: r.retry, Doc: r.doc, Hint: docHint(r.hint)}
	}
	return out
}
