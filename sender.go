package o365smtp

import (
	"context"

	"github.com/wneessen/go-mail"
)

// Sender sends mail as one mailbox. It is safe for concurrent use by
// multiple goroutines. The zero value is not usable; use New.
type Sender struct {
	r      *resolved
	tokens *cachedSource
}

func newSender(r *resolved) (*Sender, error) {
	return &Sender{r: r, tokens: newCachedSource(r)}, nil
}

func notYet(op string) error {
	return &Error{Kind: ErrConfig, Op: op, Message: "not implemented yet", Hint: "This feature has not landed yet."}
}

// Send submits one message.
func (s *Sender) Send(ctx context.Context, msg *mail.Msg) error { return notYet("message") }

// Verify walks the setup checklist.
func (s *Sender) Verify(ctx context.Context, from ...string) (*Report, error) {
	return &Report{}, notYet("config")
}

// Stats reports the Sender's counters.
func (s *Sender) Stats() Stats { return Stats{} }

// Shutdown stops the Sender gracefully.
func (s *Sender) Shutdown(ctx context.Context) error { return nil }

// Close stops the Sender at once.
func (s *Sender) Close() error { return nil }
