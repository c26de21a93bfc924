package inbox

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	raw := "From: a@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n  continued\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: multipart/related; boundary=c\r\n\r\n" +
		"--c\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<img src=3D\"cid:i1\">\r\n" +
		"--c\r\nContent-Type: image/png\r\nContent-ID: <i1>\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte("PNG")) + "\r\n--c--\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"r.csv\"\r\n\r\na,b\r\n--b--\r\n"
	p := Parse([]byte(raw))
	if len(p.Problems) != 0 {
		t.Fatalf("problems: %v", p.Problems)
	}
	if p.Headers[1] != [2]string{"Subject", "café continued"} {
		t.Fatalf("headers %q", p.Headers)
	}
	if !p.HasHTML || strings.TrimSpace(p.Text) != "hello" || len(p.Attachments) != 2 {
		t.Fatalf("parsed %+v", p)
	}
	h, ct := p.HTML()
	if ct != "text/html; charset=utf-8" || !strings.Contains(string(h), "data:image/png;base64,UE5H") {
		t.Fatalf("HTML %q %q", h, ct)
	}
	if pt, ok := p.Part(4); !ok || pt.Filename != "r.csv" || string(pt.Body) != "a,b" {
		t.Fatalf("part 4: %+v %v", pt, ok)
	}
}

func TestParseMalformed(t *testing.T) {
	for _, raw := range []string{
		"", "no header at all", "Subject: x\r\nContent-Type: multipart/mixed\r\n\r\nbody",
		"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/html\r\n\r\n<b>unterminated",
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!",
		"Content-Type: ;;;\r\n\r\nx",
		strings.Repeat("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n", 50),
	} {
		p := Parse([]byte(raw)) // never panics
		p.HTML()
	}
}

func TestClaims(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"https://outlook.office365.com","roles":["SMTP.SendAsApp"],"oid":"o","exp":1700000000,"secret":"x"}`))
	c := Claims("h." + payload + ".s")
	if c["aud"] != "https://outlook.office365.com" || c["oid"] != "o" || c["expires"] != "2023-11-14T22:13:20Z" || c["secret"] != nil {
		t.Fatalf("claims %v", c)
	}
	if Claims("not a token") != nil {
		t.Fatal("claims of no token")
	}
}

func TestHandler(t *testing.T) {
	h := Handler()
	total := 0
	for _, name := range []string{"/", "/app.js", "/style.css"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, name, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Security-Policy") != PageCSP {
			t.Fatalf("%s: %d %v", name, rec.Code, rec.Header())
		}
		total += rec.Body.Len()
	}
	t.Logf("first load: %d bytes", total)
	// The page never puts data into the DOM as markup.
	b, _ := static.ReadFile("static/app.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if strings.Contains(string(b), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
}
