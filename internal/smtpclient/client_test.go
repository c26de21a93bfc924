package smtpclient

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// The message of the happy path, and the lines it must arrive as: dot-stuffed,
// every line ending in CRLF.
const testBody = "Subject: test\r\n\r\n.starts with a dot\r\nbare LF\n..two dots\r\n.\r\nlast"

var testBodyWire = []string{"Subject: test", "", "..starts with a dot", "bare LF", "...two dots", "..", "last"}

// happyServer scripts a whole session: STARTTLS, AUTH XOAUTH2 for user and
// token, one message answered 251, RSET and QUIT.
func happyServer(user, token string) func(*testServer) {
	return func(s *testServer) {
		t := s.t
		if !(s.send(greeting220) &&
			s.cmd("EHLO client.test", ehloPlain) &&
			s.cmd("STARTTLS", starttls220) && s.upgrade() &&
			s.cmd("EHLO client.test", ehloTLS)) {
			return
		}
		line, err := s.readLine()
		blob, found := strings.CutPrefix(line, "AUTH XOAUTH2 ")
		if err != nil || !found {
			t.Errorf("server: want AUTH XOAUTH2, got %q, %v", line, err)
			return
		}
		payload, err := base64.StdEncoding.DecodeString(blob)
		if want := "user=" + user + "\x01auth=Bearer " + token + "\x01\x01"; err != nil || string(payload) != want {
			t.Errorf("server: XOAUTH2 payload %q (%v), want %q", payload, err, want)
			s.send("535 5.7.3 Authentication unsuccessful\r\n")
			return
		}
		if !(s.send("235 2.7.0 Authentication successful\r\n") &&
			s.cmd("MAIL FROM:<sender@example.com> SIZE=42 BODY=8BITMIME", "250 2.1.0 Sender OK\r\n") &&
			s.cmd("RCPT TO:<rcpt@example.net>", "250 2.1.5 Recipient OK\r\n") &&
			s.cmd("DATA", data354)) {
			return
		}
		lines, ok := s.readData()
		if !ok {
			return
		}
		if !reflect.DeepEqual(lines, testBodyWire) {
			t.Errorf("server: message data %q\nwant %q", lines, testBodyWire)
		}
		_ = s.send("251 2.6.0 Queued mail for delivery\r\n") &&
			s.cmd("RSET", "250 2.0.0 Resetting\r\n") &&
			s.cmd("QUIT", quit221)
	}
}

// boundCtx binds a context to c for the test, as a safety net.
func boundCtx(t *testing.T, c *Client) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c.Bind(ctx, time.Minute)
	return ctx
}

// runHappy runs the client side of happyServer.
func runHappy(t *testing.T, c *Client, user, token string) {
	t.Helper()
	ctx := boundCtx(t, c)
	g, err := c.Greeting()
	if err != nil || g.Code != 220 || g.Text() != "mx.test Microsoft ESMTP MAIL Service ready" {
		t.Fatalf("Greeting = %v, %v", g, err)
	}
	if err := c.Hello(); err != nil {
		t.Fatalf("Hello: %v", err)
	}
	for name, want := range map[string]string{"SIZE": "157286400", "starttls": "", "8bitmime": "", "Pipelining": ""} {
		if ok, v := c.Extension(name); !ok || v != want {
			t.Errorf("Extension(%q) = %v, %q; want true, %q", name, ok, v, want)
		}
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Errorf("AUTH advertised before TLS")
	}
	if ok, _ := c.Extension("mx.test"); ok {
		t.Errorf("the EHLO greeting line was taken for an extension")
	}
	if _, ok := c.TLS(); ok {
		t.Errorf("TLS reported before STARTTLS")
	}
	if err := c.StartTLS(ctx); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	st, ok := c.TLS()
	if !ok || !st.HandshakeComplete || len(st.VerifiedChains) == 0 {
		t.Fatalf("TLS() = %+v, %v", st, ok)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Errorf("the extensions from before TLS survived STARTTLS")
	}
	if err := c.Hello(); err != nil {
		t.Fatalf("Hello after TLS: %v", err)
	}
	if ok, v := c.Extension("auth"); !ok || v != "LOGIN XOAUTH2" {
		t.Errorf("Extension(auth) = %v, %q", ok, v)
	}
	if ok, v := c.Extension("SIZE"); !ok || v != "157286400" {
		t.Errorf("Extension(SIZE) = %v, %q", ok, v)
	}
	if err := c.AuthXOAUTH2(user, token); err != nil {
		t.Fatalf("AuthXOAUTH2: %v", err)
	}
	if err := c.Mail("sender@example.com", "SIZE=42", "BODY=8BITMIME"); err != nil {
		t.Fatalf("Mail: %v", err)
	}
	if err := c.Rcpt("rcpt@example.net"); err != nil {
		t.Fatalf("Rcpt: %v", err)
	}
	r, err := c.Data(strings.NewReader(testBody))
	if err != nil || r.Code != 251 || !r.Positive() || r.Text() != "2.6.0 Queued mail for delivery" {
		t.Fatalf("Data = %v, %v; want 251 and success", r, err)
	}
	if err := c.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
}

