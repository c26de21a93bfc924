// Package browsertest tests the emulator's web inbox in a real browser,
// headless Chromium driven by chromedp. It is a module of its own so that
// the library's module does not depend on chromedp. Run it with
//
//	cd internal/emulator/inbox/browsertest && go test -race ./...
//
// with chromium (or google-chrome) on PATH, or its path in
// $O365SMTP_BROWSER; without one the tests skip. Screenshots go to
// $O365SMTP_ARTIFACTS, else to a temporary directory; their paths are
// logged.
package browsertest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/internal/emulator/inbox"
	"github.com/o365smtp/o365smtp/o365smtptest"
	"github.com/wneessen/go-mail"
)

// browser returns the browser to run, or skips the test.
func browser(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("O365SMTP_BROWSER"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no browser found: install chromium (apt-get install chromium) or set O365SMTP_BROWSER to a Chrome/Chromium binary, then run: cd internal/emulator/inbox/browsertest && go test -race ./...")
	return ""
}

// artifacts is the directory for screenshots.
func artifacts(t *testing.T) string {
	dir := os.Getenv("O365SMTP_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts headless Chromium with a fresh profile; only loopback
// is contacted.
func newBrowser(t *testing.T) context.Context {
	profile, err := os.MkdirTemp("", "o365smtp-inbox-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser(t)),
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("ignore-certificate-errors", true), // the emulator's own CA
		chromedp.WindowSize(1400, 900),
		// Keep the sandboxed frame in the page's process, where the test
		// can query its DOM; its sandbox and CSP apply all the same.
		chromedp.Flag("disable-features", "IsolateSandboxedIframes"),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 150*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA(); os.RemoveAll(profile) })
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	return ctx
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	var buf []byte
	if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&buf)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// waitRows waits until the list shows n rows.
func waitRows(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got int
	for time.Now().Before(deadline) {
		if err := chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll("#list tbody tr").length`, &got)); err != nil {
			t.Fatal(err)
		}
		if got == n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the list shows %d rows, want %d", got, n)
}

// openRow clicks the row whose subject is subject and waits for its view.
func openRow(t *testing.T, ctx context.Context, subject string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { for (const tr of document.querySelectorAll("#list tbody tr")) if (tr.querySelector("td.subject").textContent === %q) { tr.click(); return true } return false })()`, subject)
	var ok bool
	if err := chromedp.Run(ctx, chromedp.Evaluate(js, &ok)); err != nil || !ok {
		t.Fatalf("no row with subject %q (%v)", subject, err)
	}
	if err := chromedp.Run(ctx, chromedp.WaitVisible(`#view h2`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(subject, "(") { // "(no subject)": the view may find one the list's net/mail did not
		waitText(t, ctx, `#view h2`, subject)
	}
}

func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel), &got))
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s shows %q, want it to contain %q", sel, got, want)
}

// frameNode returns the HTML part's iframe, once its document loaded.
func frameNode(t *testing.T, ctx context.Context, probe string) *cdp.Node {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var nodes []*cdp.Node
		if err := chromedp.Run(ctx, chromedp.Nodes(`#view iframe.html`, &nodes, chromedp.ByQuery)); err == nil && len(nodes) == 1 {
			var n []*cdp.Node
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := chromedp.Run(c, chromedp.Nodes(probe, &n, chromedp.ByQuery, chromedp.FromNode(nodes[0])))
			cancel()
			if err == nil && len(n) > 0 {
				return nodes[0]
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the HTML part's iframe has no %s", probe)
	return nil
}

type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []string
}

// newRecorder is a loopback HTTPS server that records every request.
func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		r.mu.Lock()
		r.hits = append(r.hits, q.URL.Path)
		r.mu.Unlock()
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "image/gif")
		w.Write([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) Hits() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hits...)
}

func newMsg(t *testing.T, srv *o365smtptest.Server, subject string) *mail.Msg {
	m := mail.NewMsg()
	if err := m.From(srv.Mailbox); err != nil {
		t.Fatal(err)
	}
	if err := m.To("alice@example.com"); err != nil {
		t.Fatal(err)
	}
	m.Subject(subject)
	return m
}

