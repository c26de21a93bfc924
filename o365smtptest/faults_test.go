package o365smtptest_test

import (
	"errors"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp/o365smtptest"
)

// newClient dials s and reads the banner.
func newClient(s *o365smtptest.Server) (*smtp.Client, error) {
	conn, err := net.DialTimeout("tcp", s.SMTPAddr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// spinUntil yields until cond holds. It does not sleep: the conditions it
// waits for are counters the emulator sets before the behaviour under test.
func spinUntil(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		runtime.Gosched()
	}
}

func isEOF(err error) bool {
	var tpe *textproto.Error
	return err != nil && !errors.As(err, &tpe)
}

func TestFaultConnect(t *testing.T) {
	s := newServer(t)
	s.Fail(o365smtptest.StageConnect, o365smtptest.Fault{Reply: "421 4.3.2 Service not available", Times: 1})
	conn, err := net.Dial("tcp", s.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	b, _ := io.ReadAll(conn)
	conn.Close()
	if string(b) != "421 4.3.2 Service not available\r\n" {
		t.Errorf("connect reply %q", b)
	}
	c, err := newClient(s)
	if err != nil {
		t.Fatalf("after Times: 1: %v", err)
	}
	c.Close()

	s.Fail(o365smtptest.StageConnect, o365smtptest.Fault{Drop: true, Times: 1})
	if _, err := newClient(s); !isEOF(err) {
		t.Errorf("dropped connection: %v, want a connection error", err)
	}
}

func TestFaultBanner(t *testing.T) {
	s := newServer(t)
	s.Fail(o365smtptest.StageBanner, o365smtptest.Fault{Reply: "554 5.7.1 Client host [127.0.0.1] blocked", Times: 1})
	_, err := newClient(s)
	wantReply(t, err, 554, "5.7.1 Client host [127.0.0.1] blocked")

	s.Fail(o365smtptest.StageBanner, o365smtptest.Fault{Delay: 50 * time.Millisecond, Times: 1})
	start := time.Now()
	c, err := newClient(s)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("banner came after %v, want 50ms or more", d)
	}
}

func TestFaultEHLO(t *testing.T) {
	s := newServer(t)
	s.Fail(o365smtptest.StageEHLO, o365smtptest.Fault{Reply: "421 Service not available", Times: 1})
	r := dialRaw(t, s.SMTPAddr)
	r.lines()
	equal(t, "EHLO", r.cmd("EHLO client.example"), "421 Service not available")
	if l, err := r.tp.ReadLine(); err == nil {
		t.Errorf("after a 421 the connection is still open: %q", l)
	}

	// Every EHLO counts, the one after STARTTLS too.
	s.Fail(o365smtptest.StageEHLO, o365smtptest.Fault{Times: 1}) // no-op fault: uses up the first
	s.Fail(o365smtptest.StageEHLO, o365smtptest.Fault{Reply: "451 4.7.0 Temporary server error", Times: 1})
	r = dialRaw(t, s.SMTPAddr)
	r.lines()
	r.cmd("EHLO x")
	r.startTLS(clientTLS(s))
	equal(t, "EHLO after TLS", r.cmd("EHLO x"), "451 4.7.0 Temporary server error")
	equal(t, "EHLO again", r.cmd("EHLO x")[5:6], "250-AUTH LOGIN XOAUTH2")
}

func TestFaultSTARTTLS(t *testing.T) {
	s := newServer(t)
	s.Fail(o365smtptest.StageSTARTTLS, o365smtptest.Fault{Reply: "454 4.7.0 TLS not available due to temporary reason", Times: 1})
	c := dial(t, s)
	wantReply(t, c.StartTLS(clientTLS(s)), 454, "4.7.0 TLS not available")
	if err := c.Noop(); err != nil {
		t.Fatalf("NOOP in plain text after a refused STARTTLS: %v", err)
	}
	if err := c.StartTLS(clientTLS(s)); err != nil {
		t.Fatalf("second STARTTLS: %v", err)
	}
	if err := c.Auth(&xoauth2{user: s.Mailbox, token: accessToken(t, s)}); err != nil {
		t.Fatal(err)
	}

	s.Fail(o365smtptest.StageSTARTTLS, o365smtptest.Fault{Drop: true, Times: 1})
	if err := dial(t, s).StartTLS(clientTLS(s)); !isEOF(err) {
		t.Errorf("dropped STARTTLS: %v", err)
	}
}

func TestFaultAuth(t *testing.T) {
	s := newServer(t)
	tok := accessToken(t, s)
	s.Fail(o365smtptest.StageAuth, o365smtptest.Fault{Reply: "451 4.7.0 Temporary server error. Please try again later. PRX4", Times: 1})
	r := dialRaw(t, s.SMTPAddr)
	r.lines()
	r.cmd("EHLO x")
	r.startTLS(clientTLS(s))
	r.cmd("EHLO x")
	resp := b64("user=" + s.Mailbox + "\x01auth=Bearer " + tok + "\x01\x01")
	equal(t, "AUTH", r.cmd("AUTH XOAUTH2 "+resp), "451 4.7.0 Temporary server error. Please try again later. PRX4")
	equal(t, "AUTH again", r.cmd("AUTH XOAUTH2 "+resp), "235 2.7.0 Authentication successful")
	if s.Stats().AuthAttempts != 2 {
		t.Errorf("AuthAttempts() = %d, want 2", s.Stats().AuthAttempts)
	}

	// The two-step form gets its 334 first.
	s.Fail(o365smtptest.StageAuth, o365smtptest.Fault{Drop: true, Times: 1})
	r = dialRaw(t, s.SMTPAddr)
	r.lines()
	r.cmd("EHLO x")
	r.startTLS(clientTLS(s))
	r.cmd("EHLO x")
	equal(t, "AUTH", r.cmd("AUTH XOAUTH2"), "334 ")
	r.tp.PrintfLine("%s", resp)
	if _, err := r.tp.ReadLine(); err == nil {
		t.Errorf("dropped AUTH got a reply")
	}
}

func TestFaultMailRcpt(t *testing.T) {
	s := newServer(t)
	c := mustLogin(t, s)
	s.Fail(o365smtptest.StageMail, o365smtptest.Fault{Reply: "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)", Times: 1})
	s.Fail(o365smtptest.StageMail, o365smtptest.Fault{Reply: "452 4.3.1 Insufficient system resources", Times: 1})
	err := mailFrom(c, s.Mailbox)
	if code, msg := replyOf(t, err); code != 451 || msg != "4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)" {
		t.Errorf("first MAIL: %d %q", code, msg)
	}
	wantReply(t, mailFrom(c, s.Mailbox), 452, "4.3.1 Insufficient system resources")
	if err := mailFrom(c, s.Mailbox); err != nil {
		t.Fatalf("third MAIL: %v", err)
	}

	s.Fail(o365smtptest.StageRcpt, o365smtptest.Fault{Reply: "452 4.5.3 Too many recipients", Times: 1})
	wantReply(t, c.Rcpt("first@example.com"), 452, "4.5.3 Too many recipients")
	if err := c.Rcpt("second@example.com"); err != nil {
		t.Fatal(err)
	}
	w, _ := c.Data()
	io.WriteString(w, message(s.Mailbox, "second@example.com", "rcpt fault"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if m := s.Messages(); len(m) != 1 || len(m[0].To) != 1 || m[0].To[0] != "second@example.com" {
		t.Errorf("Messages() = %+v", m)
	}

	// Times 0: every time, until ClearFaults; a multi-line reply.
	s.Fail(o365smtptest.StageMail, o365smtptest.Fault{Reply: "451-Busy\n451 4.7.500 Try later"})
	for range 2 {
		err := mailFrom(c, s.Mailbox)
		if code, msg := replyOf(t, err); code != 451 || msg != "Busy\n4.7.500 Try later" {
			t.Errorf("MAIL: %d %q", code, msg)
		}
	}
	s.ClearFaults()
	if err := mailFrom(c, s.Mailbox); err != nil {
		t.Fatalf("after ClearFaults: %v", err)
	}

	// A 421 closes the connection.
	s.Fail(o365smtptest.StageRcpt, o365smtptest.Fault{Reply: "421 4.3.2 Service not available", Times: 1})
	wantReply(t, c.Rcpt("x@example.com"), 421, "4.3.2 Service not available")
	if err := c.Noop(); !isEOF(err) {
		t.Errorf("after 421: %v", err)
	}
}

func TestFaultData(t *testing.T) {
	s := newServer(t)
	c := mustLogin(t, s)
	s.Fail(o365smtptest.StageData, o365smtptest.Fault{Reply: "554 5.6.0 Message rejected", Times: 1})
	if err := mailFrom(c, s.Mailbox); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("a@example.com"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Data()
	wantReply(t, err, 554, "5.6.0 Message rejected")
	if err := c.Noop(); err != nil {
		t.Fatalf("NOOP after a refused DATA: %v", err)
	}
	if err := c.Reset(); err != nil {
		t.Fatalf("RSET after a refused DATA: %v", err)
	}
	if err := send(c, s.Mailbox, []string{"a@example.com"}, message(s.Mailbox, "a@example.com", "after")); err != nil {
		t.Fatalf("send after a refused DATA: %v", err)
	}
	if m := s.Messages(); len(m) != 1 || m[0].Header.Get("Subject") != "after" {
		t.Errorf("Messages() = %+v", m)
	}

	s.Fail(o365smtptest.StageData, o365smtptest.Fault{Drop: true, Times: 1})
	mailFrom(c, s.Mailbox)
	c.Rcpt("a@example.com")
	if _, err := c.Data(); !isEOF(err) {
		t.Errorf("dropped DATA: %v", err)
	}
}

func TestFaultDataEnd(t *testing.T) {
	s := newServer(t)
	c := mustLogin(t, s)
	s.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: "451 4.4.397 Error submitting message", Times: 1})
	err := send(c, s.Mailbox, []string{"a@example.com"}, message(s.Mailbox, "a@example.com", "refused"))
	wantReply(t, err, 451, "4.4.397 Error submitting message")
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages recorded after a refused end of DATA", n)
	}
	c.Reset()

	s.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Drop: true, Times: 1})
	err = send(c, s.Mailbox, []string{"a@example.com"}, message(s.Mailbox, "a@example.com", "dropped"))
	if !isEOF(err) {
		t.Errorf("dropped end of DATA: %v", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages recorded after a dropped end of DATA", n)
	}

	c = mustLogin(t, s)
	s.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{Delay: 30 * time.Millisecond, Times: 1})
	start := time.Now()
	if err := send(c, s.Mailbox, []string{"a@example.com"}, message(s.Mailbox, "a@example.com", "slow")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("delayed reply after %v", d)
	}
}

