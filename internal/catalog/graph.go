package catalog

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// graphRow is one Microsoft Graph error in the catalogue.
//
// ClassifyGraph picks the first row whose status, code and text all match:
// status is an exact HTTP status ("403"), a class ("5xx") or "" (any);
// code is Graph's error.code compared without case, or "" (any); text
// matches when error.message contains any of the strings, compared as
// matchKey does, or nil (any). Rows are ordered most specific first; the
// last rows are fallbacks by status.
type graphRow struct {
	status string
	code   string
	text   []string
	// kind, retry and hint are the classification.
	kind  string
	retry Retry
	hint  string
	// doc describes the cause in one sentence, for the README.
	doc string
	// example is an error body's "code: message" as Graph sends it.
	example string
	// refresh marks the rows a fresh token may fix (refreshed once).
	refresh bool
	// fallback marks the rows for errors no code matches.
	fallback bool
	// step limits the row to one step of a large message: StepDraft (the
	// draft, its upload sessions and their deletion) or StepUpload (the
	// PUTs to an upload URL); "" is every request.
	step string
}

// The steps of a large message that ClassifyGraphStep knows.
const (
	StepDraft  = "draft"
	StepUpload = "upload"
)

const (
	hintMailSend = "App {ClientID} may not send as {Mailbox} with Microsoft Graph. Either grant the application permission Microsoft Graph > Mail.Send to the app (Entra admin center > App registrations > the app > API permissions > Add a permission > Microsoft Graph > Application permissions > Mail.Send) and click Grant admin consent, or grant it in Exchange alone, scoped to the mailbox, with RBAC for Applications:\n  New-ServicePrincipal -AppId {ClientID} -ObjectId {ObjectID} -DisplayName o365smtp\n  New-ManagementScope -Name \"o365smtp mailboxes\" -RecipientRestrictionFilter \"PrimarySmtpAddress -eq '{Mailbox}'\"\n  New-ManagementRoleAssignment -App {ClientID} -Role \"Application Mail.Send\" -CustomResourceScope \"o365smtp mailboxes\"\n  Test-ServicePrincipalAuthorization -Identity {ClientID} -Resource {Mailbox}\n({ObjectID} is the Enterprise application's object ID, the token's oid.) Permissions take up to an hour to apply."

	hintRAOP = "An application access policy or an RBAC for Applications scope excludes {Mailbox} from app {ClientID}. Put the mailbox in the app's scope, in Exchange Online PowerShell:\n  New-ManagementScope -Name \"o365smtp mailboxes\" -RecipientRestrictionFilter \"PrimarySmtpAddress -eq '{Mailbox}'\"\n  New-ManagementRoleAssignment -App {ClientID} -Role \"Application Mail.Send\" -CustomResourceScope \"o365smtp mailboxes\"\n  Test-ServicePrincipalAuthorization -Identity {ClientID} -Resource {Mailbox}\n(or, with a legacy application access policy, add the mailbox to the policy's mail-enabled security group and check with Test-ApplicationAccessPolicy -Identity {Mailbox} -AppId {ClientID}). Changes take up to an hour to apply."

	hintMailReadWrite = "A message too large for one sendMail request (over about 3 MB) is sent through a draft and upload sessions, which need the application permission Microsoft Graph > Mail.ReadWrite as well as Mail.Send; app {ClientID} has Mail.Send only. Grant Mail.ReadWrite (Entra admin center > App registrations > the app > API permissions > Add a permission > Microsoft Graph > Application permissions > Mail.ReadWrite, then Grant admin consent), or scoped with RBAC for Applications:\n  New-ManagementRoleAssignment -App {ClientID} -Role \"Application Mail.ReadWrite\" -CustomResourceScope \"o365smtp mailboxes\"\nMessages up to about 3 MB need only Mail.Send; or keep large messages small (links instead of attachments), or send them over SMTP."

	hintGraphThrottled = "Graph throttled the request (at most 4 concurrent requests per mailbox, and 10,000 per 10 minutes per app and mailbox); it is retried after Retry-After. If it lasts, lower the sending rate or MaxConnections."
)

