package o365smtptest_test

// Tests of the behaviours docs/exchange-behaviour.md lists that the golden
// transcripts do not pin: timings, the token endpoint, limits with state.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// tokenClaims decodes an access token's claims without checking it.
func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// Entra issues a token for any resource of the tenant, with that resource
// as aud; SMTP AUTH accepts only Exchange's audiences.
func TestTokenAudiences(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct {
		scope, aud string
		role, auth bool
	}{
		{"https://outlook.office365.com/.default", "https://outlook.office365.com", true, true},
		{"https://outlook.office.com/.default offline_access", "https://outlook.office.com", true, true},
		{"00000002-0000-0ff1-ce00-000000000000/.default", "00000002-0000-0ff1-ce00-000000000000", true, true},
		{"https://graph.microsoft.com/.default", "https://graph.microsoft.com", false, false},
	} {
		form := secretForm(s)
		form.Set("scope", tc.scope)
		status, body := postToken(t, s, s.TenantID, form)
		tok, _ := body["access_token"].(string)
		if status != http.StatusOK || tok == "" {
			t.Errorf("%s: HTTP %d %v, want a token", tc.scope, status, body)
			continue
		}
		claims := tokenClaims(t, tok)
		roles, _ := claims["roles"].([]any)
		if claims["aud"] != tc.aud || slices.Contains(roles, any("SMTP.SendAsApp")) != tc.role {
			t.Errorf("%s: aud %v roles %v, want aud %s and the role %v", tc.scope, claims["aud"], roles, tc.aud, tc.role)
		}
		c, err := login(t, s, s.Mailbox, tok)
		switch {
		case tc.auth && err != nil:
			t.Errorf("%s: AUTH %v, want success", tc.scope, err)
		case !tc.auth:
			if code, msg := replyOf(t, err); code != 535 || !auth573RE.MatchString(msg) {
				t.Errorf("%s: AUTH %d %q, want 535 5.7.3", tc.scope, code, msg)
			}
		default:
			c.Quit()
		}
	}
}

func TestTokenThrottled(t *testing.T) {
	s := newServer(t)
	if err := o365smtptest.Engine(s).ApplyScenario("entra-throttled"); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client().PostForm(s.AuthorityHost+"/"+s.TenantID+"/oauth2/v2.0/token", secretForm(s))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
		t.Errorf("throttled token request: %s, Retry-After %q; want 429 and 60", resp.Status, resp.Header.Get("Retry-After"))
	}
	checkEntraError(t, resp.StatusCode, body, http.StatusTooManyRequests, "invalid_grant", 50196,
		"The server terminated an operation because it encountered a loop while processing a request.")
}

// A failed AUTH and an unrecognized command are answered after the tarpit;
// a successful AUTH is not delayed by it.
func TestTarpit(t *testing.T) {
	const tarpit = 300 * time.Millisecond
	s := newServer(t, o365smtptest.WithTarpit(tarpit))
	tok := accessToken(t, s)

	start := time.Now()
	c, err := login(t, s, s.Mailbox, tok)
	if err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	if d := time.Since(start); d >= tarpit {
		t.Errorf("a successful login took %v, longer than the tarpit", d)
	}
	id, _ := c.Text.Cmd("XYZZ")
	c.Text.StartResponse(id)
	_, msg, err := c.Text.ReadResponse(250)
	c.Text.EndResponse(id)
	if d := time.Since(start); err == nil || !strings.HasPrefix(msg, "5.3.3 Unrecognized command 'Length: 4' ") || d < tarpit {
		t.Errorf("unknown command: %q after %v, want 500 5.3.3 after the tarpit", msg, d)
	}
	c.Quit()

	start = time.Now()
	_, err = login(t, s, "nobody@contoso.com", tok)
	if code, _ := replyOf(t, err); code != 535 || time.Since(start) < tarpit {
		t.Errorf("failed AUTH: %d after %v, want 535 after the tarpit", code, time.Since(start))
	}
}