func TestFaultHang(t *testing.T) {
	s := newServer(t)
	c := mustLogin(t, s)
	s.Fail(o365smtptest.StageMail, o365smtptest.Fault{Hang: true, Times: 1})
	if _, err := c.Text.Cmd("MAIL FROM:<%s>", s.Mailbox); err != nil {
		t.Fatal(err)
	}
	// The client gives up.
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Text.ReadResponse(250)
		done <- err
	}()
	c.Close()
	<-done
	// The emulator serves the next connection. (If the close reset the
	// connection before the server read MAIL, the fault is still queued:
	// clear it, so that the check is about the server, not that race.)
	s.ClearFaults()
	c = mustLogin(t, s)
	if err := mailFrom(c, s.Mailbox); err != nil {
		t.Fatal(err)
	}
}

func TestFaultTimesConcurrent(t *testing.T) {
	s := newServer(t)
	s.Fail(o365smtptest.StageConnect, o365smtptest.Fault{Reply: "421 4.3.2 Service not available", Times: 3})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		refused  int
		accepted []*smtp.Client
	)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := newClient(s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused++
				return
			}
			accepted = append(accepted, c)
		}()
	}
	wg.Wait()
	for _, c := range accepted {
		c.Close()
	}
	if refused != 3 {
		t.Errorf("%d connections refused, want 3", refused)
	}
}

