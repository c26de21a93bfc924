package emulator

import (
	"time"

	"github.com/o365smtp/o365smtp/internal/emulator/smtpd"
)

// Stage and Fault are the SMTP service's; o365smtptest documents them.
type (
	Stage = smtpd.Stage
	Fault = smtpd.Fault
)

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
