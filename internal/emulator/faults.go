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

// TokenFault is what FailToken makes the token endpoint do;
// o365smtptest.TokenFault documents it.
type TokenFault struct {
	Status int           // of the error response; 0 means 500
	Body   string        // of the error response; "" is Entra's AADSTS50000
	Delay  time.Duration // before anything else
	Hang   bool          // never answer
	Times  int           // requests it applies to; 0 means all
}

// queue holds the faults of a stage (or of the token endpoint) in the order
// they were added, each with the occurrences it has left.
type queue[F any] []*queued[F]

type queued[F any] struct {
	f     F
	times int // the fault's Times: 0 means every occurrence
	left  int // remaining occurrences when times > 0
}

func (q *queue[F]) add(f F, times int) { *q = append(*q, &queued[F]{f: f, times: times, left: times}) }

// take consumes one occurrence of the first fault, if any.
func (q *queue[F]) take() (F, bool) {
	if len(*q) == 0 {
		var zero F
		return zero, false
	}
	e := (*q)[0]
	if e.times > 0 {
		e.left--
		if e.left <= 0 {
			*q = (*q)[1:]
		}
	}
	return e.f, true
}

// Fail adds f to the faults of stage. Faults of a stage apply in the order
// they were added: a fault with Times n applies to the next n occurrences,
// then the next fault of the stage takes over; a fault with Times 0 applies
// to every occurrence and so hides any added after it. Concurrent
// connections each consume one occurrence.
func (s *Server) Fail(stage Stage, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[stage]
	q.add(f, f.Times)
	s.faults[stage] = q
}

// FailToken adds f to the faults of the token endpoint, in the same manner
// as Fail. Only POST requests to the token endpoint are affected.
func (s *Server) FailToken(f TokenFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFaults.add(f, f.Times)
}

// ClearFaults removes every fault added by Fail and FailToken. Delays and
// hangs already in progress are not interrupted.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = make(map[Stage]queue[Fault])
	s.tokenFaults = nil
}

// takeFault consumes one occurrence of stage's first fault, if any.
func (s *Server) takeFault(stage Stage) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[stage]
	f, ok := q.take()
	s.faults[stage] = q
	return f, ok
}

func (s *Server) takeTokenFault() (TokenFault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenFaults.take()
}