// An idle session is dropped with Exchange's text.
func TestIdleTimeout(t *testing.T) {
	s := newServer(t, o365smtptest.WithIdleTimeout(100*time.Millisecond))
	r := dialRaw(t, s.SMTPAddr)
	r.lines()
	equal(t, "idle", r.lines(), "451 4.7.0 Timeout waiting for client input")
	if l, err := r.tp.ReadLine(); err == nil {
		t.Errorf("after the idle timeout: %q, want the connection closed", l)
	}
}

// The default MaxSendSize is 35 MB, enforced after the final dot although
// EHLO advertises SIZE 157286400.
func TestDefaultMaxSendSize(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 35 MB")
	}
	s := newServer(t)
	c := mustLogin(t, s)
	defer c.Close()
	if ok, size := c.Extension("SIZE"); !ok || size != "157286400" {
		t.Errorf("SIZE %q, want 157286400", size)
	}
	big := message(s.Mailbox, "a@example.com", "big") + strings.Repeat(strings.Repeat("x", 998)+"\r\n", 35<<20/1000+1)
	err := send(c, s.Mailbox, []string{"a@example.com"}, big)
	wantReply(t, err, 552, "5.3.4 MapiExceptionMaxSubmissionExceeded; Message size exceeds maximum size limit.;")
	if len(s.Messages()) != 0 {
		t.Errorf("the message was recorded")
	}
}

// The daily recipient quota counts the recipients of accepted messages.
func TestDailyRecipientLimit(t *testing.T) {
	s := newServer(t)
	o365smtptest.Engine(s).SetDailyRecipientLimit(2)
	c := mustLogin(t, s)
	defer c.Quit()
	if err := send(c, s.Mailbox, []string{"a@example.com", "b@example.com"}, message(s.Mailbox, "a@example.com", "two")); err != nil {
		t.Fatalf("within the quota: %v", err)
	}
	err := send(c, s.Mailbox, []string{"c@example.com"}, message(s.Mailbox, "c@example.com", "third"))
	wantReply(t, err, 554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException")
}

// Send As is checked for the authenticating mailbox: the service
// principal's FullAccess on the sender does not count (Notifuse#250).
func TestSendAsHeldByMailbox(t *testing.T) {
	s := newServer(t)
	e := o365smtptest.Engine(s)
	const boss = "boss@contoso.com"
	s.AddMailbox(boss)
	s.SetMailboxPermission(boss, true)
	c := mustLogin(t, s)
	defer c.Quit()
	try := func(what string) error {
		return send(c, boss, []string{"a@example.com"}, message(boss, "a@example.com", what))
	}
	wantReply(t, try("FullAccess only"), 554, "5.2.252 SendAsDenied; sender@contoso.com not allowed to send as boss@contoso.com;")
	e.SetSendAsFor("someone-else@contoso.com", boss, true)
	wantReply(t, try("another trustee"), 554, "5.2.252 ")
	e.SetSendAsFor(s.Mailbox, boss, true)
	if err := try("granted"); err != nil {
		t.Errorf("with Send As for the mailbox: %v", err)
	}
	// Authenticating as boss itself needs no Send As.
	c2, err := login(t, s, boss, accessToken(t, s))
	if err != nil {
		t.Fatalf("AUTH as %s: %v", boss, err)
	}
	defer c2.Quit()
	if err := send(c2, boss, []string{"a@example.com"}, message(boss, "a@example.com", "own")); err != nil {
		t.Errorf("as itself: %v", err)
	}
}

// Go's net/smtp adds SMTPUTF8 to MAIL FROM whenever it is advertised, and
// Exchange refuses it: net/smtp cannot send to Exchange Online as is.
func TestNetSMTPMailGetsSMTPUTF8Refusal(t *testing.T) {
	s := newServer(t)
	c := mustLogin(t, s)
	defer c.Quit()
	wantReply(t, c.Mail(s.Mailbox), 502, "5.3.3 Command not implemented")
	c.Reset()
	s2 := newServer(t, emulator.WithSMTPUTF8Accepted())
	c2 := mustLogin(t, s2)
	defer c2.Quit()
	if err := c2.Mail(s2.Mailbox); err != nil {
		t.Errorf("net/smtp against WithSMTPUTF8Accepted: %v", err)
	}
}
