package smtpd

import (
	"strconv"
	"strings"
	"time"
)

// The names the emulated service gives itself in its replies.
const (
	// FrontHost is the front end named in the banner and the EHLO reply.
	FrontHost = "EMU01CA0001.outlook.office365.com"
	// AuthHost is the host named in the brackets of AUTH failures.
	AuthHost = "EMU01CA0001.namprd00.prod.outlook.com"
	// StoreHost is the mailbox server named at the end of DATA.
	StoreHost = "EMU01CA0001.namprd17.prod.outlook.com"
	// msgIDPrefix starts the internal message IDs, like Exchange's server
	// names do.
	msgIDPrefix = "EMU01CA0001"
)

// Exchange Online's replies, as the service gives them. The ones with a
// variable part are the functions below.
const (
	replySTARTTLS = "220 2.0.0 SMTP server ready"
	replyAuthOK   = "235 2.7.0 Authentication successful"
	replySenderOK = "250 2.1.0 Sender OK"
	// replySendAsDenied is how older front ends refused another sender at
	// MAIL FROM (gophish#1600, 2019; nodemailer logs with command 'MAIL
	// FROM'); Config.SendAsAtMail brings it back. Today MAIL FROM is
	// accepted and the refusal comes after the final dot: see
	// replySendAsDeniedData.
	replySendAsDenied = "550 5.7.60 SMTP; Client does not have permissions to send as this sender"
	// replySMTPUTF8 answers MAIL FROM with the SMTPUTF8 parameter, although
	// EHLO advertises it: "MAIL FROM:<x> BODY=8BITMIME SMTPUTF8" gets it,
	// the same MAIL without the parameter 250 (wneessen/go-mail#545,
	// simonrob/email-oauth2-proxy#416). Config.AcceptSMTPUTF8 accepts it.
	replySMTPUTF8          = "502 5.3.3 Command not implemented"
	replyRecipientOK       = "250 2.1.5 Recipient OK"
	ReplyRecipientNotFound = "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
	replyTooManyRecipients = "452 4.5.3 Too many recipients"
	replyStartData         = "354 Start mail input; end with <CRLF>.<CRLF>"
	replyTooLarge          = "552 5.3.4 Message size exceeds fixed maximum message size"
	// replyMaxSubmission is the store's refusal of a message larger than
	// the mailbox's MaxSendSize (35 MB by default, although EHLO says SIZE
	// 157286400), after the final dot (MicrosoftDocs/OfficeDocs-O365ServiceDescriptions#264;
	// jstedfast/MailKit#904; the text: pankleks/pm2-health#52).
	replyMaxSubmission = "552 5.3.4 MapiExceptionMaxSubmissionExceeded; Message size exceeds maximum size limit.; STOREDRV.Submission.Exception:MessageSubmissionExceededException.MapiExceptionMaxSubmissionExceeded; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot save changes made to an item to store. [Hostname=" + StoreHost + "]"
	// replyTLSTooOld ends a session whose TLS handshake agreed on TLS 1.0
	// or 1.1: the handshake completes, the next command gets this and the
	// connection closes (zehm/sendEmail#1, 2022).
	replyTLSTooOld = "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2. Visit https://aka.ms/smtp_auth_tls. [" + AuthHost + "]"
	// replyHVEInvalidUser is High Volume Email's (smtp-hve.office365.com)
	// refusal of an XOAUTH2 user= that is not one of its accounts
	// (tarickb/sasl-xoauth2#110; the log cut the text after "the auth d",
	// the rest is ours).
	replyHVEInvalidUser = "501 5.5.124 Invalid XOAUTH2 auth data - User address provided is not valid. Please ensure the auth data is correct."
	// replyHVETokenExpiring is HVE's refusal of a token that expires within
	// minutes (tarickb/sasl-xoauth2#98: refused about 8.5 minutes before
	// exp).
	replyHVETokenExpiring = "501 5.5.127 Invalid XOAUTH2 auth data - Token will expire soon"
	// replyIdleTimeout is Exchange's answer to a client that sent nothing
	// for the idle timeout (about 5 minutes on the front ends,
	// nodemailer/nodemailer#1205; the wording: nodemailer/nodemailer#9 and
	// Exchange's SmtpResponse.TimeoutOccurred). The connection closes.
	replyIdleTimeout   = "451 4.7.0 Timeout waiting for client input"
	replyBadData       = "554 5.6.0 Invalid message content"
	replyConcurrent    = "432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information. [Hostname=" + StoreHost + "]"
	replyReset         = "250 2.0.0 Resetting"
	replyBye           = "221 2.0.0 Service closing transmission channel"
	replyOK            = "250 2.0.0 OK"
	replyHelloFirst    = "503 5.5.2 Send hello first"
	replyNeedMail      = "503 5.5.2 Need mail command"
	replyNeedRcpt      = "503 5.5.2 Need rcpt command"
	replyAlreadyAuthed = "503 5.5.2 Already authenticated"
)

