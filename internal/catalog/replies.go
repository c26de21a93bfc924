package catalog

// Hint conventions: a Hint is short plain text; a line indented by two
// spaces is a command to run as is (the README shows it as code). Values
// come from placeholders in braces (see fill); there is no placeholder for a
// secret or a token.

const (
	hintLimits = "Exchange Online's limits are per mailbox: 3 concurrent connections, 30 messages a minute and 10,000 recipients a day, so every process or replica sending as {Mailbox} adds up."

	hintTakesTime = "Changes can take 15-30 minutes to apply."

	hintBasicAuth = "This 5.7.139 reply answers Basic authentication (a password); o365smtp only sends OAuth tokens (XOAUTH2). Check that Host ({Host}) is Exchange Online's SMTP AUTH endpoint (smtp.office365.com, or your cloud's) and that no proxy or relay in between signs in with a password of its own."

	hintAuthFailed = `Exchange Online rejected the token for {Mailbox}. The causes, most likely first:
1. The app's service principal is not registered in Exchange Online, or with the wrong object ID. In Exchange Online PowerShell:
  New-ServicePrincipal -AppId {ClientID} -ObjectId {ObjectID}
The object ID is the Enterprise application's (Entra admin center > Enterprise applications > the app), not the App registration's.
2. The service principal may not access the mailbox:
  Add-MailboxPermission -Identity {Mailbox} -User {ObjectID} -AccessRights FullAccess
3. The app lacks the SMTP.SendAsApp application permission of Office 365 Exchange Online, or admin consent for it: App registrations > the app > API permissions > Grant admin consent.
4. The token is for another resource: Scope must be {Scope}.
` + hintTakesTime

	hintSendAs = `The app may not send as {From}. Send as {Mailbox}, or grant Send As on {From} to the mailbox the app signs in as (what Exchange checks for app-only SMTP submission), and, if that is not enough, to the app's service principal:
  Add-RecipientPermission -Identity {From} -Trustee {Mailbox} -AccessRights SendAs
  Add-RecipientPermission -Identity {From} -Trustee {ObjectID} -AccessRights SendAs
FullAccess on {From} does not grant Send As.
` + hintTakesTime

	hintNotAuthenticated = "Exchange got MAIL FROM on a session that was not authenticated. o365smtp authenticates first, so something in between lost the login: check that Host ({Host}) is Exchange Online's SMTP AUTH endpoint (smtp.office365.com, or your cloud's) and that no proxy sits in between."

	hintSuspended = "Not retried: a person must fix the cause; Exchange lifts the block after a while, and sending sooner prolongs it. " + hintLimits

	hintQuota = "Not retried: sending resumes when the rolling 24-hour count falls below the limit, and a person should check the volume (an unexpected one may mean the app or the mailbox is misused). " + hintLimits

	hintRecipient = "The recipient address was refused: check it for typos and that the recipient exists. The message was sent to no one (Error.Recipients lists the refused addresses): fix or drop them and send again."

	hintSize = "The message is too large. Exchange Online accepts at most 150 MB (SIZE) and a mailbox sends at most its MaxSendSize (35 MB by default); attachments grow by about a third when encoded. Send a smaller message, or raise the limit (up to 150 MB):\n  Set-Mailbox -Identity {Mailbox} -MaxSendSize 150MB"
)

