package o365smtp_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// TestMailFromParameters: Exchange Online advertises SMTPUTF8 and
// 8BITMIME but answers the SMTPUTF8 parameter with 502 5.3.3 (go-mail#545).
// go-mail's default encodings are 7-bit (quoted-printable bodies, RFC 2047
// headers), so a message with non-ASCII text goes out with a bare MAIL FROM
// and is delivered by the default (refusing) emulator; an address that is
// not ASCII needs SMTPUTF8, and the refusal names the parameter.
func TestMailFromParameters(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	tr := &transcript{}
	cfg := srv.Config()
	cfg.Logger = slog.New(tr)
	s := newSender(t, cfg)

	msg := newMsg(t)
	msg.Subject("Grüße aus Zürich: ½ € ✓")
	msg.SetBodyString(mail.TypeTextPlain, "Ünïcödé body, 日本語, and a long line "+strings.Repeat("é", 200))
	if err := s.Send(ctxT(t), msg); err != nil {
		t.Fatalf("a non-ASCII message with ASCII addresses: %v", err)
	}
	if tr.count("MAIL FROM") != 1 {
		t.Fatalf("client sent %d MAIL FROM; want 1", tr.count("MAIL FROM"))
	}
	tr.mu.Lock()
	for _, l := range tr.lines {
		if strings.HasPrefix(l, "MAIL FROM") && (strings.Contains(l, "SMTPUTF8") || strings.Contains(l, "8BITMIME")) {
			t.Errorf("client sent %q: go-mail's rendering is 7-bit, no parameter is needed", l)
		}
	}
	tr.mu.Unlock()
	if got := srv.Messages(); len(got) != 1 || !isSevenBit(got[0].Data) {
		t.Errorf("the emulator got %d messages; the first is 7-bit: %v", len(got), len(got) > 0 && isSevenBit(got[0].Data))
	}

	intl := newMsg(t, "jörg@example.com")
	e := asError(t, s.Send(ctxT(t), intl))
	if e.Code != 502 || e.EnhancedCode != "5.3.3" || e.Op != "mail" || !strings.Contains(e.Hint, "SMTPUTF8") {
		t.Errorf("a non-ASCII recipient = %v (op %s)\n%s; want 502 5.3.3 at mail with a hint naming SMTPUTF8", e, e.Op, e.Hint)
	}

	// Where the parameter is accepted, the same message goes out with it.
	srv2 := o365smtptest.NewServer(emulator.WithSMTPUTF8Accepted())
	defer srv2.Close()
	s2 := newSender(t, srv2.Config())
	if err := s2.Send(ctxT(t), newMsg(t, "jörg@example.com")); err != nil {
		t.Errorf("a non-ASCII recipient where SMTPUTF8 is accepted: %v", err)
	}
}

func isSevenBit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
