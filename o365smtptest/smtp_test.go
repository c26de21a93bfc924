package o365smtptest_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/smtp"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

var (
	bannerRE  = regexp.MustCompile(`^220 EMU01CA0001\.outlook\.office365\.com Microsoft ESMTP MAIL Service ready at (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \+0000 \[([0-9A-F]{16})\]$`)
	bracketRE = `\[EMU01CA0001\.namprd00\.prod\.outlook\.com \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [0-9A-F]{16}\]`
	auth573RE = regexp.MustCompile(`^5\.7\.3 Authentication unsuccessful ` + bracketRE + `$`)
	acceptRE  = regexp.MustCompile(`^250 2\.0\.0 OK <(EMU01CA0001[0-9A-F]{26})@EMU01CA0001\.namprd17\.prod\.outlook\.com> \[Hostname=EMU01CA0001\.namprd17\.prod\.outlook\.com\]$`)
)

func ehloCaps(auth string) []string {
	return []string{
		"250-EMU01CA0001.outlook.office365.com Hello [127.0.0.1]",
		"250-SIZE 157286400",
		"250-PIPELINING",
		"250-DSN",
		"250-ENHANCEDSTATUSCODES",
		"250-" + auth,
		"250-8BITMIME",
		"250-BINARYMIME",
		"250-CHUNKING",
		"250 SMTPUTF8",
	}
}

// matches fails unless got is one line that matches the regular expression re.
func matches(t testing.TB, what string, got []string, re string) {
	t.Helper()
	if len(got) != 1 || !regexp.MustCompile(re).MatchString(got[0]) {
		t.Errorf("%s:\n got %q\nwant a match of %s", what, got, re)
	}
}

