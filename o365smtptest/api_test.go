package o365smtptest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/o365smtp/o365smtp/internal/emulator"
)

func TestAPI(t *testing.T) {
	s := newServer(t, emulator.WithMessageAPI())
	c := mustLogin(t, s)
	data := "From: sender@contoso.com\r\nTo: a@example.com\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nHallo.\r\n"
	if err := send(c, s.Mailbox, []string{"a@example.com", "b@example.com"}, data); err != nil {
		t.Fatal(err)
	}
	id := s.Messages()[0].ID

	resp, err := s.Client().Get(s.AuthorityHost + "/api/messages")
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		ID       string              `json:"id"`
		Mailbox  string              `json:"mailbox"`
		From     string              `json:"from"`
		To       []string            `json:"to"`
		Size     int                 `json:"size"`
		Received string              `json:"received"`
		Subject  string              `json:"subject"`
		Headers  map[string][]string `json:"headers"`
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("GET /api/messages: HTTP %d %v", resp.StatusCode, err)
	}
	if len(list) != 1 {
		t.Fatalf("GET /api/messages: %d messages", len(list))
	}
	m := list[0]
	if m.ID != id || m.Mailbox != s.Mailbox || m.From != s.Mailbox || len(m.To) != 2 || m.Size != len(data) || m.Received == "" ||
		m.Subject != "Grüße" || m.Headers["Subject"][0] != "=?utf-8?q?Gr=C3=BC=C3=9Fe?=" {
		t.Errorf("GET /api/messages: %+v", m)
	}

	resp, err = s.Client().Get(s.AuthorityHost + "/api/messages/" + id)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "message/rfc822" || string(raw) != data {
		t.Errorf("GET /api/messages/{id}: HTTP %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	resp, err = s.Client().Get(s.AuthorityHost + "/api/messages/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/messages/nope: HTTP %d", resp.StatusCode)
	}

	req, _ := http.NewRequest(http.MethodDelete, s.AuthorityHost+"/api/messages", nil)
	resp, err = s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || len(s.Messages()) != 0 {
		t.Errorf("DELETE /api/messages: HTTP %d, %d messages left", resp.StatusCode, len(s.Messages()))
	}
	resp, err = s.Client().Get(s.AuthorityHost + "/api/messages")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "[]" {
		t.Errorf("empty list = %s, want []", b)
	}
}
