package catalog

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// tokenRow is one Entra error in the catalogue.
//
// ClassifyToken picks the row whose codes hold the AADSTS code; failing
// that, the row (without codes) whose error equals the OAuth error; failing
// that, the row whose status matches the HTTP status; failing that, the
// last row.
type tokenRow struct {
	// codes are the AADSTS codes of the row.
	codes []int
	// error is the OAuth error: in a row with codes, the one Entra
	// typically sends (for the README and tests); in a row without codes,
	// the one it matches.
	error string
	// status is "5xx" or "429" for the rows that match an HTTP status.
	status string
	// kind, retry and hint are the classification.
	kind  string
	retry Retry
	hint  string
	// doc describes the cause in one sentence, for the README.
	doc string
	// example is an error_description as Entra sends it, without the
	// trace, correlation and timestamp lines.
	example string
	// fallback marks the rows for errors no AADSTS code matches.
	fallback bool
}

const (
	hintScope = "Entra refused the scope {Scope}. For SMTP it must be Exchange Online's resource with /.default, and only that: https://outlook.office365.com/.default (GCC High https://outlook.office365.us/.default, China https://partner.outlook.cn/.default). Leave Scope empty to get the Cloud's default."

	hintConsent = "App {ClientID} has no admin consent in tenant {TenantID}. In the Entra admin center > App registrations > the app > API permissions, add Office 365 Exchange Online > Application permissions > SMTP.SendAsApp, then click Grant admin consent."

	hintCloud = "Tenant {TenantID} or app {ClientID} belongs to another cloud than {Authority}. Set Cloud to the tenant's cloud (GCC High, DoD or China); an app must be registered in that cloud's portal."

	hintTransientEntra = "A temporary Entra error; the token request is retried with backoff. If it lasts, check Service health in the Microsoft 365 admin center."
)

