package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

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

// The lines between which the README holds the generated section.
const (
	BeginMarker = "<!-- BEGIN GENERATED ERRORS -->"
	EndMarker   = "<!-- END GENERATED ERRORS -->"
)

// ErrNoMarkers is returned by UpdateREADME when the README lacks the
// marker lines.
var ErrNoMarkers = errors.New("catalog: README lacks the lines " + BeginMarker + " and " + EndMarker)

// UpdateREADME returns readme with the text between the marker lines
// replaced by Markdown().
func UpdateREADME(readme []byte) ([]byte, error) {
	before, _, after, err := splitREADME(readme)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(Markdown())
	b.Write(after)
	return b.Bytes(), nil
}

// GeneratedSection returns the text between the marker lines of readme.
func GeneratedSection(readme []byte) (string, error) {
	_, mid, _, err := splitREADME(readme)
	return string(mid), err
}

// splitREADME splits readme into the text up to and including the begin
// marker line, the generated text, and the text from the end marker line.
func splitREADME(readme []byte) (before, mid, after []byte, err error) {
	i := lineIndex(readme, BeginMarker, 0)
	if i < 0 {
		return nil, nil, nil, ErrNoMarkers
	}
	start := i + len(BeginMarker)
	if start < len(readme) && readme[start] == '\r' {
		start++
	}
	if start < len(readme) && readme[start] == '\n' {
		start++
	}
	j := lineIndex(readme, EndMarker, start)
	if j < 0 {
		return nil, nil, nil, ErrNoMarkers
	}
	return readme[:start], readme[start:j], readme[j:], nil
}

// lineIndex returns the index of the first line at or after from that is
// marker (trailing spaces allowed), or -1.
func lineIndex(b []byte, marker string, from int) int {
	for off := from; off <= len(b); {
		k := bytes.Index(b[off:], []byte(marker))
		if k < 0 {
			return -1
		}
		k += off
		end := k + len(marker)
		for end < len(b) && (b[end] == ' ' || b[end] == '\t') {
			end++
		}
		atStart := k == 0 || b[k-1] == '\n'
		atEnd := end == len(b) || b[end] == '\n' || b[end] == '\r'
		if atStart && atEnd {
			return k
		}
		off = k + 1
	}
	return -1
}

// Markdown renders the catalogue as the README's "Errors and what to do"
// section (without the marker lines): one table per Kind.
func Markdown() string {
	var b strings.Builder
	b.WriteString("<!-- Generated from internal/catalog by `go generate ./internal/catalog`. Do not edit. -->\n\n")
	b.WriteString("The tables below list every reply and token error the library classifies, by Kind. ")
	b.WriteString("In \"What to do\", angle brackets stand for your own values, which `Error.Hint` fills in. ")
	b.WriteString("\"Retried\" says whether Send retries the failure by itself; \"no, needs a person\" marks failures ")
	b.WriteString("that are temporary but will not clear until someone acts. ")
	b.WriteString("A reply matches on its code, enhanced code and text together (ignoring case, quotes and bracketed parts); ")
	b.WriteString("the most specific row wins.\n")
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n### `%s` (%s)\n", k.value, k.name)
		if k.doc != "" {
			b.WriteString("\n" + k.doc + "\n")
		}
		var rows []string
		for _, r := range tokenRows {
			if r.kind == k.value {
				rows = append(rows, tokenRowMarkdown(r))
			}
		}
		for _, r := range replyRows {
			if r.kind == k.value {
				rows = append(rows, replyRowMarkdown(r))
			}
		}
		if len(rows) == 0 {
			continue
		}
		b.WriteString("\n| Reply or Entra error | Meaning | Retried | What to do |\n|---|---|---|---|\n")
		for _, r := range rows {
			b.WriteString(r)
		}
	}
	return b.String()
}

func replyRowMarkdown(r replyRow) string {
	var when strings.Builder
	code, enh := r.code, r.enhanced
	switch {
	case code == "" && enh == "":
		code = "other"
	case code == "":
		code = enh[:1] + "xx"
	}
	when.WriteString("`" + code)
	if enh != "" {
		when.WriteString(" " + enh)
	}
	when.WriteString("`")
	if len(r.text) > 0 {
		q := make([]string, len(r.text))
		for i, t := range r.text {
			q[i] = "\"" + cell(t) + "\""
		}
		when.WriteString(" containing " + strings.Join(q, " or "))
	}
	if r.stages != "" {
		when.WriteString(" at " + strings.ToUpper(strings.ReplaceAll(r.stages, " ", ", ")))
	}
	meaning := cell(r.doc)
	if !r.fallback {
		meaning += "<br>e.g. " + codeSpan(r.examples[0])
	}
	return "| " + when.String() + " | " + meaning + " | " + retried(r.retry) + " | " + hintMarkdown(r.hint) + " |\n"
}

func tokenRowMarkdown(r tokenRow) string {
	var when string
	switch {
	case len(r.codes) > 0:
		cs := make([]string, len(r.codes))
		for i, c := range r.codes {
			cs[i] = fmt.Sprintf("AADSTS%d", c)
		}
		when = strings.Join(cs, ", ")
		if r.error != "" {
			when += " (`" + r.error + "`)"
		}
	case r.error != "":
		when = "`" + r.error + "` (other codes)"
	case r.status != "":
		when = "HTTP " + r.status
	default:
		when = "any other token error"
	}
	meaning := cell(r.doc)
	if r.example != "" {
		meaning += "<br>e.g. " + codeSpan(r.example)
	}
	return "| " + when + " | " + meaning + " | " + retried(r.retry) + " | " + hintMarkdown(r.hint) + " |\n"
}

func retried(r Retry) string {
	switch r {
	case Transient:
		return "yes, with backoff"
	case NeedsPerson:
		return "no, needs a person"
	}
	return "no"
}

// hintMarkdown renders a Hint template for a table cell: placeholders shown
// as fill shows unknown values, commands (lines indented by two spaces) as
// code, lines joined with <br>.
func hintMarkdown(h string) string {
	lines := strings.Split(fill(docValues.Replace(h), Values{}), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  ") {
			lines[i] = codeSpan(strings.TrimSpace(l))
		} else {
			lines[i] = cell(l)
		}
	}
	return strings.Join(lines, "<br>")
}

// docValues shows the configured endpoints as stand-ins in the README,
// where fill would show the global cloud's defaults.
var docValues = strings.NewReplacer("{Host}", "<Host>", "{Authority}", "<AuthorityHost>", "{Scope}", "<Scope>")

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return cellEscaper.Replace(s)
}

// cellEscaper escapes what Markdown would take for markup in a cell: HTML
// tags (the <mailbox> stand-ins), pipes, backquotes and asterisks. " > "
// (menu paths) and "&" stay readable.
var cellEscaper = strings.NewReplacer(" > ", " > ", "<", "&lt;", ">", "&gt;", "|", `\|`, "`", "&#96;", "*", `\*`)

// codeSpan renders s as inline code in a table cell.
func codeSpan(s string) string {
	s = strings.ReplaceAll(s, "`", "'")
	s = strings.ReplaceAll(s, "|", `\|`)
	return "`" + s + "`"
}