func TestCloseInterruptsFaults(t *testing.T) {
	for _, f := range []struct {
		stage o365smtptest.Stage
		fault o365smtptest.Fault
	}{
		{o365smtptest.StageConnect, o365smtptest.Fault{Hang: true}},
		{o365smtptest.StageBanner, o365smtptest.Fault{Delay: time.Hour}},
	} {
		s := o365smtptest.NewServer()
		s.Fail(f.stage, f.fault)
		errc := make(chan error, 1)
		go func() {
			c, err := newClient(s)
			if err == nil {
				c.Close()
			}
			errc <- err
		}()
		spinUntil(t, func() bool { return s.Stats().OpenConnections == 1 })
		s.Close()
		if err := <-errc; err == nil {
			t.Errorf("%v: client got a banner", f.stage)
		}
		s.Close() // idempotent
	}

	// The token endpoint's delay, too.
	s := o365smtptest.NewServer()
	s.FailToken(o365smtptest.TokenFault{Delay: time.Hour})
	errc := make(chan error, 1)
	go func() {
		resp, err := s.Client().PostForm(s.AuthorityHost+"/"+s.TenantID+"/oauth2/v2.0/token", secretForm(s))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	spinUntil(t, func() bool { return s.Stats().TokenRequests == 1 })
	s.Close()
	<-errc
}

func TestCloseStopsEverything(t *testing.T) {
	s := o365smtptest.NewServer()
	c := mustLogin(t, s)
	s.Close()
	if err := c.Noop(); !isEOF(err) {
		t.Errorf("NOOP after Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.SMTPAddr, time.Second); err == nil {
		t.Errorf("SMTP still accepts connections after Close")
	}
	if _, err := s.Client().Get(s.AuthorityHost + "/api/messages"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("HTTPS after Close: %v", err)
	}
}