// tokenRows is the catalogue of token endpoint errors, from
// exchange-online.md section 5.4.
var tokenRows = []tokenRow{
	{
		codes: []int{7000215}, error: "invalid_client",
		kind: "invalid_client_secret", retry: Permanent,
		hint:    "Entra rejected the client secret of app {ClientID}. The Secret ID was probably used instead of the Value: in the Entra admin center > App registrations > the app > Certificates & secrets, a secret's Value is shown only when it is created, so create a new secret and copy its Value. Also check for stray spaces or quotes.",
		doc:     "Invalid client secret: usually the Secret ID instead of its Value.",
		example: "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '00001111-aaaa-2222-bbbb-3333cccc4444'.",
	},
	{
		codes: []int{7000222}, error: "invalid_client",
		kind: "client_secret_expired", retry: Permanent,
		hint:    "The client secret of app {ClientID} has expired. Create a new one in the Entra admin center > App registrations > the app > Certificates & secrets, put its Value in the configuration (ClientSecretFile is re-read, so no restart is needed), then delete the old one. Note the new expiry date, or use a certificate.",
		doc:     "The client secret has expired.",
		example: "AADSTS7000222: The provided client secret keys for app '00001111-aaaa-2222-bbbb-3333cccc4444' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
	},
	{
		codes: []int{700027, 50012}, error: "invalid_client",
		kind: "invalid_certificate", retry: Permanent,
		hint:    "Entra could not verify the client assertion of app {ClientID}: its certificate is not registered on the app, has expired there, or does not match the private key. Upload the certificate's public part in App registrations > the app > Certificates & secrets; it can take a few minutes to apply.",
		doc:     "The certificate that signed the client assertion is unknown, expired or does not match.",
		example: "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '0A1B2C3D4E5F60718293A4B5C6D7E8F901234567', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '00001111-aaaa-2222-bbbb-3333cccc4444'.]",
	},
	{
		codes: []int{700024}, error: "invalid_client",
		kind: "invalid_certificate", retry: Permanent,
		hint:    "The client assertion is outside its validity window, so this machine's clock is probably wrong: synchronise it (NTP). A ClientAssertion callback must return a fresh assertion each time.",
		doc:     "The client assertion is not within its valid time range.",
		example: "AADSTS700024: Client assertion is not within its valid time range. Current time: 2025-03-20T11:25:21.9722367Z, assertion valid from 2025-03-20T12:25:21.0000000Z, expiry time of assertion 2025-03-20T12:35:21.0000000Z.",
	},
	{
		codes: []int{700016, 700011}, error: "unauthorized_client",
		kind: "app_not_found", retry: Permanent,
		hint:    "No application {ClientID} in tenant {TenantID}. Check that ClientID is the Application (client) ID (App registrations > the app > Overview), that TenantID is the tenant where the app is registered or, for a multi-tenant app, where an admin consented to it, and that the cloud ({Authority}) is right.",
		doc:     "The application was not found in the tenant.",
		example: "AADSTS700016: Application with identifier '00001111-aaaa-2222-bbbb-3333cccc4444' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
	},
	{
		codes: []int{90002}, error: "invalid_request",
		kind: "tenant_not_found", retry: Permanent,
		hint:    "Tenant {TenantID} was not found at {Authority}. Check TenantID (the Directory (tenant) ID, or a verified domain of the tenant) and the Cloud: a GCC High, DoD or China tenant is unknown to the global cloud.",
		doc:     "The tenant does not exist in this cloud.",
		example: "AADSTS90002: Tenant 'contoso.onmicrosoft.con' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.",
	},
	{
		codes: []int{900023, 900021}, error: "invalid_request",
		kind: "tenant_not_found", retry: Permanent,
		hint:    "TenantID {TenantID} is not a valid tenant identifier. Use the Directory (tenant) ID, a GUID from the Entra admin center > Overview, or a verified domain of the tenant.",
		doc:     "The tenant identifier is malformed.",
		example: "AADSTS900023: Specified tenant identifier 'contoso' is neither a valid DNS name, nor a valid external domain.",
	},
	{
		codes: []int{9001023}, error: "invalid_request",
		kind: "tenant_not_found", retry: Permanent,
		hint:    "Client credentials need a tenant-specific endpoint, not /common, /organizations or /consumers. Set TenantID to the Directory (tenant) ID.",
		doc:     "The request went to /common or /consumers.",
		example: "AADSTS9001023: The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
	},
	{
		codes: []int{90038, 900432, 900382}, error: "invalid_request",
		kind: "tenant_not_found", retry: Permanent,
		hint:    hintCloud,
		doc:     "The tenant or the app is in another national cloud.",
		example: "AADSTS900432: Confidential Client is not supported in Cross Cloud request.",
	},
	{
		codes: []int{7000218}, error: "invalid_request",
		kind: "token_request", retry: Permanent,
		hint:    "The token request carried no credential. Set ClientSecret, a non-empty ClientSecretFile, Certificate or ClientAssertion.",
		doc:     "No client secret or assertion was sent.",
		example: "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
	},
	{
		codes: []int{90023, 90014, 900144}, error: "invalid_request",
		kind: "token_request", retry: Permanent,
		hint:    "Entra found the token request malformed. If no proxy rewrites requests to {Authority}, report a bug in o365smtp with this message (it holds no secret).",
		doc:     "The token request is malformed or misses a field.",
		example: "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
	},
	{
		codes: []int{1002012, 70011, 700022}, error: "invalid_scope",
		kind: "token_request", retry: Permanent,
		hint:    hintScope,
		doc:     "The scope is invalid, lacks /.default, or names several resources.",
		example: "AADSTS1002012: The provided value for scope https://outlook.office365.com/SMTP.SendAsApp is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
	},
	{
		codes: []int{500011, 50001}, error: "invalid_resource",
		kind: "token_request", retry: Permanent,
		hint:    "The resource of Scope {Scope} was not found, or is disabled, in tenant {TenantID}. Check Scope for typos (for SMTP: https://outlook.office365.com/.default, or the Cloud's) and that the tenant has Exchange Online.",
		doc:     "The resource (Exchange Online) is not in the tenant, or the scope has a typo.",
		example: "AADSTS500011: The resource principal named https://outlook.office356.com was not found in the tenant named Contoso. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
	},
	{
		codes: []int{65001, 650056, 650057}, error: "invalid_grant",
		kind: "token_request", retry: Permanent,
		hint:    hintConsent,
		doc:     "Admin consent or the API permission is missing.",
		example: "AADSTS650057: Invalid resource. The client has requested access to a resource which is not listed in the requested permissions in the client's application registration.",
	},
	{
		codes: []int{53003}, error: "access_denied",
		kind: "token_request", retry: Permanent,
		hint:    "A Conditional Access policy for workload identities blocked app {ClientID}. An admin must change the policy (Entra admin center > Protection > Conditional Access), for example to allow this machine's network location.",
		doc:     "Conditional Access blocked the token.",
		example: "AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
	},
	{
		codes: []int{530035}, error: "access_denied",
		kind: "token_request", retry: Permanent,
		hint:    "Entra security defaults blocked the request. An admin must review security defaults (Entra admin center > Overview > Properties > Manage security defaults) or replace them with Conditional Access policies.",
		doc:     "Security defaults blocked the request.",
		example: "AADSTS530035: Access has been blocked by security defaults.",
	},
	{
		codes: []int{7000112, 70001}, error: "unauthorized_client",
		kind: "token_request", retry: Permanent,
		hint:    "App {ClientID} is disabled in tenant {TenantID}. An admin can enable it: Entra admin center > Enterprise applications > the app > Properties > Enabled for users to sign-in: Yes.",
		doc:     "The application is disabled.",
		example: "AADSTS7000112: Application '00001111-aaaa-2222-bbbb-3333cccc4444'(Contoso Mailer) is disabled.",
	},
	{
		codes: []int{50034, 50126}, error: "invalid_grant",
		kind: "token_request", retry: Permanent,
		hint:    "Entra answered as to a user sign-in, which client credentials never make. Check TenantID ({TenantID}), and if a TokenSource is used, that it requests an app-only token (client credentials).",
		doc:     "A user account was not found or its password was wrong (user flows only).",
		example: "AADSTS50034: The user account does not exist in the contoso.com directory. To sign into this application, the account must be added to the directory.",
	},
	{
		codes: []int{50196, 90055}, error: "temporarily_unavailable",
		kind: "token_request", retry: Transient,
		hint:    "Entra throttled token requests for app {ClientID}; the request is retried with backoff. Share one token source (NewTokenSource) among Senders and processes rather than requesting a token for each.",
		doc:     "Too many token requests in a short time.",
		example: "AADSTS90055: TenantThrottlingError - There are too many incoming requests. This exception is thrown for blocked tenants.",
	},
	{
		codes: []int{50000, 90006, 90033, 90024, 50033}, error: "temporarily_unavailable",
		kind: "token_request", retry: Transient,
		hint:    hintTransientEntra,
		doc:     "A transient error of the token service.",
		example: "AADSTS90033: A transient error has occurred. Please try again.",
	},

	// Fallbacks.
	{
		error: "temporarily_unavailable",
		kind:  "token_request", retry: Transient,
		hint:     hintTransientEntra,
		doc:      "Entra is temporarily unavailable.",
		fallback: true,
	},
	{
		status: "429",
		kind:   "token_request", retry: Transient,
		hint:     "The token endpoint throttled the request; it is retried with backoff. Share one token source (NewTokenSource) among Senders and processes.",
		doc:      "HTTP 429 Too Many Requests.",
		fallback: true,
	},
	{
		status: "5xx",
		kind:   "token_request", retry: Transient,
		hint:     "The token endpoint failed temporarily; the request is retried with backoff. If it lasts, check Service health and any proxy between here and {Authority}.",
		doc:      "HTTP 5xx from the token endpoint (or a proxy).",
		fallback: true,
	},
	{
		kind: "token_request", retry: Permanent,
		hint:     "Entra refused the token request for app {ClientID} in tenant {TenantID}; the message says why. Look its AADSTS code up at https://login.microsoftonline.com/error.",
		doc:      "Any other token error.",
		fallback: true,
	},
}

