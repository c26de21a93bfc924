package emulator

import (
	"cmp"
	"net/mail"
	"slices"
	"strconv"

	"github.com/o365smtp/o365smtp/internal/emulator/smtpd"
)

// Message is a message that the SMTP service accepted.
type Message = smtpd.Message

// clone returns a deep copy of m.
func clone(m Message) Message {
	m.To = slices.Clone(m.To)
	m.Data = slices.Clone(m.Data)
	h := make(mail.Header, len(m.Header))
	for k, v := range m.Header {
		h[k] = slices.Clone(v)
	}
	m.Header = h
	return m
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = clone(m)
	}
	return out
}

// ClearMessages forgets the messages accepted so far, and the refused
// attempts.
func (s *Server) ClearMessages() {
	s.mu.Lock()
	s.messages = nil
	s.inbox.refused = nil
	s.inbox.scenarioOf = nil
	s.changedLocked()
	s.mu.Unlock()
}

// message returns the message with ID id.
func (s *Server) message(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.ID == id {
			return clone(m), true
		}
	}
	return Message{}, false
}

// maxRefused is how many refused attempts the inbox keeps: the oldest go.
const maxRefused = 1000

// inboxState is what the web inbox shows besides the messages.
type inboxState struct {
	scenario   string            // the scenario in force, "" for "ok"
	scenarioOf map[string]string // message ID -> the scenario in force when it came
	refused    []Refused
	nextID     int
	version    uint64        // bumped by every change
	changed    chan struct{} // closed by the next change
}

// Refused is a refused attempt, as the inbox lists it.
type Refused struct {
	smtpd.Refusal
	ID       string
	Scenario string
}

// Refused hears of a refused attempt (smtpd.RefusalRecorder).
func (b backend) Refused(r smtpd.Refusal) {
	s := b.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inbox.nextID++
	s.inbox.refused = append(s.inbox.refused, Refused{Refusal: r, ID: "r" + strconv.Itoa(s.inbox.nextID), Scenario: s.scenarioLocked()})
	if len(s.inbox.refused) > maxRefused {
		s.inbox.refused = slices.Delete(s.inbox.refused, 0, len(s.inbox.refused)-maxRefused)
	}
	s.changedLocked()
}

// RefusedAttempts returns the refused attempts, oldest first.
func (s *Server) RefusedAttempts() []Refused {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.inbox.refused)
}

// CurrentScenario is the name of the scenario last applied, "ok" if none.
func (s *Server) CurrentScenario() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scenarioLocked()
}

func (s *Server) scenarioLocked() string { return cmp.Or(s.inbox.scenario, "ok") }

// delivered notes a delivered message; s.mu is held.
func (s *Server) delivered(m Message) {
	if s.inbox.scenarioOf == nil {
		s.inbox.scenarioOf = map[string]string{}
	}
	s.inbox.scenarioOf[m.ID] = s.scenarioLocked()
	s.changedLocked()
}

// changedLocked wakes whoever waits for a change; s.mu is held.
func (s *Server) changedLocked() {
	s.inbox.version++
	if s.inbox.changed != nil {
		close(s.inbox.changed)
		s.inbox.changed = nil
	}
}

// changes returns the version now and a channel closed by the next change.
func (s *Server) changes() (uint64, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inbox.changed == nil {
		s.inbox.changed = make(chan struct{})
	}
	return s.inbox.version, s.inbox.changed
}
