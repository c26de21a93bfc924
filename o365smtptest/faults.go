package o365smtptest

import (
	"time"

	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/internal/emulator/smtpd"
)

// Stage is a point in an SMTP session where Fail can inject a fault.
type Stage int

const (
	// StageConnect is right after the TCP connection is accepted, before
	// the banner and, with WithImplicitTLS, before the TLS handshake. A
	// Reply here is written in plain text and the connection is closed.
	StageConnect Stage = iota
	// StageBanner is the 220 greeting. A Reply other than 2xx replaces
	// the banner and the connection is closed.
	StageBanner
	// StageEHLO is the reply to each EHLO or HELO, before and after
	// STARTTLS. After a Reply the client counts as having said hello all
	// the same.
	StageEHLO
	// StageSTARTTLS is the reply to STARTTLS. After a Reply the session
	// stays in plain text.
	StageSTARTTLS
	// StageAuth is the verdict of AUTH, once the client has sent its
	// credentials (after the 334 of the two-step form).
	StageAuth
	// StageMail is the reply to MAIL FROM.
	StageMail
	// StageRcpt is the reply to each RCPT TO.
	StageRcpt
	// StageData is the reply to the DATA command (354 normally). After a
	// Reply the client is not expected to send the message and the
	// transaction is reset. BDAT is not affected.
	StageData
	// StageDataEnd is the reply after the final dot of the message (or
	// the last BDAT chunk), once the whole message has been read. A Drop
	// here records nothing.
	StageDataEnd
)

// String returns the stage's name in lower case, such as "data_end".
func (st Stage) String() string { return smtpd.Stage(st).String() }

// Fault is what Fail makes the SMTP service do at a stage. Delay, if set,
// comes first; then Hang, Drop or Reply, the first that is set; with none of
// them the stage proceeds normally after the Delay.
type Fault struct {
	// Drop closes the connection abruptly, without a reply.
	Drop bool
	// Reply is written instead of the normal reply, for example
	// "451 4.7.500 Server busy. Please try again later from [127.0.0.1].
	// (AS761)" or "421 4.3.2 Service not available". It should be a
	// failure (4xx or 5xx): the command does not take effect. It starts
	// with the three-digit code, optionally followed by an enhanced status
	// code; lines separated by "\n" make a multi-line reply. After a 421
	// reply the connection is closed.
	Reply string
	// Delay waits this long before answering. Close interrupts the wait
	// and closes the connection.
	Delay time.Duration
	// Hang never answers: the connection stays open, and what the client
	// sends is discarded, until the client closes it, Close is called or
	// the service's 10-minute idle timeout passes.
	Hang bool
	// Times is the number of occurrences of the stage the fault applies to
	// (on any connection); 0 means every occurrence, until ClearFaults.
	Times int
}

// TokenFault is what FailToken makes the token endpoint do. Delay, if set,
// comes first; then Hang, or an error response when Status or Body is set
// (a TokenFault with none of Status, Body, Delay and Hang set is an error
// response with the defaults), or else normal handling.
type TokenFault struct {
	// Status is the HTTP status of the error response; 0 means 500.
	Status int
	// Body is the JSON body of the error response. The default is Entra's
	// temporarily_unavailable error (AADSTS50000).
	Body string
	// Delay waits this long before answering. Close or the client going
	// away interrupts it.
	Delay time.Duration
	// Hang never answers, until the client gives up or Close is called.
	Hang bool
	// Times is the number of token requests the fault applies to; 0 means
	// every request, until ClearFaults.
	Times int
}

// Fail adds f to the faults of stage. Faults of a stage apply in the order
// they were added: a fault with Times n applies to the next n occurrences,
// then the next fault of the stage takes over; a fault with Times 0 applies
// to every occurrence and so hides any added after it. Concurrent
// connections each consume one occurrence.
func (s *Server) Fail(stage Stage, f Fault) {
	s.e.Fail(smtpd.Stage(stage), smtpd.Fault(f))
}

// FailToken adds f to the faults of the token endpoint, in the same manner
// as Fail. Only POST requests to the token endpoint are affected.
func (s *Server) FailToken(f TokenFault) {
	s.e.FailToken(emulator.TokenFault(f))
}

// ClearFaults removes every fault added by Fail and FailToken. Delays and
// hangs already in progress are not interrupted.
func (s *Server) ClearFaults() {
	s.e.ClearFaults()
}