// tokenBody is Entra's error JSON.
type tokenBody struct {
	Error            string  `json:"error"`
	ErrorDescription string  `json:"error_description"`
	ErrorCodes       []int64 `json:"error_codes"`
	TraceID          string  `json:"trace_id"`
	CorrelationID    string  `json:"correlation_id"`
}

var (
	aadstsRE   = regexp.MustCompile(`AADSTS(\d{1,9})\b`)
	oauthErrRE = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
)

// ClassifyToken classifies a failed token request from its HTTP status and
// body. The body is Entra's error JSON; anything else is classified by the
// status alone. Message keeps Entra's error_description with its Trace ID,
// Correlation ID and Timestamp lines (Microsoft support asks for them),
// made safe and bounded; it never quotes a body that is not Entra's JSON.
func ClassifyToken(status int, body []byte) Token {
	var tb tokenBody
	_ = json.Unmarshal(body, &tb) // fields that parse are used
	t := Token{Message: tokenMessage(status, tb)}
	if e := strings.ToLower(strings.TrimSpace(tb.Error)); oauthErrRE.MatchString(e) {
		t.Error = e
	}
	for _, c := range tb.ErrorCodes {
		if c > 0 && c < 1e9 {
			t.AADSTS = int(c)
			break
		}
	}
	if t.AADSTS == 0 {
		if m := aadstsRE.FindStringSubmatch(tb.ErrorDescription); m != nil {
			t.AADSTS, _ = strconv.Atoi(m[1])
		}
	}
	row := &tokenRows[matchToken(status, t.AADSTS, t.Error)]
	t.Kind, t.Retry, t.hint = row.kind, row.retry, row.hint
	return t
}