// graphRows is the catalogue of Graph sendMail errors.
var graphRows = []graphRow{
	{
		status: "401", code: "InvalidAuthenticationToken",
		kind: "auth_failed", retry: Permanent, refresh: true,
		hint:    "Graph refused the access token: it has expired, or its aud is not Microsoft Graph. GraphScope must be Graph's resource with /.default (https://graph.microsoft.com/.default, or the Cloud's): leave GraphScope empty for the default. The token is refreshed once automatically.",
		doc:     "The token is expired or for another resource.",
		example: "InvalidAuthenticationToken: Access token validation failure. Invalid audience.",
	},
	{
		status: "403", code: "ErrorAccessDenied", text: []string{"Access to OData is disabled", "AppOnly AccessPolicy"},
		kind: "send_as_denied", retry: Permanent,
		hint:    hintRAOP,
		doc:     "An application access policy or RBAC scope excludes the mailbox.",
		example: "ErrorAccessDenied: Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.",
	},
	{
		status: "403", code: "ErrorAccessDenied", step: StepDraft,
		kind: "auth_failed", retry: Permanent,
		hint:    hintMailReadWrite,
		doc:     "A large message's draft or upload session is refused: the app has Mail.Send but not Mail.ReadWrite.",
		example: "ErrorAccessDenied: Access is denied. Check credentials and try again.",
	},
	{
		status: "404", step: StepUpload,
		kind: "unexpected_reply", retry: Transient,
		hint:    "The upload session of an attachment expired or is gone (its URL is valid for a limited time, about 15 minutes). The draft was deleted and nothing was sent; the message is sent again from a new draft. If it lasts, the link to Graph is too slow for the attachment: send it over SMTP.",
		doc:     "A large message's upload session expired or is gone (retried with a new draft).",
		example: "ErrorItemNotFound: The upload session has expired.",
	},
	{
		status: "4xx", code: "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
		kind: "message_rejected", retry: Permanent,
		hint:    "Graph refused an upload session for an attachment it finds too small. Report a bug in o365smtp with this message: it uploads only attachments of 2 MiB or more.",
		doc:     "An upload session was asked for a small attachment.",
		example: "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize: Attachment size should not be less than the minimum size.",
	},
	{
		status: "4xx", code: "ErrorAttachmentSizeExceeded",
		kind: "message_rejected", retry: Permanent,
		hint:    "An attachment is larger than Graph takes (150 MB). Send it as a link.",
		doc:     "An attachment is over 150 MB.",
		example: "ErrorAttachmentSizeExceeded: The attachment exceeds the maximum size of 150 MB.",
	},
	{
		status: "403", code: "ErrorSendAsDenied",
		kind: "send_as_denied", retry: Permanent,
		hint:    "{Mailbox} may not send as {From}. Grant Send As on it: Add-RecipientPermission -Identity {From} -Trustee {Mailbox} -AccessRights SendAs, or put {Mailbox} in From.",
		doc:     "The message's From is another address, without Send As.",
		example: "ErrorSendAsDenied: The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.",
	},
	{
		status: "403", code: "ErrorAccessDenied",
		kind: "auth_failed", retry: Permanent,
		hint:    hintMailSend,
		doc:     "The app has neither the Mail.Send permission nor an RBAC for Applications grant on the mailbox.",
		example: "ErrorAccessDenied: Access is denied. Check credentials and try again.",
	},
	{
		status: "404", code: "ErrorInvalidUser",
		kind: "auth_failed", retry: Permanent,
		hint:    "Graph knows no mailbox {Mailbox}. Check Mailbox: the mailbox's primary SMTP address or user principal name, in this tenant ({TenantID}), with an Exchange Online license.",
		doc:     "No such mailbox.",
		example: "ErrorInvalidUser: The requested user 'nobody@contoso.com' is invalid.",
	},
	{
		status: "404", code: "MailboxNotEnabledForRESTAPI",
		kind: "auth_failed", retry: Permanent,
		hint:    "{Mailbox} has no Exchange Online mailbox that Graph can use (not licensed, on-premises, or inactive). Send as a licensed Exchange Online mailbox or a shared mailbox.",
		doc:     "The user has no Exchange Online mailbox.",
		example: "MailboxNotEnabledForRESTAPI: The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
	},
	{
		status: "4xx", code: "ErrorInvalidRecipients",
		kind: "recipient_rejected", retry: Permanent,
		hint:    "Graph refused the recipients: each must be a valid address, and there must be at least one (To, Cc or Bcc), at most 500.",
		doc:     "A recipient is invalid, or there is none.",
		example: "ErrorInvalidRecipients: At least one recipient is not valid., Recipient 'x' is not resolved. All recipients must be resolved before a message can be submitted.",
	},
	{
		status: "", code: "ErrorMessageSizeExceeded",
		kind: "message_rejected", retry: Permanent,
		hint:    "The message is larger than {Mailbox}'s MaxSendSize (35 MB by default, counted with attachments in base64, about 4/3 of their size): make it smaller, or raise the limit with Set-Mailbox {Mailbox} -MaxSendSize (at most 150 MB).",
		doc:     "The message exceeds the mailbox's MaxSendSize.",
		example: "ErrorMessageSizeExceeded: The message exceeds the maximum supported size.",
	},
	{
		status: "413",
		kind:   "message_rejected", retry: Permanent,
		hint:     "Graph refused the request as too large: a sendMail request may be at most 4 MB (the base64 MIME, about 3 MB of message).",
		doc:      "HTTP 413: the request exceeds Graph's 4 MB.",
		example:  "RequestBodyTooLarge: The request is larger than 4 MB.",
		fallback: true,
	},
	{
		status: "", code: "ErrorQuotaExceeded",
		kind: "mailbox_full", retry: Permanent,
		hint:    "{Mailbox} is over its storage quota, so Graph cannot save the message (Sent Items). Empty Sent Items and Deleted Items, or raise the quota.",
		doc:     "The sending mailbox is full.",
		example: "ErrorQuotaExceeded: The mailbox has exceeded its quota.",
	},
	{
		status: "", code: "ErrorSubmissionQuotaExceeded",
		kind: "quota_exceeded", retry: Permanent,
		hint:    "{Mailbox} has used up its recipient rate limit (10,000 recipients a day). Wait for the 24-hour window to move on, or spread mail over more mailboxes.",
		doc:     "The mailbox's submission quota is used up.",
		example: "ErrorSubmissionQuotaExceeded: Cannot send mail: the sender has exceeded the submission quota.",
	},
	{
		status: "4xx", code: "ErrorMimeContentInvalidBase64String",
		kind: "message_rejected", retry: Permanent,
		hint:    "Graph could not decode the MIME body. Report a bug in o365smtp with this message: the body is base64 of the rendered message.",
		doc:     "The MIME body is not valid base64.",
		example: "ErrorMimeContentInvalidBase64String: Invalid base64 string for MIME content.",
	},
	{
		status: "4xx", code: "ErrorMimeContentInvalid",
		kind: "message_rejected", retry: Permanent,
		hint:    "Graph could not parse the message. Check its headers and encoding.",
		doc:     "The MIME message cannot be parsed.",
		example: "ErrorMimeContentInvalid: The MIME content is invalid.",
	},
	{
		status: "429",
		kind:   "throttled", retry: Transient,
		hint:    hintGraphThrottled,
		doc:     "HTTP 429 (ApplicationThrottled, MailboxConcurrency): retried after Retry-After.",
		example: "ApplicationThrottled: Application is over its MailboxConcurrency limit.",
	},
	{
		status: "503",
		kind:   "throttled", retry: Transient,
		hint:    "Graph is busy or unavailable; the request is retried after Retry-After. If it lasts, check Service health in the Microsoft 365 admin center.",
		doc:     "HTTP 503 Service Unavailable: retried after Retry-After.",
		example: "ServiceNotAvailable: The service is temporarily unavailable.",
	},

	// Fallbacks.
	{
		status: "401",
		kind:   "auth_failed", retry: Permanent, refresh: true,
		hint:     "Graph refused the access token. Check that GraphScope is Graph's (leave it empty for the Cloud's default) and that the token is for tenant {TenantID}.",
		doc:      "Any other HTTP 401.",
		fallback: true,
	},
	{
		status: "5xx",
		kind:   "connection", retry: Transient,
		hint:     "Graph failed temporarily; the request is retried with backoff. If it lasts, check Service health and any proxy between here and Graph.",
		doc:      "HTTP 5xx from Graph (or a proxy).",
		fallback: true,
	},
	{
		kind: "unexpected_reply", retry: Permanent,
		hint:     "Graph refused the request; the message says why. Look the error code up in Microsoft Graph's documentation (Microsoft Graph error responses).",
		doc:      "Any other Graph error.",
		fallback: true,
	},
}