func TestSessionSTARTTLS(t *testing.T) {
	addr := startServer(t, happyServer("U", "T"))
	c := dial(t, addr, Config{LocalName: "client.test"})
	runHappy(t, c, "U", "T")
}

func TestLog(t *testing.T) {
	const (
		user  = "sender@example.com"
		token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.c2VjcmV0LWFjY2Vzcy10b2tlbg.sig"
	)
	blob := base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"))
	type entry struct{ dir, line string }
	var got []entry
	addr := startServer(t, happyServer(user, token))
	c := dial(t, addr, Config{LocalName: "client.test", Log: func(dir, line string) {
		got = append(got, entry{dir, line})
	}})
	runHappy(t, c, user, token)

	var want []entry
	server := func(raw string) {
		for _, l := range strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n") {
			want = append(want, entry{"server", l})
		}
	}
	client := func(l string) { want = append(want, entry{"client", l}) }
	server(greeting220)
	client("EHLO client.test")
	server(ehloPlain)
	client("STARTTLS")
	server(starttls220)
	client("EHLO client.test")
	server(ehloTLS)
	client("AUTH XOAUTH2 <redacted>")
	server("235 2.7.0 Authentication successful")
	client("MAIL FROM:<sender@example.com> SIZE=42 BODY=8BITMIME")
	server("250 2.1.0 Sender OK")
	client("RCPT TO:<rcpt@example.net>")
	server("250 2.1.5 Recipient OK")
	client("DATA")
	server(data354)
	client("<message data> .")
	server("251 2.6.0 Queued mail for delivery")
	client("RSET")
	server("250 2.0.0 Resetting")
	client("QUIT")
	server(quit221)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("log:\n%q\nwant:\n%q", got, want)
	}
	auth := 0
	for _, e := range got {
		if strings.HasPrefix(e.line, "AUTH") {
			auth++
			if e != (entry{"client", "AUTH XOAUTH2 <redacted>"}) {
				t.Errorf("AUTH logged as %q %q", e.dir, e.line)
			}
		}
		if e.dir != "client" && e.dir != "server" {
			t.Errorf("log direction %q", e.dir)
		}
		if strings.Contains(e.line, token) || strings.Contains(e.line, blob) ||
			strings.Contains(e.line, blob[:16]) || strings.Contains(e.line, "Bearer") {
			t.Errorf("the token reached the log: %q", e.line)
		}
	}
	if auth != 1 {
		t.Errorf("%d AUTH lines logged, want 1", auth)
	}
}

// greetTLS is the start of an implicit-TLS session with the given EHLO reply.
func greetTLS(s *testServer, ehlo string) bool {
	return s.upgrade() && s.send(greeting220) && s.cmd("EHLO localhost", ehlo)
}