// matchToken returns the index in tokenRows of the row for the error.
func matchToken(status, aadsts int, oauthErr string) int {
	if aadsts != 0 {
		for i, r := range tokenRows {
			if slices.Contains(r.codes, aadsts) {
				return i
			}
		}
	}
	if oauthErr != "" {
		for i, r := range tokenRows {
			if r.codes == nil && r.error == oauthErr {
				return i
			}
		}
	}
	for i, r := range tokenRows {
		switch {
		case r.status == "5xx" && status >= 500 && status <= 599,
			r.status != "" && r.status == strconv.Itoa(status):
			return i
		}
	}
	return len(tokenRows) - 1
}

// maxTraceLine bounds each kept Trace ID, Correlation ID or Timestamp line.
const maxTraceLine = 128

// tokenMessage is the Message of a token error: the error_description's
// text on one line, then its Trace ID, Correlation ID and Timestamp lines
// (from the JSON fields when the description lacks them).
func tokenMessage(status int, tb tokenBody) string {
	desc := strings.ToValidUTF8(tb.ErrorDescription, "\uFFFD")
	var text, trailer []string
	seen := map[string]bool{}
	for _, l := range strings.FieldsFunc(desc, func(r rune) bool { return r == '\r' || r == '\n' }) {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if k := traceKey(l); k != "" && !seen[k] {
			seen[k] = true
			trailer = append(trailer, cut(Sanitize(l), maxTraceLine))
			continue
		}
		if len(text) < 64 { // Sanitize bounds the length; this bounds the work
			text = append(text, l)
		}
	}
	msg := Sanitize(strings.Join(text, " "))
	if msg == "" {
		msg = "token endpoint answered HTTP " + strconv.Itoa(status)
		if e := Sanitize(tb.Error); e != "" {
			msg += ": " + cut(e, 64)
		}
	}
	if id := Sanitize(tb.TraceID); id != "" && !seen["trace id"] {
		trailer = append(trailer, cut("Trace ID: "+id, maxTraceLine))
	}
	if id := Sanitize(tb.CorrelationID); id != "" && !seen["correlation id"] {
		trailer = append(trailer, cut("Correlation ID: "+id, maxTraceLine))
	}
	if len(trailer) > 0 {
		msg += "\n" + strings.Join(trailer, "\n")
	}
	return msg
}

// traceKey returns "trace id", "correlation id" or "timestamp" if l is one
// of the lines Entra appends to error_description, else "".
func traceKey(l string) string {
	k, _, ok := strings.Cut(l, ":")
	if !ok {
		return ""
	}
	switch k = strings.ToLower(strings.TrimSpace(k)); k {
	case "trace id", "correlation id", "timestamp":
		return k
	}
	return ""
}

// cut shortens s to at most n bytes on a rune boundary, marking a cut with
// "...".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..." // drops a rune cut in two
}
