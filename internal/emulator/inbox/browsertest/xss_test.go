package browsertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// TestHostileMail sends messages that try to run script and fetch remote
// URLs (pointed at a loopback recorder) and proves in the browser that
// nothing runs and nothing is fetched, until "load remote images" is
// clicked (the control that shows the recorder would see a fetch).
func TestHostileMail(t *testing.T) {
	ctx := newBrowser(t)
	dir := artifacts(t)
	rec := newRecorder(t)
	srv := o365smtptest.NewServer(emulator.WithInbox())
	defer srv.Close()
	R := rec.srv.URL // https://127.0.0.1:port

	attack := `<script>document.title="pwned-script";fetch("` + R + `/script")</script>
<img src=x onerror="document.title='pwned-onerror';fetch('` + R + `/onerror')">
<svg onload="document.title='pwned-svg'"><script>fetch("` + R + `/svg")</script></svg>
<body onload="document.title='pwned-body'">
<a id="jslink" href="javascript:document.title='pwned-link';fetch('` + R + `/link')">click me</a>
<div id="cssbg" style="width:50px;height:50px;background:url(` + R + `/css-inline)">x</div>
<style>@import url("` + R + `/css-import"); p { background-image: url("` + R + `/css-style") } @font-face { font-family: f; src: url("` + R + `/font") } p { font-family: f }</style>
<link rel="stylesheet" href="` + R + `/link-stylesheet">
<img id="remote" src="` + R + `/img">
<iframe src="` + R + `/iframe"></iframe>
<object data="` + R + `/object"></object>
<meta http-equiv="refresh" content="0;url=` + R + `/refresh">
<form action="` + R + `/form"><button id="submit">go</button></form>
<p id="marker">hostile body rendered</p>`
	hostileSubject := `<img src=x onerror="document.title='pwned-subject'"><script>fetch("` + R + `/subject")</script>`

	// Through well-formed MIME.
	sendRaw(t, srv, "From: \"<script>document.title='pwned-from'</script>\" <"+srv.Mailbox+">\n"+
		"To: victim@example.com\nSubject: "+hostileSubject+"\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/alternative; boundary=\"b1\"\n\n"+
		"--b1\nContent-Type: text/plain\n\n<script>document.title='pwned-text'</script>\n"+
		"--b1\nContent-Type: text/html; charset=utf-8\n\n"+attack+"\n--b1--\n")
	// Malformed MIME: no closing boundary, a broken base64 part, a header
	// that does not parse, a filename that is markup.
	sendRaw(t, srv, "From: "+srv.Mailbox+"\nTo: victim@example.com\nSubject: malformed\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/mixed; boundary=\"zz\"\n\n"+
		"--zz\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n"+
		strings.ReplaceAll(attack, "=", "=3D")+"\n"+
		"--zz\nContent-Type: image/png; name=\"<img src=x onerror=alert(1)>.png\"\nContent-Disposition: attachment; filename=\"<script>x</script>.png\"\nContent-Transfer-Encoding: base64\n\n!!!not base64***\n"+
		"--zz\nContent-Type: text/html; charset=\"\nBroken header line without colon\n\n<script>document.title='pwned-broken'</script>\n")
	// No MIME at all: HTML as plain text, and a header block that is not one.
	sendRaw(t, srv, "From: "+srv.Mailbox+"\nSubject: no mime\n<script>document.title='pwned-nomime'</script>\n\n"+attack+"\n")

	if err := chromedp.Run(ctx, chromedp.Navigate(srv.AuthorityHost+"/"), chromedp.WaitVisible(`#live.on`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	waitRows(t, ctx, 3)
	title := func() string {
		var s string
		chromedp.Run(ctx, chromedp.Title(&s))
		return s
	}
	check := func(stage string) {
		t.Helper()
		time.Sleep(700 * time.Millisecond)
		if got := title(); got != "o365smtp emulator inbox" {
			t.Fatalf("%s: document.title is %q: a script ran", stage, got)
		}
		if h := rec.Hits(); len(h) > 0 {
			t.Fatalf("%s: the recorder was fetched: %v", stage, h)
		}
		var alive bool
		chromedp.Run(ctx, chromedp.Evaluate(`!!document.querySelector("#list")`, &alive))
		if !alive {
			t.Fatalf("%s: the page's DOM was replaced", stage)
		}
	}
	check("list")
	var subjectCell string
	chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll("#list td.subject")].map(td => td.textContent).join("|")`, &subjectCell))
	if !strings.Contains(subjectCell, "<img src=x onerror=") {
		t.Fatalf("the subject is not shown as text: %q", subjectCell)
	}
	var injected int
	chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll("#list img, #list script, #view script, #view img").length`, &injected))
	if injected != 0 {
		t.Fatalf("%d elements from message data in the page", injected)
	}

	for _, subj := range []string{"malformed", "(no subject)", hostileSubject} {
		openRow(t, ctx, subj)
		check("open " + subj)
		var tabs string
		chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll("#view .tabs button")].map(b => b.textContent).join(",")`, &tabs))
		for _, tab := range strings.Split(tabs, ",") {
			chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll("#view .tabs button")].find(b => b.textContent === "`+tab+`").click()`, nil))
			check(subj + " tab " + tab)
		}
		if strings.Contains(tabs, "HTML") {
			chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll("#view .tabs button")].find(b => b.textContent === "HTML").click()`, nil))
			fr := frameNode(t, ctx, "#marker")
			// Click the javascript: link and the form's button inside the frame.
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			chromedp.Run(c, chromedp.Click("#jslink", chromedp.ByQuery, chromedp.FromNode(fr)))
			cancel()
			check(subj + " javascript: link clicked")
			c, cancel = context.WithTimeout(ctx, 5*time.Second)
			chromedp.Run(c, chromedp.Click("#submit", chromedp.ByQuery, chromedp.FromNode(frameNode(t, ctx, "#submit"))))
			cancel()
			check(subj + " form submitted")
			var sandbox string
			var ok bool
			chromedp.Run(ctx, chromedp.AttributeValue(`#view iframe.html`, "sandbox", &sandbox, &ok, chromedp.ByQuery))
			if !ok || sandbox != "" {
				t.Fatalf("iframe sandbox=%q (present %v), want an empty sandbox", sandbox, ok)
			}
		}
	}
	openRow(t, ctx, hostileSubject)
	frameNode(t, ctx, "#marker")
	screenshot(t, ctx, dir, "inbox-hostile.png")

	// The control: load remote images, and the recorder sees the fetch.
	if err := chromedp.Run(ctx, chromedp.Click(`#load-remote`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(rec.Hits()) == 0 {
		time.Sleep(100 * time.Millisecond)
	}
	hits := rec.Hits()
	if len(hits) == 0 {
		t.Fatal("load remote images: the recorder saw nothing, so the test could not have seen a fetch")
	}
	for _, h := range hits {
		if h == "/script" || h == "/link" || h == "/svg" || h == "/subject" || h == "/form" || h == "/iframe" || h == "/object" || h == "/link-stylesheet" || h == "/css-import" || h == "/font" || h == "/refresh" {
			t.Fatalf("with remote images allowed, %s was fetched too: %v", h, hits)
		}
	}
	t.Logf("with remote images allowed, the recorder saw only images: %v", hits)
	if got := title(); got != "o365smtp emulator inbox" {
		t.Fatalf("document.title is %q", got)
	}
}
