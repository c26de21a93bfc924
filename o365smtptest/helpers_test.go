package o365smtptest_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/o365smtp/o365smtp/o365smtptest"
)

// newServer starts an emulator that the test's cleanup closes.
func newServer(t testing.TB, opts ...o365smtptest.Option) *o365smtptest.Server {
	t.Helper()
	s := o365smtptest.NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// postToken posts form to tenant's token endpoint and decodes the JSON reply.
func postToken(t testing.TB, s *o365smtptest.Server, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.Client().PostForm(s.AuthorityHost+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return resp.StatusCode, body
}

// secretForm is a client credentials request with s's secret, as MSAL sends it.
func secretForm(s *o365smtptest.Server) url.Values {
	return url.Values{
		"client_id":     {s.ClientID},
		"client_secret": {s.ClientSecret},
		"grant_type":    {"client_credentials"},
		"scope":         {s.Scope + " openid offline_access profile"},
	}
}

// accessToken gets a token from s with its client secret.
func accessToken(t testing.TB, s *o365smtptest.Server) string {
	t.Helper()
	status, body := postToken(t, s, s.TenantID, secretForm(s))
	tok, _ := body["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("token request: HTTP %d %v", status, body)
	}
	return tok
}

// xoauth2 is an smtp.Auth for XOAUTH2, in the one-step form or, with
// twoStep, the two-step form. It does not check ServerInfo.TLS, so that
// tests can offer a token before STARTTLS.
type xoauth2 struct {
	user, token string
	twoStep     bool
	sent        bool
}

func (a *xoauth2) payload() []byte {
	return []byte("user=" + a.user + "\x01auth=Bearer " + a.token + "\x01\x01")
}

func (a *xoauth2) Start(*smtp.ServerInfo) (string, []byte, error) {
	if a.twoStep {
		return "XOAUTH2", nil, nil
	}
	a.sent = true
	return "XOAUTH2", a.payload(), nil
}

func (a *xoauth2) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	if !a.sent {
		a.sent = true
		return a.payload(), nil
	}
	return []byte{}, nil
}

// dial connects to s's SMTP service with net/smtp, without STARTTLS.
func dial(t testing.TB, s *o365smtptest.Server) *smtp.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.SMTPAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		conn.Close()
		t.Fatalf("smtp.NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func clientTLS(s *o365smtptest.Server) *tls.Config {
	return &tls.Config{RootCAs: s.CertPool(), ServerName: "127.0.0.1"}
}

// login dials s, upgrades with STARTTLS and authenticates as user with tok.
func login(t testing.TB, s *o365smtptest.Server, user, tok string) (*smtp.Client, error) {
	t.Helper()
	c := dial(t, s)
	if err := c.StartTLS(clientTLS(s)); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	return c, c.Auth(&xoauth2{user: user, token: tok})
}

// mustLogin is login that fails the test on an error.
func mustLogin(t testing.TB, s *o365smtptest.Server) *smtp.Client {
	t.Helper()
	c, err := login(t, s, s.Mailbox, accessToken(t, s))
	if err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	return c
}

// message is a small RFC 5322 message from from.
func message(from, to, subject string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@test>\r\n\r\nHello.\r\n"
}

// send submits a message over c; it returns the error of the first failing step.
// mailFrom is net/smtp's Client.Mail without the SMTPUTF8 parameter that
// net/smtp adds whenever EHLO advertises it, and that Exchange Online
// refuses with 502 5.3.3 (TestNetSMTPMailGetsSMTPUTF8Refusal).
func mailFrom(c *smtp.Client, from string) error {
	id, err := c.Text.Cmd("MAIL FROM:<%s> BODY=8BITMIME", from)
	if err != nil {
		return err
	}
	c.Text.StartResponse(id)
	defer c.Text.EndResponse(id)
	_, _, err = c.Text.ReadResponse(250)
	return err
}

func send(c *smtp.Client, from string, to []string, data string) error {
	if err := mailFrom(c, from); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, data); err != nil {
		return err
	}
	return w.Close()
}

// replyOf returns the code and text of an SMTP error, or fails.
func replyOf(t testing.TB, err error) (int, string) {
	t.Helper()
	var tpe *textproto.Error
	if !errors.As(err, &tpe) {
		t.Fatalf("error %v (%T) is not an SMTP reply", err, err)
	}
	return tpe.Code, tpe.Msg
}

// wantReply fails unless err is the SMTP reply code with text starting with prefix.
func wantReply(t testing.TB, err error, code int, prefix string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %d %s", code, prefix)
	}
	got, msg := replyOf(t, err)
	if got != code || !strings.HasPrefix(msg, prefix) {
		t.Fatalf("got %d %q, want %d %q...", got, msg, code, prefix)
	}
}

// raw is a plain-text SMTP connection for exact transcripts.
type raw struct {
	t    testing.TB
	conn net.Conn
	tp   *textproto.Conn
}

func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return &raw{t: t, conn: conn, tp: textproto.NewConn(conn)}
}

// lines reads one reply and returns its lines.
func (r *raw) lines() []string {
	r.t.Helper()
	var out []string
	for {
		l, err := r.tp.ReadLine()
		if err != nil {
			r.t.Fatalf("reading reply after %q: %v", out, err)
		}
		out = append(out, l)
		if len(l) < 4 || l[3] != '-' {
			return out
		}
	}
}

// cmd sends a command and returns the reply's lines.
func (r *raw) cmd(line string) []string {
	r.t.Helper()
	if err := r.tp.PrintfLine("%s", line); err != nil {
		r.t.Fatalf("writing %q: %v", line, err)
	}
	return r.lines()
}

// startTLS upgrades r after a 220 to STARTTLS.
func (r *raw) startTLS(cfg *tls.Config) {
	r.t.Helper()
	if got := r.cmd("STARTTLS"); len(got) != 1 || got[0] != "220 2.0.0 SMTP server ready" {
		r.t.Fatalf("STARTTLS: %q", got)
	}
	tc := tls.Client(r.conn, cfg)
	if err := tc.Handshake(); err != nil {
		r.t.Fatalf("TLS handshake: %v", err)
	}
	r.conn = tc
	r.tp = textproto.NewConn(tc)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