func equal(t testing.TB, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// TestTranscript checks Exchange Online's exact replies along a whole session.
func TestTranscript(t *testing.T) {
	s := newServer(t)
	tok := accessToken(t, s)
	r := dialRaw(t, s.SMTPAddr)
	banner := r.lines()
	m := bannerRE.FindStringSubmatch(banner[0])
	if len(banner) != 1 || m == nil {
		t.Fatalf("banner %q", banner)
	}
	session := m[3]
	equal(t, "EHLO before TLS", r.cmd("EHLO client.example"), ehloCaps("STARTTLS")...)
	r.startTLS(clientTLS(s))
	equal(t, "EHLO after TLS", r.cmd("EHLO client.example"), ehloCaps("AUTH LOGIN XOAUTH2")...)
	equal(t, "AUTH", r.cmd("AUTH XOAUTH2 "+b64("user="+s.Mailbox+"\x01auth=Bearer "+tok+"\x01\x01")), "235 2.7.0 Authentication successful")
	equal(t, "NOOP", r.cmd("NOOP"), "250 2.0.0 OK")
	equal(t, "MAIL", r.cmd("MAIL FROM:<"+s.Mailbox+"> SIZE=100 BODY=8BITMIME"), "250 2.1.0 Sender OK")
	equal(t, "RCPT", r.cmd("RCPT TO:<someone@example.com>"), "250 2.1.5 Recipient OK")
	equal(t, "DATA", r.cmd("DATA"), "354 Start mail input; end with <CRLF>.<CRLF>")
	data := message(s.Mailbox, "someone@example.com", "transcript")
	reply := r.cmd(strings.TrimSuffix(data, "\r\n") + "\r\n.")
	am := acceptRE.FindStringSubmatch(reply[0])
	if len(reply) != 1 || am == nil {
		t.Fatalf("end of DATA: %q", reply)
	}
	equal(t, "RSET", r.cmd("RSET"), "250 2.0.0 Resetting")
	matches(t, "unknown command", r.cmd("XYZZ now"), `^500 5\.3\.3 Unrecognized command 'Length: 4' `+bracketRE+`$`)
	equal(t, "QUIT", r.cmd("QUIT"), "221 2.0.0 Service closing transmission channel")

	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("Messages() = %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.ID != am[1] || got.Mailbox != s.Mailbox || got.From != s.Mailbox || !slices.Equal(got.To, []string{"someone@example.com"}) ||
		string(got.Data) != data || got.Size != len(data) || got.Header.Get("Subject") != "transcript" || time.Since(got.Received) > time.Minute {
		t.Errorf("Messages()[0] = %+v", got)
	}
	if session == "" || s.Stats().Connections != 1 || s.Stats().AuthAttempts != 1 {
		t.Errorf("Connections() = %d, AuthAttempts() = %d, want 1, 1", s.Stats().Connections, s.Stats().AuthAttempts)
	}
}

func TestSendNetSMTP(t *testing.T) {
	s := newServer(t)
	c := mustLogin(t, s)
	to := []string{"a@example.com", "b@example.net"}
	if err := send(c, s.Mailbox, to, message(s.Mailbox, "a@example.com", "one")); err != nil {
		t.Fatalf("first message: %v", err)
	}
	// go-mail style: RSET between messages on one connection.
	if err := c.Reset(); err != nil {
		t.Fatalf("RSET: %v", err)
	}
	if err := send(c, s.SharedMailbox, to[:1], message(s.SharedMailbox, "a@example.com", "two")); err != nil {
		t.Fatalf("message from the shared mailbox: %v", err)
	}
	if n := s.Stats().OpenConnections; n != 1 {
		t.Errorf("OpenConnections() = %d while connected, want 1", n)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
	msgs := s.Messages()
	if len(msgs) != 2 || !slices.Equal(msgs[0].To, to) || msgs[1].From != s.SharedMailbox || msgs[0].ID == msgs[1].ID {
		t.Fatalf("Messages() = %+v", msgs)
	}
	msgs[0].To[0] = "changed"
	msgs[0].Data[0] = 'X'
	if m := s.Messages()[0]; m.To[0] == "changed" || m.Data[0] == 'X' {
		t.Errorf("Messages() returned the emulator's own slices")
	}
	s.ClearMessages()
	if n := len(s.Messages()); n != 0 {
		t.Errorf("after ClearMessages, %d messages", n)
	}
	if s.Stats().Connections != 1 {
		t.Errorf("Connections() = %d, want 1 (STARTTLS counts once)", s.Stats().Connections)
	}
}

func TestXOAUTH2TwoStep(t *testing.T) {
	s := newServer(t)
	tok := accessToken(t, s)
	r := dialRaw(t, s.SMTPAddr)
	r.lines()
	r.cmd("EHLO client.example")
	r.startTLS(clientTLS(s))
	r.cmd("EHLO client.example")
	equal(t, "AUTH XOAUTH2", r.cmd("auth xoauth2"), "334 ")
	equal(t, "response", r.cmd(b64("user="+s.Mailbox+"\x01auth=Bearer "+tok+"\x01\x01")), "235 2.7.0 Authentication successful")
	equal(t, "second AUTH", r.cmd("AUTH XOAUTH2"), "503 5.5.2 Already authenticated")

	// net/smtp with the two-step form.
	c := dial(t, s)
	if err := c.StartTLS(clientTLS(s)); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(&xoauth2{user: s.Mailbox, token: tok, twoStep: true}); err != nil {
		t.Fatalf("two-step AUTH: %v", err)
	}

	// A cancelled exchange, then a bad response.
	r = dialRaw(t, s.SMTPAddr)
	r.lines()
	r.cmd("EHLO client.example")
	r.startTLS(clientTLS(s))
	r.cmd("EHLO client.example")
	r.cmd("AUTH XOAUTH2")
	equal(t, "cancel", r.cmd("*"), "501 5.0.0 Negotiation cancelled")
	r.cmd("AUTH XOAUTH2")
	got := r.cmd(b64("user=" + s.Mailbox + "\x01\x01"))
	if len(got) != 1 || !regexp.MustCompile(`^535 5\.7\.3 Authentication unsuccessful `+bracketRE+`$`).MatchString(got[0]) {
		t.Errorf("malformed response: %q", got)
	}
}

func TestAuthRefused(t *testing.T) {
	other := o365smtptest.NewServer()
	otherTok := accessToken(t, other)
	other.Close()

	cases := []struct {
		name  string
		setup func(s *o365smtptest.Server)
		user  func(s *o365smtptest.Server) string
		token func(t *testing.T, s *o365smtptest.Server) string
	}{
		{name: "service principal not registered", setup: func(s *o365smtptest.Server) { s.SetServicePrincipalRegistered(false) }},
		{name: "registered with the app object ID", setup: func(s *o365smtptest.Server) { s.RegisterServicePrincipal(s.AppObjectID) }},
		{name: "no FullAccess", setup: func(s *o365smtptest.Server) { s.SetMailboxPermission(s.Mailbox, false) }},
		{name: "no roles", setup: func(s *o365smtptest.Server) { s.SetRoles(nil) }},
		{name: "other role", setup: func(s *o365smtptest.Server) { s.SetRoles([]string{"Mail.Send"}) }},
		{name: "expired token", setup: func(s *o365smtptest.Server) { s.SetTokenLifetime(-time.Minute) }},
		{name: "unknown mailbox", user: func(*o365smtptest.Server) string { return "nobody@contoso.com" }},
		{name: "shared mailbox without FullAccess", user: func(s *o365smtptest.Server) string { return s.SharedMailbox }},
		{name: "token of another tenant", token: func(*testing.T, *o365smtptest.Server) string { return otherTok }},
		{name: "tampered token", token: func(t *testing.T, s *o365smtptest.Server) string {
			tok := accessToken(t, s)
			parts := strings.Split(tok, ".")
			return parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
		}},
		{name: "not a JWT", token: func(*testing.T, *o365smtptest.Server) string { return "EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA" }},
		{name: "before any token was issued", token: func(*testing.T, *o365smtptest.Server) string { return otherTok }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			if tc.setup != nil {
				tc.setup(s)
			}
			user := s.Mailbox
			if tc.user != nil {
				user = tc.user(s)
			}
			var tok string
			if tc.token != nil {
				tok = tc.token(t, s)
			} else {
				tok = accessToken(t, s)
			}
			c, err := login(t, s, user, tok)
			code, msg := replyOf(t, err)
			if code != 535 || !auth573RE.MatchString(msg) {
				t.Errorf("AUTH: %d %q, want 535 5.7.3 Authentication unsuccessful [...]", code, msg)
			}
			_ = c
			if s.Stats().AuthAttempts != 1 {
				t.Errorf("AuthAttempts() = %d, want 1", s.Stats().AuthAttempts)
			}
		})
	}
}

func TestAuthFixedUp(t *testing.T) {
	s := newServer(t)
	s.SetServicePrincipalRegistered(false)
	s.RegisterServicePrincipal(s.ServicePrincipalID)
	mustLogin(t, s)

	// A second mailbox the app has FullAccess on.
	s.AddMailbox("reports@contoso.com")
	if _, err := login(t, s, "reports@contoso.com", accessToken(t, s)); err == nil {
		t.Fatalf("AUTH as a mailbox without FullAccess succeeded")
	}
	s.SetMailboxPermission("Reports@Contoso.com", true)
	c, err := login(t, s, "REPORTS@contoso.com", accessToken(t, s))
	if err != nil {
		t.Fatalf("AUTH as a mailbox with FullAccess: %v", err)
	}
	if err := send(c, "reports@contoso.com", []string{"x@example.com"}, message("reports@contoso.com", "x@example.com", "r")); err != nil {
		t.Fatalf("send: %v", err)
	}
	if m := s.Messages(); len(m) != 1 || m[0].Mailbox != "reports@contoso.com" {
		t.Errorf("Messages() = %+v", m)
	}
}

func TestSMTPAuthDisabled(t *testing.T) {
	want := func(scope string) *regexp.Regexp {
		return regexp.MustCompile(`^5\.7\.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the ` + scope +
			`\. Visit https://aka\.ms/smtp_auth_disabled for more information\. ` + bracketRE + `$`)
	}
	s := newServer(t)
	s.SetSMTPAuthDisabledForTenant(true)
	_, err := login(t, s, s.Mailbox, accessToken(t, s))
	if code, msg := replyOf(t, err); code != 535 || !want("Tenant").MatchString(msg) {
		t.Errorf("tenant disabled: %d %q", code, msg)
	}
	// The mailbox's own setting wins, both ways.
	s.SetSMTPAuthDisabledForMailbox(s.Mailbox, false)
	mustLogin(t, s)
	s.SetSMTPAuthDisabledForTenant(false)
	s.SetSMTPAuthDisabledForMailbox(s.Mailbox, true)
	_, err = login(t, s, s.Mailbox, accessToken(t, s))
	if code, msg := replyOf(t, err); code != 535 || !want("Mailbox").MatchString(msg) {
		t.Errorf("mailbox disabled: %d %q", code, msg)
	}
}

// sendAsDenied is the reply to a message from addr that the mailbox may
// not send as, without its code.
func sendAsDenied(addr string) string {
	return "5.2.252 SendAsDenied; sender@contoso.com not allowed to send as " + addr + "; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message. [Hostname=EMU01CA0001.namprd17.prod.outlook.com]"
}

func TestSendAs(t *testing.T) {
	s := newServer(t)
	c := mustLogin(t, s)
	other := "other@contoso.com"

	// Another MAIL FROM is accepted; the message is refused after the
	// final dot.
	if err := mailFrom(c, other); err != nil {
		t.Fatalf("MAIL FROM another address: %v, want 250", err)
	}
	c.Reset()
	err := send(c, other, []string{"x@example.com"}, message(s.Mailbox, "x@example.com", "envelope"))
	if code, msg := replyOf(t, err); code != 554 || msg != sendAsDenied(other) {
		t.Errorf("MAIL FROM: %d %q\nwant 554 %q", code, msg, sendAsDenied(other))
	}

	// The envelope is fine, the From header is not.
	err = send(c, s.Mailbox, []string{"x@example.com"}, message("Other <"+other+">", "x@example.com", "spoof"))
	if code, msg := replyOf(t, err); code != 554 || msg != sendAsDenied(other) {
		t.Errorf("From header: %d %q\nwant 554 %q", code, msg, sendAsDenied(other))
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages recorded, want 0", n)
	}

	// Send As granted to the mailbox, and revoked from the shared mailbox.
	s.SetSendAs(other, true)
	if err := send(c, other, []string{"x@example.com"}, message(other, "x@example.com", "granted")); err != nil {
		t.Errorf("with Send As: %v", err)
	}
	s.SetSendAs(s.SharedMailbox, false)
	wantReply(t, send(c, s.SharedMailbox, []string{"x@example.com"}, message(s.SharedMailbox, "x@example.com", "revoked")), 554, "5.2.252 SendAsDenied")
}

func TestRecipients(t *testing.T) {
	s := newServer(t)
	c := mustLogin(t, s)
	if err := mailFrom(c, s.Mailbox); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("a@example.com"); err != nil {
		t.Fatal(err)
	}
	err := c.Rcpt("Reject.Me@example.com")
	if code, msg := replyOf(t, err); code != 550 || msg != "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup" {
		t.Errorf("RCPT reject: %d %q", code, msg)
	}
	if err := c.Rcpt("b@example.com"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, message(s.Mailbox, "a@example.com", "partial"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if m := s.Messages(); len(m) != 1 || !slices.Equal(m[0].To, []string{"a@example.com", "b@example.com"}) {
		t.Errorf("Messages() = %+v", m)
	}

	// At most 500 recipients per message.
	if err := mailFrom(c, s.Mailbox); err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if err := c.Rcpt("r" + strconv.Itoa(i) + "@example.com"); err != nil {
			t.Fatalf("recipient %d: %v", i+1, err)
		}
	}
	err = c.Rcpt("one-too-many@example.com")
	if code, msg := replyOf(t, err); code != 452 || msg != "4.5.3 Too many recipients" {
		t.Errorf("recipient 501: %d %q", code, msg)
	}
}

func TestRecipientHook(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	s := newServer(t, o365smtptest.WithRecipientHook(func(addr string) (string, bool) {
		mu.Lock()
		seen = append(seen, addr)
		mu.Unlock()
		switch addr {
		case "blocked@example.com":
			return "550 5.7.1 Delivery not authorized, message refused\n550 5.7.1 second line", false
		case "busy@example.com":
			return "421 4.3.2 Service not available", false
		}
		return "", true
	}))
	c := mustLogin(t, s)
	if err := mailFrom(c, s.Mailbox); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("reject-me@example.com"); err != nil {
		t.Errorf("RCPT reject-me with a hook that accepts it: %v", err)
	}
	err := c.Rcpt("blocked@example.com")
	if code, msg := replyOf(t, err); code != 550 || msg != "5.7.1 Delivery not authorized, message refused\n5.7.1 second line" {
		t.Errorf("RCPT blocked: %d %q", code, msg)
	}
	wantReply(t, c.Rcpt("busy@example.com"), 421, "4.3.2 Service not available")
	if err := c.Noop(); err == nil {
		t.Errorf("NOOP after a 421 to RCPT succeeded; want the connection closed")
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"reject-me@example.com", "blocked@example.com", "busy@example.com"}; !slices.Equal(seen, want) {
		t.Errorf("hook saw %q, want %q", seen, want)
	}
}

func TestRecipientHookNilIsDefault(t *testing.T) {
	s := newServer(t, o365smtptest.WithRecipientHook(nil))
	c := mustLogin(t, s)
	if err := mailFrom(c, s.Mailbox); err != nil {
		t.Fatal(err)
	}
	wantReply(t, c.Rcpt("reject@example.com"), 550, "5.1.10 RESOLVER.ADR.RecipientNotFound;")
}

func TestNotAuthenticated(t *testing.T) {
	s := newServer(t)
	c := dial(t, s)
	if err := c.StartTLS(clientTLS(s)); err != nil {
		t.Fatal(err)
	}
	err := mailFrom(c, s.Mailbox)
	if code, msg := replyOf(t, err); code != 530 || !regexp.MustCompile(`^5\.7\.57 Client not authenticated to send mail\. `+bracketRE+`$`).MatchString(msg) {
		t.Errorf("MAIL without AUTH: %d %q", code, msg)
	}
	wantReply(t, c.Rcpt("a@example.com"), 503, "5.5.2 Need mail command")
}

func TestAuthRequiresTLS(t *testing.T) {
	s := newServer(t)
	tok := accessToken(t, s)
	r := dialRaw(t, s.SMTPAddr)
	r.lines()
	if caps := r.cmd("EHLO client.example"); slices.ContainsFunc(caps, func(l string) bool { return strings.Contains(l, "AUTH") }) {
		t.Errorf("AUTH advertised before TLS: %q", caps)
	}
	got := r.cmd("AUTH XOAUTH2 " + b64("user="+s.Mailbox+"\x01auth=Bearer "+tok+"\x01\x01"))
	matches(t, "AUTH before STARTTLS", got, `^504 5\.7\.4 Unrecognized authentication type `+bracketRE+`$`)
	if got := r.cmd("AUTH XOAUTH2"); !strings.HasPrefix(got[0], "504 5.7.4 ") {
		t.Errorf("two-step AUTH before STARTTLS: %q", got)
	}
	matches(t, "MAIL after refused AUTH", r.cmd("MAIL FROM:<"+s.Mailbox+">"), `^451 5\.7\.3 STARTTLS is required to send mail `+bracketRE+`$`)
	if s.Stats().AuthAttempts != 2 {
		t.Errorf("AuthAttempts() = %d, want 2", s.Stats().AuthAttempts)
	}

	// After STARTTLS the client must EHLO again.
	r.startTLS(clientTLS(s))
	equal(t, "AUTH before EHLO", r.cmd("AUTH XOAUTH2 "+b64("user="+s.Mailbox+"\x01auth=Bearer "+tok+"\x01\x01")), "503 5.5.2 Send hello first")
	equal(t, "EHLO after TLS", r.cmd("EHLO x")[5:6], "250-AUTH LOGIN XOAUTH2")
}

func TestAuthLoginRefused(t *testing.T) {
	s := newServer(t)
	r := dialRaw(t, s.SMTPAddr)
	r.lines()
	r.cmd("EHLO client.example")
	r.startTLS(clientTLS(s))
	r.cmd("EHLO client.example")
	equal(t, "AUTH LOGIN", r.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6")
	equal(t, "user", r.cmd(b64(s.Mailbox)), "334 UGFzc3dvcmQ6")
	got := r.cmd(b64("password"))
	if len(got) != 1 || !regexp.MustCompile(`^535 5\.7\.139 Authentication unsuccessful, basic authentication is disabled\. `+bracketRE+`$`).MatchString(got[0]) {
		t.Errorf("AUTH LOGIN: %q", got)
	}
	if got := r.cmd("AUTH PLAIN " + b64("\x00"+s.Mailbox+"\x00password")); !strings.HasPrefix(got[0], "504 5.7.4 Unrecognized authentication type") {
		t.Errorf("AUTH PLAIN: %q", got)
	}
}

func TestWithoutSTARTTLS(t *testing.T) {
	s := newServer(t, emulator.WithoutSTARTTLS())
	r := dialRaw(t, s.SMTPAddr)
	r.lines()
	caps := r.cmd("EHLO client.example")
	if slices.ContainsFunc(caps, func(l string) bool { return strings.Contains(l, "STARTTLS") || strings.Contains(l, "AUTH") }) {
		t.Errorf("EHLO: %q", caps)
	}
	if got := r.cmd("STARTTLS"); !strings.HasPrefix(got[0], "502 ") {
		t.Errorf("STARTTLS: %q", got)
	}
	if got := r.cmd("AUTH XOAUTH2 " + b64("user="+s.Mailbox+"\x01auth=Bearer "+accessToken(t, s)+"\x01\x01")); !strings.HasPrefix(got[0], "504 5.7.4 ") {
		t.Errorf("AUTH: %q", got)
	}
	c := dial(t, s)
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Errorf("STARTTLS advertised")
	}
	if cfg := s.Config(); cfg.Security != o365smtp.SecurityStartTLS {
		t.Errorf("Config().Security = %v", cfg.Security)
	}
}

func TestImplicitTLS(t *testing.T) {
	s := newServer(t, o365smtptest.WithImplicitTLS())
	if s.Config().Security != o365smtp.SecurityImplicitTLS {
		t.Errorf("Config().Security = %v, want tls", s.Config().Security)
	}
	conn, err := tls.Dial("tcp", s.SMTPAddr, clientTLS(s))
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Errorf("STARTTLS advertised over TLS")
	}
	if ok, mechs := c.Extension("AUTH"); !ok || mechs != "LOGIN XOAUTH2" {
		t.Errorf("AUTH = %v %q", ok, mechs)
	}
	if err := c.Auth(&xoauth2{user: s.Mailbox, token: accessToken(t, s)}); err != nil {
		t.Fatal(err)
	}
	if err := send(c, s.Mailbox, []string{"a@example.com"}, message(s.Mailbox, "a@example.com", "implicit")); err != nil {
		t.Fatal(err)
	}
	if len(s.Messages()) != 1 {
		t.Errorf("message not recorded")
	}

	// A plain-text client gets no banner.
	plain, err := net.Dial("tcp", s.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.SetDeadline(time.Now().Add(20 * time.Second))
	plain.Write([]byte("EHLO x\r\n"))
	b, _ := io.ReadAll(plain)
	if bytes.Contains(b, []byte("220 ")) {
		t.Errorf("plain-text client got %q", b)
	}
}

func TestTLSVersionCap(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		opts := []o365smtptest.Option{emulator.WithMaxTLSVersion(tls.VersionTLS11)}
		if implicit {
			opts = append(opts, o365smtptest.WithImplicitTLS())
		}
		s := newServer(t, opts...)
		var err error
		if implicit {
			var conn *tls.Conn
			conn, err = tls.Dial("tcp", s.SMTPAddr, clientTLS(s))
			if err == nil {
				conn.Close()
			}
		} else {
			err = dial(t, s).StartTLS(clientTLS(s))
		}
		if err == nil || !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("implicit=%v: TLS 1.2 client against a TLS 1.1 server: %v, want a protocol version error", implicit, err)
		}
	}
	// A client that allows TLS 1.1 gets it, and then Exchange's refusal
	// (zehm/sendEmail#1): the handshake completes, the next command gets
	// 421 4.7.66 and the connection closes.
	const tooOld = "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2. Visit https://aka.ms/smtp_auth_tls. [EMU01CA0001.namprd00.prod.outlook.com]"
	s := newServer(t, emulator.WithMaxTLSVersion(tls.VersionTLS11))
	r := dialRaw(t, s.SMTPAddr)
	r.lines()
	r.cmd("EHLO client.example")
	cfg := clientTLS(s)
	cfg.MinVersion = tls.VersionTLS10
	r.startTLS(cfg)
	if st := r.conn.(*tls.Conn).ConnectionState(); st.Version != tls.VersionTLS11 {
		t.Errorf("negotiated %x, want TLS 1.1", st.Version)
	}
	equal(t, "EHLO over TLS 1.1", r.cmd("EHLO client.example"), tooOld)
	if l, err := r.tp.ReadLine(); err == nil {
		t.Errorf("after 421 4.7.66: %q, want the connection closed", l)
	}

	// Implicit TLS: the refusal instead of the banner.
	s = newServer(t, emulator.WithMaxTLSVersion(tls.VersionTLS11), o365smtptest.WithImplicitTLS())
	cfg = clientTLS(s)
	cfg.MinVersion = tls.VersionTLS10
	conn, err := tls.Dial("tcp", s.SMTPAddr, cfg)
	if err != nil {
		t.Fatalf("implicit TLS 1.1: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	b, _ := io.ReadAll(conn)
	if string(b) != tooOld+"\r\n" {
		t.Errorf("implicit TLS 1.1 greeting %q, want %q", b, tooOld)
	}
}

func TestCertificateHosts(t *testing.T) {
	s := newServer(t, emulator.WithCertificateHosts("wrong.example"))
	err := dial(t, s).StartTLS(clientTLS(s))
	var hostErr x509.HostnameError
	if !errors.As(err, &hostErr) {
		t.Errorf("StartTLS with a certificate for another host: %v, want a hostname error", err)
	}
	cfg := clientTLS(s)
	cfg.ServerName = "wrong.example"
	if err := dial(t, s).StartTLS(cfg); err != nil {
		t.Errorf("StartTLS with ServerName wrong.example: %v", err)
	}
	if _, err := s.Client().Get(s.AuthorityHost + "/" + s.TenantID + "/v2.0/.well-known/openid-configuration"); !errors.As(err, &hostErr) {
		t.Errorf("HTTPS with a certificate for another host: %v", err)
	}
}

func TestConnectionLimit(t *testing.T) {
	s := newServer(t)
	var clients []*smtp.Client
	for range 4 {
		clients = append(clients, mustLogin(t, s))
	}
	if n := s.Stats().MaxConcurrentConnections; n != 4 {
		t.Errorf("MaxConcurrentConnections() = %d, want 4", n)
	}
	if n := s.Stats().OpenConnections; n != 4 {
		t.Errorf("OpenConnections() = %d, want 4", n)
	}
	for i, c := range clients {
		err := send(c, s.Mailbox, []string{"a@example.com"}, message(s.Mailbox, "a@example.com", "n"+strconv.Itoa(i)))
		if i < 3 {
			if err != nil {
				t.Errorf("connection %d: %v", i+1, err)
			}
			continue
		}
		code, msg := replyOf(t, err)
		if code != 432 || msg != "4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information. [Hostname=EMU01CA0001.namprd17.prod.outlook.com]" {
			t.Errorf("connection 4: %d %q", code, msg)
		}
	}
	if n := len(s.Messages()); n != 3 {
		t.Errorf("%d messages, want 3", n)
	}
	s.SetConnectionLimit(0)
	clients[3].Reset()
	if err := send(clients[3], s.Mailbox, []string{"a@example.com"}, message(s.Mailbox, "a@example.com", "unlimited")); err != nil {
		t.Errorf("without a limit: %v", err)
	}
	s.SetConnectionLimit(1)
	clients[1].Reset()
	wantReply(t, send(clients[1], s.Mailbox, []string{"a@example.com"}, message(s.Mailbox, "a@example.com", "x")), 432, "4.3.2 ")
}

func TestMessageSize(t *testing.T) {
	s := newServer(t, o365smtptest.WithMaxMessageSize(1024))
	r := dialRaw(t, s.SMTPAddr)
	r.lines()
	if caps := r.cmd("EHLO x"); caps[1] != "250-SIZE 1024" {
		t.Errorf("EHLO: %q", caps)
	}
	c := mustLogin(t, s)
	body := message(s.Mailbox, "a@example.com", "big") + strings.Repeat("0123456789abcdef\r\n", 100)
	err := send(c, s.Mailbox, []string{"a@example.com"}, body)
	if code, msg := replyOf(t, err); code != 552 || msg != "5.3.4 Message size exceeds fixed maximum message size" {
		t.Errorf("oversized message: %d %q", code, msg)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages recorded", n)
	}
	c.Reset()
	if _, err := c.Text.Cmd("MAIL FROM:<%s> SIZE=2000", s.Mailbox); err != nil {
		t.Fatal(err)
	}
	code, msg, _ := c.Text.ReadResponse(250)
	if code != 552 || msg != "5.3.4 Message size exceeds fixed maximum message size" {
		t.Errorf("MAIL SIZE=2000: %d %q", code, msg)
	}
}

func TestConfig(t *testing.T) {
	s := newServer(t)
	cfg := s.Config()
	host, port, _ := net.SplitHostPort(s.SMTPAddr)
	if cfg.TenantID != s.TenantID || cfg.ClientID != s.ClientID || cfg.ClientSecret != s.ClientSecret || cfg.Mailbox != s.Mailbox ||
		cfg.Host != "127.0.0.1" || host != "127.0.0.1" || strconv.Itoa(cfg.Port) != port || cfg.Security != o365smtp.SecurityStartTLS ||
		cfg.AuthorityHost != s.AuthorityHost || cfg.Scope != "https://outlook.office365.com/.default" || cfg.MessagesPerMinute != -1 ||
		cfg.HTTPClient != s.Client() || cfg.TLSConfig == nil || cfg.TLSConfig.RootCAs == nil || cfg.TLSConfig.ServerName != "127.0.0.1" ||
		cfg.TLSConfig.InsecureSkipVerify {
		t.Errorf("Config() = %+v", cfg)
	}
	if !strings.HasPrefix(s.AuthorityHost, "https://127.0.0.1:") || s.TenantDomain != "contoso.onmicrosoft.com" || s.Mailbox != "sender@contoso.com" {
		t.Errorf("server identity: %s %s %s", s.AuthorityHost, s.TenantDomain, s.Mailbox)
	}
	for _, id := range []string{s.TenantID, s.ClientID, s.AppObjectID, s.ServicePrincipalID} {
		if !guidRE.MatchString(id) {
			t.Errorf("%q is not a GUID", id)
		}
	}
	if s.AppObjectID == s.ServicePrincipalID {
		t.Errorf("AppObjectID == ServicePrincipalID")
	}
	sender, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatalf("o365smtp.New(Config()): %v", err)
	}
	sender.Close()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CACertPEM()) {
		t.Errorf("CACertPEM() holds no certificate")
	}
	if !pool.Equal(s.CertPool()) {
		t.Errorf("CertPool() differs from CACertPEM()")
	}
}

func TestCounters(t *testing.T) {
	s := newServer(t)
	a, b := dial(t, s), dial(t, s)
	if err := a.StartTLS(clientTLS(s)); err != nil {
		t.Fatal(err)
	}
	if err := b.Hello("x"); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Connections != 3 || s.Stats().OpenConnections != 3 || s.Stats().MaxConcurrentConnections != 3 {
		t.Errorf("Connections, OpenConnections, MaxConcurrentConnections = %d, %d, %d, want 3, 3, 3",
			s.Stats().Connections, s.Stats().OpenConnections, s.Stats().MaxConcurrentConnections)
	}
}