// tinyPNG is a 1x1 red PNG.
var tinyPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")

func TestInbox(t *testing.T) {
	ctx := newBrowser(t)
	dir := artifacts(t)
	srv := o365smtptest.NewServer(emulator.WithInbox())
	defer srv.Close()
	sender, err := o365smtp.New(srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()

	total := 0
	for name, n := range inbox.Files() {
		t.Logf("page file %s: %d bytes", name, n)
		total += n
	}
	t.Logf("page weight on first load: %d bytes (index.html, app.js, style.css, uncompressed)", total)

	if err := chromedp.Run(ctx, chromedp.Navigate(srv.AuthorityHost+"/"), chromedp.WaitVisible(`#live.on`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	send := func(m *mail.Msg) {
		t.Helper()
		if err := sender.Send(context.Background(), m); err != nil {
			t.Fatalf("send %v: %v", m.GetGenHeader("Subject"), err)
		}
	}

	// Three messages appear without a reload.
	plain := newMsg(t, srv, "Plain hello")
	plain.SetBodyString(mail.TypeTextPlain, "Just text, line one.\nLine two.")
	send(plain)
	waitRows(t, ctx, 1)

	html := newMsg(t, srv, "HTML with an inline image")
	html.SetBodyString(mail.TypeTextPlain, "The text alternative.")
	html.AddAlternativeString(mail.TypeTextHTML, `<h1 id="hello">Hello, HTML</h1><p>An inline image: <img id="logo" src="cid:logo.png" width="40" height="40"></p>`)
	if err := html.EmbedReader("logo.png", bytes.NewReader(tinyPNG)); err != nil {
		t.Fatal(err)
	}
	send(html)
	waitRows(t, ctx, 2)

	att := newMsg(t, srv, "Report attached")
	att.SetBodyString(mail.TypeTextPlain, "See the attachment.")
	if err := att.AttachReader("report.csv", strings.NewReader("a,b\n1,2\n")); err != nil {
		t.Fatal(err)
	}
	send(att)
	waitRows(t, ctx, 3)
	screenshot(t, ctx, dir, "inbox-list.png")

	// Each one, opened.
	openRow(t, ctx, "Plain hello")
	waitText(t, ctx, `#view pre.text`, "Just text, line one.")
	waitText(t, ctx, `#view pre.transcript`, "AUTH XOAUTH2 <redacted>")
	waitText(t, ctx, `#view dl.claims`, "SMTP.SendAsApp")
	waitText(t, ctx, `#view dl.claims`, srv.ServicePrincipalID)
	var transcript string
	chromedp.Run(ctx, chromedp.Text(`#view pre.transcript`, &transcript, chromedp.ByQuery))
	for _, tok := range srv.IssuedTokens() {
		if strings.Contains(transcript, tok) || strings.Contains(transcript, tok[:20]) {
			t.Fatal("the transcript shows the token")
		}
	}

	openRow(t, ctx, "HTML with an inline image")
	fr := frameNode(t, ctx, "#logo")
	var h1, src string
	var ok bool
	if err := chromedp.Run(ctx,
		chromedp.Text("#hello", &h1, chromedp.ByQuery, chromedp.FromNode(fr)),
		chromedp.AttributeValue("#logo", "src", &src, &ok, chromedp.ByQuery, chromedp.FromNode(fr))); err != nil {
		t.Fatal(err)
	}
	if h1 != "Hello, HTML" || !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Fatalf("rendered h1 %q, img src %.40q", h1, src)
	}
	waitText(t, ctx, `#view ul.attachments`, "logo.png")
	screenshot(t, ctx, dir, "inbox-html-message.png")

	openRow(t, ctx, "Report attached")
	waitText(t, ctx, `#view ul.attachments a`, "report.csv")
	var body string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`fetch(document.querySelector("#view ul.attachments a").href).then(r => r.text())`, &body,
		func(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams { return p.WithAwaitPromise(true) })); err != nil {
		t.Fatal(err)
	}
	if body != "a,b\n1,2\n" {
		t.Fatalf("the attachment downloads as %q", body)
	}

	// The scenario, switched from the page: the next send is refused.
	if err := chromedp.Run(ctx, chromedp.SetValue(`#scenario`, "quota-exceeded", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector("#scenario").dispatchEvent(new Event("change"))`, nil)); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, `#scenario-desc`, "10,000 recipients")
	if err := sender.Send(context.Background(), newMsgBody(t, srv, "Over quota")); err == nil {
		t.Fatal("the send under quota-exceeded succeeded")
	}
	waitRows(t, ctx, 4)
	waitText(t, ctx, `#list tbody tr.refused td.outcome`, "SubmissionQuotaExceededException")
	js := `(() => { const tr = document.querySelector("#list tbody tr.refused"); tr.click(); return true })()`
	chromedp.Run(ctx, chromedp.Evaluate(js, &ok))
	waitText(t, ctx, `#view p.reply`, "554 5.2.0")
	waitText(t, ctx, `#view pre.transcript`, "AUTH XOAUTH2 <redacted>")
	screenshot(t, ctx, dir, "inbox-refused.png")

	// And back through the HTTP API.
	resp, err := srv.Client().Post(srv.AuthorityHost+"/api/scenario", "application/json", strings.NewReader(`{"name":"ok"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /api/scenario: %v %v", resp, err)
	}
	resp.Body.Close()
	waitText(t, ctx, `#scenario-desc`, "everything set up right")

	// Delete all.
	if err := chromedp.Run(ctx, chromedp.Click(`#delete-all`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	waitRows(t, ctx, 0)
}

func newMsgBody(t *testing.T, srv *o365smtptest.Server, subject string) *mail.Msg {
	m := newMsg(t, srv, subject)
	m.SetBodyString(mail.TypeTextPlain, "body")
	return m
}

// sendRaw sends raw as it is, over STARTTLS with XOAUTH2 and a token from
// the emulator's token endpoint: for mail the library would not build.
func sendRaw(t *testing.T, srv *o365smtptest.Server, raw string) {
	t.Helper()
	form := url.Values{"client_id": {srv.ClientID}, "client_secret": {srv.ClientSecret}, "scope": {srv.Scope}, "grant_type": {"client_credentials"}}
	resp, err := srv.Client().PostForm(srv.AuthorityHost+"/"+srv.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	c, err := smtp.Dial(srv.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host, _, _ := strings.Cut(srv.SMTPAddr, ":")
	steps := []func() error{
		func() error { return c.Hello("localhost") },
		func() error { return c.StartTLS(&tls.Config{RootCAs: srv.CertPool(), ServerName: host}) },
		func() error { return c.Auth(xoauth2{srv.Mailbox, tok.AccessToken}) },
		func() error { return cmd(c, 250, "MAIL FROM:<%s>", srv.Mailbox) }, // no SMTPUTF8, which net/smtp would add
		func() error { return c.Rcpt("victim@example.com") },
		func() error {
			w, err := c.Data()
			if err != nil {
				return err
			}
			if _, err := w.Write([]byte(strings.ReplaceAll(raw, "\n", "\r\n"))); err != nil {
				return err
			}
			return w.Close()
		},
	}
	for i, f := range steps {
		if err := f(); err != nil {
			t.Fatalf("raw send, step %d: %v", i, err)
		}
	}
	c.Quit()
}

func cmd(c *smtp.Client, code int, format string, args ...any) error {
	id, err := c.Text.Cmd(format, args...)
	if err != nil {
		return err
	}
	c.Text.StartResponse(id)
	defer c.Text.EndResponse(id)
	_, _, err = c.Text.ReadResponse(code)
	return err
}

type xoauth2 struct{ user, token string }

func (x xoauth2) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}
func (x xoauth2) Next([]byte, bool) ([]byte, error) { return nil, nil }
