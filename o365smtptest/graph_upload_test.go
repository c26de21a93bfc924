package o365smtptest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp/o365smtptest"
)

// graphToken gets a Graph token from s with its client secret.
func graphToken(t *testing.T, s *o365smtptest.Server) string {
	t.Helper()
	f := secretForm(s)
	f.Set("scope", "https://graph.microsoft.com/.default")
	status, body := postToken(t, s, s.TenantID, f)
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	return body["access_token"].(string)
}

type graphCall struct {
	method, url, token, ctype, rng string
	body                           []byte
}

func (c graphCall) do(t *testing.T, s *o365smtptest.Server) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(c.method, c.url, bytes.NewReader(c.body))
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	if c.rng != "" {
		req.Header.Set("Content-Range", c.rng)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp.Header
}

func graphCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// TestGraphUploadSession: the emulator's draft, upload session and send
// as Graph documents them: the upload URL refuses an Authorization header,
// a range out of order and a chunk over 4 MiB; the last chunk is 201; send
// delivers the draft with the attachment; Mail.ReadWrite is needed for
// drafts; an expired session is 404.
func TestGraphUploadSession(t *testing.T) {
	s := newServer(t)
	tok := graphToken(t, s)
	users := s.AuthorityHost + "/v1.0/users/" + s.Mailbox
	mime := "From: " + s.Mailbox + "\r\nTo: someone@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n"
	draft := graphCall{method: "POST", url: users + "/messages", token: tok, ctype: "text/plain", body: []byte(base64.StdEncoding.EncodeToString([]byte(mime)))}
	status, m, _ := draft.do(t, s)
	id, _ := m["id"].(string)
	if status != 201 || id == "" || s.GraphDrafts() != 1 {
		t.Fatalf("draft: %d %v", status, m)
	}
	size := 5 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	item, _ := json.Marshal(map[string]any{"AttachmentItem": map[string]any{"attachmentType": "file", "name": "data.bin", "size": size, "contentType": "application/octet-stream"}})
	status, m, _ = graphCall{method: "POST", url: users + "/messages/" + id + "/attachments/createUploadSession", token: tok, ctype: "application/json", body: item}.do(t, s)
	up, _ := m["uploadUrl"].(string)
	if status != 201 || !strings.HasPrefix(up, "https://") || !strings.Contains(up, "authtoken=") {
		t.Fatalf("session: %d %v", status, m)
	}
	put := func(token string, from, to int) (int, map[string]any, http.Header) {
		return graphCall{method: "PUT", url: up, token: token, ctype: "application/octet-stream",
			rng: "bytes " + itoa(from) + "-" + itoa(to-1) + "/" + itoa(size), body: data[from:to]}.do(t, s)
	}
	if status, m, _ := put(tok, 0, 1<<20); status != 401 {
		t.Errorf("PUT with an Authorization header: %d %v", status, m)
	}
	if status, m, _ := put("", 1<<20, 2<<20); status != 416 {
		t.Errorf("PUT out of order: %d %v", status, m)
	}
	if status, m, _ := put("", 0, 4<<20+1); status != 413 {
		t.Errorf("PUT of more than 4 MiB: %d %v", status, m)
	}
	if status, m, _ := put("", 0, 4<<20); status != 200 || m["nextExpectedRanges"].([]any)[0] != itoa(4<<20)+"-" {
		t.Errorf("first PUT: %d %v", status, m)
	}
	if status, m, h := put("", 4<<20, size); status != 201 || h.Get("Location") == "" {
		t.Errorf("last PUT: %d %v", status, m)
	}
	if status, m, _ := (graphCall{method: "POST", url: users + "/messages/" + id + "/send", token: tok}).do(t, s); status != 202 {
		t.Fatalf("send: %d %v", status, m)
	}
	msgs := s.Messages()
	if len(msgs) != 1 || msgs[0].Transport != "graph" || !bytes.Contains(msgs[0].Data, []byte(base64.StdEncoding.EncodeToString(data[:57]))) || s.GraphDrafts() != 0 {
		t.Fatalf("%d messages, %d drafts", len(msgs), s.GraphDrafts())
	}

	// Without Mail.ReadWrite: no draft.
	s.SetGraphMailReadWrite(false)
	if status, m, _ := (graphCall{method: "POST", url: users + "/messages", token: graphToken(t, s), ctype: "text/plain", body: draft.body}).do(t, s); status != 403 || graphCode(m) != "ErrorAccessDenied" {
		t.Errorf("draft without Mail.ReadWrite: %d %v", status, m)
	}
	s.SetGraphMailReadWrite(true)

	// An expired session; a small attachment; the draft deleted.
	s.SetGraphUploadSessionLifetime(0)
	_, m, _ = draft.do(t, s)
	id, _ = m["id"].(string)
	_, m, _ = graphCall{method: "POST", url: users + "/messages/" + id + "/attachments/createUploadSession", token: tok, ctype: "application/json", body: item}.do(t, s)
	up, _ = m["uploadUrl"].(string)
	if status, m, _ := put("", 0, 1<<20); status != 404 || graphCode(m) != "ErrorItemNotFound" {
		t.Errorf("PUT after expiry: %d %v", status, m)
	}
	s.SetGraphUploadSessionLifetime(time.Hour)
	small, _ := json.Marshal(map[string]any{"AttachmentItem": map[string]any{"attachmentType": "file", "name": "s.txt", "size": 1000}})
	if status, m, _ := (graphCall{method: "POST", url: users + "/messages/" + id + "/attachments/createUploadSession", token: tok, ctype: "application/json", body: small}).do(t, s); status != 400 || graphCode(m) != "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize" {
		t.Errorf("small attachment: %d %v", status, m)
	}
	// The default MaxSendSize, 35 MB, counts attachments in base64: 28 MB
	// of attachment is 37.3 MB, refused at its upload session.
	huge, _ := json.Marshal(map[string]any{"AttachmentItem": map[string]any{"attachmentType": "file", "name": "huge.bin", "size": 28_000_000}})
	if status, m, _ := (graphCall{method: "POST", url: users + "/messages/" + id + "/attachments/createUploadSession", token: tok, ctype: "application/json", body: huge}).do(t, s); status != 400 || graphCode(m) != "ErrorMessageSizeExceeded" {
		t.Errorf("28 MB attachment: %d %v", status, m)
	}
	fits, _ := json.Marshal(map[string]any{"AttachmentItem": map[string]any{"attachmentType": "file", "name": "fits.bin", "size": 20_000_000}})
	if status, m, _ := (graphCall{method: "POST", url: users + "/messages/" + id + "/attachments/createUploadSession", token: tok, ctype: "application/json", body: fits}).do(t, s); status != 201 {
		t.Errorf("20 MB attachment beside the expired 5 MiB one: %d %v", status, m)
	}
	if status, _, _ := (graphCall{method: "DELETE", url: users + "/messages/" + id, token: tok}).do(t, s); status != 204 || s.GraphDrafts() != 0 {
		t.Errorf("delete: %d, %d drafts", status, s.GraphDrafts())
	}
}

