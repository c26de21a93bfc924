package emulator

import (
	"net/mail"
	"slices"

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

// ClearMessages forgets the messages accepted so far.
func (s *Server) ClearMessages() {
	s.mu.Lock()
	s.messages = nil
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
