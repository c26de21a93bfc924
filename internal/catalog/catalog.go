// Package catalog classifies Exchange Online SMTP replies and Microsoft Entra
// token errors into the Kinds of package o365smtp, with a retry class and a
// Hint template. It is the single source of truth for the README's "Errors
// and what to do" section: the tables are replyRows (replies.go) and
// tokenRows (tokens.go); Kinds, ReplyDocs and TokenDocs (doc.go) hand them
// as plain data to the generator in ./gen, which renders the Markdown, so
// that the rendering is not compiled into the library's users.
package catalog

//go:generate go run ./gen -readme ../../docs/errors.md

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Retry is the retry class of a row: exchange-online.md's P, T and T*.
type Retry uint8

const (
	Permanent   Retry = iota // P: needs a change; never retried
	Transient                // T: retry with backoff
	NeedsPerson              // T*: temporary (usually 4xx), but needs a person first; not retried
)

// String returns "permanent", "transient" or "needs_person".
func (r Retry) String() string {
	switch r {
	case Permanent:
		return "permanent"
	case Transient:
		return "transient"
	case NeedsPerson:
		return "needs_person"
	}
	return "unknown"
}

// Values are the Sender's own values, filled into Hints. They never hold a
// secret or a token, and Hints have no placeholder for one.
type Values struct {
	ClientID  string
	TenantID  string
	Mailbox   string
	ObjectID  string // the token's oid: the Enterprise application's object ID; "" if unknown
	From      string // the address the message was sent as, if known
	Host      string
	Authority string
	Scope     string
	Addr      string // the SMTP endpoint, host:port
	Subject   string // the field, variable or file a local failure is about
	Choices   string // the values Subject may take
}

// The stages ClassifyReply knows.
const (
	StageConnect  = "connect"
	StageEHLO     = "ehlo"
	StageStartTLS = "starttls"
	StageAuth     = "auth"
	StageMail     = "mail"
	StageRcpt     = "rcpt"
	StageData     = "data"
	StageDataEnd  = "data_end"
)

// Reply is the classification of one SMTP reply.
type Reply struct {
	Kind     string // an o365smtp Kind value, e.g. "auth_failed"
	Code     int
	Enhanced string // "5.7.3", or ""
	Text     string // the reply text after the enhanced code: safe UTF-8, bounded length, suffixes kept
	Retry    Retry
	hint     string // template
}

// Hint returns the row's Hint with v filled in.
func (r Reply) Hint(v Values) string { return fill(r.hint, v) }

// Token is the classification of a failed token request.
type Token struct {
	Kind    string
	AADSTS  int
	Error   string // the OAuth error, e.g. "invalid_client"
	Message string // error_description, trace and correlation IDs kept; or a short description
	Retry   Retry
	hint    string
}

// Hint returns the row's Hint with v filled in.
func (t Token) Hint(v Values) string { return fill(t.hint, v) }

// maxText bounds the text kept from a reply or a token error, in bytes
// (before the "..." that marks a cut).
const maxText = 1024

var enhancedRE = regexp.MustCompile(`^([245])\.(\d{1,3})\.(\d{1,3})\b`)

// ClassifyReply classifies an SMTP reply. stage is where it came: "connect",
// "ehlo", "starttls", "auth", "mail", "rcpt", "data" or "data_end". msg is
// the reply text as net/textproto returns it: enhanced code first, the lines
// of a multi-line reply joined with "\n".
//
// The most specific matching row wins (see replyRow). Text keeps everything
// the server said, including Exchange's bracketed [host time session]
// suffix, which Microsoft support asks for; matching ignores bracketed
// parts, quotes and case.
func ClassifyReply(stage string, code int, msg string) Reply {
	enh, text := splitReply(msg)
	r := Reply{Code: code, Enhanced: enh, Text: text}
	row := &replyRows[matchReply(stage, code, enh, matchKey(text))]
	r.Kind, r.Retry, r.hint = row.kind, row.retry, row.hint
	return r
}

