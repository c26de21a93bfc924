// Package catalog classifies Exchange Online SMTP replies and Microsoft Entra
// token errors into the Kinds of package o365smtp, with a retry class and a
// Hint template. It is the single source of truth for the README's "Errors
// and what to do" section.
package catalog

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Retry is the retry class of a row: exchange-online.md's P, T and T*.
type Retry uint8

const (
	Permanent   Retry = iota // P: needs a change; never retried
	Transient                // T: retry with backoff
	NeedsPerson              // T*: a 4xx that needs a person first; not retried
)

// Values are the Sender's own values, filled into Hints.
type Values struct {
	ClientID  string
	TenantID  string
	Mailbox   string
	ObjectID  string // the token's oid: the Enterprise application's object ID; "" if unknown
	From      string // the address the message was sent as, if known
	Host      string
	Authority string
	Scope     string
}

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

// maxText bounds the text kept from a reply.
const maxText = 1024

var enhancedRE = regexp.MustCompile(`^([245])\.(\d{1,3})\.(\d{1,3})\b`)

// ClassifyReply classifies an SMTP reply. stage is where it came: "connect",
// "ehlo", "starttls", "auth", "mail", "rcpt", "data" or "data_end". msg is
// the reply text as net/textproto returns it (enhanced code first).
func ClassifyReply(stage string, code int, msg string) Reply {
	text := Sanitize(msg)
	var enh string
	if m := enhancedRE.FindString(text); m != "" {
		enh = m
		text = strings.TrimSpace(text[len(m):])
	}
	r := Reply{Code: code, Enhanced: enh, Text: text}
	row := lookupReply(stage, code, enh, text)
	r.Kind, r.Retry, r.hint = row.kind, row.retry, row.hint
	return r
}

// Sanitize makes server text safe to keep: valid UTF-8, no control
// characters other than line breaks folded to spaces, at most maxText bytes.
func Sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '\r' || c == '\n' || c == '\t':
			b.WriteByte(' ')
		case c < 0x20 || c == 0x7f:
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(c)
		}
		if b.Len() >= maxText {
			break
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > maxText {
		out = out[:maxText]
		for !utf8.ValidString(out) {
			out = out[:len(out)-1]
		}
		out += "..."
	}
	return out
}

type row struct {
	kind  string
	retry Retry
	hint  string
}

// lookupReply is the minimal foundation table; the errors issue completes it.
func lookupReply(stage string, code int, enh, text string) row {
	lt := strings.ToLower(text)
	switch {
	case code == 535 && enh == "5.7.3":
		return row{"auth_failed", Permanent, hintAuthFailed}
	case code == 535 && enh == "5.7.139" && strings.Contains(lt, "disabled for the tenant"):
		return row{"smtp_auth_disabled", Permanent, "SMTP AUTH is disabled for the tenant. Enable it for this mailbox only:\n  Set-CASMailbox -Identity {Mailbox} -SmtpClientAuthenticationDisabled $false\nor for the whole tenant: Set-TransportConfig -SmtpClientAuthenticationDisabled $false. Changes can take 15-30 minutes to apply."}
	case code == 535 && enh == "5.7.139" && strings.Contains(lt, "disabled for the mailbox"):
		return row{"smtp_auth_disabled", Permanent, "SMTP AUTH is disabled for the mailbox {Mailbox}. Enable it:\n  Set-CASMailbox -Identity {Mailbox} -SmtpClientAuthenticationDisabled $false\nChanges can take 15-30 minutes to apply."}
	case code == 530 && enh == "5.7.57":
		return row{"auth_failed", Permanent, "The session is not authenticated: check that AUTH XOAUTH2 succeeded before MAIL FROM."}
	case enh == "5.7.60":
		return row{"send_as_denied", Permanent, hintSendAs}
	case code == 554 && (enh == "5.2.252" || enh == "5.2.0") && strings.Contains(lt, "sendasdenied"):
		return row{"send_as_denied", Permanent, hintSendAs}
	case code == 550 && strings.HasPrefix(enh, "5.2.25"):
		return row{"sender_suspended", NeedsPerson, "Exchange is throttling {Mailbox} after continuous errors. Fix the error that repeated, then wait before sending again."}
	case enh == "4.3.2":
		return row{"throttled", Transient, "Exchange Online allows 3 concurrent SMTP AUTH connections per mailbox, counted across every process that sends as {Mailbox}. Lower MaxConnections or share a limit between processes."}
	case enh == "4.7.66":
		return row{"tls", Permanent, "Exchange Online requires TLS 1.2 or newer."}
	case code == 421:
		return row{"connection", Transient, "The server closed the session; it is retried on a new connection."}
	case code >= 400 && code < 500:
		return row{"unexpected_reply", Transient, "An unclassified temporary reply; it is retried."}
	}
	return row{"unexpected_reply", Permanent, "An unclassified reply from the server. Keep the text in brackets: Microsoft support asks for it."}
}