// Graph is the classification of a Graph error response.
type Graph struct {
	Kind      string
	Status    int
	Code      string // Graph's error.code, e.g. "ErrorAccessDenied"; may be ""
	Message   string // "code: message", then the request-id and date: safe and bounded
	RequestID string
	Retry     Retry
	Refresh   bool // a fresh token may fix it
	hint      string
}

// Hint returns the row's Hint with v filled in.
func (g Graph) Hint(v Values) string { return fill(g.hint, v) }

type graphBody struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			RequestID string `json:"request-id"`
			Date      string `json:"date"`
		} `json:"innerError"`
	} `json:"error"`
}

var graphCodeRE = regexp.MustCompile(`^[A-Za-z0-9_.]{1,64}$`)

// ClassifyGraph classifies a Graph error response from its HTTP status,
// its body (Graph's error JSON; anything else is classified by the status
// alone, and never quoted) and the request-id header.
func ClassifyGraph(status int, body []byte, requestID string) Graph {
	return ClassifyGraphStep("", status, body, requestID)
}

// ClassifyGraphStep is ClassifyGraph for a request of a large message's
// step (StepDraft, StepUpload; "" for sendMail and send).
func ClassifyGraphStep(step string, status int, body []byte, requestID string) Graph {
	var gb graphBody
	_ = json.Unmarshal(body, &gb)
	g := Graph{Status: status}
	if c := strings.TrimSpace(gb.Error.Code); graphCodeRE.MatchString(c) {
		g.Code = c
	}
	text := Sanitize(strings.ToValidUTF8(gb.Error.Message, "\uFFFD"))
	g.RequestID = cut(Sanitize(cmpOr(gb.Error.InnerError.RequestID, requestID)), maxTraceLine)
	row := &graphRows[matchGraph(step, status, g.Code, text)]
	g.Kind, g.Retry, g.hint, g.Refresh = row.kind, row.retry, row.hint, row.refresh
	msg := "Graph answered HTTP " + strconv.Itoa(status)
	switch {
	case g.Code != "" && text != "":
		msg = g.Code + ": " + text
	case g.Code != "":
		msg += " " + g.Code
	}
	if g.RequestID != "" {
		msg += "\nrequest-id: " + g.RequestID
	}
	if d := cut(Sanitize(gb.Error.InnerError.Date), maxTraceLine); d != "" {
		msg += "\ndate: " + d
	}
	g.Message = msg
	return g
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func matchGraph(step string, status int, code, text string) int {
	key := matchKey(text)
	for i, r := range graphRows {
		if r.step != "" && r.step != step {
			continue
		}
		if !graphStatus(r.status, status) {
			continue
		}
		if r.code != "" && !strings.EqualFold(r.code, code) {
			continue
		}
		if r.text != nil {
			ok := false
			for _, t := range r.text {
				if strings.Contains(key, matchKey(t)) {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		return i
	}
	return len(graphRows) - 1
}

func graphStatus(pat string, status int) bool {
	switch {
	case pat == "":
		return true
	case len(pat) == 3 && pat[1:] == "xx":
		return strconv.Itoa(status)[:1] == pat[:1]
	}
	return pat == strconv.Itoa(status)
}

// GraphDoc is one Graph error row of the catalogue, for the README.
type GraphDoc struct {
	Kind    string // the o365smtp Kind value the row classifies as
	Retry   Retry  // the row's retry class
	Status  string // "403", "5xx", or "" for any
	Code    string // Graph's error.code, or "" for any
	Text    []string
	Doc     string
	Example string
	Hint    string
}

// GraphDocs returns the Graph error rows, in the catalogue's order.
func GraphDocs() []GraphDoc {
	out := make([]GraphDoc, len(graphRows))
	for i, r := range graphRows {
		out[i] = GraphDoc{Kind: r.kind, Retry: r.retry, Status: r.status, Code: r.code, Text: append([]string(nil), r.text...),
			Doc: r.doc, Example: r.example, Hint: docHint(r.hint)}
	}
	return out
}
