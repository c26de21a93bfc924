package smtpd

import (
	"strconv"
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
	replySTARTTLS          = "220 2.0.0 SMTP server ready"
	replyAuthOK            = "235 2.7.0 Authentication successful"
	replyUnrecognizedAuth  = "504 5.7.4 Unrecognized authentication type"
	replyNotAuthenticated  = "530 5.7.57 Client not authenticated to send mail."
	replySenderOK          = "250 2.1.0 Sender OK"
	replySendAsDenied      = "550 5.7.60 SMTP; Client does not have permissions to send as this sender"
	replyRecipientOK       = "250 2.1.5 Recipient OK"
	ReplyRecipientNotFound = "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
	replyTooManyRecipients = "452 4.5.3 Too many recipients"
	replyStartData         = "354 Start mail input; end with <CRLF>.<CRLF>"
	replyTooLarge          = "552 5.3.4 Message size exceeds fixed maximum message size"
	replyBadData           = "554 5.6.0 Invalid message content"
	replyConcurrent        = "432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information. [Hostname=" + StoreHost + "]"
	replyReset             = "250 2.0.0 Resetting"
	replyBye               = "221 2.0.0 Service closing transmission channel"
	replyOK                = "250 2.0.0 OK"
	replyHelloFirst        = "503 5.5.2 Send hello first"
	replyNeedMail          = "503 5.5.2 Need mail command"
	replyNeedRcpt          = "503 5.5.2 Need rcpt command"
	replyAlreadyAuthed     = "503 5.5.2 Already authenticated"
)

// Replies to protocol errors and to the commands Exchange's wording was
// not recorded for. The service has given them since its first version.
const (
	replyVRFY              = "252 2.5.0 Cannot VRFY user, but will accept message"
	replyBadSyntax         = "500 5.5.2 Error: bad syntax"
	replyBadCommand        = "501 5.5.2 Bad command"
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
	replyIdleTimeout       = "421 4.4.2 Idle timeout, bye bye"
	replyConnectionError   = "421 4.4.0 Connection error, sorry"
	replyTransactionFailed = "554 5.0.0 Error: transaction failed: " // + the cause
)

// notImplemented are the commands refused with replyNotImplemented in every
// state.
var notImplemented = map[string]bool{"SEND": true, "SOML": true, "SAML": true, "EXPN": true, "HELP": true, "TURN": true}

func replyNotImplemented(cmd string) string { return "502 5.5.1 " + cmd + " command not implemented" }

func replyUnrecognized(cmd string) string {
	return "500 5.3.3 Unrecognized command '" + cmd + "' [" + AuthHost + "]"
}

func replyBanner(sessionID string) string {
	return "220 " + FrontHost + " Microsoft ESMTP MAIL Service ready at " +
		time.Now().UTC().Format("Mon, 2 Jan 2006 15:04:05 -0700") + " [" + sessionID + "]"
}

func hello(remoteIP string) string { return FrontHost + " Hello [" + remoteIP + "]" }

// bracket is the [host time session] suffix of Exchange's AUTH failures.
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

func replySendAsDeniedData(mailbox, addr string) string {
	return "554 5.2.252 SendAsDenied; " + mailbox + " not allowed to send as " + addr +
		"; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message. [Hostname=" + StoreHost + "]"
}

// replyChallenge is a SASL challenge, already base64-encoded.
func replyChallenge(encoded string) string { return "334 " + encoded }

func sizeCap(maxBytes int64) string { return "SIZE " + strconv.FormatInt(maxBytes, 10) }