// startTLSClient handshakes (implicit TLS), reads the greeting and says EHLO.
func startTLSClient(t *testing.T, c *Client) context.Context {
	t.Helper()
	ctx := boundCtx(t, c)
	if err := c.HandshakeTLS(ctx); err != nil {
		t.Fatalf("HandshakeTLS: %v", err)
	}
	if _, ok := c.TLS(); !ok {
		t.Fatalf("no TLS after HandshakeTLS")
	}
	if _, err := c.Greeting(); err != nil {
		t.Fatalf("Greeting: %v", err)
	}
	if err := c.Hello(); err != nil {
		t.Fatalf("Hello: %v", err)
	}
	return ctx
}

func TestAuthChallenge(t *testing.T) {
	const challenge = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL291dGxvb2sub2ZmaWNlLmNvbS8uZGVmYXVsdCJ9"
	addr := startServer(t, func(s *testServer) {
		if !greetTLS(s, ehloTLS) {
			return
		}
		line, err := s.readLine()
		if err != nil || !strings.HasPrefix(line, "AUTH XOAUTH2 ") {
			s.t.Errorf("server: want AUTH XOAUTH2, got %q, %v", line, err)
			return
		}
		_ = s.send("334 "+challenge+"\r\n") &&
			s.cmd("", "535 5.7.3 Authentication unsuccessful\r\n") && // the empty answer
			s.cmd("QUIT", quit221)
	})
	c := dial(t, addr, Config{})
	startTLSClient(t, c)
	err := c.AuthXOAUTH2("U", "T")
	var re *ReplyError
	if !errors.As(err, &re) || re.Step != StepAuth || re.Reply.Code != 535 ||
		re.Reply.Text() != "5.7.3 Authentication unsuccessful" {
		t.Fatalf("AuthXOAUTH2 = %v; want a 535 *ReplyError at StepAuth", err)
	}
	if got := err.Error(); got != "auth: 535 5.7.3 Authentication unsuccessful" {
		t.Errorf("Error() = %q", got)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
}

func TestAuthSuccessAfterImplicitTLS(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		if !greetTLS(s, ehloTLS) {
			return
		}
		line, _ := s.readLine()
		want := "AUTH XOAUTH2 " + base64.StdEncoding.EncodeToString([]byte("user=U\x01auth=Bearer T\x01\x01"))
		if line != want {
			s.t.Errorf("server: got %q, want %q", line, want)
			return
		}
		_ = s.send("235 2.7.0 Authentication successful\r\n") && s.cmd("QUIT", quit221)
	})
	c := dial(t, addr, Config{})
	startTLSClient(t, c)
	if err := c.AuthXOAUTH2("U", "T"); err != nil {
		t.Fatalf("AuthXOAUTH2: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
}

// TestAuthRefused: the client refuses to send the token, and the server
// receives no AUTH line at all: the next line it reads is QUIT.
func TestAuthRefused(t *testing.T) {
	tests := []struct {
		name  string
		tls   bool
		ehlo  string
		wantE error
	}{
		{"no TLS", false, ehloPlain[:strings.LastIndex(ehloPlain, "250 ")] + "250-AUTH LOGIN XOAUTH2\r\n250 8BITMIME\r\n", ErrNotEncrypted},
		{"no XOAUTH2", true, "250-mx.test Hello\r\n250-AUTH LOGIN PLAIN\r\n250 SIZE 157286400\r\n", ErrNoXOAUTH2},
		{"no AUTH", true, "250-mx.test Hello\r\n250 SIZE 157286400\r\n", ErrNoXOAUTH2},
		{"XOAUTH2 as a prefix only", true, "250-mx.test Hello\r\n250 AUTH XOAUTH2X\r\n", ErrNoXOAUTH2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startServer(t, func(s *testServer) {
				if tt.tls && !s.upgrade() {
					return
				}
				_ = s.send(greeting220) &&
					s.cmd("EHLO localhost", tt.ehlo) &&
					s.cmd("QUIT", quit221)
			})
			c := dial(t, addr, Config{})
			ctx := boundCtx(t, c)
			if tt.tls {
				if err := c.HandshakeTLS(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.Greeting(); err != nil {
				t.Fatal(err)
			}
			if err := c.Hello(); err != nil {
				t.Fatal(err)
			}
			err := c.AuthXOAUTH2("U", "T")
			var e *Error
			if !errors.As(err, &e) || e.Step != StepAuth || !errors.Is(err, tt.wantE) {
				t.Fatalf("AuthXOAUTH2 = %v; want %v at StepAuth", err, tt.wantE)
			}
			if err := c.Quit(); err != nil {
				t.Fatalf("Quit: %v", err)
			}
		})
	}
}

func TestStartTLSNotOffered(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		_ = s.send(greeting220) &&
			s.cmd("EHLO localhost", "250-mx.test Hello\r\n250 SIZE 157286400\r\n") &&
			s.cmd("QUIT", quit221) // no STARTTLS in between
	})
	c := dial(t, addr, Config{})
	ctx := boundCtx(t, c)
	if _, err := c.Greeting(); err != nil {
		t.Fatal(err)
	}
	if err := c.Hello(); err != nil {
		t.Fatal(err)
	}
	err := c.StartTLS(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Step != StepStartTLS || !errors.Is(err, ErrNoSTARTTLS) {
		t.Fatalf("StartTLS = %v; want ErrNoSTARTTLS at StepStartTLS", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
}

// TestStartTLSInjection: plaintext right behind the 220 to STARTTLS (one
// write) is refused before any handshake: the server receives nothing more.
func TestStartTLSInjection(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		if !(s.send(greeting220) && s.cmd("EHLO localhost", ehloPlain) &&
			s.cmd("STARTTLS", starttls220+"250-AUTH LOGIN XOAUTH2\r\n250 injected\r\n")) {
			return
		}
		if rest := s.drain(); len(rest) != 0 {
			s.t.Errorf("server: after the injection the client sent %d bytes: %q...", len(rest), rest[:min(len(rest), 16)])
		}
	})
	c := dial(t, addr, Config{})
	ctx := boundCtx(t, c)
	if _, err := c.Greeting(); err != nil {
		t.Fatal(err)
	}
	if err := c.Hello(); err != nil {
		t.Fatal(err)
	}
	err := c.StartTLS(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Step != StepStartTLS || !errors.Is(err, ErrInjected) {
		t.Fatalf("StartTLS = %v; want ErrInjected at StepStartTLS", err)
	}
	if _, ok := c.TLS(); ok {
		t.Errorf("TLS reported after the refusal")
	}
	c.Close() // the server's drain ends here
}

func TestInvalidAddress(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		_ = s.send(greeting220) && s.cmd("EHLO localhost", ehloPlain) &&
			s.cmd("MAIL FROM:<ok@example.com>", "250 2.1.0 Sender OK\r\n") &&
			s.cmd("RSET", "250 2.0.0 Resetting\r\n") && // nothing between
			s.cmd("QUIT", quit221)
	})
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	if _, err := c.Greeting(); err != nil {
		t.Fatal(err)
	}
	if err := c.Hello(); err != nil {
		t.Fatal(err)
	}
	check := func(err error, step Step) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) || e.Step != step || !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("got %v; want ErrInvalidAddress at %s", err, step)
		}
	}
	check(c.Mail("a@example.com>\r\nRCPT TO:<victim@example.net"), StepMail)
	check(c.Mail("a@example.com\n"), StepMail)
	check(c.Mail("a@example.com\r"), StepMail)
	check(c.Mail("a\x00@example.com"), StepMail)
	if err := c.Mail("ok@example.com"); err != nil {
		t.Fatalf("Mail: %v", err)
	}
	check(c.Rcpt("b@example.net>\r\nDATA"), StepRcpt)
	check(c.Rcpt("\n"), StepRcpt)
	check(c.Rcpt("b\x00@example.net"), StepRcpt)
	if err := c.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
}