// replyRows is the catalogue of SMTP replies, from exchange-online.md
// section 2 (and prior-art.md). ClassifyReply uses the most specific
// matching row; the rows marked fallback catch everything else.
var replyRows = []replyRow{
	// 2.1 Connection, TLS, protocol.
	{
		code: "421", enhanced: "4.7.66",
		kind: "tls", retry: Permanent,
		hint:     "Exchange Online requires TLS 1.2 or newer and this connection negotiated TLS 1.0 or 1.1. Remove any TLSConfig.MaxVersion below TLS 1.2, and check that no TLS-intercepting proxy between here and {Host} downgrades the connection.",
		doc:      "The connection negotiated TLS 1.0 or 1.1.",
		examples: []string{"421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2. Visit https://aka.ms/smtp_auth_tls"},
	},
	{
		code: "4xx", enhanced: "4.7.0", text: []string{"temporary server error"},
		kind: "connection", retry: Transient,
		hint: "A temporary Exchange Online error; the message is retried on a new connection with backoff. If it lasts, check Service health in the Microsoft 365 admin center.",
		doc:  "A transient error of Exchange's front end or proxy.",
		examples: []string{
			"421 4.7.0 Temporary server error. Please try again later. PRX4 [AM5PR0701CA0008.eurprd07.prod.outlook.com]",
			"451 4.7.0 Temporary server error. Please try again later. PRX5 [BN6PR11CA0011.namprd11.prod.outlook.com]",
		},
	},
	{
		code: "421",
		kind: "connection", retry: Transient,
		hint:     "Exchange Online closed the session; the message is retried on a new connection with backoff.",
		doc:      "Service not available: the server is closing the connection.",
		examples: []string{"421 4.3.2 Service not available, closing transmission channel"},
	},
	{
		code: "4xx", text: []string{"timeout waiting for client input"},
		kind: "connection", retry: Transient,
		hint:     "Exchange Online closes connections that stay idle for a few minutes; the message is retried on a new connection.",
		doc:      "An idle connection timed out.",
		examples: []string{"451 4.7.0 Timeout waiting for client input [BE1P281CA0440.DEUP281.PROD.OUTLOOK.COM 2025-08-04T11:20:31.000Z 08DDD30471EE4ED5]"},
	},
	{
		code: "4xx", enhanced: "4.4.1",
		kind: "connection", retry: Transient,
		hint:     "Exchange ended a long session (about 20 minutes); the message is retried on a new connection.",
		doc:      "The session reached Exchange's time limit.",
		examples: []string{"421 4.4.1 Connection timed out. Total session duration: 00:20:55.2872355"},
	},
	{
		code: "503", enhanced: "5.5.2",
		kind: "unexpected_reply", retry: Permanent,
		hint:     "The server wanted EHLO again, as after STARTTLS. o365smtp always sends it, so something between here and {Host} rewrites the session (an SMTP proxy or a TLS-intercepting middlebox); if there is none, report a bug with the full reply.",
		doc:      "A command came before EHLO (no EHLO after STARTTLS).",
		examples: []string{"503 5.5.2 Send hello first [SY5P282CA0097.AUSP282.PROD.OUTLOOK.COM 2025-11-23T11:12:21.000Z 08DE2A6028D26C22]"},
	},
	{
		code: "500", enhanced: "5.3.3",
		kind: "unexpected_reply", retry: Permanent,
		hint:     "The server did not recognise a command, so something between here and {Host} garbles the session (a proxy, or a Host that is not Exchange Online). If there is none, report a bug with the full reply.",
		doc:      "An unknown or garbled command.",
		examples: []string{"500 5.3.3 Unrecognized command 'Length: 2' [BE1P281CA0440.DEUP281.PROD.OUTLOOK.COM 2025-08-04T11:15:31.000Z 08DDD30471EE4ED5]"},
	},
	{
		code: "504", enhanced: "5.7.4",
		kind: "auth_failed", retry: Permanent,
		hint:     "The server does not take AUTH XOAUTH2 here. Check that Host ({Host}) is Exchange Online's SMTP AUTH endpoint for your cloud, not an MX or relay host, and that no proxy strips STARTTLS.",
		doc:      "The authentication mechanism is not offered (AUTH before STARTTLS, or not an SMTP AUTH endpoint).",
		examples: []string{"504 5.7.4 Unrecognized authentication type [SN2PR00CA0018.namprd00.prod.outlook.com 2024-02-14T14:50:26.590Z 08DC2D372B4C3DED]"},
	},

	// 2.2 Authentication.
	{
		code: "535", enhanced: "5.7.3",
		kind: "auth_failed", retry: Permanent,
		hint: hintAuthFailed,
		doc:  "Exchange rejected the token: service principal not registered (or with the App registration's object ID), no mailbox permission, no SMTP.SendAsApp consent, or a token for another resource.",
		examples: []string{
			"535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com 2024-02-14T14:50:26.590Z 08DC2D372B4C3DED]",
			"535 5.7.3 Authentication unsuccessful [SN2PR00CA0018.namprd00.prod.outlook.com]",
		},
	},
	{
		code: "535", enhanced: "5.7.139", text: []string{"SmtpClientAuthentication is disabled for the Tenant"},
		kind: "smtp_auth_disabled", retry: Permanent,
		hint: "SMTP AUTH is disabled for the tenant (the default for tenants created since 2020), and OAuth needs it too. Enable it for {Mailbox} only:\n" +
			"  Set-CASMailbox -Identity {Mailbox} -SmtpClientAuthenticationDisabled $false\n" +
			"or for the whole tenant:\n" +
			"  Set-TransportConfig -SmtpClientAuthenticationDisabled $false\n" + hintTakesTime,
		doc:      "SMTP AUTH is disabled for the tenant and the mailbox does not override it.",
		examples: []string{"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [MN2PR05CA0004.namprd05.prod.outlook.com 2023-09-12T20:59:57.214Z 08DBB276B7E699C4]"},
	},
	{
		code: "535", enhanced: "5.7.139", text: []string{"SmtpClientAuthentication is disabled for the Mailbox"},
		kind: "smtp_auth_disabled", retry: Permanent,
		hint: "SMTP AUTH is disabled for the mailbox {Mailbox}, and OAuth needs it too. Enable it:\n" +
			"  Set-CASMailbox -Identity {Mailbox} -SmtpClientAuthenticationDisabled $false\n" + hintTakesTime,
		doc:      "SMTP AUTH is disabled for the mailbox.",
		examples: []string{"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information. [BY5PR04CA0010.namprd04.prod.outlook.com 2024-05-02T09:01:12.345Z 08DC6A1F2E3D4C5B]"},
	},
	{
		code: "535", enhanced: "5.7.139", text: []string{"SmtpClientAuthentication is disabled"},
		kind: "smtp_auth_disabled", retry: Permanent,
		hint: "SMTP AUTH is disabled for {Mailbox} or its tenant, and OAuth needs it too. Enable it for the mailbox:\n" +
			"  Set-CASMailbox -Identity {Mailbox} -SmtpClientAuthenticationDisabled $false\n" +
			"or for the whole tenant:\n" +
			"  Set-TransportConfig -SmtpClientAuthenticationDisabled $false\n" + hintTakesTime,
		doc:      "SMTP AUTH is disabled (other wording).",
		examples: []string{"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled. [DM6PR02CA0123.namprd02.prod.outlook.com]"},
	},
	{
		code: "535", enhanced: "5.7.139", text: []string{"did not meet the criteria to be authenticated"},
		kind: "auth_failed", retry: Permanent,
		hint:     "A Conditional Access policy blocked a Basic-auth sign-in. " + hintBasicAuth,
		doc:      "Conditional Access blocked a Basic-auth (password) sign-in.",
		examples: []string{"535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully. Contact your administrator. [AM0PR06CA0126.eurprd06.prod.outlook.com 2024-02-14T14:50:26.590Z 08DC2D372B4C3DED]"},
	},
	{
		code: "535", enhanced: "5.7.139", text: []string{"security defaults"},
		kind: "auth_failed", retry: Permanent,
		hint:     "Entra security defaults block Basic-auth sign-ins. " + hintBasicAuth,
		doc:      "Security defaults blocked a Basic-auth (password) sign-in.",
		examples: []string{"535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator. [SG2PR02CA0012.apcprd02.prod.outlook.com]"},
	},
	{
		code: "535", enhanced: "5.7.139", text: []string{"basic authentication is disabled"},
		kind: "auth_failed", retry: Permanent,
		hint:     "A policy disables Basic auth. " + hintBasicAuth,
		doc:      "Basic auth is disabled by policy.",
		examples: []string{"535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [PH0PR07CA0051.namprd07.prod.outlook.com]"},
	},
	{
		code: "535", enhanced: "5.7.139", text: []string{"user credentials were incorrect"},
		kind: "auth_failed", retry: Permanent,
		hint:     "A password was wrong. " + hintBasicAuth,
		doc:      "A Basic-auth password was wrong.",
		examples: []string{"535 5.7.139 Authentication unsuccessful, the user credentials were incorrect. [LO4P123CA0456.GBRP123.PROD.OUTLOOK.COM]"},
	},
	{
		code: "535", enhanced: "5.7.139", text: []string{"account locked"},
		kind: "auth_failed", retry: NeedsPerson,
		hint:     "Not retried: Entra smart lockout locked the account after failed password sign-ins, and an admin must unlock it (or the lockout end). " + hintBasicAuth,
		doc:      "The account is locked after failed Basic-auth sign-ins.",
		examples: []string{"535 5.7.139 Authentication unsuccessful, account locked. [CH2PR20CA0012.namprd20.prod.outlook.com]"},
	},
	{
		code: "535", enhanced: "5.7.139", text: []string{"federated STS service was unreachable"},
		kind: "auth_failed", retry: NeedsPerson,
		hint:     "Not retried: the federation server (AD FS) of a Basic-auth sign-in could not be reached, and its admin must fix it. " + hintBasicAuth,
		doc:      "A federated (AD FS) Basic-auth sign-in could not reach the STS.",
		examples: []string{"535 5.7.139 Authentication unsuccessful, federated STS service was unreachable. [DB8PR06CA0011.eurprd06.prod.outlook.com]"},
	},
	{
		code: "535", enhanced: "5.7.139", text: []string{"STS URL does not support HTTPS"},
		kind: "auth_failed", retry: Permanent,
		hint:     "The federation server (AD FS) of a Basic-auth sign-in is misconfigured. " + hintBasicAuth,
		doc:      "A federated (AD FS) Basic-auth sign-in has an STS URL without HTTPS.",
		examples: []string{"535 5.7.139 Authentication unsuccessful, STS URL does not support HTTPS. [DB8PR06CA0011.eurprd06.prod.outlook.com]"},
	},
	{
		code: "535", enhanced: "5.7.139",
		kind: "auth_failed", retry: Permanent,
		hint: "Exchange refused the sign-in by policy. If the text mentions SmtpClientAuthentication, enable SMTP AUTH:\n" +
			"  Set-CASMailbox -Identity {Mailbox} -SmtpClientAuthenticationDisabled $false\n" +
			"Otherwise it is a Basic-auth refusal: " + hintBasicAuth,
		doc:      "Another 5.7.139 refusal.",
		examples: []string{"535 5.7.139 Authentication unsuccessful, something else went wrong. [BN9PR03CA0001.namprd03.prod.outlook.com]"},
	},
	{
		code: "550", enhanced: "5.7.30",
		kind: "auth_failed", retry: Permanent,
		hint:     "Basic auth (a password) is retired for SMTP AUTH, and o365smtp only sends OAuth tokens (XOAUTH2). Check that Host ({Host}) is Exchange Online's SMTP AUTH endpoint (smtp.office365.com, or your cloud's) and that no proxy or relay in between signs in with a password of its own.",
		doc:      "Basic authentication is no longer accepted for client submission.",
		examples: []string{"550 5.7.30 Basic authentication is not supported for Client Submission."},
	},
	{
		code: "501", enhanced: "5.5.124",
		kind: "auth_failed", retry: Permanent,
		hint:     "Exchange did not accept {Mailbox} as the mailbox to sign in as. Set Mailbox to the primary SMTP address of a licensed mailbox in the tenant.",
		doc:      "The XOAUTH2 user (the Mailbox) is not a valid address.",
		examples: []string{"501 5.5.124 Invalid XOAUTH2 auth data - User address provided is not valid. Please ensure the auth data is valid."},
	},
	{
		code: "501", enhanced: "5.5.127",
		kind: "auth_failed", retry: Transient,
		hint:     "The access token was about to expire; a fresh token is fetched and the message retried.",
		doc:      "The token expires within minutes (seen on smtp-hve.office365.com).",
		examples: []string{"501 5.5.127 Invalid XOAUTH2 auth data - Token will expire soon"},
	},

	// 2.3 Envelope.
	{
		code: "530", enhanced: "5.7.57",
		kind: "auth_failed", retry: Permanent,
		hint:     hintNotAuthenticated,
		doc:      "MAIL FROM on a session that is not authenticated.",
		examples: []string{"530 5.7.57 Client not authenticated to send mail. [BN9PR03CA0001.namprd03.prod.outlook.com 2024-03-01T10:00:00.000Z 08DC39C0A1B2C3D4]"},
	},
	{
		enhanced: "5.7.60",
		kind:     "send_as_denied", retry: Permanent,
		hint:     hintSendAs,
		doc:      "The From address is not the signed-in mailbox and the app has no Send As right on it.",
		examples: []string{"550 5.7.60 SMTP; Client does not have permissions to send as this sender [DM6PR02CA0123.namprd02.prod.outlook.com 2024-03-01T10:00:00.000Z 08DC39C0A1B2C3D4]"},
	},
	{
		stages: "mail", code: "502", enhanced: "5.3.3",
		kind: "unexpected_reply", retry: Permanent,
		hint:     "Exchange Online refused a parameter of MAIL FROM: it advertises SMTPUTF8 but answers the SMTPUTF8 parameter with 502 5.3.3. o365smtp sends SMTPUTF8 only for an address that is not ASCII: use ASCII addresses (an internationalized domain in its xn-- form). Another client that adds SMTPUTF8 (or BODY=BINARYMIME) to every MAIL FROM must stop doing so.",
		doc:      "A MAIL FROM parameter (SMTPUTF8) that Exchange advertises but refuses.",
		examples: []string{"502 5.3.3 Command not implemented"},
	},
	{
		stages: "mail rcpt data", code: "451", text: []string{"STARTTLS is required"},
		kind: "tls", retry: Permanent,
		hint:     "Exchange got a message on a session without TLS. o365smtp always upgrades with STARTTLS first, so something in between removed it: check that Host ({Host}) is Exchange Online's SMTP AUTH endpoint and that no proxy sits in between.",
		doc:      "The session is not encrypted: Exchange requires STARTTLS before MAIL.",
		examples: []string{"451 5.7.3 STARTTLS is required to send mail [AM0PR06CA0126.eurprd06.prod.outlook.com 2026-11-30T14:50:26.590Z 08DE2A6028D26C22]"},
	},
	{
		stages: "starttls", code: "4xx",
		kind: "tls", retry: Transient,
		hint:     "{Host} could not start TLS just now; the message is retried on a new connection. If it lasts, check that Host is Exchange Online's SMTP AUTH endpoint and that nothing intercepts port 587.",
		doc:      "STARTTLS refused for a temporary reason.",
		examples: []string{"454 4.7.0 TLS not available due to temporary reason"},
	},
	{
		stages: "starttls", code: "5xx",
		kind: "tls", retry: Permanent,
		hint:     "{Host} refused STARTTLS, so the token was not sent. Exchange Online offers STARTTLS on port 587: check Host and Port, and that nothing intercepts the connection.",
		doc:      "STARTTLS refused.",
		examples: []string{"554 5.7.0 TLS not available"},
	},
	{
		enhanced: "5.1.8",
		kind:     "sender_blocked", retry: Permanent,
		hint:     "Microsoft restricted {Mailbox} from sending, usually after it sent spam: the account or the app may be compromised. Secure them, then an admin removes the mailbox from Restricted entities at https://security.microsoft.com/restrictedentities.",
		doc:      "The mailbox is restricted for sending spam.",
		examples: []string{"550 5.1.8 Access denied, bad outbound sender AS(42004) [AM0PR06CA0126.eurprd06.prod.outlook.com]"},
	},
	{
		enhanced: "5.7.501-503",
		kind:     "sender_blocked", retry: Permanent,
		hint: "Microsoft banned {Mailbox} from sending after detecting spam. Secure the account and the app (rotate the app's credential), then open a Microsoft support request to lift the ban.",
		doc:  "The account is banned for spam.",
		examples: []string{
			"550 5.7.501 Access denied, spam abuse detected",
			"550 5.7.502 Access denied, banned sender",
			"550 5.7.503 Access denied, banned sender",
		},
	},
	{
		enhanced: "5.7.705",
		kind:     "sender_blocked", retry: Permanent,
		hint:     "The tenant is blocked from sending: it exceeded the outbound spam threshold, or its subscription lapsed. An admin must open a Microsoft support request.",
		doc:      "The tenant is blocked for outbound spam.",
		examples: []string{"550 5.7.705 Access denied, tenant has exceeded threshold"},
	},
	{
		enhanced: "5.7.708",
		kind:     "sender_blocked", retry: Permanent,
		hint:     "Exchange Online does not accept mail from the tenant's traffic (typical of trial tenants with low reputation). An admin must contact Microsoft support, or the tenant needs paid licenses.",
		doc:      "Traffic from this tenant's IP range is not accepted.",
		examples: []string{"550 5.7.708 Access denied, traffic not accepted from this IP"},
	},
	{
		enhanced: "5.7.750",
		kind:     "sender_blocked", retry: Permanent,
		hint:     "The tenant is blocked from sending from domains it has not verified. Send as {Mailbox}, or add and verify the From address's domain in the Microsoft 365 admin center (Settings > Domains).",
		doc:      "The tenant sent too much from unregistered domains.",
		examples: []string{"550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains"},
	},
	{
		code: "452", enhanced: "4.5.3",
		kind: "recipient_rejected", retry: Transient,
		hint:     "Too many recipients in one message: Exchange Online accepts at most 500 (To, Cc and Bcc together). Split the recipients over several messages.",
		doc:      "Too many recipients in one transaction.",
		examples: []string{"452 4.5.3 Too many recipients (AS780090) [BY5PR04CA0010.namprd04.prod.outlook.com]"},
	},
	{
		code: "4xx", enhanced: "4.7.500-699",
		kind: "throttled", retry: Transient,
		hint:     "Exchange Online temporarily restricted sending after suspicious activity; the message is retried with backoff. If it keeps happening, check the mailbox for misuse. " + hintLimits,
		doc:      "Sending is temporarily restricted (server busy).",
		examples: []string{"451 4.7.500 Server busy. Please try again later from [203.0.113.7]. (AS761) [BY5PR04CA0010.namprd04.prod.outlook.com]"},
	},
	{
		enhanced: "5.7.64",
		kind:     "recipient_rejected", retry: Permanent,
		hint:     "Exchange treated the session as an unauthenticated relay, which happens on a tenant's MX endpoint (*.mail.protection.outlook.com), not on SMTP AUTH. Check that Host ({Host}) is Exchange Online's SMTP AUTH endpoint (smtp.office365.com, or your cloud's).",
		doc:      "Relay refused (connector-based relay, not SMTP AUTH).",
		examples: []string{"550 5.7.64 TenantAttribution; Relay Access Denied [BN8NAM12FT012.eop-nam12.prod.protection.outlook.com]"},
	},
	{
		enhanced: "5.1.10",
		kind:     "recipient_rejected", retry: Permanent,
		hint:     hintRecipient,
		doc:      "The recipient does not exist.",
		examples: []string{"550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"},
	},
	{
		enhanced: "5.1.1",
		kind:     "recipient_rejected", retry: Permanent,
		hint:     hintRecipient,
		doc:      "The recipient mailbox does not exist.",
		examples: []string{"550 5.1.1 Bad destination mailbox address"},
	},
	{
		stages: "mail", enhanced: "5.1.*",
		kind: "invalid_message", retry: Permanent,
		hint:     "Exchange refused the sender address {From}. Use a valid address, normally {Mailbox}.",
		doc:      "At MAIL FROM, a 5.1.x refers to the sender address.",
		examples: []string{"501 5.1.7 Invalid address [BY5PR04CA0010.namprd04.prod.outlook.com]"},
	},
	{
		enhanced: "5.1.*",
		kind:     "recipient_rejected", retry: Permanent,
		hint:     hintRecipient,
		doc:      "Another address problem (5.1.x).",
		examples: []string{"550 5.1.0 Invalid recipient address"},
	},
	{
		enhanced: "5.7.233",
		kind:     "quota_exceeded", retry: NeedsPerson,
		hint:     "The tenant reached its daily limit of external recipients (about 500 × licenses^0.7 + 9,500 in a rolling 24 hours, shared by all its mailboxes). Not retried: wait for the window to roll or reduce external volume; an admin should check who is sending. " + hintLimits,
		doc:      "The tenant exceeded its external recipient rate limit (TERRL).",
		examples: []string{"550 5.7.233 Your message can't be sent because your tenant exceeded its daily limit for sending email to external recipients"},
	},
	{
		enhanced: "5.7.520",
		kind:     "message_rejected", retry: Permanent,
		hint:     "The outbound spam policy blocks automatic forwarding to external recipients. Stop forwarding, or an admin allows it for {Mailbox} in the Microsoft Defender portal > Anti-spam policies > outbound policy.",
		doc:      "Automatic external forwarding is blocked.",
		examples: []string{"550 5.7.520 Access denied, Your organization does not allow external forwarding. Please contact your administrator for further assistance. AS(7555)"},
	},

	// 2.4 End of DATA.
	{
		enhanced: "5.2.252", text: []string{"SendAsDenied"},
		kind: "send_as_denied", retry: Permanent,
		hint:     hintSendAs,
		doc:      "The From address is not the signed-in mailbox and the app has no Send As right on it.",
		examples: []string{"554 5.2.252 SendAsDenied; app@contoso.com not allowed to send as billing@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message. 0.35250:0A00D681, 1.36674:0A000000 [Hostname=BYAPR17MB2920.namprd17.prod.outlook.com]"},
	},
	{
		code: "554", enhanced: "5.2.252",
		kind: "send_as_denied", retry: Permanent,
		hint:     hintSendAs,
		doc:      "554 5.2.252 without the usual text: a Send As refusal.",
		examples: []string{"554 5.2.252 Cannot submit message. [Hostname=BYAPR17MB2920.namprd17.prod.outlook.com]"},
	},
	{
		enhanced: "5.2.0", text: []string{"SendAsDenied"},
		kind: "send_as_denied", retry: Permanent,
		hint:     hintSendAs,
		doc:      "The older form of the Send As refusal.",
		examples: []string{"554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message. 16.55847:A2070000 [Hostname=DM6PR02MB4059.namprd02.prod.outlook.com]"},
	},
	{
		code: "4xx", enhanced: "4.3.2", text: []string{"Concurrent connections limit exceeded"},
		kind: "throttled", retry: Transient,
		hint:     "More than 3 connections were open for {Mailbox}; the message is retried with backoff. Lower MaxConnections, or share one limit among all processes sending as the mailbox. " + hintLimits,
		doc:      "More than 3 concurrent connections for the mailbox.",
		examples: []string{"432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information. [Hostname=BY5PR04MB6980.namprd04.PROD.OUTLOOK.COM]"},
	},
	{
		code: "4xx", enhanced: "4.3.2", text: []string{"sender thread limit exceeded"},
		kind: "throttled", retry: Transient,
		hint:     "More than 3 connections were open for {Mailbox}; the message is retried with backoff. Lower MaxConnections, or share one limit among all processes sending as the mailbox. " + hintLimits,
		doc:      "The older form of the concurrent connection limit.",
		examples: []string{"432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=BY5PR04MB6980.namprd04.PROD.OUTLOOK.COM]"},
	},
	{
		enhanced: "5.2.0", text: []string{"SubmissionQuotaExceeded"},
		kind: "quota_exceeded", retry: NeedsPerson,
		hint:     "{Mailbox} sent to more than 10,000 recipients in 24 hours. " + hintQuota,
		doc:      "The mailbox's recipient rate limit (10,000 a day) is used up.",
		examples: []string{"554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message. [Hostname=SA1PR12MB6678.namprd12.prod.outlook.com]"},
	},
	{
		enhanced: "5.1.90",
		kind:     "quota_exceeded", retry: NeedsPerson,
		hint:     "{Mailbox} reached its daily limit of message recipients. " + hintQuota,
		doc:      "The mailbox's daily recipient limit is used up.",
		examples: []string{"550 5.1.90 Your message can't be sent because you've reached your daily limit for message recipients"},
	},
	{
		enhanced: "5.2.2", text: []string{"submission quota exceeded", "SubmissionQuotaExceeded"},
		kind: "quota_exceeded", retry: NeedsPerson,
		hint:     "{Mailbox} reached its submission quota. " + hintQuota,
		doc:      "The mailbox's message or recipient rate limit is used up.",
		examples: []string{"554 5.2.2 Submission quota exceeded"},
	},
	{
		enhanced: "5.2.2", text: []string{"MapiExceptionShutoffQuotaExceeded", "MapiExceptionQuotaExceeded"},
		kind: "mailbox_full", retry: Permanent,
		hint: "The sending mailbox {Mailbox} is full: SMTP AUTH saves every sent message in its Sent Items. Empty Sent Items and Deleted Items, apply a retention policy that clears them, or raise the mailbox's quota.",
		doc:  "The sending mailbox itself is full.",
		examples: []string{
			"554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message. [Hostname=CH2PR12MB4200.namprd12.prod.outlook.com]",
			"554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionQuotaExceeded; Failed to process message due to a permanent exception with message Cannot submit message.",
		},
	},
	{
		stages: "rcpt", enhanced: "5.2.2",
		kind: "recipient_rejected", retry: Permanent,
		hint:     "The recipient's mailbox is full; its owner must make room. The message was sent to no one (Error.Recipients lists the refused addresses): fix or drop them and send again.",
		doc:      "At RCPT TO, a 5.2.2 is about the recipient's mailbox.",
		examples: []string{"552 5.2.2 Mailbox full"},
	},
	{
		enhanced: "5.2.2",
		kind:     "mailbox_full", retry: Permanent,
		hint:     "The sending mailbox {Mailbox} is full: SMTP AUTH saves every sent message in its Sent Items. Empty Sent Items and Deleted Items, apply a retention policy that clears them, or raise the mailbox's quota.",
		doc:      "Another 5.2.2 (mailbox full) after the envelope.",
		examples: []string{"554 5.2.2 mailbox full"},
	},
	{
		enhanced: "5.2.251",
		kind:     "sender_suspended", retry: NeedsPerson,
		hint:     "Exchange stopped {Mailbox} sending after repeated \"mailbox full\" errors. Empty its Sent Items and Deleted Items or raise its quota. " + hintSuspended,
		doc:      "Continuous-error throttling after repeated mailbox full errors.",
		examples: []string{"550 5.2.251 Sender throttled due to continuous mailbox full errors."},
	},
	{
		enhanced: "5.2.252", text: []string{"throttled"},
		kind: "sender_suspended", retry: NeedsPerson,
		hint: "Exchange stopped {Mailbox} sending after repeated Send As refusals. Send as {Mailbox}, or grant Send As on {From}:\n" +
			"  Add-RecipientPermission -Identity {From} -Trustee {ObjectID} -AccessRights SendAs\n" + hintSuspended,
		doc:      "Continuous-error throttling after repeated Send As refusals (same enhanced code as the 554 Send As refusal).",
		examples: []string{"550 5.2.252 Sender throttled due to continuous send as denied errors."},
	},
	{
		code: "550", enhanced: "5.2.252",
		kind: "sender_suspended", retry: NeedsPerson,
		hint: "Exchange stopped {Mailbox} sending after repeated Send As refusals. Send as {Mailbox}, or grant Send As on {From}:\n" +
			"  Add-RecipientPermission -Identity {From} -Trustee {ObjectID} -AccessRights SendAs\n" + hintSuspended,
		doc:      "550 5.2.252 without the usual text: continuous-error throttling.",
		examples: []string{"550 5.2.252 Cannot submit message."},
	},
	{
		enhanced: "5.2.253",
		kind:     "sender_suspended", retry: NeedsPerson,
		hint:     "Exchange stopped {Mailbox} sending after repeated invalid-license errors. Assign the mailbox a license that includes Exchange Online. " + hintSuspended,
		doc:      "Continuous-error throttling after repeated invalid license errors.",
		examples: []string{"550 5.2.253 Sender throttled due to continuous invalid license errors."},
	},
	{
		enhanced: "5.2.254",
		kind:     "sender_suspended", retry: NeedsPerson,
		hint:     "Exchange stopped {Mailbox} sending after repeated too-many-recipients errors. Keep each message to at most 500 recipients. " + hintSuspended,
		doc:      "Continuous-error throttling after repeated too many recipients errors.",
		examples: []string{"550 5.2.254 Sender throttled due to continuous too many recipients errors."},
	},
	{
		enhanced: "5.2.255",
		kind:     "sender_suspended", retry: NeedsPerson,
		hint:     "Exchange stopped {Mailbox} sending after repeated invalid-recipient errors. Remove invalid addresses from the recipient lists. " + hintSuspended,
		doc:      "Continuous-error throttling after repeated invalid recipient errors.",
		examples: []string{"550 5.2.255 Sender throttled due to continuous invalid recipients errors."},
	},
	{
		code: "4xx", enhanced: "4.2.0", text: []string{"mailbox logon failure", "LogonFailed"},
		kind: "auth_failed", retry: NeedsPerson,
		hint: "Not retried: Exchange could not open {Mailbox} for the app, and an admin must act. The service principal probably lacks access (or the mailbox has no license):\n" +
			"  Add-MailboxPermission -Identity {Mailbox} -User {ObjectID} -AccessRights FullAccess\n" + hintTakesTime,
		doc:      "The app's token could not open the mailbox.",
		examples: []string{"430 4.2.0 STOREDRV; mailbox logon failure; STOREDRV.Submission.Exception:ConnectionFailedTransientException.MapiExceptionLogonFailed; Failed to process message due to a transient exception with message [BeginDiagnosticData]Cannot open mailbox. Server = BY5PR04MB6980.namprd04.prod.outlook.com [Hostname=BY5PR04MB6980.namprd04.prod.outlook.com]"},
	},
	{
		enhanced: "5.3.4",
		kind:     "message_rejected", retry: Permanent,
		hint:     hintSize,
		doc:      "The message is larger than the server's maximum.",
		examples: []string{"552 5.3.4 Message size exceeds fixed maximum message size"},
	},
	{
		enhanced: "5.3.4", text: []string{"MaxSubmissionExceeded"},
		kind: "message_rejected", retry: Permanent,
		hint:     "The message is larger than {Mailbox}'s MaxSendSize, 35 MB by default, although Exchange Online advertises SIZE 157286400 (150 MB): so the server's SIZE does not catch it before DATA. Send a smaller message (attachments grow by about a third when encoded), or an admin raises the limit (up to 150 MB):\n  Set-Mailbox -Identity {Mailbox} -MaxSendSize 150MB",
		doc:      "Larger than the mailbox's MaxSendSize (35 MB by default), refused after the data.",
		examples: []string{"552 5.3.4 Message size exceeds fixed maximum message size. MapiExceptionMaxSubmissionExceeded [Hostname=BYAPR17MB2920.namprd17.prod.outlook.com]"},
	},
	{
		enhanced: "5.2.3", text: []string{"SendSizeLimit.Org"},
		kind: "message_rejected", retry: Permanent,
		hint:     "The message is larger than the organization's MaxSendSize. Send a smaller message, or an admin raises the limit (up to 150 MB):\n  Set-TransportConfig -MaxSendSize 150MB",
		doc:      "Larger than the organization's send size limit.",
		examples: []string{"550 5.2.3 RESOLVER.RST.SendSizeLimit.Org; message too large for this organization"},
	},
	{
		enhanced: "5.2.3",
		kind:     "message_rejected", retry: Permanent,
		hint:     hintSize,
		doc:      "Larger than the mailbox's send size limit (MaxSendSize, 35 MB by default).",
		examples: []string{"550 5.2.3 RESOLVER.RST.SendSizeLimit.Sender; message too large for this sender"},
	},
	{
		enhanced: "5.6.211",
		kind:     "message_rejected", retry: Permanent,
		hint: "The MIME structure exceeds Exchange's limits (at most 1,000 MIME parts; a bounded number of headers). Simplify the message: fewer attachments or nested parts, and attach messages as files rather than message/rfc822 parts.",
		doc:  "Invalid MIME content: too many parts or headers.",
		examples: []string{
			"554 5.6.211 Invalid MIME Content: Number of MimePart objects (1001) exceeded allowed maximum (1000).",
			"554 5.6.211 Invalid MIME Content: Number of Header objects (100001) exceeded allowed maximum (100000).",
		},
	},
	{
		enhanced: "5.6.11",
		kind:     "message_rejected", retry: Permanent,
		hint:     "The message contains bare line feeds. End every line with CRLF, in particular in raw content written into the message.",
		doc:      "Invalid characters (bare LF).",
		examples: []string{"554 5.6.11 Invalid characters"},
	},
	{
		enhanced: "5.6.*",
		kind:     "message_rejected", retry: Permanent,
		hint:     "Exchange refused the message's content; the reply says what to change.",
		doc:      "Another media or content problem (5.6.x).",
		examples: []string{"554 5.6.0 Corrupt message content"},
	},
	{
		enhanced: "5.4.1",
		kind:     "recipient_rejected", retry: Permanent,
		hint: "The recipient's domain refused the address (Directory-Based Edge Blocking, or its mail routing). Check the address; if the domain is your own, check that the recipient exists.",
		doc:  "Relay access denied by the recipient's domain.",
		examples: []string{
			"550 5.4.1 Relay Access Denied",
			"550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [BN8NAM12FT012.eop-nam12.prod.protection.outlook.com]",
		},
	},
	{
		enhanced: "5.7.1", text: []string{"Delivery not authorized"},
		kind: "recipient_rejected", retry: Permanent,
		hint:     "The recipient (often a distribution group) accepts mail only from certain senders. Ask its owner to allow {From}.",
		doc:      "The recipient restricts who may send to it.",
		examples: []string{"550 5.7.1 Delivery not authorized, message refused"},
	},
	{
		enhanced: "5.7.1", text: []string{"Unable to relay"},
		kind: "recipient_rejected", retry: Permanent,
		hint:     "Exchange refused to relay to this recipient, as for an unauthenticated session. Check that Host ({Host}) is Exchange Online's SMTP AUTH endpoint (smtp.office365.com, or your cloud's), not a tenant MX host.",
		doc:      "Relay refused.",
		examples: []string{"550 5.7.1 Unable to relay"},
	},
	{
		enhanced: "5.7.1", text: []string{"Client was not authenticated"},
		kind: "auth_failed", retry: Permanent,
		hint:     hintNotAuthenticated,
		doc:      "The session is not authenticated.",
		examples: []string{"530 5.7.1 Client was not authenticated"},
	},

	// Fallbacks.
	{
		code: "4xx",
		kind: "unexpected_reply", retry: Transient,
		hint:     "An unclassified temporary refusal; the message is retried with backoff. If it persists, keep the full reply text: Microsoft support asks for the part in brackets.",
		doc:      "Any other 4xx reply.",
		examples: []string{"450 4.9.9 Some temporary refusal [BY5PR04CA0010.namprd04.prod.outlook.com]"},
		fallback: true,
	},
	{
		code: "5xx",
		kind: "unexpected_reply", retry: Permanent,
		hint:     "An unclassified refusal; the reply text says why. Keep it whole: Microsoft support asks for the part in brackets.",
		doc:      "Any other 5xx reply.",
		examples: []string{"550 5.7.999 Some permanent refusal [BY5PR04CA0010.namprd04.prod.outlook.com]"},
		fallback: true,
	},
	{
		kind: "unexpected_reply", retry: Permanent,
		hint:     "The server answered with a reply that is not an error where an error was expected. If Host ({Host}) is Exchange Online, report a bug with the full reply.",
		doc:      "A reply that is not 4xx or 5xx.",
		examples: []string{"250 2.0.0 OK"},
		fallback: true,
	},
}
