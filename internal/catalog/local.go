package catalog

import (
	"fmt"
	"strings"
)

// localRow is a failure found on this side of the wire: an invalid Config
// or environment variable, a message that cannot be sent, a refusal of the
// client's own, a network or TLS failure without a reply. Like the reply
// and token rows, it gives the Kind, the retry class and the Hint.
type localRow struct {
	// id names the row for the code that reports it, "area.what".
	id string
	// kind is the o365smtp Kind value; op the Error.Op ("" where the
	// reporting code decides, such as the SMTP step that failed).
	kind, op string
	retry    Retry
	// hint is the Hint template: {ClientID} ... as for the other rows,
	// plus {Addr} (host:port), {Subject} (the field, variable or file at
	// fault) and {Choices} (the values it may take).
	hint string
	// doc describes the cause in one sentence, for the README.
	doc string
}

// Local is the classification of a local failure.
type Local struct {
	Kind  string
	Op    string
	Retry Retry
	hint  string
}

// Hint returns the row's Hint with v filled in.
func (l Local) Hint(v Values) string { return fill(l.hint, v) }

// LocalFailure returns the row id. An unknown id is a programming error:
// it panics, and TestLocalIDsExist checks every id the module uses.
func LocalFailure(id string) Local {
	i, ok := localIndex[id]
	if !ok {
		panic(fmt.Sprintf("catalog: no local row %q", id))
	}
	r := localRows[i]
	return Local{Kind: r.kind, Op: r.op, Retry: r.retry, hint: r.hint}
}

var localIndex = func() map[string]int {
	m := make(map[string]int, len(localRows))
	for i, r := range localRows {
		if _, dup := m[r.id]; dup {
			panic("catalog: duplicate local row " + r.id)
		}
		m[r.id] = i
	}
	return m
}()

const (
	hintLoadCert     = "Load the certificate together with its private key, for example with tls.LoadX509KeyPair(certFile, keyFile)."
	hintReachable    = "Check that {Addr} is reachable from here (DNS, firewall, egress proxy). Many networks block outbound SMTP ports; Exchange Online submission uses 587."
	hintPEMBundle    = "Make {Subject} a PEM bundle of CA certificates (-----BEGIN CERTIFICATE----- blocks)."
	hintTenantFormat = "Set {Subject} to the Directory (tenant) ID shown on the app registration's Overview page, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47, or to a verified domain such as contoso.onmicrosoft.com."
)