// plainSession reads the greeting and says EHLO on a plaintext session.
func plainSession(t *testing.T, c *Client) {
	t.Helper()
	if _, err := c.Greeting(); err != nil {
		t.Fatalf("Greeting: %v", err)
	}
	if err := c.Hello(); err != nil {
		t.Fatalf("Hello: %v", err)
	}
}

// toData scripts the server up to the DATA command's 354.
func toData(s *testServer) bool {
	return s.send(greeting220) && s.cmd("EHLO localhost", ehloPlain) &&
		s.cmd("MAIL FROM:<a@example.com>", "250 2.1.0 Sender OK\r\n") &&
		s.cmd("RCPT TO:<b@example.net>", "250 2.1.5 Recipient OK\r\n") &&
		s.cmd("DATA", data354)
}

// clientToData is the client side of toData.
func clientToData(t *testing.T, c *Client) {
	t.Helper()
	plainSession(t, c)
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatalf("Mail: %v", err)
	}
	if err := c.Rcpt("b@example.net"); err != nil {
		t.Fatalf("Rcpt: %v", err)
	}
}

func TestUnsolicitedAfterData(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		if !toData(s) {
			return
		}
		if _, ok := s.readData(); !ok {
			return
		}
		// Two replies to the final dot, in one write.
		_ = s.send("250 2.6.0 Queued mail for delivery\r\n250 2.6.0 Queued it twice\r\n")
		s.drain()
	})
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	clientToData(t, c)
	r, err := c.Data(strings.NewReader("Subject: x\r\n\r\nbody\r\n"))
	if err != nil || r.Code != 250 {
		t.Fatalf("Data = %v, %v", r, err)
	}
	c.Unbind()
	if err := c.Idle(); !errors.Is(err, ErrUnsolicited) {
		t.Fatalf("Idle = %v; want ErrUnsolicited", err)
	}
}