// TestGraphJSONSendMail: sendMail with a JSON message, as Graph's SDKs
// send it, is delivered with its recipients and Bcc dropped.
func TestGraphJSONSendMail(t *testing.T) {
	s := newServer(t)
	body := `{"message":{"subject":"json","body":{"contentType":"HTML","content":"<p>hi</p>"},
		"toRecipients":[{"emailAddress":{"address":"a@example.com"}}],"bccRecipients":[{"emailAddress":{"address":"b@example.com"}}],
		"internetMessageHeaders":[{"name":"X-Custom","value":"1"}]},"saveToSentItems":false}`
	status, m, _ := graphCall{method: "POST", url: s.AuthorityHost + "/v1.0/users/" + s.Mailbox + "/sendMail", token: graphToken(t, s), ctype: "application/json", body: []byte(body)}.do(t, s)
	if status != 202 {
		t.Fatalf("%d %v", status, m)
	}
	msgs := s.Messages()
	if len(msgs) != 1 || strings.Join(msgs[0].To, ",") != "a@example.com,b@example.com" || msgs[0].Header.Get("Subject") != "json" ||
		msgs[0].Header.Get("Bcc") != "" || msgs[0].Header.Get("X-Custom") != "1" || !strings.Contains(msgs[0].Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%+v", msgs)
	}
}