// localRows is the catalogue of local failures, grouped by area.
var localRows = []localRow{
	// The Config (New).
	{id: "config.cloud", kind: "config", op: "config", doc: "Cloud is not one of the known clouds.",
		hint: `Set Cloud to CloudGlobal ("global"), CloudUSGovGCCHigh ("gcchigh"), CloudUSGovDoD ("dod") or CloudChina ("china").`},
	{id: "config.security", kind: "config", op: "config", doc: "Security is not one of the known modes.",
		hint: `Set Security to SecurityAuto ("auto"), SecurityStartTLS ("starttls") or SecurityImplicitTLS ("tls").`},
	{id: "config.transport", kind: "config", op: "config", doc: "Transport is not one of the known transports.",
		hint: `Set Transport to TransportSMTP ("smtp"), TransportGraph ("graph") or TransportAuto ("auto").`},
	{id: "config.no_credential", kind: "config", op: "config", doc: "No credential is set.",
		hint: "Set ClientSecret to the client secret's Value (Entra admin center > App registrations > your app > Certificates & secrets), or set ClientSecretFile, Certificate, ClientAssertion, ManagedIdentity or TokenSource."},
	{id: "config.two_credentials", kind: "config", op: "config", doc: "More than one credential is set.",
		hint: "Set exactly one of ClientSecret, ClientSecretFile, Certificate, ClientAssertion, ManagedIdentity and TokenSource."},
	{id: "config.tenant_empty", kind: "config", op: "config", doc: "TenantID is empty.",
		hint: "Set TenantID to the Directory (tenant) ID shown on the app registration's Overview page (a GUID), or to a verified domain such as contoso.onmicrosoft.com."},
	{id: "config.tenant_multi", kind: "config", op: "config", doc: "TenantID is common, organizations or consumers, which the client-credentials grant cannot use.",
		hint: "The client-credentials grant needs a specific tenant: set TenantID to the Directory (tenant) ID (a GUID) or a verified domain of the tenant that owns the mailbox."},
	{id: "config.tenant_format", kind: "config", op: "config", doc: "TenantID is neither a GUID nor a domain.", hint: fillSubject(hintTenantFormat, "TenantID")},
	{id: "config.client_empty", kind: "config", op: "config", doc: "ClientID is empty.",
		hint: "Set ClientID to the Application (client) ID shown on the app registration's Overview page (a GUID)."},
	{id: "config.client_format", kind: "config", op: "config", doc: "ClientID is not a GUID.",
		hint: "Set ClientID to the Application (client) ID shown on the app registration's Overview page, a GUID such as 11111111-2222-3333-4444-555555555555."},
	{id: "config.mailbox_empty", kind: "config", op: "config", doc: "Mailbox is empty.",
		hint: "Set Mailbox to the address of the Exchange Online mailbox to send as, such as notifications@contoso.com."},
	{id: "config.mailbox_format", kind: "config", op: "config", doc: "Mailbox is not a bare email address.",
		hint: "Set Mailbox to a bare address such as notifications@contoso.com, without a display name or angle brackets."},
	{id: "config.secret_id", kind: "config", op: "config", doc: "The client secret is a GUID: the Secret ID was pasted instead of the secret's Value.",
		hint: "Use the secret's Value, not its Secret ID: in Certificates & secrets the Value is shown only once, right after the secret is created. If it is lost, create a new client secret and copy its Value."},
	{id: "config.secret_space", kind: "config", op: "config", doc: "The client secret has surrounding whitespace.",
		hint: "Remove the spaces or line breaks around the client secret's Value."},
	{id: "config.secret_file_unreadable", kind: "config", op: "config", doc: "ClientSecretFile cannot be read.",
		hint: "Make ClientSecretFile name a readable file that holds the client secret's Value."},
	{id: "config.secret_file_empty", kind: "config", op: "config", doc: "ClientSecretFile is empty.",
		hint: "Write the client secret's Value into the file named by ClientSecretFile."},
	{id: "config.cert_missing", kind: "config", op: "config", doc: "Certificate has no certificate or no private key.", hint: hintLoadCert},
	{id: "config.cert_not_rsa", kind: "config", op: "config", doc: "Certificate's key is not RSA, which Entra's certificate credential needs.",
		hint: "Create an RSA certificate (2048 bits or more), upload its public part to the app registration (Certificates & secrets > Certificates) and use it here."},
	{id: "config.cert_unparsable", kind: "config", op: "config", doc: "Certificate cannot be parsed.",
		hint: "Load the certificate with tls.LoadX509KeyPair from PEM files."},
	{id: "config.cert_mismatch", kind: "config", op: "config", doc: "Certificate's private key does not belong to it.",
		hint: "Load the certificate and the private key that belong together."},
	{id: "config.cert_credential", kind: "config", op: "config", doc: "MSAL cannot build a credential from Certificate.",
		hint: "Use an RSA certificate with its matching private key."},
	{id: "config.token_client", kind: "config", op: "config", doc: "MSAL cannot build its client from TenantID and AuthorityHost.",
		hint: "Check TenantID and AuthorityHost."},
	{id: "config.host", kind: "config", op: "config", doc: "Host is not a bare host name.",
		hint: `Set Host to a bare DNS name such as "smtp.office365.com" and the port in Port.`},
	{id: "config.port", kind: "config", op: "config", doc: "Port is out of range.",
		hint: "Set Port to 587 (STARTTLS, what Exchange Online uses) or leave it 0 for the default."},
	{id: "config.authority", kind: "config", op: "config", doc: "AuthorityHost is not an https URL of a host.",
		hint: `Set AuthorityHost to the login host only, such as "https://login.microsoftonline.com" (no tenant, no path), or leave it empty for the Cloud's default.`},
	{id: "config.tls_insecure", kind: "config", op: "config", doc: "TLSConfig.InsecureSkipVerify is set.",
		hint: "Remove InsecureSkipVerify: the token must only be sent to a verified server. To trust a private CA, set CAFile or TLSConfig.RootCAs."},
	{id: "config.tls_min", kind: "config", op: "config", doc: "TLSConfig.MinVersion is below TLS 1.2.",
		hint: "Set TLSConfig.MinVersion to tls.VersionTLS12 or leave it 0: Exchange Online requires TLS 1.2 or newer."},
	{id: "config.tls_max", kind: "config", op: "config", doc: "TLSConfig.MaxVersion is below TLS 1.2.",
		hint: "Leave TLSConfig.MaxVersion 0: Exchange Online requires TLS 1.2 or newer."},
	{id: "config.ca_unreadable", kind: "config", op: "config", doc: "CAFile cannot be read.",
		hint: "Make CAFile name a readable PEM file of CA certificates (at most 4 MiB)."},
	{id: "config.ca_format", kind: "config", op: "config", doc: "CAFile holds no usable PEM certificate.", hint: fillSubject(hintPEMBundle, "CAFile")},
	{id: "config.max_connections", kind: "config", op: "config", doc: "MaxConnections is negative.",
		hint: "Set MaxConnections to 0 for Exchange Online's limit of 3 per mailbox, or to a smaller positive number."},
	{id: "config.max_attempts", kind: "config", op: "config", doc: "MaxAttempts is negative.",
		hint: "Set MaxAttempts to 0 for the default of 3, or 1 to disable retries."},
	{id: "config.retry_backoff", kind: "config", op: "config", doc: "RetryBackoff is negative.",
		hint: "Set RetryBackoff to 0 for the default of 1 s, or to the delay before the first retry; set MaxAttempts to 1 to disable retries."},
	{id: "config.managed_identity", kind: "config", op: "config", doc: "ManagedIdentity is neither system nor a client ID.",
		hint: `Set ManagedIdentity to "system" for the resource's system-assigned managed identity, or to the Client ID (a GUID, on the identity's Overview page) of a user-assigned one, not its Object (principal) ID or resource ID.`},

	// Environment variables (ConfigFromEnv).
	{id: "env.choice", kind: "config", op: "config", doc: "A variable is not one of the values it may take.",
		hint: "Set {Subject} to one of {Choices}, or leave it unset for the default."},
	{id: "env.host", kind: "config", op: "config", doc: "O365SMTP_HOST is not a bare host name.",
		hint: "Set {Subject} to a bare DNS name such as smtp.office365.com, and the port in O365SMTP_PORT."},
	{id: "env.port", kind: "config", op: "config", doc: "O365SMTP_PORT is not a port number.",
		hint: "Set {Subject} to a number from 1 to 65535, such as 587 (STARTTLS, what Exchange Online uses), or leave it unset."},
	{id: "env.authority", kind: "config", op: "config", doc: "O365SMTP_AUTHORITY_HOST or AZURE_AUTHORITY_HOST is not an https URL of a host.",
		hint: "Set {Subject} to the login host only, such as https://login.microsoftonline.com (no tenant, no path), or leave it unset for the cloud's default."},
	{id: "env.graph_url", kind: "config", op: "config", doc: "O365SMTP_GRAPH_URL is not an https URL.",
		hint: "Set {Subject} to an https URL such as https://graph.microsoft.com, or leave it unset for the cloud's default."},
	{id: "env.two_credentials", kind: "config", op: "config", doc: "More than one credential variable is set.",
		hint: "Set exactly one of O365SMTP_CLIENT_SECRET, O365SMTP_CLIENT_SECRET_FILE, O365SMTP_CERT_FILE, O365SMTP_CLIENT_ASSERTION_FILE and O365SMTP_MANAGED_IDENTITY, and unset the others."},
	{id: "env.key_without_cert", kind: "config", op: "config", doc: "O365SMTP_KEY_FILE is set without O365SMTP_CERT_FILE.",
		hint: "Set O365SMTP_CERT_FILE to the PEM file of the certificate that goes with the key, or unset O365SMTP_KEY_FILE."},
	{id: "env.managed_identity", kind: "config", op: "config", doc: "O365SMTP_MANAGED_IDENTITY is neither system nor a client ID.",
		hint: "Set {Subject} to system for the system-assigned managed identity, or to the client ID (a GUID) of a user-assigned one."},
	{id: "env.secret_file", kind: "config", op: "config", doc: "O365SMTP_CLIENT_SECRET_FILE names no readable, non-empty regular file.",
		hint: "Make {Subject} name a readable file (at most 1 MiB) that holds the client secret's Value."},
	{id: "env.cert_file", kind: "config", op: "config", doc: "O365SMTP_CERT_FILE names no readable regular file.",
		hint: "Make {Subject} name a readable PEM file (at most 1 MiB) of the certificate (RSA), which may hold its key too."},
	{id: "env.key_file", kind: "config", op: "config", doc: "O365SMTP_KEY_FILE names no readable regular file.",
		hint: "Make {Subject} name a readable PEM file (at most 1 MiB) of the certificate's private key."},
	{id: "env.cert_pair", kind: "config", op: "config", doc: "The certificate and key files do not make a certificate credential.",
		hint: "Set O365SMTP_CERT_FILE to a PEM file with a CERTIFICATE block and O365SMTP_KEY_FILE to a PEM file with its PRIVATE KEY block (or put both in the one file), as openssl req -x509 -newkey rsa:2048 writes them."},
	{id: "env.assertion_file", kind: "config", op: "config", doc: "The federated credential file names no readable, non-empty regular file.",
		hint: "Make {Subject} name a readable file (at most 1 MiB) that holds the federated credential (a JWT), such as the projected service account token."},
	{id: "env.ca_file", kind: "config", op: "config", doc: "O365SMTP_CA_FILE names no readable regular file.",
		hint: "Make {Subject} name a readable PEM file of CA certificates."},

	// The message (Send).
	{id: "message.nil", kind: "invalid_message", op: "message", doc: "The message is nil.", hint: "Pass a message made with mail.NewMsg."},
	{id: "message.no_recipients", kind: "invalid_message", op: "message", doc: "The message has no recipients.", hint: "Add at least one To, Cc or Bcc address."},
	{id: "message.too_many_recipients", kind: "invalid_message", op: "message", doc: "The message has more than 500 recipients.",
		hint: "Exchange Online accepts at most 500 recipients per message (and 10,000 a day per mailbox): split the list into several messages."},
	{id: "message.from", kind: "invalid_message", op: "message", doc: "The message has no usable sender.",
		hint: "Set From (or an envelope sender) to {Mailbox} or to an address the app may send as."},
	{id: "message.render", kind: "invalid_message", op: "message", doc: "go-mail cannot render the message, or an attachment cannot be read, or read differently while it was streamed (the message was not completed).",
		hint: "Check the message's parts and attachments; an attached file must stay readable and unchanged until Send returns."},
	{id: "message.too_large", kind: "invalid_message", op: "message", doc: "The message is larger than the SIZE the server advertises.",
		hint: "Make the message smaller: Exchange Online's default limit is 35 MB per message (150 MB at most), and attachments grow by a third when encoded."},
	{id: "message.utf8_address", kind: "invalid_message", op: "mail", doc: "An envelope address is not ASCII and the server does not offer SMTPUTF8.",
		hint: "Use ASCII addresses (an internationalized domain in its xn-- form), or a server that offers SMTPUTF8."},
	{id: "message.bad_address", kind: "invalid_message", op: "", doc: "An envelope address holds a line break or NUL, which could inject an SMTP command.",
		hint: "An address contains characters SMTP cannot carry (such as a line break)."},

	// The Sender's own state.
	{id: "sender.closed", kind: "closed", op: "message", doc: "Send or Verify after Shutdown or Close.",
		hint: "Create a new Sender with New; Send and Verify fail after Shutdown or Close."},
	{id: "sender.canceled", kind: "canceled", op: "", doc: "The caller's context ended first.",
		hint: "The context ended first; allow more time (a cold start needs a token request and a TLS handshake)."},
	{id: "sender.limiter", kind: "canceled", op: "message", doc: "Config.Limiter's Wait returned an error.",
		hint: "The Limiter's Wait returned an error (for *rate.Limiter: the context's deadline is too close for the next slot)."},

	// The token.
	{id: "token.empty", kind: "token_request", op: "token", doc: "The TokenSource returned an empty access token.",
		hint: "Make the TokenSource return a token, or an error."},
	{id: "token.assertion", kind: "invalid_certificate", op: "token", doc: "The ClientAssertion callback failed.",
		hint: "Fix the ClientAssertion callback: for workload identity, check that the file named by AZURE_FEDERATED_TOKEN_FILE exists and is readable."},
	{id: "token.unreachable", kind: "token_request", op: "token", retry: Transient, doc: "The token endpoint cannot be reached (retried).",
		hint: "Check that {Authority} is reachable over HTTPS from here (proxy, firewall, DNS), and that the Cloud and AuthorityHost are right."},
	{id: "token.too_large", kind: "token_request", op: "token", doc: "The token endpoint's response is larger than 1 MiB (after decompression): not Entra, or something between.",
		hint: "Entra's token responses are a few KiB: check that AuthorityHost ({Authority}) is Entra's login host and that no proxy in between rewrites the response."},
	{id: "token.redirect", kind: "token_request", op: "token", doc: "The token endpoint redirected off https or to another host; the request (with the credential) was not sent there.",
		hint: "Entra's token endpoint does not redirect. Check AuthorityHost ({Authority}) and any proxy in between: the credential is never sent to another host or over plain HTTP."},
	{id: "token.tls", kind: "tls", op: "token", doc: "The token endpoint's certificate cannot be verified, or its TLS handshake failed.",
		hint: "The certificate of {Authority} is not trusted here. Behind a TLS-inspecting proxy, set CAFile (O365SMTP_CA_FILE) to the proxy's CA certificate; otherwise check AuthorityHost and the system's CA certificates."},
	{id: "token.other", kind: "token_request", op: "token", doc: "The token request failed before reaching Entra.",
		hint: "The token request failed before reaching Entra; check TenantID, AuthorityHost and the credential."},
	{id: "token.mi_client", kind: "config", op: "token", doc: "MSAL cannot use the managed identity on this host (such as a user-assigned identity in Cloud Shell or Service Fabric).",
		hint: "This host cannot use {Subject}: Cloud Shell and Service Fabric give only the identity the platform chose. Set ManagedIdentity to system, or use another credential."},
	{id: "token.mi_no_endpoint", kind: "token_request", op: "token", retry: NeedsPerson, doc: "No managed identity endpoint answered: IDENTITY_ENDPOINT is not set and the instance metadata service (169.254.169.254) cannot be reached, so this is not an Azure host with a managed identity.",
		hint: "ManagedIdentity works only on Azure, with the identity turned on: App Service and Functions (the resource > Identity; the platform then sets IDENTITY_ENDPOINT and IDENTITY_HEADER), virtual machines and scale sets (the instance metadata service at 169.254.169.254, which no HTTP proxy may intercept: add it to NO_PROXY) and Arc-enabled servers (the Connected Machine agent). Elsewhere, and in local development, use ClientSecret, Certificate or ClientAssertion with an app registration."},
	{id: "token.mi_unreachable", kind: "token_request", op: "token", retry: Transient, doc: "The identity endpoint named by IDENTITY_ENDPOINT cannot be reached (retried).",
		hint: "The platform's identity endpoint ({Authority}) did not answer. It runs on the host: if this persists, restart the app, and check that IDENTITY_ENDPOINT is the platform's value and that no HTTP proxy intercepts it (add its host to NO_PROXY)."},
	{id: "token.mi_not_assigned", kind: "app_not_found", op: "token", doc: "The identity endpoint does not know the identity: the system-assigned identity is off, or the user-assigned one is not assigned to this resource, or the client ID is wrong.",
		hint: "{Subject} is not assigned to this Azure resource. For system: turn the system-assigned identity on (the resource > Identity > System assigned > On). For a user-assigned identity: add it to the resource (Identity > User assigned > Add) and set ManagedIdentity to its Client ID, not its Object (principal) ID. A resource with several user-assigned identities and no system-assigned one needs the client ID of one of them."},
	{id: "token.mi_header", kind: "token_request", op: "token", doc: "The identity endpoint refused the request's X-IDENTITY-HEADER (HTTP 401 or 403).",
		hint: "The identity endpoint ({Authority}) refused IDENTITY_HEADER: the process must run with the IDENTITY_ENDPOINT and IDENTITY_HEADER the platform set for it (they are not portable between apps, slots or containers). Restart the app."},
	{id: "token.mi_unavailable", kind: "token_request", op: "token", retry: Transient, doc: "The identity endpoint is busy or unavailable: HTTP 429, 410 or 5xx (retried).",
		hint: "The managed identity endpoint ({Authority}) is busy or restarting; the request is retried. If this persists, restart the app or check Azure's status page."},
	{id: "token.mi_refused", kind: "token_request", op: "token", doc: "The identity endpoint refused the token request for another reason.",
		hint: "The managed identity endpoint refused the token request for {Subject}; its message says why. Check that Scope ({Scope}) names a resource of this cloud."},
	{id: "token.mi_other", kind: "token_request", op: "token", doc: "The managed identity token request failed before an answer could be read.",
		hint: "The managed identity token request for {Subject} failed. On an Arc-enabled server the process must be allowed to read the agent's key files (Linux: a member of the himds group; Windows: the Administrators group or Hybrid agent extension applications)."},
	{id: "token.audience", kind: "config", op: "token", doc: "The token is for a resource Exchange Online's SMTP AUTH refuses (such as Microsoft Graph); it was not sent.",
		hint: "Request the token for Exchange Online: Scope must be {Scope} (https://outlook.office365.com/.default in the worldwide cloud), or leave Scope empty for the Cloud's default. A Graph token (https://graph.microsoft.com/.default) is for Transport graph."},
	{id: "token.claims", kind: "config", op: "token", doc: "The token is for another resource, tenant or app than the Config says (Verify).",
		hint: "Request the token for {Scope} from tenant {TenantID} with app {ClientID}: check Scope, TenantID, ClientID and the TokenSource."},

	// The SMTP session, where no reply says what went wrong.
	{id: "smtp.unknown_outcome", kind: "unknown_outcome", op: "data", doc: "The connection ended after the message data was sent and before the server's reply.",
		hint: "The message may have been delivered. It was not resent, to avoid a duplicate: check the recipient or the mailbox's Sent Items before sending it again."},
	{id: "smtp.not_smtp", kind: "unexpected_reply", op: "", doc: "The server's reply is not SMTP, or longer than the client accepts (4 KiB a line, 128 lines or 64 KiB a reply).",
		hint: "{Addr} does not speak SMTP as Exchange Online does: check Host and Port (Exchange Online: smtp.office365.com, port 587)."},
	{id: "smtp.broken_reply", kind: "unexpected_reply", op: "", retry: Transient, doc: "A reply within a transaction is not SMTP or too long (retried on a new connection).",
		hint: "The server broke the SMTP protocol; the message was not sent. It is retried on a new connection if attempts remain."},
	{id: "smtp.no_greeting", kind: "connection", op: "connect", doc: "The server sent no greeting within 5 s: usually not SMTP on that port.",
		hint: `Exchange Online greets at once. A silent server is usually not SMTP on that port: port 465 expects implicit TLS (set Security to "tls", or use port 587 with STARTTLS), 443 is HTTPS. Check Host and Port ({Addr}).`},
	{id: "smtp.unreachable", kind: "connection", op: "", retry: Transient, doc: "The connection could not be made, broke, or timed out before the session was set up (retried).",
		hint: hintReachable},
	{id: "smtp.broken", kind: "connection", op: "", retry: Transient, doc: "The connection broke during a transaction, before the message data was sent (retried).",
		hint: "The connection broke before the message was sent; it is retried on a new connection."},
	{id: "smtp.session", kind: "connection", op: "", doc: "The SMTP session could not be set up for another reason.",
		hint: "Check Host, Port and Security."},
	{id: "smtp.not_encrypted", kind: "tls", op: "tls", doc: "AUTH was about to be sent on a connection without TLS; the token was not sent.",
		hint: "Exchange Online requires STARTTLS on port 587. Check Host, Port and Security."},
	{id: "smtp.no_starttls", kind: "tls", op: "tls", doc: "The server did not offer STARTTLS; the token was not sent.",
		hint: "{Addr} did not offer STARTTLS, so the token was not sent. Exchange Online offers it on port 587: check Host and Port."},
	{id: "smtp.injected", kind: "tls", op: "tls", doc: "The server sent plaintext after its STARTTLS reply (the STARTTLS command-injection attack, CVE-2011-0411).",
		hint: "{Addr} sent data after its STARTTLS reply, which a genuine server never does (it is how STARTTLS command injection works). Nothing was sent. Check for an intercepting proxy on the path to {Addr}."},
	{id: "smtp.no_xoauth2", kind: "unexpected_reply", op: "auth", doc: "The server does not offer AUTH XOAUTH2 after TLS; the token was not sent.",
		hint: "{Addr} does not offer AUTH XOAUTH2 after TLS, so the token was not sent. Exchange Online does on smtp.office365.com:587; a server that does not is not Exchange Online's SMTP AUTH endpoint (check Host), or a front end that does not allow SMTP AUTH."},
	{id: "tls.verify", kind: "tls", op: "tls", doc: "The server's certificate cannot be verified.",
		hint: "Connect to {Addr} by the DNS name on its certificate (smtp.office365.com, never an IP address). Behind a TLS-inspecting proxy, set CAFile to its CA certificate."},
	{id: "tls.handshake", kind: "tls", op: "tls", doc: "The TLS handshake failed (not TLS, or an alert).",
		hint: "Exchange Online requires TLS 1.2 or newer. Check that Host and Port point at the SMTP submission service and that nothing intercepts TLS."},
	{id: "tls.refused", kind: "tls", op: "tls", doc: "The server refused the TLS versions and ciphers offered.",
		hint: "Exchange Online requires TLS 1.2 or newer; this server refused the versions and ciphers offered. Check that Host and Port point at the SMTP submission service."},

	// The Graph transport, where no Graph error body says what went wrong.
	{id: "graph.unknown_outcome", kind: "unknown_outcome", op: "graph", doc: "The sendMail (or a large message's send) request was sent and no response came within the 3 s grace (Graph has no idempotency key, so it is never resent).",
		hint: "The message may have been delivered: check {Mailbox}'s Sent Items before sending it again. Graph's sendMail has no idempotency key, so o365smtp never resends it."},
	{id: "graph.unreachable", kind: "connection", op: "graph", retry: Transient, doc: "Graph cannot be reached, or the connection broke before the request was sent (retried).",
		hint: "Check that {Addr} is reachable from here over HTTPS (DNS, firewall, egress proxy)."},
	{id: "graph.tls", kind: "tls", op: "graph", doc: "Graph's certificate cannot be verified, or its TLS handshake failed.",
		hint: "Connect to {Addr} by the DNS name on its certificate. Behind a TLS-inspecting proxy, set CAFile to its CA certificate."},
	{id: "graph.redirect", kind: "unexpected_reply", op: "graph", doc: "Graph redirected off https or to another host; the token was not sent there.",
		hint: "Check GraphURL ({Addr}): it must be Graph's https URL (leave it empty for the Cloud's default)."},
	{id: "graph.too_large", kind: "invalid_message", op: "message", doc: "What stays in a large message's draft (the body and the attachments under 2 MiB, which upload sessions do not take) is larger than one Graph request may be (4 MB of base64 MIME, about 3 MB).",
		hint: "Attachments of 2 MiB or more are uploaded in chunks, but the rest of the message must fit in one Graph request of 4 MB (about 3 MB of MIME): put fewer small attachments in it (zip them into one), or send it over SMTP (Transport smtp), which takes up to the mailbox's MaxSendSize (35 MB by default)."},
	{id: "graph.draft_failed", kind: "connection", op: "graph", retry: Transient, doc: "The connection broke while a large message's draft or attachments were being made; the draft was deleted and nothing was sent (retried).",
		hint: "Nothing was sent: the draft was deleted (best effort; a leftover draft in {Mailbox}'s Drafts folder is harmless). Check that {Addr} is reachable from here over HTTPS if it lasts."},
	{id: "graph.upload_url", kind: "unexpected_reply", op: "graph", doc: "An upload session's uploadUrl is missing or not https; no attachment bytes were sent there.",
		hint: "Check GraphURL ({Addr}): it must be Microsoft Graph or a proxy that passes its answers through unchanged. Upload URLs must be https."},
	{id: "graph.attachment_changed", kind: "invalid_message", op: "message", doc: "An attachment gave a different number of bytes when it was uploaded than when it was measured.",
		hint: "An attachment's content changed while the message was being sent (a file written to, or a reader that cannot be read twice). Attach a file that does not change, or the bytes themselves (AttachReader), and send again."},
	{id: "graph.response", kind: "unexpected_reply", op: "graph", doc: "Graph's response is not what the request expects (another 2xx, a draft without an id, or a body larger than 1 MiB).",
		hint: "Check GraphURL ({Addr}): it must be Microsoft Graph or a proxy that passes its answers through unchanged."},
	{id: "config.graph_url", kind: "config", op: "config", doc: "GraphURL is not an https URL of a host.",
		hint: "Set GraphURL to Graph's base URL, such as https://graph.microsoft.com (no path), or leave it empty for the Cloud's default."},
	{id: "config.auto_token_source", kind: "config", op: "config", doc: "TransportAuto with a TokenSource: one source cannot give both an Exchange and a Graph token.",
		hint: "With a TokenSource, choose TransportSMTP (Exchange tokens) or TransportGraph (Graph tokens). TransportAuto needs a credential (secret, certificate, assertion) from which o365smtp requests both tokens."},

	// Verify's own checks.
	{id: "verify.implicit_tls", kind: "config", op: "config", doc: "Implicit TLS is configured for Exchange Online, which offers only STARTTLS.",
		hint: "Exchange Online's SMTP AUTH submission uses STARTTLS on port 587: set Port to 587 (or 0) and Security to auto or starttls."},
	{id: "verify.cert_expired", kind: "invalid_certificate", op: "config", doc: "The certificate credential has expired.",
		hint: "Create a new certificate, upload its public part to the app registration (Certificates & secrets > Certificates) and configure it here."},
}

// fillSubject fixes a template's {Subject} for a row about one field.
func fillSubject(h, subject string) string { return strings.ReplaceAll(h, "{Subject}", subject) }