func TestIdle(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := "plain"
		if useTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			closeNow, closed := make(chan struct{}), make(chan struct{})
			addr := startServer(t, func(s *testServer) {
				if useTLS && !s.upgrade() {
					return
				}
				if !(s.send(greeting220) && s.cmd("EHLO localhost", ehloTLS) && s.wait(closeNow)) {
					return
				}
				s.conn.Close()
				close(closed)
			})
			c := dial(t, addr, Config{})
			ctx := boundCtx(t, c)
			if useTLS {
				if err := c.HandshakeTLS(ctx); err != nil {
					t.Fatal(err)
				}
			}
			plainSession(t, c)
			c.Unbind()
			for i := 0; i < 3; i++ {
				if err := c.Idle(); err != nil {
					t.Fatalf("Idle on a quiet connection = %v", err)
				}
			}
			close(closeNow)
			<-closed
			if err := c.Idle(); err == nil {
				t.Fatalf("Idle after the server closed = nil")
			} else if errors.Is(err, ErrUnsolicited) {
				t.Fatalf("Idle after the server closed = %v", err)
			}
		})
	}
}

// TestIdleNotice: a reply the server sends on its own while the connection
// is idle (Exchange's 421 on an idle timeout) makes the session unusable.
func TestIdleNotice(t *testing.T) {
	sendNow, sent := make(chan struct{}), make(chan struct{})
	addr := startServer(t, func(s *testServer) {
		if !(s.send(greeting220) && s.cmd("EHLO localhost", ehloPlain) && s.wait(sendNow)) {
			return
		}
		s.send("421 4.4.2 mx.test Connection dropped due to timeout\r\n")
		close(sent)
		s.drain()
	})
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	c.Unbind()
	if err := c.Idle(); err != nil {
		t.Fatalf("Idle before the notice = %v", err)
	}
	close(sendNow)
	<-sent
	if err := c.Idle(); !errors.Is(err, ErrUnsolicited) {
		t.Fatalf("Idle after the notice = %v; want ErrUnsolicited", err)
	}
}

func TestGreetingTimeout(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		s.drain() // silent until the client gives up
	})
	c := dial(t, addr, Config{GreetingTimeout: 200 * time.Millisecond})
	ctx := boundCtx(t, c)
	_, err := c.Greeting()
	var e *Error
	if !errors.As(err, &e) || e.Step != StepGreeting {
		t.Fatalf("Greeting = %v; want an *Error at StepGreeting", err)
	}
	var ne net.Error
	if !errors.As(e.Err, &ne) || !ne.Timeout() {
		t.Fatalf("Greeting's Err = %#v; want a timeout", e.Err)
	}
	if ctx.Err() != nil {
		t.Errorf("the bound context ended first: GreetingTimeout did not apply")
	}
}

