package catalog

import (
	"bufio"
	"errors"
	"net/textproto"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// apiKinds are the Kind values of API.md, copied here so that the catalogue's
// own list is checked against them.
var apiKinds = []string{
	"config", "invalid_message", "canceled", "closed", "invalid_client_secret",
	"client_secret_expired", "invalid_certificate", "app_not_found", "tenant_not_found",
	"token_request", "auth_failed", "smtp_auth_disabled", "send_as_denied", "throttled",
	"sender_suspended", "quota_exceeded", "mailbox_full", "sender_blocked",
	"recipient_rejected", "message_rejected", "tls", "connection", "unknown_outcome",
	"unexpected_reply",
}

// wire parses raw server lines the way the SMTP client does, with
// net/textproto, and returns the code and the message it delivers.
func wire(t testing.TB, raw string) (int, string) {
	t.Helper()
	// Expecting class 1, which no reply here has, makes every reply an
	// error, as the client sees a refusal.
	r := textproto.NewReader(bufio.NewReader(strings.NewReader(raw)))
	_, _, err := r.ReadResponse(1)
	var te *textproto.Error
	if !errors.As(err, &te) {
		t.Fatalf("textproto could not read %q: %v", raw, err)
	}
	return te.Code, te.Msg
}

// replyCases cover every row of exchange-online.md section 2 (and the few
// extra forms the catalogue knows), as the server writes them.
var replyCases = []struct {
	name  string
	stage string
	raw   string // server lines, CRLF-terminated
	kind  string
	retry Retry
}{
	// 2.1
	{"tls 1.0", "auth", "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2. Visit https://aka.ms/smtp_auth_tls\r\n", "tls", Permanent},
	{"tls 1.0 at starttls", "starttls", "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2. Visit https://aka.ms/smtp_auth_tls\r\n", "tls", Permanent},
	{"proxy transient", "auth", "421 4.7.0 Temporary server error. Please try again later. PRX4 [AM5PR0701CA0008.eurprd07.prod.outlook.com]\r\n", "connection", Transient},
	{"service not available", "mail", "421 4.3.2 Service not available\r\n", "connection", Transient},
	{"451 temporary server error", "rcpt", "451 4.7.0 Temporary server error\r\n", "connection", Transient},
	{"send hello first", "auth", "503 5.5.2 Send hello first\r\n", "unexpected_reply", Permanent},
	{"unrecognized command", "mail", "500 5.3.3 Unrecognized command 'Length: 2' [BE1P281CA0440.DEUP281.PROD.OUTLOOK.COM]\r\n", "unexpected_reply", Permanent},
	{"unrecognized auth type", "auth", "504 5.7.4 Unrecognized authentication type\r\n", "auth_failed", Permanent},
	{"idle timeout", "mail", "451 4.7.0 Timeout waiting for client input [BE1P281CA0440.DEUP281.PROD.OUTLOOK.COM]\r\n", "connection", Transient},
	{"idle timeout 421", "mail", "421 4.4.2 SY5P282CA0097.outlook.office365.com Timeout waiting for client input\r\n", "connection", Transient},
	{"session duration", "data_end", "421 4.4.1 Connection timed out. Total session duration: 00:20:55.2872355\r\n", "connection", Transient},
	{"421 without enhanced code", "connect", "421 Service not available\r\n", "connection", Transient},

	// 2.2
	{"5.7.3", "auth", "535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com 2024-02-14T14:50:26.590Z 08DC2D372B4C3DED]\r\n", "auth_failed", Permanent},
	{"5.7.3 old suffix", "auth", "535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]\r\n", "auth_failed", Permanent},
	{"5.7.139 tenant", "auth", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [MN2PR05CA0004.namprd05.prod.outlook.com 2023-09-12T20:59:57.214Z 08DBB276B7E699C4]\r\n", "smtp_auth_disabled", Permanent},
	{"5.7.139 mailbox", "auth", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information. [BY5PR04CA0010.namprd04.prod.outlook.com 2024-05-02T09:01:12.345Z 08DC6A1F2E3D4C5B]\r\n", "smtp_auth_disabled", Permanent},
	{"5.7.139 mailbox short", "auth", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.\r\n", "smtp_auth_disabled", Permanent},
	{"5.7.139 criteria", "auth", "535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully. Contact your administrator. [AM0PR06CA0126.eurprd06.prod.outlook.com 2024-02-14T14:50:26.590Z 08DC2D372B4C3DED]\r\n", "auth_failed", Permanent},
	{"5.7.139 security defaults", "auth", "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator.\r\n", "auth_failed", Permanent},
	{"5.7.139 basic disabled", "auth", "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.\r\n", "auth_failed", Permanent},
	{"5.7.139 bad credentials", "auth", "535 5.7.139 Authentication unsuccessful, the user credentials were incorrect.\r\n", "auth_failed", Permanent},
	{"5.7.139 account locked", "auth", "535 5.7.139 Authentication unsuccessful, account locked.\r\n", "auth_failed", NeedsPerson},
	{"5.7.139 sts unreachable", "auth", "535 5.7.139 Authentication unsuccessful, federated STS service was unreachable\r\n", "auth_failed", NeedsPerson},
	{"5.7.139 sts https", "auth", "535 5.7.139 Authentication unsuccessful, STS URL does not support HTTPS\r\n", "auth_failed", Permanent},
	{"5.7.139 other", "auth", "535 5.7.139 Authentication unsuccessful, a brand new reason.\r\n", "auth_failed", Permanent},
	{"5.7.30 basic retired", "auth", "550 5.7.30 Basic authentication is not supported for Client Submission.\r\n", "auth_failed", Permanent},
	{"5.5.124 bad user", "auth", "501 5.5.124 Invalid XOAUTH2 auth data - User address provided is not valid. Please ensure the auth d\r\n", "auth_failed", Permanent},
	{"5.5.127 expiring token", "auth", "501 5.5.127 Invalid XOAUTH2 auth data - Token will expire soon\r\n", "auth_failed", Transient},

	// 2.3
	{"5.7.57 at mail", "mail", "530 5.7.57 Client not authenticated to send mail.\r\n", "auth_failed", Permanent},
	{"5.7.57 with prior auth error", "mail", "530 5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 Authentication unsuccessful [BN9PR03CA0001.namprd03.prod.outlook.com]\r\n", "auth_failed", Permanent},
	{"5.7.60", "mail", "550 5.7.60 SMTP; Client does not have permissions to send as this sender [DM6PR02CA0123.namprd02.prod.outlook.com 2024-03-01T10:00:00.000Z 08DC39C0A1B2C3D4]\r\n", "send_as_denied", Permanent},
	{"5.1.8 at mail", "mail", "550 5.1.8 Access denied, bad outbound sender AS(42004)\r\n", "sender_blocked", Permanent},
	{"5.1.8 at data_end", "data_end", "550 5.1.8 Access denied, bad outbound sender\r\n", "sender_blocked", Permanent},
	{"5.7.501", "rcpt", "550 5.7.501 Access denied, spam abuse detected\r\n", "sender_blocked", Permanent},
	{"5.7.502", "rcpt", "550 5.7.502 Access denied, banned sender\r\n", "sender_blocked", Permanent},
	{"5.7.503", "data_end", "550 5.7.503 Access denied, banned sender\r\n", "sender_blocked", Permanent},
	{"5.7.705", "mail", "550 5.7.705 Access denied, tenant has exceeded threshold\r\n", "sender_blocked", Permanent},
	{"5.7.708", "connect", "550 5.7.708 Access denied, traffic not accepted from this IP\r\n", "sender_blocked", Permanent},
	{"5.7.750", "data_end", "550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains\r\n", "sender_blocked", Permanent},
	{"4.5.3 too many recipients", "rcpt", "452 4.5.3 Too many recipients (AS780090)\r\n", "recipient_rejected", Transient},
	{"4.7.500 server busy", "rcpt", "451 4.7.500 Server busy. Please try again later from [203.0.113.7]. (AS761)\r\n", "throttled", Transient},
	{"4.7.699 server busy", "data_end", "451 4.7.699 Server busy. Please try again later\r\n", "throttled", Transient},
	{"5.7.64 relay", "rcpt", "550 5.7.64 TenantAttribution; Relay Access Denied\r\n", "recipient_rejected", Permanent},
	{"5.1.10 not found", "rcpt", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup\r\n", "recipient_rejected", Permanent},
	{"5.1.1 bad mailbox", "rcpt", "550 5.1.1 Bad destination mailbox address\r\n", "recipient_rejected", Permanent},
	{"5.7.233 TERRL", "data_end", "550 5.7.233 Your message can't be sent because your tenant exceeded its daily limit for sending email to external recipients\r\n", "quota_exceeded", NeedsPerson},
	{"5.7.520 forwarding", "data_end", "550 5.7.520 Access denied, Your organization does not allow external forwarding. Please contact your administrator for further assistance. AS(7555)\r\n", "message_rejected", Permanent},

	// 2.4
	{"5.2.252 send as", "data_end", "554 5.2.252 SendAsDenied; app@contoso.com not allowed to send as billing@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message. 0.35250:0A00D681 [Hostname=BYAPR17MB2920.namprd17.prod.outlook.com]\r\n", "send_as_denied", Permanent},
	{"5.2.0 send as", "data_end", "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message.\r\n", "send_as_denied", Permanent},
	{"4.3.2 concurrent", "data_end", "432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information. [Hostname=BY5PR04MB6980.namprd04.PROD.OUTLOOK.COM]\r\n", "throttled", Transient},
	{"4.3.2 thread limit", "data_end", "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded\r\n", "throttled", Transient},
	{"5.2.0 submission quota", "data_end", "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException\r\n", "quota_exceeded", NeedsPerson},
	{"5.1.90 daily recipients", "data_end", "550 5.1.90 Your message can't be sent because you've reached your daily limit for message recipients\r\n", "quota_exceeded", NeedsPerson},
	{"5.1.90 at mail", "mail", "550 5.1.90 Your message can't be sent because you've reached your daily limit for message recipients\r\n", "quota_exceeded", NeedsPerson},
	{"5.2.2 submission quota", "data_end", "554 5.2.2 Submission quota exceeded\r\n", "quota_exceeded", NeedsPerson},
	{"5.2.2 mailbox full shutoff", "data_end", "554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded\r\n", "mailbox_full", Permanent},
	{"5.2.2 mailbox full", "data_end", "554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionQuotaExceeded\r\n", "mailbox_full", Permanent},
	{"5.2.251", "data_end", "550 5.2.251 Sender throttled due to continuous mailbox full errors.\r\n", "sender_suspended", NeedsPerson},
	{"5.2.252 throttled", "data_end", "550 5.2.252 Sender throttled due to continuous send as denied errors.\r\n", "sender_suspended", NeedsPerson},
	{"5.2.252 throttled at mail", "mail", "550 5.2.252 Sender throttled due to continuous send as denied errors.\r\n", "sender_suspended", NeedsPerson},
	{"5.2.253", "data_end", "550 5.2.253 Sender throttled due to continuous invalid license errors.\r\n", "sender_suspended", NeedsPerson},
	{"5.2.254", "data_end", "550 5.2.254 Sender throttled due to continuous too many recipients errors.\r\n", "sender_suspended", NeedsPerson},
	{"5.2.255", "data_end", "550 5.2.255 Sender throttled due to continuous invalid recipients errors.\r\n", "sender_suspended", NeedsPerson},
	{"4.2.0 logon failure", "data_end", "430 4.2.0 STOREDRV; mailbox logon failure; STOREDRV.Submission.Exception:ConnectionFailedTransientException.MapiExceptionLogonFailed; Failed to process message due to a transient exception with message [BeginDiagnosticData]Cannot open mailbox. Server = BY5PR04MB6980.namprd04.prod.outlook.com\r\n", "auth_failed", NeedsPerson},
	{"5.3.4 size", "data_end", "552 5.3.4 Message size exceeds fixed maximum message size\r\n", "message_rejected", Permanent},
	{"5.2.3 sender size", "data_end", "550 5.2.3 RESOLVER.RST.SendSizeLimit.Sender; message too large for this sender\r\n", "message_rejected", Permanent},
	{"5.2.3 org size", "data_end", "550 5.2.3 RESOLVER.RST.SendSizeLimit.Org; message too large for this organization\r\n", "message_rejected", Permanent},
	{"5.6.211 parts", "data_end", "554 5.6.211 Invalid MIME Content: Number of MimePart objects (1001) exceeded allowed maximum (1000).\r\n", "message_rejected", Permanent},
	{"5.6.211 headers", "data_end", "554 5.6.211 Invalid MIME Content: Number of Header objects (100001) exceeded\r\n", "message_rejected", Permanent},
	{"5.6.11 bare LF", "data_end", "554 5.6.11 Invalid characters\r\n", "message_rejected", Permanent},
	{"5.4.1 relay", "rcpt", "550 5.4.1 Relay Access Denied\r\n", "recipient_rejected", Permanent},
	{"5.4.1 access denied", "rcpt", "550 5.4.1 Recipient address rejected: Access denied\r\n", "recipient_rejected", Permanent},
	{"5.7.1 delivery not authorized", "rcpt", "550 5.7.1 Delivery not authorized\r\n", "recipient_rejected", Permanent},
	{"5.7.1 unable to relay", "rcpt", "550 5.7.1 Unable to relay\r\n", "recipient_rejected", Permanent},
	{"5.7.1 not authenticated", "mail", "530 5.7.1 Client was not authenticated\r\n", "auth_failed", Permanent},

	// Stage and specificity.
	{"5.1.7 at mail is the sender", "mail", "501 5.1.7 Invalid address\r\n", "invalid_message", Permanent},
	{"5.1.7 at rcpt is a recipient", "rcpt", "501 5.1.7 Invalid address\r\n", "recipient_rejected", Permanent},
	{"5.2.2 at rcpt is the recipient's", "rcpt", "552 5.2.2 Mailbox full\r\n", "recipient_rejected", Permanent},
	{"5.2.2 at data_end is the sender's", "data_end", "554 5.2.2 Mailbox full\r\n", "mailbox_full", Permanent},
	{"5.6.x wildcard", "data_end", "554 5.6.0 Corrupt message content\r\n", "message_rejected", Permanent},
	{"554 5.2.252 other text", "data_end", "554 5.2.252 Cannot submit message.\r\n", "send_as_denied", Permanent},
	{"550 5.2.252 other text", "data_end", "550 5.2.252 Cannot submit message.\r\n", "sender_suspended", NeedsPerson},
	{"550 5.2.252 SendAsDenied text", "data_end", "550 5.2.252 SendAsDenied; a@x not allowed to send as b@x\r\n", "send_as_denied", Permanent},
	{"421 4.3.2 concurrent", "auth", "421 4.3.2 Concurrent connections limit exceeded.\r\n", "throttled", Transient},

	// Unknown replies.
	{"unknown 4xx", "rcpt", "450 4.2.1 Mailbox temporarily unavailable\r\n", "unexpected_reply", Transient},
	{"unknown 5xx", "data_end", "550 5.7.999 Something nobody has seen\r\n", "unexpected_reply", Permanent},
	{"unknown 5xx no enhanced", "ehlo", "554 Transaction failed\r\n", "unexpected_reply", Permanent},
	{"4xx code with 5.x enhanced", "auth", "454 5.7.3 Weird\r\n", "unexpected_reply", Transient},
}

func TestClassifyReply(t *testing.T) {
	for _, c := range replyCases {
		t.Run(c.name, func(t *testing.T) {
			code, msg := wire(t, c.raw)
			r := ClassifyReply(c.stage, code, msg)
			if r.Kind != c.kind || r.Retry != c.retry {
				t.Errorf("ClassifyReply(%q, %d, %q) = %s/%v, want %s/%v", c.stage, code, msg, r.Kind, r.Retry, c.kind, c.retry)
			}
			if r.Code != code {
				t.Errorf("Code = %d, want %d", r.Code, code)
			}
			line := strings.TrimSuffix(c.raw, "\r\n")[4:]
			if m := enhancedRE.FindString(line); r.Enhanced != m {
				t.Errorf("Enhanced = %q, want %q", r.Enhanced, m)
			}
			if want := strings.TrimSpace(strings.TrimPrefix(line, r.Enhanced)); r.Text != want {
				t.Errorf("Text = %q, want %q", r.Text, want)
			}
			if h := r.Hint(Values{}); h == "" || strings.ContainsAny(h, "{}") {
				t.Errorf("Hint = %q", h)
			}
		})
	}
}

// TestReplyRowExamples checks that every example of every row selects that
// very row: no row is shadowed by another.
func TestReplyRowExamples(t *testing.T) {
	forms := 0
	for i, row := range replyRows {
		if len(row.examples) == 0 {
			t.Errorf("row %d (%s %s) has no example", i, row.code, row.enhanced)
		}
		for _, ex := range row.examples {
			forms++
			code, msg := wire(t, ex+"\r\n")
			stage := StageDataEnd
			if row.stages != "" {
				stage = strings.Fields(row.stages)[0]
			}
			enh, text := splitReply(msg)
			if got := matchReply(stage, code, enh, matchKey(text)); got != i {
				t.Errorf("example %q at %s selects row %d (%s %s %q), want row %d", ex, stage, got,
					replyRows[got].code, replyRows[got].enhanced, replyRows[got].text, i)
			}
			r := ClassifyReply(stage, code, msg)
			if r.Kind != row.kind || r.Retry != row.retry {
				t.Errorf("example %q: %s/%v, want %s/%v", ex, r.Kind, r.Retry, row.kind, row.retry)
			}
		}
	}
	t.Logf("%d reply rows, %d reply forms", len(replyRows), forms)
}

func TestRowsAreValid(t *testing.T) {
	for i, k := range kinds {
		if i >= len(apiKinds) || k.value != apiKinds[i] {
			t.Fatalf("kinds[%d] = %q; API.md's Kinds are %q", i, k.value, apiKinds)
		}
	}
	if len(kinds) != len(apiKinds) {
		t.Fatalf("%d kinds, API.md has %d", len(kinds), len(apiKinds))
	}
	check := func(what, kind, hint, doc string, retry Retry) {
		if !isKind(kind) {
			t.Errorf("%s: kind %q is not an API.md Kind", what, kind)
		}
		if retry > NeedsPerson {
			t.Errorf("%s: bad retry %d", what, retry)
		}
		if doc == "" {
			t.Errorf("%s: no doc", what)
		}
		checkHint(t, what, hint)
	}
	for i, r := range replyRows {
		check("reply row "+strconv.Itoa(i)+" "+r.code+" "+r.enhanced, r.kind, r.hint, r.doc, r.retry)
		if (r.retry == NeedsPerson) != strings.Contains(r.hint, "Not retried") {
			t.Errorf("reply row %d: a NeedsPerson Hint, and only one, says \"Not retried\" and why a person must act: %q", i, r.hint)
		}
	}
	seen := map[int]bool{}
	for i, r := range tokenRows {
		check("token row "+strconv.Itoa(i), r.kind, r.hint, r.doc, r.retry)
		for _, c := range r.codes {
			if seen[c] {
				t.Errorf("AADSTS%d is in two rows", c)
			}
			seen[c] = true
		}
	}
	if last := tokenRows[len(tokenRows)-1]; last.codes != nil || last.error != "" || last.status != "" {
		t.Error("the last token row must be the catch-all")
	}
}

var (
	placeholderRE = regexp.MustCompile(`\{([A-Za-z]*)\}`)
	commandRE     = regexp.MustCompile(`^  [A-Z][a-z]+-[A-Za-z]+ -`)
)

// checkHint checks a Hint template: known placeholders only, commands
// indented as the README renderer expects, no secret.
func checkHint(t *testing.T, what, hint string) {
	t.Helper()
	if hint == "" {
		t.Errorf("%s: no hint", what)
		return
	}
	for _, m := range placeholderRE.FindAllStringSubmatch(hint, -1) {
		ok := false
		for _, p := range placeholders {
			ok = ok || p == m[1]
		}
		if !ok {
			t.Errorf("%s: unknown placeholder %s", what, m[0])
		}
	}
	if rest := placeholderRE.ReplaceAllString(hint, ""); strings.ContainsAny(rest, "{}") {
		t.Errorf("%s: stray brace in %q", what, hint)
	}
	for _, l := range strings.Split(hint, "\n") {
		if strings.HasPrefix(l, " ") && !commandRE.MatchString(l) {
			t.Errorf("%s: indented line is not a command: %q", what, l)
		}
		if strings.TrimSpace(l) == "" {
			t.Errorf("%s: empty line in hint", what)
		}
	}
	lower := strings.ToLower(hint)
	for _, bad := range []string{"{secret", "{token", "{password", "{clientsecret", "{assertion"} {
		if strings.Contains(lower, bad) {
			t.Errorf("%s: hint has a secret placeholder", what)
		}
	}
}

// TestValuesHoldNoSecret keeps Values free of secrets: a Hint can only show
// what Values hold.
func TestValuesHoldNoSecret(t *testing.T) {
	typ := reflect.TypeOf(Values{})
	if typ.NumField() != len(placeholders) {
		t.Errorf("Values has %d fields, fill knows %d placeholders", typ.NumField(), len(placeholders))
	}
	for i := range typ.NumField() {
		name := strings.ToLower(typ.Field(i).Name)
		for _, bad := range []string{"secret", "token", "password", "assertion", "key", "cert"} {
			if strings.Contains(name, bad) {
				t.Errorf("Values.%s looks like a secret; Hints must never show one", typ.Field(i).Name)
			}
		}
	}
}

var fullValues = Values{
	ClientID:  "00001111-aaaa-2222-bbbb-3333cccc4444",
	TenantID:  "aaaabbbb-0000-cccc-1111-dddd2222eeee",
	Mailbox:   "mailer@contoso.com",
	ObjectID:  "11112222-bbbb-3333-cccc-4444dddd5555",
	From:      "billing@contoso.com",
	Host:      "smtp.office365.us",
	Authority: "https://login.microsoftonline.us",
	Scope:     "https://outlook.office365.us/.default",
}

func TestHintsFillValues(t *testing.T) {
	v := fullValues
	r := ClassifyReply("auth", 535, "5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com 2024-02-14T14:50:26.590Z 08DC2D372B4C3DED]")
	h := r.Hint(v)
	for _, want := range []string{
		"New-ServicePrincipal -AppId " + v.ClientID + " -ObjectId " + v.ObjectID,
		"Add-MailboxPermission -Identity " + v.Mailbox + " -User " + v.ObjectID + " -AccessRights FullAccess",
		"SMTP.SendAsApp", "admin consent", "Enterprise application", "not the App registration",
		"15-30 minutes", v.Scope,
	} {
		if !strings.Contains(h, want) {
			t.Errorf("5.7.3 Hint lacks %q:\n%s", want, h)
		}
	}
	// Causes in order of likelihood.
	if a, b := strings.Index(h, "New-ServicePrincipal"), strings.Index(h, "Add-MailboxPermission"); a < 0 || b < a {
		t.Errorf("5.7.3 Hint: New-ServicePrincipal should come before Add-MailboxPermission")
	}

	for _, c := range []struct {
		msg  string
		code int
		want []string
	}{
		{"5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.", 535,
			[]string{"Set-CASMailbox -Identity " + v.Mailbox + " -SmtpClientAuthenticationDisabled $false", "Set-TransportConfig -SmtpClientAuthenticationDisabled $false"}},
		{"5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.", 535,
			[]string{"Set-CASMailbox -Identity " + v.Mailbox + " -SmtpClientAuthenticationDisabled $false"}},
		{"5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy.", 535,
			[]string{"Basic", "OAuth", v.Host}},
		{"5.7.60 SMTP; Client does not have permissions to send as this sender", 550,
			[]string{"Add-RecipientPermission -Identity " + v.From + " -Trustee " + v.Mailbox + " -AccessRights SendAs", "-Trustee " + v.ObjectID}},
		{"5.2.252 SendAsDenied; mailer@contoso.com not allowed to send as billing@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied", 554,
			[]string{"Add-RecipientPermission -Identity " + v.From + " -Trustee " + v.ObjectID + " -AccessRights SendAs"}},
		{"4.3.2 Concurrent connections limit exceeded.", 432, []string{"3 concurrent connections", "30 messages a minute", "10,000 recipients a day", "replica", v.Mailbox}},
		{"5.2.252 Sender throttled due to continuous send as denied errors.", 550, []string{"3 concurrent connections", "30 messages a minute", "10,000 recipients a day", "Add-RecipientPermission"}},
		{"5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException", 554, []string{"10,000 recipients", "30 messages a minute", "replica"}},
	} {
		h := ClassifyReply("data_end", c.code, c.msg).Hint(v)
		for _, want := range c.want {
			if !strings.Contains(h, want) {
				t.Errorf("Hint of %d %q lacks %q:\n%s", c.code, c.msg, want, h)
			}
		}
	}

	// With every value given, no placeholder is left, in any row.
	standIn := regexp.MustCompile(`[{}]|<[A-Za-z][^<>]*>`)
	for i, r := range replyRows {
		if h := fill(r.hint, v); standIn.MatchString(h) {
			t.Errorf("reply row %d: filled Hint still has a placeholder: %q", i, h)
		}
	}
	for i, r := range tokenRows {
		if h := fill(r.hint, v); standIn.MatchString(h) {
			t.Errorf("token row %d: filled Hint still has a placeholder: %q", i, h)
		}
	}
}

func TestReplyTextKeepsSuffix(t *testing.T) {
	const suffix = "[SN2PR00CA0018.namprd00.prod.outlook.com 2024-02-14T14:50:26.590Z 08DC2D372B4C3DED]"
	code, msg := wire(t, "535 5.7.3 Authentication unsuccessful "+suffix+"\r\n")
	r := ClassifyReply("auth", code, msg)
	if r.Text != "Authentication unsuccessful "+suffix || r.Enhanced != "5.7.3" || r.Kind != "auth_failed" {
		t.Errorf("got %+v", r)
	}
	// A suffix that looks like a row's text does not change the match.
	r = ClassifyReply("data_end", 554, "5.2.2 Something [SubmissionQuotaExceededException.host]")
	if r.Kind != "mailbox_full" || !strings.HasSuffix(r.Text, "[SubmissionQuotaExceededException.host]") {
		t.Errorf("bracketed text was matched: %+v", r)
	}
}

func TestReplyCaseInsensitive(t *testing.T) {
	for _, msg := range []string{
		"5.7.139 AUTHENTICATION UNSUCCESSFUL, SMTPCLIENTAUTHENTICATION IS DISABLED FOR THE TENANT.",
		"5.7.139 authentication unsuccessful, smtpclientauthentication is disabled for the tenant.",
		"5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the  tenant.",
	} {
		r := ClassifyReply("auth", 535, msg)
		if r.Kind != "smtp_auth_disabled" || !strings.Contains(r.Hint(Values{}), "Set-TransportConfig") {
			t.Errorf("%q: %s, hint %q", msg, r.Kind, r.Hint(Values{}))
		}
	}
	if r := ClassifyReply("data_end", 554, "5.2.252 sendasdenied; a not allowed to send as b"); r.Kind != "send_as_denied" {
		t.Errorf("lower-case SendAsDenied: %s", r.Kind)
	}
}

func TestReplyQuoted(t *testing.T) {
	for _, c := range []struct {
		msg, text string
	}{
		{`"5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]"`, "Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]"},
		{`5.7.3 "Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]"`, "Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]"},
		{`"5.7.3 Authentication unsuccessful`, "Authentication unsuccessful"},
		{`5.7.3 Authentication unsuccessful"`, "Authentication unsuccessful"},
		{`""5.7.3 Authentication unsuccessful""`, "Authentication unsuccessful"},
	} {
		r := ClassifyReply("auth", 535, c.msg)
		if r.Kind != "auth_failed" || r.Enhanced != "5.7.3" || r.Text != c.text {
			t.Errorf("%s: got %s %q %q, want auth_failed 5.7.3 %q", c.msg, r.Kind, r.Enhanced, r.Text, c.text)
		}
	}
	// Stray quotes inside the text do not defeat the match.
	for _, msg := range []string{
		`5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "Tenant". Visit https://aka.ms/smtp_auth_disabled`,
		`"5.7.139 Authentication unsuccessful, 'SmtpClientAuthentication' is disabled for the Mailbox."`,
	} {
		if r := ClassifyReply("auth", 535, msg); r.Kind != "smtp_auth_disabled" {
			t.Errorf("%s: %s", msg, r.Kind)
		}
	}
	if r := ClassifyReply("auth", 535, `5.7.139 Authentication unsuccessful, user is locked by your organization’s security defaults policy.`); r.Kind != "auth_failed" || !strings.Contains(r.Hint(Values{}), "security defaults") {
		t.Errorf("typographic apostrophe: %s %q", r.Kind, r.Hint(Values{}))
	}
}

func TestReplyMultiLine(t *testing.T) {
	raw := "535-5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.\r\n" +
		"535 5.7.139 Visit https://aka.ms/smtp_auth_disabled for more information. [MN2PR05CA0004.namprd05.prod.outlook.com 2023-09-12T20:59:57.214Z 08DBB276B7E699C4]\r\n"
	code, msg := wire(t, raw)
	if !strings.Contains(msg, "\n") {
		t.Fatalf("textproto did not join lines with \\n: %q", msg)
	}
	r := ClassifyReply("auth", code, msg)
	want := "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [MN2PR05CA0004.namprd05.prod.outlook.com 2023-09-12T20:59:57.214Z 08DBB276B7E699C4]"
	if r.Kind != "smtp_auth_disabled" || r.Enhanced != "5.7.139" || r.Text != want {
		t.Errorf("got %s %q %q", r.Kind, r.Enhanced, r.Text)
	}

	// The matching text may be on a continuation line.
	raw = "554-5.2.252 Cannot submit message.\r\n554 5.2.252 SendAsDenied; a@x not allowed to send as b@x\r\n"
	code, msg = wire(t, raw)
	if r := ClassifyReply("data_end", code, msg); r.Kind != "send_as_denied" || strings.Contains(r.Text, "\n") {
		t.Errorf("got %s %q", r.Kind, r.Text)
	}
	// Continuation lines without an enhanced code, and CRLF inside msg.
	if r := ClassifyReply("data_end", 432, "4.3.2 STOREDRV.ClientSubmit;\r\nsender thread limit exceeded"); r.Kind != "throttled" || r.Text != "STOREDRV.ClientSubmit; sender thread limit exceeded" {
		t.Errorf("got %s %q", r.Kind, r.Text)
	}
}

func TestSanitize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"  plain  ", "plain"},
		{"a\r\nb\tc", "a b c"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{"esc \x1b[31m red", "esc \uFFFD[31m red"},
		{"bidi \u202e evil", "bidi \uFFFD evil"},
		{"nul \x00", "nul \uFFFD"},
	} {
		if got := Sanitize(c.in); got != c.want {
			t.Errorf("Sanitize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := strings.Repeat("é", 2000)
	got := Sanitize(long)
	if len(got) > maxText+3 || !strings.HasSuffix(got, "...") || !utf8.ValidString(got) {
		t.Errorf("Sanitize(long) = %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

// tokenCases cover every AADSTS code of exchange-online.md section 5.4.
var tokenCases = []struct {
	code   int
	status int
	oauth  string
	desc   string
	kind   string
	retry  Retry
}{
	{7000215, 401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '00001111-aaaa-2222-bbbb-3333cccc4444'.", "invalid_client_secret", Permanent},
	{7000222, 401, "invalid_client", "AADSTS7000222: The provided client secret keys for app '00001111-aaaa-2222-bbbb-3333cccc4444' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", "client_secret_expired", Permanent},
	{7000218, 400, "invalid_request", "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", "token_request", Permanent},
	{700016, 400, "unauthorized_client", "AADSTS700016: Application with identifier '00001111-aaaa-2222-bbbb-3333cccc4444' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", "app_not_found", Permanent},
	{700011, 400, "unauthorized_client", "AADSTS700011: Application with identifier '00001111-aaaa-2222-bbbb-3333cccc4444' was not found in the directory.", "app_not_found", Permanent},
	{90002, 400, "invalid_request", "AADSTS90002: Tenant 'contoso.onmicrosoft.con' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", "tenant_not_found", Permanent},
	{900023, 400, "invalid_request", "AADSTS900023: Specified tenant identifier 'contoso' is neither a valid DNS name, nor a valid external domain.", "tenant_not_found", Permanent},
	{900021, 400, "invalid_request", "AADSTS900021: Requested tenant identifier is not valid.", "tenant_not_found", Permanent},
	{90023, 400, "invalid_request", "AADSTS90023: The authentication service request isn't valid.", "token_request", Permanent},
	{90014, 400, "invalid_request", "AADSTS90014: The required field 'x' is missing from the credential.", "token_request", Permanent},
	{900144, 400, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.", "token_request", Permanent},
	{700024, 400, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range. Current time: 2025-03-20T11:25:21.9722367Z, assertion valid from 2025-03-20T12:25:21.0000000Z, expiry time of assertion 2025-03-20T12:35:21.0000000Z.", "invalid_certificate", Permanent},
	{700027, 401, "invalid_client", "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]", "invalid_certificate", Permanent},
	{50012, 401, "invalid_client", "AADSTS50012: Client assertion contains an invalid signature.", "invalid_certificate", Permanent},
	{1002012, 400, "invalid_scope", "AADSTS1002012: The provided value for scope https://outlook.office365.com/SMTP.SendAsApp is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", "token_request", Permanent},
	{70011, 400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' isn't valid. The scope https://example.contoso.com/activity.read isn't valid.", "token_request", Permanent},
	{700022, 400, "invalid_scope", "AADSTS700022: The provided value for the input parameter scope isn't valid because it contains more than one resource.", "token_request", Permanent},
	{500011, 400, "invalid_resource", "AADSTS500011: The resource principal named https://outlook.office356.com was not found in the tenant named Contoso.", "token_request", Permanent},
	{50001, 400, "invalid_resource", "AADSTS50001: The resource is disabled or doesn't exist.", "token_request", Permanent},
	{65001, 400, "invalid_grant", "AADSTS65001: The user or administrator has not consented to use the application with ID '00001111-aaaa-2222-bbbb-3333cccc4444'.", "token_request", Permanent},
	{650056, 400, "invalid_client", "AADSTS650056: Misconfigured application.", "token_request", Permanent},
	{650057, 400, "invalid_client", "AADSTS650057: Invalid resource. The client has requested access to a resource which is not listed in the requested permissions.", "token_request", Permanent},
	{53003, 400, "access_denied", "AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.", "token_request", Permanent},
	{530035, 400, "access_denied", "AADSTS530035: Access has been blocked by security defaults.", "token_request", Permanent},
	{7000112, 400, "unauthorized_client", "AADSTS7000112: Application '00001111-aaaa-2222-bbbb-3333cccc4444'(Contoso Mailer) is disabled.", "token_request", Permanent},
	{70001, 400, "unauthorized_client", "AADSTS70001: Application with identifier '00001111-aaaa-2222-bbbb-3333cccc4444' is disabled.", "token_request", Permanent},
	{50034, 400, "invalid_grant", "AADSTS50034: The user account does not exist in the contoso.com directory.", "token_request", Permanent},
	{50126, 400, "invalid_grant", "AADSTS50126: Error validating credentials due to invalid username or password.", "token_request", Permanent},
	{9001023, 400, "invalid_request", "AADSTS9001023: The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.", "tenant_not_found", Permanent},
	{90038, 400, "invalid_request", "AADSTS90038: Tenant 'x' is in a different national cloud.", "tenant_not_found", Permanent},
	{900432, 400, "invalid_request", "AADSTS900432: Confidential Client is not supported in Cross Cloud request.", "tenant_not_found", Permanent},
	{900382, 400, "invalid_request", "AADSTS900382: Confidential Client is not supported in Cross Cloud request.", "tenant_not_found", Permanent},
	{50196, 400, "invalid_request", "AADSTS50196: The server terminated an operation because it encountered a client request loop.", "token_request", Transient},
	{90055, 429, "temporarily_unavailable", "AADSTS90055: TenantThrottlingError - There are too many incoming requests.", "token_request", Transient},
	{50000, 500, "temporarily_unavailable", "AADSTS50000: There was an error issuing a token or an issue with our sign-in service.", "token_request", Transient},
	{90006, 500, "temporarily_unavailable", "AADSTS90006: ExternalServerRetryableError.", "token_request", Transient},
	{90033, 503, "temporarily_unavailable", "AADSTS90033: A transient error has occurred. Please try again.", "token_request", Transient},
	{90024, 400, "temporarily_unavailable", "AADSTS90024: RequestBudgetExceededError - A transient error has occurred. Try again.", "token_request", Transient},
	{50033, 400, "temporarily_unavailable", "AADSTS50033: RetryableError - Indicates a transient error not related to the database operations.", "token_request", Transient},
}

const (
	traceID       = "0000aaaa-11bb-cccc-dd33-eeeeee333333"
	correlationID = "aaaa0000-bb11-2222-33cc-444444dddddd"
)

// entraBody is a token error body as Entra sends it (section 5.3).
func entraBody(oauth, desc string, code int) []byte {
	return []byte(`{"error":` + strconv.Quote(oauth) +
		`,"error_description":` + strconv.Quote(desc+"\r\nTrace ID: "+traceID+"\r\nCorrelation ID: "+correlationID+"\r\nTimestamp: 2025-03-20 11:25:21Z") +
		`,"error_codes":[` + strconv.Itoa(code) + `],"timestamp":"2025-03-20 11:25:21Z","trace_id":"` + traceID +
		`","correlation_id":"` + correlationID + `","error_uri":"https://login.microsoftonline.com/error?code=` + strconv.Itoa(code) + `"}`)
}

func TestClassifyToken(t *testing.T) {
	for _, c := range tokenCases {
		t.Run(strconv.Itoa(c.code), func(t *testing.T) {
			tok := ClassifyToken(c.status, entraBody(c.oauth, c.desc, c.code))
			if tok.Kind != c.kind || tok.Retry != c.retry || tok.AADSTS != c.code || tok.Error != c.oauth {
				t.Errorf("got %s/%v AADSTS%d %q, want %s/%v AADSTS%d %q", tok.Kind, tok.Retry, tok.AADSTS, tok.Error, c.kind, c.retry, c.code, c.oauth)
			}
			want := c.desc + "\nTrace ID: " + traceID + "\nCorrelation ID: " + correlationID + "\nTimestamp: 2025-03-20 11:25:21Z"
			if tok.Message != want {
				t.Errorf("Message = %q, want %q", tok.Message, want)
			}
			if h := tok.Hint(fullValues); h == "" || strings.ContainsAny(h, "{}") {
				t.Errorf("Hint = %q", h)
			}
		})
	}
	// Every code of every row is tested above.
	tested := map[int]bool{}
	for _, c := range tokenCases {
		tested[c.code] = true
	}
	for _, r := range tokenRows {
		for _, c := range r.codes {
			if !tested[c] {
				t.Errorf("AADSTS%d has no test case", c)
			}
		}
	}
}

func TestTokenHints(t *testing.T) {
	v := fullValues
	for _, c := range []struct {
		code int
		want []string
	}{
		{7000215, []string{"Secret ID", "Value", v.ClientID}},
		{7000222, []string{"expired", "Entra admin center > App registrations > the app > Certificates & secrets", v.ClientID}},
		{700016, []string{"Application (client) ID", v.ClientID, v.TenantID, v.Authority}},
		{90002, []string{"Directory (tenant) ID", v.TenantID, v.Authority, "Cloud"}},
		{1002012, []string{"/.default", v.Scope}},
		{65001, []string{"SMTP.SendAsApp", "Grant admin consent"}},
	} {
		var desc string
		for _, tc := range tokenCases {
			if tc.code == c.code {
				desc = tc.desc
			}
		}
		h := ClassifyToken(400, entraBody("invalid_client", desc, c.code)).Hint(v)
		for _, w := range c.want {
			if !strings.Contains(h, w) {
				t.Errorf("AADSTS%d Hint lacks %q: %s", c.code, w, h)
			}
		}
	}
}

func TestClassifyTokenFallbacks(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		kind   string
		retry  Retry
		aadsts int
		msg    string // Message prefix
	}{
		{"temporarily_unavailable", 400, `{"error":"temporarily_unavailable","error_description":"AADSTS123456789: Something.\r\nTrace ID: t\r\nCorrelation ID: c"}`, "token_request", Transient, 123456789, "AADSTS123456789: Something.\nTrace ID: t\nCorrelation ID: c"},
		{"http 503 html", 503, `<html><body>Service Unavailable</body></html>`, "token_request", Transient, 0, "token endpoint answered HTTP 503"},
		{"http 429 empty", 429, ``, "token_request", Transient, 0, "token endpoint answered HTTP 429"},
		{"http 500 unknown code", 500, `{"error":"server_error","error_description":"AADSTS999999: Oops.","error_codes":[999999]}`, "token_request", Transient, 999999, "AADSTS999999: Oops."},
		{"unknown code", 400, `{"error":"invalid_request","error_description":"AADSTS999998: Nope.","error_codes":[999998]}`, "token_request", Permanent, 999998, "AADSTS999998: Nope."},
		{"code only in description", 401, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`, "invalid_client_secret", Permanent, 7000215, "AADSTS7000215: Invalid client secret provided."},
		{"ids only in fields", 401, `{"error":"invalid_client","error_description":"AADSTS7000222: Expired.","error_codes":[7000222],"trace_id":"t1","correlation_id":"c1"}`, "client_secret_expired", Permanent, 7000222, "AADSTS7000222: Expired.\nTrace ID: t1\nCorrelation ID: c1"},
		{"no description", 400, `{"error":"invalid_client"}`, "token_request", Permanent, 0, "token endpoint answered HTTP 400: invalid_client"},
		{"not json", 400, `client_secret=abc`, "token_request", Permanent, 0, "token endpoint answered HTTP 400"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := ClassifyToken(c.status, []byte(c.body))
			if tok.Kind != c.kind || tok.Retry != c.retry || tok.AADSTS != c.aadsts || tok.Message != c.msg {
				t.Errorf("got %s/%v AADSTS%d %q, want %s/%v AADSTS%d %q", tok.Kind, tok.Retry, tok.AADSTS, tok.Message, c.kind, c.retry, c.aadsts, c.msg)
			}
		})
	}
}
