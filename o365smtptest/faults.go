package o365smtptest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
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
	// STARTTLS.
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

var stageNames = [...]string{"connect", "banner", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "data-end"}

// String returns the stage's name in lower case, such as "data-end".
func (st Stage) String() string {
	if st >= 0 && int(st) < len(stageNames) {
		return stageNames[st]
	}
	return "Stage(" + strconv.Itoa(int(st)) + ")"
}

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

type faultEntry struct {
	f    Fault
	left int // remaining occurrences when f.Times > 0
}

type tokenFaultEntry struct {
	f    TokenFault
	left int
}

// Fail adds f to the faults of stage. Faults of a stage apply in the order
// they were added: a fault with Times n applies to the next n occurrences,
// then the next fault of the stage takes over; a fault with Times 0 applies
// to every occurrence and so hides any added after it. Concurrent
// connections each consume one occurrence.
func (s *Server) Fail(stage Stage, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[stage] = append(s.faults[stage], &faultEntry{f: f, left: f.Times})
}

// FailToken adds f to the faults of the token endpoint, in the same manner
// as Fail. Only POST requests to the token endpoint are affected.
func (s *Server) FailToken(f TokenFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFaults = append(s.tokenFaults, &tokenFaultEntry{f: f, left: f.Times})
}

// ClearFaults removes every fault added by Fail and FailToken. Delays and
// hangs already in progress are not interrupted.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = make(map[Stage][]*faultEntry)
	s.tokenFaults = nil
}

// takeFault consumes one occurrence of stage's first fault, if any.
func (s *Server) takeFault(stage Stage) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[stage]
	if len(q) == 0 {
		return Fault{}, false
	}
	e := q[0]
	if e.f.Times > 0 {
		e.left--
		if e.left <= 0 {
			s.faults[stage] = q[1:]
		}
	}
	return e.f, true
}

func (s *Server) takeTokenFault() (TokenFault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokenFaults) == 0 {
		return TokenFault{}, false
	}
	e := s.tokenFaults[0]
	if e.f.Times > 0 {
		e.left--
		if e.left <= 0 {
			s.tokenFaults = s.tokenFaults[1:]
		}
	}
	return e.f, true
}

// sleep waits for d, or until Close. It reports whether the full delay
// elapsed.
func (s *Server) sleep(d time.Duration) bool { return s.wait(context.Background(), d) }

// parseReply splits an SMTP reply written by a person, such as
// "451 4.7.500 Server busy", into a go-smtp error. A reply that does not
// start with a three-digit code is sent as a 451 with that text.
func parseReply(reply string) *smtp.SMTPError {
	reply = strings.ReplaceAll(strings.TrimRight(reply, "\r\n"), "\r\n", "\n")
	lines := strings.Split(reply, "\n")
	first := lines[0]
	code, err := strconv.Atoi(first[:min(3, len(first))])
	if err != nil || len(first) < 3 || code < 200 || code > 599 || (len(first) > 3 && first[3] != ' ' && first[3] != '-') {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.NoEnhancedCode, Message: reply}
	}
	// Strip the code (and "-" continuation markers) from every line.
	for i, l := range lines {
		if len(l) >= 4 && l[:3] == first[:3] && (l[3] == ' ' || l[3] == '-') {
			lines[i] = l[4:]
		} else if l == first[:3] {
			lines[i] = ""
		}
	}
	ec := smtp.NoEnhancedCode
	last := lines[len(lines)-1]
	if e, rest, ok := cutEnhancedCode(last); ok && e[0] == code/100 {
		ec = e
		lines[len(lines)-1] = rest
	} else if e, rest, ok := cutEnhancedCode(lines[0]); ok && e[0] == code/100 {
		ec = e
		lines[0] = rest
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: strings.Join(lines, "\n")}
}

// cutEnhancedCode parses a leading RFC 3463 status code such as "4.7.500".
func cutEnhancedCode(s string) (smtp.EnhancedCode, string, bool) {
	word, rest, _ := strings.Cut(s, " ")
	parts := strings.Split(word, ".")
	if len(parts) != 3 {
		return smtp.EnhancedCode{}, s, false
	}
	var ec smtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 || len(p) > 3 || p == "" || p[0] == '+' {
			return smtp.EnhancedCode{}, s, false
		}
		ec[i] = n
	}
	if ec[0] < 2 || ec[0] > 5 {
		return smtp.EnhancedCode{}, s, false
	}
	return ec, rest, true
}

// formatReply renders e as go-smtp writes replies: "code-text" for every
// line but the last, "code x.y.z text" for the last.
func formatReply(e *smtp.SMTPError) []string {
	lines := strings.Split(e.Message, "\n")
	out := make([]string, len(lines))
	for i, l := range lines {
		switch {
		case i < len(lines)-1:
			out[i] = fmt.Sprintf("%d-%s", e.Code, l)
		case e.EnhancedCode == smtp.NoEnhancedCode || e.EnhancedCode == smtp.EnhancedCodeNotSet:
			out[i] = strings.TrimRight(fmt.Sprintf("%d %s", e.Code, l), " ")
		default:
			out[i] = fmt.Sprintf("%d %d.%d.%d %s", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2], l)
		}
	}
	return out
}