func TestGreetingRefused(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		s.send("554 5.3.2 Service busy\r\n")
	})
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	r, err := c.Greeting()
	var re *ReplyError
	if !errors.As(err, &re) || re.Step != StepGreeting || re.Reply.Code != 554 || r.Code != 554 {
		t.Fatalf("Greeting = %v, %v; want a 554 *ReplyError", r, err)
	}
}

// TestReplyErrors: each step's unexpected reply is a *ReplyError naming it.
func TestReplyErrors(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		_ = s.send(greeting220) && s.cmd("EHLO localhost", ehloPlain) &&
			s.cmd("MAIL FROM:<a@example.com>", "550 5.7.60 SMTP; Client does not have permissions to send as this sender\r\n") &&
			s.cmd("MAIL FROM:<a@example.com>", "250 2.1.0 Sender OK\r\n") &&
			s.cmd("RCPT TO:<b@example.net>", "550 5.1.10 RESOLVER.ADR.RecipientNotFound\r\n") &&
			s.cmd("RCPT TO:<b@example.net>", "250 2.1.5 Recipient OK\r\n") &&
			s.cmd("DATA", data354) &&
			s.expect("x") && s.expect(".") &&
			s.send("554-5.6.0 Corrupt message content\r\n554 [host]\r\n") &&
			s.cmd("RSET", "421 4.3.2 Service not available\r\n")
	})
	c := dial(t, addr, Config{})
	boundCtx(t, c)
	plainSession(t, c)
	check := func(err error, step Step, code int) {
		t.Helper()
		var re *ReplyError
		if !errors.As(err, &re) || re.Step != step || re.Reply.Code != code {
			t.Fatalf("got %v; want a %d *ReplyError at %s", err, code, step)
		}
	}
	check(c.Mail("a@example.com"), StepMail, 550)
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	check(c.Rcpt("b@example.net"), StepRcpt, 550)
	if err := c.Rcpt("b@example.net"); err != nil {
		t.Fatal(err)
	}
	r, err := c.Data(strings.NewReader("x"))
	check(err, StepDataEnd, 554)
	if r.Code != 554 || r.Text() != "5.6.0 Corrupt message content\n[host]" {
		t.Errorf("Data's reply = %v", r)
	}
	check(c.Reset(), StepReset, 421)
}

