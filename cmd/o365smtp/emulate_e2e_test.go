package main

// End-to-end tests of 'o365smtp emulate' as a standalone server, used by a
// client that knows nothing of this module: the token from a plain net/http
// POST, the message through net/smtp with a hand-written XOAUTH2, and the
// received message read back through the HTTP API. That is what a program in
// any language does against the emulator (see the README's "Testing your
// application without a tenant").
//
// That 'o365smtp verify' passes with the env file that emulate writes is
// checked by TestEmulate (emulate_test.go), and its failure under a scenario
// by TestEmulateScenario.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// e2eClient is a client of a running emulate that uses only the standard
// library.
type e2eClient struct {
	env  map[string]string
	pool *x509.CertPool
	http *http.Client
}

func newE2EClient(t *testing.T, env map[string]string) *e2eClient {
	t.Helper()
	pem, err := os.ReadFile(env["O365SMTP_CA_FILE"])
	if err != nil {
		t.Fatalf("CA file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("CA file %s holds no certificate", env["O365SMTP_CA_FILE"])
	}
	tr := &http.Transport{
		Proxy:           nil, // loopback only
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &e2eClient{env: env, pool: pool, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// token gets an access token with the client credentials grant.
func (c *e2eClient) token(t *testing.T) string {
	t.Helper()
	return c.tokenFor(t, c.env["O365SMTP_SCOPE"])
}

// tokenFor gets an access token for scope, whatever its resource.
func (c *e2eClient) tokenFor(t *testing.T, scope string) string {
	t.Helper()
	endpoint := strings.TrimRight(c.env["O365SMTP_AUTHORITY_HOST"], "/") + "/" + c.env["O365SMTP_TENANT_ID"] + "/oauth2/v2.0/token"
	resp, err := c.http.PostForm(endpoint, url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.env["O365SMTP_CLIENT_ID"]},
		"client_secret": {c.env["O365SMTP_CLIENT_SECRET"]},
		"scope":         {scope},
	})
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("token response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token request: %s\n%s", resp.Status, body)
	}
	var tok struct {
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatalf("token response %s: %v", body, err)
	}
	if !strings.EqualFold(tok.TokenType, "Bearer") || tok.AccessToken == "" || tok.ExpiresIn <= 0 {
		t.Fatalf("token response: %s", body)
	}
	return tok.AccessToken
}

// xoauth2Auth is SASL XOAUTH2 for net/smtp, in its one-step form.
type xoauth2Auth struct{ user, token string }

func (a xoauth2Auth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS {
		return "", nil, errors.New("xoauth2: refusing to send a token over an unencrypted connection")
	}
	return "XOAUTH2", []byte("user=" + a.user + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
}

func (a xoauth2Auth) Next(fromServer []byte, more bool) ([]byte, error) {
	if more {
		// A 334 with an error (the Gmail way): an empty response makes the
		// server give its final reply.
		return []byte{}, nil
	}
	return nil, nil
}

// mailFrom is MAIL FROM without the SMTPUTF8 parameter that net/smtp's
// Client.Mail adds.
func mailFrom(sc *smtp.Client, from string) error {
	id, err := sc.Text.Cmd("MAIL FROM:<%s> BODY=8BITMIME", from)
	if err != nil {
		return err
	}
	sc.Text.StartResponse(id)
	defer sc.Text.EndResponse(id)
	_, _, err = sc.Text.ReadResponse(250)
	return err
}

// dialSMTP connects to the emulator's SMTP service and says EHLO.
func (c *e2eClient) dialSMTP(t *testing.T) *smtp.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(c.env["O365SMTP_HOST"], c.env["O365SMTP_PORT"]), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// A bound on the whole session instead of on each step: loopback
	// answers at once, so only a hang reaches it.
	conn.SetDeadline(time.Now().Add(time.Minute))
	sc, err := smtp.NewClient(conn, c.env["O365SMTP_HOST"])
	if err != nil {
		conn.Close()
		t.Fatalf("greeting: %v", err)
	}
	t.Cleanup(func() { sc.Close() })
	if err := sc.Hello("localhost"); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	return sc
}

// authenticate upgrades sc to TLS and authenticates with token.
func (c *e2eClient) authenticate(t *testing.T, sc *smtp.Client, token string) error {
	t.Helper()
	if ok, _ := sc.Extension("STARTTLS"); !ok {
		t.Fatal("the server does not offer STARTTLS")
	}
	if err := sc.StartTLS(&tls.Config{RootCAs: c.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if ok, mechs := sc.Extension("AUTH"); !ok || !strings.Contains(" "+mechs+" ", " XOAUTH2 ") {
		t.Fatalf("the server does not offer AUTH XOAUTH2 after STARTTLS (AUTH %q)", mechs)
	}
	return sc.Auth(xoauth2Auth{user: c.env["O365SMTP_MAILBOX"], token: token})
}

// apiMessages lists the received messages.
func (c *e2eClient) apiMessages(t *testing.T) []e2eAPIMessage {
	t.Helper()
	resp, err := c.http.Get(strings.TrimRight(c.env["O365SMTP_AUTHORITY_HOST"], "/") + "/api/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/messages: %s (%s)\n%s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	var msgs []e2eAPIMessage
	if err := json.Unmarshal(body, &msgs); err != nil {
		t.Fatalf("GET /api/messages: %v\n%s", err, body)
	}
	if msgs == nil {
		t.Fatalf("GET /api/messages: %s, want a JSON array", body)
	}
	return msgs
}

// e2eAPIMessage is an element of GET /api/messages, as documented.
type e2eAPIMessage struct {
	ID       string              `json:"id"`
	Mailbox  string              `json:"mailbox"`
	From     string              `json:"from"`
	To       []string            `json:"to"`
	Size     int                 `json:"size"`
	Received time.Time           `json:"received"`
	Subject  string              `json:"subject"`
	Headers  map[string][]string `json:"headers"`
}

// stopAndCheckGone stops p with SIGINT and checks that it exited 0 and left
// neither of its ports open.
func stopAndCheckGone(t *testing.T, p *emulateProc) {
	t.Helper()
	smtpAddr := net.JoinHostPort(p.Env["O365SMTP_HOST"], p.Env["O365SMTP_PORT"])
	u, err := url.Parse(p.Env["O365SMTP_AUTHORITY_HOST"])
	if err != nil {
		t.Fatal(err)
	}
	code, out := p.stop(t, os.Interrupt)
	if code != 0 {
		t.Errorf("emulate exited with %d after SIGINT, want 0\n%s\nstderr:\n%s", code, out, p.stderr.String())
	}
	for _, addr := range []string{smtpAddr, u.Host} {
		if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after emulate exited", addr)
		}
	}
}

func TestEmulateStandardLibraryClient(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT")
	}
	p := startEmulate(t)
	c := newE2EClient(t, p.Env)
	mailbox := p.Env["O365SMTP_MAILBOX"]
	const rcpt = "someone@example.com"
	const subject = "Hello from net/smtp"
	const body = "Sent with the standard library only.\r\n.A line that starts with a dot.\r\n"

	token := c.token(t)

	// Without TLS, the client keeps the token to itself.
	plain := c.dialSMTP(t)
	if err := plain.Auth(xoauth2Auth{user: mailbox, token: token}); err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("AUTH before STARTTLS: %v, want the client's refusal", err)
	}

	sc := c.dialSMTP(t)
	if err := c.authenticate(t, sc, token); err != nil {
		t.Fatalf("AUTH XOAUTH2: %v", err)
	}
	// net/smtp adds SMTPUTF8 to MAIL FROM whenever EHLO advertises it,
	// and Exchange refuses the parameter (wneessen/go-mail#545): so does
	// the emulator.
	var te *textproto.Error
	if err := sc.Mail(mailbox); !errors.As(err, &te) || te.Code != 502 || te.Msg != "5.3.3 Command not implemented" {
		t.Fatalf("net/smtp's MAIL FROM (with SMTPUTF8): %v, want 502 5.3.3 Command not implemented", err)
	}
	if err := mailFrom(sc, mailbox); err != nil {
		t.Fatalf("MAIL FROM: %v", err)
	}
	if err := sc.Rcpt(rcpt); err != nil {
		t.Fatalf("RCPT TO: %v", err)
	}
	w, err := sc.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <e2e.1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
		mailbox, rcpt, subject, time.Now().Format(time.RFC1123Z), body)
	if err := w.Close(); err != nil {
		t.Fatalf("end of DATA: %v", err)
	}
	if err := sc.Quit(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}

	msgs := c.apiMessages(t)
	if len(msgs) != 1 {
		t.Fatalf("GET /api/messages: %d messages, want 1: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if m.ID == "" || m.Mailbox != mailbox || m.From != mailbox || len(m.To) != 1 || m.To[0] != rcpt ||
		m.Subject != subject || m.Size <= len(body) || m.Received.IsZero() || len(m.Headers["Message-Id"]) != 1 {
		t.Errorf("GET /api/messages: %+v", m)
	}

	resp, err := c.http.Get(strings.TrimRight(p.Env["O365SMTP_AUTHORITY_HOST"], "/") + "/api/messages/" + url.PathEscape(m.ID))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "message/rfc822" || len(raw) != m.Size {
		t.Fatalf("GET /api/messages/%s: %s (%s), %d bytes, want 200 message/rfc822, %d bytes", m.ID, resp.Status, resp.Header.Get("Content-Type"), len(raw), m.Size)
	}
	parsed, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("the raw message does not parse: %v\n%s", err, raw)
	}
	if got := parsed.Header.Get("Subject"); got != subject {
		t.Errorf("raw message: Subject %q, want %q", got, subject)
	}
	if got, _ := io.ReadAll(parsed.Body); string(got) != body {
		t.Errorf("raw message body %q, want %q (dot-stuffing undone)", got, body)
	}

	req, err := http.NewRequest(http.MethodDelete, strings.TrimRight(p.Env["O365SMTP_AUTHORITY_HOST"], "/")+"/api/messages", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE /api/messages: %s, want 204", resp.Status)
	}
	if msgs := c.apiMessages(t); len(msgs) != 0 {
		t.Errorf("GET /api/messages after DELETE: %+v, want []", msgs)
	}

	c.http.CloseIdleConnections()
	stopAndCheckGone(t, p)
}

func TestEmulateStandardLibraryClientScenario(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGINT")
	}
	for _, tc := range []struct {
		scenario string
		want     string // the start of the 535 reply's text
	}{
		{"smtp-auth-disabled-mailbox", "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox."},
		{"sp-not-registered", "5.7.3 Authentication unsuccessful"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			p := startEmulate(t, "--scenario", tc.scenario, "--no-tarpit")
			c := newE2EClient(t, p.Env)
			// The token endpoint is not what is broken: the token comes.
			token := c.token(t)

			sc := c.dialSMTP(t)
			err := c.authenticate(t, sc, token)
			var te *textproto.Error
			if !errors.As(err, &te) || te.Code != 535 || !strings.HasPrefix(te.Msg, tc.want) {
				t.Errorf("AUTH XOAUTH2 under %s: %#v (%v), want 535 %s...", tc.scenario, err, err, tc.want)
			}
			if msgs := c.apiMessages(t); len(msgs) != 0 {
				t.Errorf("GET /api/messages: %+v, want []", msgs)
			}

			c.http.CloseIdleConnections()
			stopAndCheckGone(t, p)
		})
	}
}