// Replies to protocol errors and to the commands Exchange's wording was
// not recorded for. The service has given them since its first version.
const (
	replyVRFY              = "252 2.5.0 Cannot VRFY user, but will accept message"
	replyBadSyntax         = "500 5.5.2 Error: bad syntax"
	replyTooManyErrors     = "500 5.5.1 Too many errors. Quiting now"
	replyNotLMTP           = "500 5.5.1 This is not a LMTP server"
	replyHelloArg          = "501 5.5.2 Domain/address argument required for HELO"
	replyNoTLS             = "502 5.5.1 TLS not supported"
	replyMailSyntax        = "501 5.5.2 Was expecting MAIL arg syntax of FROM:<address>"
	replyMailParams        = "501 5.5.4 Unable to parse MAIL ESMTP parameters"
	replyMailDuringBDAT    = "502 5.5.1 MAIL not allowed during message transfer"
	replySizeSyntax        = "501 5.5.4 Unable to parse SIZE as an integer"
	replyRequireTLS        = "504 5.5.4 REQUIRETLS is not implemented"
	replyBodySyntax        = "501 5.5.4 Unknown BODY value"
	replyRetSyntax         = "501 5.5.4 Unknown RET value"
	replyEnvIDSyntax       = "501 5.5.4 Malformed ENVID parameter value"
	replyAuthParamSyntax   = "500 5.5.4 Malformed AUTH parameter value"
	replyAuthParamMailbox  = "500 5.5.4 Malformed AUTH parameter mailbox"
	replyUnknownMailParam  = "500 5.5.4 Unknown MAIL FROM argument"
	replyRcptSyntax        = "501 5.5.2 Was expecting RCPT arg syntax of TO:<address>"
	replyRcptParams        = "501 5.5.4 Unable to parse RCPT ESMTP parameters"
	replyRcptDuringBDAT    = "502 5.5.1 RCPT not allowed during message transfer"
	replyNotifySyntax      = "501 5.5.4 Malformed NOTIFY parameter value"
	replyOrcptSyntax       = "501 5.5.4 Malformed ORCPT parameter value"
	replyRRVS              = "504 5.5.4 RRVS is not implemented"
	replyDeliverBy         = "504 5.5.4 DELIVERBY is not implemented"
	replyMTPriority        = "504 5.5.4 MT-PRIORITY is not implemented"
	replyUnknownRcptParam  = "500 5.5.4 Unknown RCPT TO argument"
	replyAuthNoMechanism   = "502 5.5.4 Missing parameter"
	replyAuthBase64        = "454 4.7.0 Invalid base64 data"
	replyAuthCancelled     = "501 5.0.0 Negotiation cancelled"
	replyDataArgs          = "501 5.5.4 DATA command should not have any arguments"
	replyDataDuringBDAT    = "502 5.5.1 DATA not allowed during message transfer"
	replyDataBinaryMIME    = "502 5.5.1 DATA not allowed for BINARYMIME messages"
	replyBDATNoSize        = "501 5.5.4 Missing chunk size argument"
	replyBDATTooManyArgs   = "501 5.5.4 Too many arguments"
	replyBDATBadArg        = "501 5.5.4 Unknown BDAT argument"
	replyBDATBadSize       = "501 5.5.4 Malformed size argument"
	replyBDATContinue      = "250 2.0.0 Continue"
	replyLineTooLong       = "500 5.4.0 Too long line, closing connection"
	replyConnectionError   = "421 4.4.0 Connection error, sorry"
	replyTransactionFailed = "554 5.0.0 Error: transaction failed: " // + the cause
)