// TestBindCancelAbortsRead: canceling the bound context aborts a read the
// server never answers.
func TestBindCancelAbortsRead(t *testing.T) {
	gotMail := make(chan struct{})
	addr := startServer(t, func(s *testServer) {
		if !(s.send(greeting220) && s.cmd("EHLO localhost", ehloPlain) && s.expect("MAIL FROM:<a@example.com>")) {
			return
		}
		close(gotMail)
		s.drain() // never answers
	})
	c := dial(t, addr, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Bind(ctx, time.Hour) // no deadline but the cancellation
	plainSession(t, c)
	testDone := make(chan struct{})
	defer close(testDone)
	go func() {
		select {
		case <-gotMail:
			cancel()
		case <-testDone:
		}
	}()
	err := c.Mail("a@example.com")
	var e *Error
	if !errors.As(err, &e) || e.Step != StepMail {
		t.Fatalf("Mail = %v; want an *Error at StepMail", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Mail = %#v; want it to wrap a timeout", e.Err)
	}
	if ctx.Err() == nil {
		t.Errorf("Mail failed before the cancellation")
	}
}

// deadlineSpy reports each SetDeadline on the connection to hook, if set.
type deadlineSpy struct {
	net.Conn
	mu   sync.Mutex
	hook func(time.Time)
}

func (d *deadlineSpy) SetDeadline(t time.Time) error {
	err := d.Conn.SetDeadline(t)
	d.mu.Lock()
	hook := d.hook
	d.mu.Unlock()
	if hook != nil {
		hook(t)
	}
	return err
}

func (d *deadlineSpy) setHook(f func(time.Time)) {
	d.mu.Lock()
	d.hook = f
	d.mu.Unlock()
}

// TestGrace: the bound context is canceled once the final dot is on the
// wire; the server's verdict, sent only after the cancellation has set the
// connection's deadline, is still read within Config.Grace. Without a grace
// the read is aborted.
func TestGrace(t *testing.T) {
	for _, grace := range []time.Duration{2 * time.Second, 0} {
		t.Run(grace.String(), func(t *testing.T) {
			gotDot, release := make(chan struct{}), make(chan struct{})
			addr := startServer(t, func(s *testServer) {
				if !toData(s) {
					return
				}
				if _, ok := s.readData(); !ok {
					return
				}
				close(gotDot)
				if s.wait(release) && grace > 0 {
					// (Without a grace the verdict is not sent at all: a
					// reply racing the aborted read would make the
					// outcome depend on the scheduler.)
					io.WriteString(s.conn, "250 2.6.0 Queued mail for delivery\r\n")
				}
				s.drain()
			})
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			spy := &deadlineSpy{Conn: conn}
			c := newClient(t, spy, Config{Grace: grace})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c.Bind(ctx, time.Hour)
			clientToData(t, c)

			applied, seen := make(chan time.Time, 1), make(chan time.Time, 1)
			testDone := make(chan struct{})
			defer close(testDone)
			go func() {
				select {
				case <-gotDot:
				case <-testDone:
					return
				}
				// The client is blocked reading the verdict now; the
				// only SetDeadline from here on is the cancellation's.
				var once sync.Once
				spy.setHook(func(d time.Time) { once.Do(func() { applied <- d }) })
				cancel()
				select {
				case d := <-applied:
					seen <- d
				case <-testDone:
					return
				}
				close(release)
			}()
			r, err := c.Data(strings.NewReader("Subject: x\r\n\r\nbody\r\n"))
			if ctx.Err() == nil {
				t.Fatalf("Data returned before the cancellation: %v, %v", r, err)
			}
			d := <-seen // the deadline the cancellation set
			if grace > 0 {
				if !d.After(time.Now()) {
					t.Errorf("the cancellation set the deadline %v, not one a grace ahead", d)
				}
				if err != nil || r.Code != 250 {
					t.Fatalf("Data = %v, %v; want the 250 read within the grace", r, err)
				}
				return
			}
			if d.After(time.Now()) {
				t.Errorf("without a grace the cancellation set the deadline %v", d)
			}
			var e *Error
			var ne net.Error
			if !errors.As(err, &e) || e.Step != StepDataEnd || !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("Data without a grace = %v, %v; want a timeout at StepDataEnd", r, err)
			}
		})
	}
}

// TestBindDeadline: the bound context's deadline bounds a read the server
// never answers.
func TestBindDeadline(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		if s.send(greeting220) && s.cmd("EHLO localhost", ehloPlain) && s.expect("MAIL FROM:<a@example.com>") {
			s.drain() // never answers
		}
	})
	c := dial(t, addr, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	c.Bind(ctx, time.Hour)
	plainSession(t, c)
	err := c.Mail("a@example.com")
	var e *Error
	var ne net.Error
	if !errors.As(err, &e) || e.Step != StepMail || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Mail = %v; want a timeout at StepMail", err)
	}
}

// TestUnbind: once unbound, the context's end no longer touches the
// connection, and the next bound context governs it afresh.
func TestUnbind(t *testing.T) {
	addr := startServer(t, func(s *testServer) {
		_ = s.send(greeting220) && s.cmd("EHLO localhost", ehloPlain) &&
			s.cmd("RSET", "250 2.0.0 Resetting\r\n") &&
			s.cmd("QUIT", quit221)
	})
	c := dial(t, addr, Config{})
	ctx1, cancel1 := context.WithCancel(context.Background())
	c.Bind(ctx1, time.Hour)
	plainSession(t, c)
	c.Unbind()
	cancel1()
	if err := c.Idle(); err != nil {
		t.Fatalf("Idle after the unbound context ended = %v", err)
	}
	ctx2 := boundCtx(t, c)
	if err := c.Reset(); err != nil {
		t.Fatalf("Reset under a new context: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	if ctx2.Err() != nil {
		t.Errorf("the second context ended: %v", ctx2.Err())
	}
}