// splitReply returns the enhanced status code of msg, if any, and the rest
// of its text, made safe with Sanitize. The continuation lines of a
// multi-line reply lose their repeated enhanced code and are joined with
// spaces; double quotes wrapped around the text are dropped.
func splitReply(msg string) (enh, text string) {
	if len(msg) > 16*maxText {
		msg = msg[:16*maxText] // Sanitize keeps less; this bounds the work
	}
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	msg = unquote(msg)
	lines := strings.Split(strings.ReplaceAll(msg, "\r\n", "\n"), "\n")
	first := unquote(lines[0])
	if m := enhancedRE.FindString(first); m != "" {
		enh = m
		first = first[len(m):]
	}
	var b strings.Builder
	b.WriteString(unquote(first))
	for _, l := range lines[1:] {
		if b.Len() > 2*maxText {
			break // Sanitize cuts it anyway
		}
		l = unquote(l)
		if rest, ok := strings.CutPrefix(l, enh); ok && enh != "" && (rest == "" || rest[0] == ' ') {
			l = unquote(rest)
		}
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(l)
	}
	return enh, Sanitize(unquote(b.String()))
}

// unquote trims spaces and the double quotes some relays and log formats
// wrap around a reply: a pair around the whole text, or a stray one at
// either end.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	for len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	if strings.Count(s, `"`)%2 == 1 {
		if strings.HasPrefix(s, `"`) {
			s = strings.TrimSpace(s[1:])
		} else if strings.HasSuffix(s, `"`) {
			s = strings.TrimSpace(s[:len(s)-1])
		}
	}
	return s
}

var bracketRE = regexp.MustCompile(`\[[^\[\]]*\]`)

// matchKey is the form of a text that rows match against: lower case,
// without bracketed parts (Exchange's [host time session] and [Hostname=...]
// suffixes), without quotes and apostrophes, whitespace runs folded to one
// space.
func matchKey(s string) string {
	s = bracketRE.ReplaceAllLiteralString(strings.ToLower(s), " ")
	var b strings.Builder
	b.Grow(len(s))
	space := true
	for _, c := range s {
		switch c {
		case '"', '\'', '`', '\u2018', '\u2019', '\u201c', '\u201d':
			continue
		}
		if unicode.IsSpace(c) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		b.WriteRune(c)
		space = false
	}
	return strings.TrimSpace(b.String())
}

// Sanitize makes server text safe to keep and print: valid UTF-8, control,
// bidirectional and other invisible format characters replaced by U+FFFD,
// whitespace runs (line breaks and Unicode spaces included) folded to one
// space, at most maxText bytes (a cut text ends in "...").
func Sanitize(s string) string {
	if len(s) > 16*maxText {
		s = s[:16*maxText] // at most maxText is kept; this bounds the work
	}
	var b strings.Builder
	b.Grow(min(len(s), maxText+8))
	space := true // drop leading spaces
	for _, c := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case unicode.IsSpace(c):
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		case unsafeRune(c):
			c = '\uFFFD'
		}
		if b.Len()+utf8.RuneLen(c) > maxText {
			return strings.TrimRight(b.String(), " ") + "..."
		}
		b.WriteRune(c)
		space = false
	}
	return strings.TrimRight(b.String(), " ")
}

// unsafeRune reports whether c could garble a terminal or a log line:
// controls, bidirectional overrides and invisible format characters.
func unsafeRune(c rune) bool {
	switch {
	case c < 0x20, c == 0x7f, c >= 0x80 && c <= 0x9f:
		return true
	case c >= 0x200b && c <= 0x200f, c >= 0x202a && c <= 0x202e, c >= 0x2060 && c <= 0x206f,
		c == 0xfeff, c >= 0xfff9 && c <= 0xfffb:
		return true
	}
	return false
}

// placeholders are the names a Hint template may use, in braces.
var placeholders = []string{"ClientID", "TenantID", "Mailbox", "ObjectID", "From", "Host", "Authority", "Scope", "Addr", "Subject", "Choices"}

// fill replaces {Field} placeholders with v's values, or readable stand-ins
// for the values that are unknown.
func fill(t string, v Values) string {
	def := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	return strings.NewReplacer(
		"{ClientID}", def(v.ClientID, "<Application (client) ID>"),
		"{TenantID}", def(v.TenantID, "<Directory (tenant) ID>"),
		"{Mailbox}", def(v.Mailbox, "<mailbox>"),
		"{ObjectID}", def(v.ObjectID, "<Enterprise application object ID>"),
		"{From}", def(v.From, def(v.Mailbox, "<From address>")),
		"{Host}", def(v.Host, "smtp.office365.com"),
		"{Authority}", def(v.Authority, "https://login.microsoftonline.com"),
		"{Scope}", def(v.Scope, "https://outlook.office365.com/.default"),
		"{Addr}", def(v.Addr, "smtp.office365.com:587"),
		"{Subject}", def(v.Subject, "the setting"),
		"{Choices}", def(v.Choices, "the documented values"),
	).Replace(t)
}