// notImplemented are the commands refused with replyNotImplemented in every
// state.
var notImplemented = map[string]bool{"SEND": true, "SOML": true, "SAML": true, "EXPN": true, "HELP": true, "TURN": true}

func replyNotImplemented(cmd string) string { return "502 5.5.1 " + cmd + " command not implemented" }

// replyUnrecognized answers a command line Exchange does not know. Recent
// front ends do not echo the command: they quote the length of its first
// word ("GET / HTTP/1.1" gets 'Length: 3'), or 'unknown' for bytes that are
// not text, with the [host time session] suffix, after a delay
// (simonrob/email-oauth2-proxy#251, #234, #372).
func replyUnrecognized(line, sessionID string) string {
	verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	quoted := "Length: " + strconv.Itoa(len(verb))
	if strings.IndexFunc(verb, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		quoted = "unknown"
	}
	return "500 5.3.3 Unrecognized command '" + quoted + "' " + bracket(sessionID)
}

// replyNotAuthenticated refuses MAIL before AUTH (with the suffix, as in
// jstedfast/MailKit#1733).
func replyNotAuthenticated(sessionID string) string {
	return "530 5.7.57 Client not authenticated to send mail. " + bracket(sessionID)
}

// replyUnrecognizedAuth refuses an AUTH mechanism that is not offered (with
// the suffix, as in tarickb/sasl-xoauth2#96).
func replyUnrecognizedAuth(sessionID string) string {
	return "504 5.7.4 Unrecognized authentication type " + bracket(sessionID)
}

// replySTARTTLSRequired refuses MAIL on a plain connection that offers
// STARTTLS (apache/hertzbeat#2365, r-smith/vmPing#73).
func replySTARTTLSRequired(sessionID string) string {
	return "451 5.7.3 STARTTLS is required to send mail " + bracket(sessionID)
}

func replyBanner(sessionID string) string {
	return "220 " + FrontHost + " Microsoft ESMTP MAIL Service ready at " +
		time.Now().UTC().Format("Mon, 2 Jan 2006 15:04:05 -0700") + " [" + sessionID + "]"
}

func hello(remoteIP string) string { return FrontHost + " Hello [" + remoteIP + "]" }

// bracket is the [host time session] suffix of the front end's own
// refusals: 535 5.7.3 (jstedfast/MailKit#1712, #1733), 504 5.7.4
// (tarickb/sasl-xoauth2#96), 500 5.3.3 (simonrob/email-oauth2-proxy#251).
// The host stays the same for the whole session.
func bracket(sessionID string) string {
	return "[" + AuthHost + " " + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + sessionID + "]"
}

func replyAuthFailed(sessionID string) string {
	return "535 5.7.3 Authentication unsuccessful " + bracket(sessionID)
}

func replyBasicAuthDisabled(sessionID string) string {
	return "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. " + bracket(sessionID)
}

// replySMTPAuthDisabled is the refusal when SMTP AUTH is off for scope,
// "Tenant" or "Mailbox".
func replySMTPAuthDisabled(scope, sessionID string) string {
	return "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the " +
		scope + ". Visit https://aka.ms/smtp_auth_disabled for more information. " + bracket(sessionID)
}

func replyQueued(messageID string) string {
	return "250 2.0.0 OK <" + messageID + "@" + StoreHost + "> [Hostname=" + StoreHost + "]"
}

// replySendAsDeniedData refuses, after the final dot, a message whose
// MAIL FROM or From header the authenticated mailbox may not send as. The
// text is Exchange's (gophish/gophish#2900, 2023), without its long list of
// diagnostic codes; PHPMailer/PHPMailer#1231 and pkp/pkp-lib#7412 show the
// same refusal at the end of DATA.
func replySendAsDeniedData(mailbox, addr string) string {
	return "554 5.2.252 SendAsDenied; " + mailbox + " not allowed to send as " + addr +
		"; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message. [Hostname=" + StoreHost + "]"
}

// replyChallenge is a SASL challenge, already base64-encoded.
func replyChallenge(encoded string) string { return "334 " + encoded }

func sizeCap(maxBytes int64) string { return "SIZE " + strconv.FormatInt(maxBytes, 10) }
