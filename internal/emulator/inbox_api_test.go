package emulator_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
	"github.com/wneessen/go-mail"
)

func TestInboxAPI(t *testing.T) {
	srv := o365smtptest.NewServer(emulator.WithInbox())
	defer srv.Close()
	sender, err := o365smtp.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	send := func(subject string) error {
		m := mail.NewMsg()
		m.From(srv.Mailbox)
		m.To("bob@example.com")
		m.Subject(subject)
		m.SetBodyString(mail.TypeTextPlain, "hi")
		return sender.Send(context.Background(), m)
	}
	get := func(path string, v any) {
		t.Helper()
		resp, err := srv.Client().Get(srv.AuthorityHost + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := send("one"); err != nil {
		t.Fatal(err)
	}
	var list []struct{ ID, Transport, Reply, Scenario string }
	get("/api/messages", &list)
	if len(list) != 1 || list[0].Transport != "SMTP, STARTTLS" || !strings.HasPrefix(list[0].Reply, "250 2.0.0 OK") || list[0].Scenario != "ok" {
		t.Fatalf("list %+v", list)
	}
	var view struct {
		Transcript []struct {
			Client bool
			Text   string
		}
		Claims map[string]any
	}
	get("/api/messages/"+list[0].ID+"/view", &view)
	var auth string
	var all strings.Builder
	for _, l := range view.Transcript {
		all.WriteString(l.Text + "\n")
		if l.Client && strings.HasPrefix(l.Text, "AUTH") {
			auth = l.Text
		}
	}
	if auth != "AUTH XOAUTH2 <redacted>" {
		t.Fatalf("AUTH line %q in\n%s", auth, all.String())
	}
	for _, tok := range srv.IssuedTokens() {
		if strings.Contains(all.String(), tok[len(tok)-20:]) {
			t.Fatal("the transcript holds the token")
		}
	}
	if view.Claims["oid"] != srv.ServicePrincipalID || view.Claims["expires"] == nil {
		t.Fatalf("claims %v", view.Claims)
	}
	resp, err := srv.Client().Get(srv.AuthorityHost + "/")
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("GET /: %v %v", resp, err)
	}
	resp.Body.Close()

	// The scenario through the API; a refused attempt.
	resp, err = srv.Client().Post(srv.AuthorityHost+"/api/scenario", "text/plain", strings.NewReader(`{"name":"quota-exceeded"}`))
	if err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("POST text/plain: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = srv.Client().Post(srv.AuthorityHost+"/api/scenario", "application/json", strings.NewReader(`{"name":"quota-exceeded"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := send("two"); err == nil {
		t.Fatal("sent over quota")
	}
	var refused []struct {
		Stage, Subject, Scenario string
		Reply                    []string
	}
	get("/api/refused", &refused)
	if len(refused) != 1 || refused[0].Stage != "data_end" || refused[0].Subject != "two" || refused[0].Scenario != "quota-exceeded" || !strings.HasPrefix(refused[0].Reply[0], "554 5.2.0") {
		t.Fatalf("refused %+v", refused)
	}
}