const hintAuthFailed = `Exchange Online rejected the token for {Mailbox}. The causes, most likely first:
  1. The app's service principal is not registered in Exchange Online. Run in Exchange Online PowerShell:
       New-ServicePrincipal -AppId {ClientID} -ObjectId {ObjectID}
     The object ID is the Enterprise application's (service principal's), not the App registration's.
  2. The service principal has no permission on the mailbox:
       Add-MailboxPermission -Identity {Mailbox} -User {ObjectID} -AccessRights FullAccess
  3. The app lacks the SMTP.SendAsApp application permission of Office 365 Exchange Online, or admin consent was not granted.
Changes can take 15-30 minutes to apply.`

const hintSendAs = `The app may not send as {From}. Send as {Mailbox}, or grant Send As:
  Add-RecipientPermission -Identity {From} -Trustee {ObjectID} -AccessRights SendAs
(or Add-MailboxPermission -Identity {From} -User {ObjectID} -AccessRights FullAccess). Changes can take 15-30 minutes to apply.`

// fill replaces {Field} placeholders with v's values.
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
	).Replace(t)
}

// tokenBody is Entra's error JSON.
type tokenBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

var aadstsRE = regexp.MustCompile(`AADSTS(\d+)`)

// ClassifyToken classifies a failed token request from its HTTP status and
// body.
func ClassifyToken(status int, body []byte) Token {
	var tb tokenBody
	_ = json.Unmarshal(body, &tb)
	t := Token{Error: tb.Error, Message: Sanitize(tb.ErrorDescription)}
	if tb.ErrorDescription != "" {
		t.Message = strings.ToValidUTF8(tb.ErrorDescription, "\uFFFD")
	}
	if len(tb.ErrorCodes) > 0 {
		t.AADSTS = tb.ErrorCodes[0]
	} else if m := aadstsRE.FindStringSubmatch(tb.ErrorDescription); m != nil {
		t.AADSTS, _ = strconv.Atoi(m[1])
	}
	if t.Message == "" {
		t.Message = "token endpoint answered HTTP " + strconv.Itoa(status)
	}
	switch t.AADSTS {
	case 7000215:
		t.Kind, t.Retry, t.hint = "invalid_client_secret", Permanent, "Entra rejected the client secret of app {ClientID}. The Secret ID was probably used instead of the Value: in Certificates & secrets, create a new client secret and copy its Value (shown only once)."
	case 7000222:
		t.Kind, t.Retry, t.hint = "client_secret_expired", Permanent, "The client secret of app {ClientID} has expired. Create a new one in the Entra admin center > App registrations > your app > Certificates & secrets, and update the configuration (or use a certificate credential)."
	case 700027, 700024, 50012:
		t.Kind, t.Retry, t.hint = "invalid_certificate", Permanent, "Entra rejected the certificate or client assertion of app {ClientID}. Upload the certificate's public part to the app registration, check the system clock, and wait a few minutes after uploading."
	case 700016, 700011:
		t.Kind, t.Retry, t.hint = "app_not_found", Permanent, "No application {ClientID} in tenant {TenantID}. Check ClientID (the Application (client) ID), TenantID and the cloud ({Authority})."
	case 90002, 900023, 900021:
		t.Kind, t.Retry, t.hint = "tenant_not_found", Permanent, "Tenant {TenantID} was not found at {Authority}. Check TenantID (the Directory (tenant) ID) and the cloud."
	case 50196, 90055, 90033, 50000, 90006, 90024, 50033:
		t.Kind, t.Retry, t.hint = "token_request", Transient, "A transient Entra error; it is retried with backoff."
	default:
		t.Kind, t.Retry, t.hint = "token_request", Permanent, "Entra refused the token request for app {ClientID}; the message says why."
		if status >= 500 || status == 429 || tb.Error == "temporarily_unavailable" {
			t.Retry, t.hint = Transient, "The token endpoint failed temporarily; it is retried with backoff."
		}
	}
	return t
}
