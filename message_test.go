package o365smtp_test

// Issue 14: a retry sends the same bytes (Date, Message-ID and boundaries
// are fixed before the first attempt); a message whose rendering changes
// each time (a stamping middleware) is sent as rendered once; a message over
// SIZE is refused before MAIL.

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// bigMsg has an attachment of n bytes (base64 makes it larger).
func bigMsg(t *testing.T, n int) *mail.Msg {
	t.Helper()
	m := newMsg(t)
	m.Subject("Grüße, ein großer Anhang")
	m.AddAlternativeString(mail.TypeTextHTML, "<p>hello, <b>world</b></p>")
	if err := m.AttachReader("Bericht für März.bin", bytes.NewReader(bytes.Repeat([]byte("0123456789abcdef\n"), n/17+1))); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRetrySameBytes(t *testing.T) {
	t.Parallel()
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.MaxAttempts = 3
	s, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o365smtp.SetRetryBackoff(s, time.Millisecond)
	// The first attempt's data is refused after the final dot, with a
	// transient reply: the retry renders the message again.
	srv.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)", Times: 1})
	m := bigMsg(t, 2<<20)
	if err := s.Send(pipeCtx(t), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if st := s.Stats(); st.Attempts != 2 {
		t.Fatalf("%d attempts, want 2", st.Attempts)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages delivered, want 1", len(msgs))
	}
	// go-mail kept the first rendering's Date, Message-ID and boundaries:
	// rendering it now gives the bytes of every attempt.
	var want bytes.Buffer
	if _, err := m.WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msgs[0].Data, want.Bytes()) {
		t.Errorf("delivered %d bytes, differing from the message's rendering (%d bytes)", len(msgs[0].Data), want.Len())
	}
	if id := m.GetGenHeader(mail.HeaderMessageID); len(id) != 1 || !strings.Contains(string(msgs[0].Data), id[0]) {
		t.Errorf("Message-ID %v not in the delivered message", id)
	}
}

// stamp is a middleware that stamps each rendering differently, as a
// signing one would: the Sender keeps one rendering instead.
type stamp struct{ n int }

func (s *stamp) Type() mail.MiddlewareType { return "stamp" }
func (s *stamp) Handle(m *mail.Msg) *mail.Msg {
	s.n++
	m.SetGenHeader("X-Stamp", strings.Repeat("x", s.n))
	return m
}

func TestUnrepeatableRenderingIsKept(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := pipeSender(t, srv, nil)
	st := &stamp{}
	m := bigMsg(t, 1<<20)
	mail.WithMiddleware(st)(m)
	if err := s.Send(pipeCtx(t), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages delivered, want 1", n)
	}
}

func TestTooLargeRefusedBeforeMail(t *testing.T) {
	srv := o365smtptest.NewServer(o365smtptest.WithMaxMessageSize(1 << 20))
	defer srv.Close()
	tr := &transcript{}
	s := pipeSender(t, srv, tr)
	send(t, pipeCtx(t), s) // warm: SIZE is known
	err := s.Send(pipeCtx(t), bigMsg(t, 2<<20))
	var e *o365smtp.Error
	if !errors.As(err, &e) || e.Kind != o365smtp.ErrInvalidMessage {
		t.Fatalf("Send = %v, want ErrInvalidMessage (too large)", err)
	}
	if n := tr.count("MAIL FROM"); n != 1 {
		t.Errorf("%d MAIL FROM, want 1 (the warm-up's): the large message must be refused before MAIL", n)
	}
	send(t, pipeCtx(t), s)
}
