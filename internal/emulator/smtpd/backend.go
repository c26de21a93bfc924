package smtpd

import (
	"net/mail"
	"time"
)

// Backend is what the SMTP service asks the emulated tenant. Its methods
// are called concurrently, from every connection's goroutine.
type Backend interface {
	// Fault consumes one occurrence of stage's next fault, if any.
	Fault(stage Stage) (Fault, bool)
	// Authenticate decides whether token lets the client authenticate as
	// mailbox (in lower case).
	Authenticate(mailbox, token string) AuthResult
	// MaySendAs reports whether a client authenticated as mailbox may use
	// addr as the sender (MAIL FROM and the From header).
	MaySendAs(mailbox, addr string) bool
	// Recipient decides the reply to RCPT TO for addr: ok accepts it,
	// otherwise reply (in Fault.Reply's format) refuses it.
	Recipient(addr string) (reply string, ok bool)
	// ConnectionLimit is how many connections may be authenticated as the
	// same mailbox at once before a message is refused at the end of
	// DATA; zero or less means no limit.
	ConnectionLimit() int
	// Submit decides, after the final dot, on a message that passed the
	// size and Send As checks, as the mailbox's store does: ok accepts it,
	// otherwise reply (in Fault.Reply's format) refuses it. It is where a
	// busy or unhealthy tenant's refusals (quota, suspension, transient
	// store errors) come from.
	Submit(mailbox string, rcpts []string) (reply string, ok bool)
	// Deliver records an accepted message.
	Deliver(m Message)
}

// AuthResult is the verdict on an AUTH XOAUTH2 token.
type AuthResult int

const (
	// AuthOK lets the client in.
	AuthOK AuthResult = iota
	// AuthFailed is Exchange's generic 535 5.7.3.
	AuthFailed
	// AuthDisabledForTenant is 535 5.7.139, SMTP AUTH disabled for the
	// tenant.
	AuthDisabledForTenant
	// AuthDisabledForMailbox is 535 5.7.139, SMTP AUTH disabled for the
	// mailbox.
	AuthDisabledForMailbox
	// AuthHVEInvalidUser is High Volume Email's 501 5.5.124, a user= that
	// is not an HVE account.
	AuthHVEInvalidUser
	// AuthHVETokenExpiring is High Volume Email's 501 5.5.127, a token
	// that expires soon.
	AuthHVETokenExpiring
)

// Message is a message the service accepted.
type Message struct {
	ID       string      // the internal message ID in the reply to DATA
	Mailbox  string      // the authenticated mailbox
	From     string      // MAIL FROM
	To       []string    // the accepted RCPT TO
	Data     []byte      // as received, dot-stuffing removed
	Header   mail.Header // Data's header; empty if it has none that parses
	Received time.Time   // when it was accepted

	// For the emulator's inbox: the session's transcript up to the reply
	// that accepted the message (AUTH's payload redacted), the transport,
	// and the bearer token it authenticated with.
	Transcript []TranscriptLine
	Transport  string
	Token      string
}
