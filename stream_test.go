package o365smtp_test

// Issue 14: streaming. The streamed rendering is go-mail's rendering: the
// same headers, MIME tree and decoded bytes (and, where go-mail's own
// output does not depend on map order, the same bytes); every attempt of a
// retried message sends the same bytes and Message-ID; an attachment that
// changes between the count and the attempt is never delivered; a message
// over SIZE is refused before MAIL without being buffered.

import (
	"bytes"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// pattern is n bytes of a pattern that is not periodic in 3 or 57.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// mimeLeaf is one leaf of a parsed MIME tree: where it is, its headers,
// and its decoded content.
type mimeLeaf struct {
	path   string
	header map[string][]string
	body   []byte
}

// mimeTree parses a message (net/mail, mime/multipart) into its leaves and
// returns them with the top-level header.
func mimeTree(t *testing.T, data []byte) (netmail.Header, []mimeLeaf) {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	var leaves []mimeLeaf
	var walk func(path string, h map[string][]string, body io.Reader)
	walk = func(path string, h map[string][]string, body io.Reader) {
		ct := textprotoGet(h, "Content-Type")
		mt, params, _ := mime.ParseMediaType(ct)
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for i := 0; ; i++ {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: multipart: %v", path, err)
				}
				walk(fmt.Sprintf("%s/%d", path, i), p.Header, p)
			}
			leaves = append(leaves, mimeLeaf{path: path, header: h})
			return
		}
		var r io.Reader = body
		switch strings.ToLower(textprotoGet(h, "Content-Transfer-Encoding")) {
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, body)
		case "quoted-printable":
			r = quotedprintable.NewReader(body)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: decoding: %v", path, err)
		}
		leaves = append(leaves, mimeLeaf{path: path, header: h, body: b})
	}
	walk("", m.Header, m.Body)
	return m.Header, leaves
}

func textprotoGet(h map[string][]string, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func TestStreamEquivalence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name string, content []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	png := pattern(4099, 7)
	cases := []struct {
		name  string
		build func(m *mail.Msg)
		files int  // streamed files
		order bool // go-mail writes headers in map order: compare parsed only
	}{
		{"text", func(m *mail.Msg) {}, 0, false},
		{"html+text", func(m *mail.Msg) {
			m.AddAlternativeString(mail.TypeTextHTML, "<p>hello, <b>world</b></p>")
		}, 0, false},
		{"file+reader", func(m *mail.Msg) {
			m.AttachFile(file("report.pdf", pattern(100_001, 1)))
			if err := m.AttachReader("data.csv", bytes.NewReader(pattern(5_000, 2))); err != nil {
				t.Fatal(err)
			}
		}, 2, false},
		{"inline images", func(m *mail.Msg) {
			m.SetBodyString(mail.TypeTextHTML, `<p><img src="cid:logo.png"> <img src="cid:chart.png"></p>`)
			m.AddAlternativeString(mail.TypeTextPlain, "the logo and the chart")
			m.EmbedFile(file("logo.png", png))
			if err := m.EmbedReader("chart.png", bytes.NewReader(pattern(777, 3))); err != nil {
				t.Fatal(err)
			}
			m.AttachReadSeeker("notes.txt", bytes.NewReader(pattern(58, 4)))
		}, 3, false},
		{"non-ASCII names", func(m *mail.Msg) {
			m.Subject("Grüße aus Köln — 日本語の件名 with a long tail to fold the header")
			m.SetBodyString(mail.TypeTextPlain, "Anbei der Bericht für März. Ça va?")
			m.AttachFile(file("Bericht für März.pdf", pattern(3_001, 5)))
			if err := m.AttachReader("報告書 2026.xlsx", bytes.NewReader(pattern(2, 6)),
				mail.WithFileDescription("Übersicht"), mail.WithFileContentType("application/vnd.ms-excel")); err != nil {
				t.Fatal(err)
			}
		}, 2, false},
		{"several sizes", func(m *mail.Msg) {
			for i, n := range []int{1, 2, 3, 56, 57, 58, 114, 1_000_003} {
				if err := m.AttachReader(fmt.Sprintf("part-%d.bin", i), bytes.NewReader(pattern(n, byte(10+i)))); err != nil {
					t.Fatal(err)
				}
			}
		}, 8, false},
		{"empty attachment", func(m *mail.Msg) {
			if err := m.AttachReader("empty.txt", bytes.NewReader(nil)); err != nil {
				t.Fatal(err)
			}
			m.AttachFile(file("empty.bin", nil))
		}, 2, false},
		{"lone attachment", func(m *mail.Msg) {
			m.UnsetAllParts()
			m.AttachFile(file("lone.bin", pattern(12_345, 8)))
		}, 1, true},
	}
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := pipeSender(t, srv, nil)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newMsg(t)
			c.build(m)
			files, size, err := o365smtp.StreamPlan(s, m)
			if err != nil {
				t.Fatal(err)
			}
			if files != c.files {
				t.Fatalf("%d files streamed, want %d", files, c.files)
			}
			if err := s.Send(pipeCtx(t), m); err != nil {
				t.Fatalf("Send = %v", err)
			}
			msgs := srv.Messages()
			if len(msgs) != i+1 {
				t.Fatalf("%d messages, want %d", len(msgs), i+1)
			}
			got := msgs[i].Data
			// go-mail's own rendering, with the Date, Message-ID and
			// boundaries its first rendering fixed on m. A message that
			// does not end in CRLF gets one from DATA's end (RFC 5321
			// 4.1.1.4), which SIZE does not count.
			var want bytes.Buffer
			if _, err := m.WriteTo(&want); err != nil {
				t.Fatal(err)
			}
			if int64(want.Len()) != size {
				t.Errorf("go-mail renders %d bytes; the counting pass said %d", want.Len(), size)
			}
			if !bytes.HasSuffix(want.Bytes(), []byte("\r\n")) {
				want.WriteString("\r\n")
			}
			gh, gl := mimeTree(t, got)
			wh, wl := mimeTree(t, want.Bytes())
			if !reflect.DeepEqual(gh, wh) {
				t.Errorf("headers differ:\nstreamed %v\ngo-mail  %v", gh, wh)
			}
			if len(gl) != len(wl) {
				t.Fatalf("%d MIME nodes streamed, go-mail %d", len(gl), len(wl))
			}
			for j := range gl {
				g, w := gl[j], wl[j]
				if g.path != w.path || !reflect.DeepEqual(g.header, w.header) || !bytes.Equal(g.body, w.body) {
					t.Errorf("MIME node %q: streamed %v (%d bytes), go-mail %q %v (%d bytes)", g.path, g.header, len(g.body), w.path, w.header, len(w.body))
				}
			}
			if !c.order && !bytes.Equal(got, want.Bytes()) {
				t.Errorf("streamed bytes differ from go-mail's (%d and %d bytes)", len(got), want.Len())
			}
		})
	}
}

// TestStreamRetrySameBytes: the first attempt's data is refused after the
// final dot with a transient reply; the retry streams the message again,
// with the same Message-ID and the same bytes, to the raw server.
func TestStreamRetrySameBytes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var attempts [][]byte
	srv := newHSSMTP(t, func(s *hsSess, verb, _ string) bool {
		if verb != "DATAEND" {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, bytes.Clone(s.data))
		if len(attempts) == 1 {
			s.reply("451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)")
			return true
		}
		return false
	})
	cfg := srv.config(hsJWT(t))
	cfg.MaxAttempts = 3
	s := hsSender(t, cfg)
	o365smtp.SetRetryBackoff(s, time.Millisecond)
	content := pattern(3<<20+5, 9) // not a multiple of 3 or 57
	m := hsMsg(t, "retried")
	m.AttachFile(func() string {
		p := filepath.Join(t.TempDir(), "big.bin")
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}())
	if err := m.AttachReader("small.txt", strings.NewReader("a reader attachment")); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(hsCtx(t, 30*time.Second), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 2 {
		t.Fatalf("%d attempts reached the end of DATA, want 2", len(attempts))
	}
	if !bytes.Equal(attempts[0], attempts[1]) {
		t.Fatalf("the attempts differ: %d and %d bytes", len(attempts[0]), len(attempts[1]))
	}
	id := m.GetMessageID()
	if id == "" || !bytes.Contains(attempts[0], []byte("Message-ID: "+id+"\r\n")) {
		t.Errorf("Message-ID %q not in the attempts", id)
	}
	_, leaves := mimeTree(t, attempts[1])
	var found bool
	for _, l := range leaves {
		if sha256.Sum256(l.body) == sha256.Sum256(content) {
			found = true
		}
	}
	if !found {
		t.Error("the attachment did not arrive intact")
	}
}

// changing is an attachment whose content differs from one reading to
// the next (or fails), as a file rewritten during Send would.
func changing(fail bool) (*mail.File, *int) {
	calls := new(int)
	return &mail.File{Name: "changing.bin", Header: map[string][]string{}, Writer: func(w io.Writer) (int64, error) {
		*calls++
		if *calls > 1 && fail {
			return 0, errors.New("the file is gone")
		}
		n, err := w.Write(pattern(10_000, byte(*calls)))
		return int64(n), err
	}}, calls
}

// TestStreamChangedAttachment: content that changed since the counting
// pass (or that cannot be read again) fails the attempt before the final
// dot: ErrInvalidMessage, not retried, and nothing is delivered.
func TestStreamChangedAttachment(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail=%v", fail), func(t *testing.T) {
			srv := o365smtptest.NewServer()
			defer srv.Close()
			cfg := srv.Config()
			cfg.MaxAttempts = 3
			s, err := o365smtp.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			m := newMsg(t)
			f, calls := changing(fail)
			m.SetAttachments([]*mail.File{f})
			err = s.Send(pipeCtx(t), m)
			var e *o365smtp.Error
			if !errors.As(err, &e) || e.Kind != o365smtp.ErrInvalidMessage || e.Retryable() {
				t.Fatalf("Send = %v, want a final ErrInvalidMessage", err)
			}
			if *calls != 2 {
				t.Errorf("the attachment was read %d times, want 2 (count, one attempt)", *calls)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("%d messages delivered, want none", n)
			}
			send(t, pipeCtx(t), s) // the next message goes through
		})
	}
}

// generated is an attachment of n bytes made as it is read: no copy of it
// is ever whole in memory.
func generated(n int64, calls *int) *mail.File {
	return &mail.File{Name: "huge.bin", Header: map[string][]string{}, Writer: func(w io.Writer) (int64, error) {
		*calls++
		chunk := pattern(64<<10, 1)
		var done int64
		for done < n {
			k, err := w.Write(chunk[:min(int64(len(chunk)), n-done)])
			done += int64(k)
			if err != nil {
				return done, err
			}
		}
		return done, nil
	}}
}

// TestStreamTooLargeNotBuffered: a 40 MB attachment to a server whose SIZE
// is 1 MB is refused before MAIL, and Send allocates far less than the
// message (the attachment is read once, to count it).
func TestStreamTooLargeNotBuffered(t *testing.T) {
	srv := o365smtptest.NewServer(o365smtptest.WithMaxMessageSize(1 << 20))
	defer srv.Close()
	tr := &transcript{}
	s := pipeSender(t, srv, tr)
	send(t, pipeCtx(t), s) // warm: SIZE is known
	m := newMsg(t)
	calls := 0
	m.SetAttachments([]*mail.File{generated(40<<20, &calls)})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := s.Send(pipeCtx(t), m)
	runtime.ReadMemStats(&after)
	var e *o365smtp.Error
	if !errors.As(err, &e) || e.Kind != o365smtp.ErrInvalidMessage || !strings.Contains(e.Message, "server accepts at most") {
		t.Fatalf("Send = %v, want ErrInvalidMessage (too large)", err)
	}
	if n := tr.count("MAIL FROM"); n != 1 {
		t.Errorf("%d MAIL FROM, want 1 (the warm-up's)", n)
	}
	if calls != 1 {
		t.Errorf("the attachment was read %d times, want once (the count)", calls)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("Send allocated %d bytes for a 40 MB attachment: it was buffered", alloc)
	}
}

// TestStreamFallback: a message with middleware, S/MIME or DKIM signing
// is rendered into memory (0 files streamed) and delivered whole, signed.
func TestStreamFallback(t *testing.T) {
	key, err := rsa.GenerateKey(crand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sender@contoso.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), EmailAddresses: []string{"sender@contoso.com"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		set  func(m *mail.Msg)
		mark string // in the delivered message
	}{
		{"middleware", func(m *mail.Msg) { mail.WithMiddleware(&stamp{})(m) }, "X-Stamp: x"},
		{"S/MIME", func(m *mail.Msg) {
			if err := m.SignWithKeypair(key, cert, nil); err != nil {
				t.Fatal(err)
			}
		}, "application/pkcs7-signature"},
		{"DKIM", func(m *mail.Msg) { m.SetDKIM(mail.NewDKIMSigner("contoso.com", "s1", key)) }, "DKIM-Signature: "},
	}
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := pipeSender(t, srv, nil)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := bigMsg(t, 100_000)
			c.set(m)
			files, _, err := o365smtp.StreamPlan(s, m)
			if err != nil {
				t.Fatal(err)
			}
			if files != 0 {
				t.Fatalf("%d files streamed, want 0 (the buffered path)", files)
			}
			if err := s.Send(pipeCtx(t), m); err != nil {
				t.Fatalf("Send = %v", err)
			}
			msgs := srv.Messages()
			if len(msgs) != i+1 || !bytes.Contains(msgs[i].Data, []byte(c.mark)) {
				t.Fatalf("%d messages; want %d, the last with %q", len(msgs), i+1, c.mark)
			}
		})
	}
	if files, _, _ := o365smtp.StreamPlan(s, bigMsg(t, 100_000)); files != 1 {
		t.Fatalf("%d files streamed without them, want 1", files)
	}
}

// TestBDATSwitch: with the benchmarks' switch, a streamed message goes as
// BDAT n LAST in one flight with MAIL and RCPT, arrives as go-mail renders
// it, and the session goes on (no DATA is sent).
func TestBDATSwitch(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	tr := &transcript{}
	s := pipeSender(t, srv, tr)
	o365smtp.SetBDAT(s, true)
	m := bigMsg(t, 300_001)
	if err := s.Send(pipeCtx(t), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	send(t, pipeCtx(t), s)
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	var want bytes.Buffer
	if _, err := m.WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msgs[0].Data, want.Bytes()) {
		t.Errorf("delivered %d bytes, go-mail renders %d: they differ", len(msgs[0].Data), want.Len())
	}
	if b, d := tr.count("BDAT"), tr.count("DATA"); b != 2 || d != 0 {
		t.Errorf("%d BDAT and %d DATA, want 2 and 0", b, d)
	}
}

// TestStreamConcurrentSends: distinct messages with attachments sent from
// many goroutines at once (run with -race) each arrive whole.
func TestStreamConcurrentSends(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	cfg.MaxConnections = 3
	s, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 12
	want := map[string][32]byte{}
	msgs := make([]*mail.Msg, n)
	for i := range msgs {
		m := newMsg(t)
		subj := fmt.Sprintf("concurrent %d", i)
		m.Subject(subj)
		content := pattern(20_000+i*57+i, byte(i))
		want[subj] = sha256.Sum256(content)
		m.AttachReadSeeker("part.bin", bytes.NewReader(content))
		msgs[i] = m
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, m := range msgs {
		wg.Go(func() { errs <- s.Send(pipeCtx(t), m) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send = %v", err)
		}
	}
	got := srv.Messages()
	if len(got) != n {
		t.Fatalf("%d messages, want %d", len(got), n)
	}
	for _, m := range got {
		subj := m.Header.Get("Subject")
		_, leaves := mimeTree(t, m.Data)
		ok := false
		for _, l := range leaves {
			ok = ok || sha256.Sum256(l.body) == want[subj]
		}
		if !ok {
			t.Errorf("%q: the attachment did not arrive intact", subj)
		}
		delete(want, subj)
	}
	if len(want) != 0 {
		t.Errorf("not delivered: %v", want)
	}
}

// TestStreamGraph: a streamed message (a file attachment, a Bcc) through
// Graph's sendMail: rendered into the bounded buffer, it arrives whole,
// with the Bcc recipient.
func TestStreamGraph(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := graphSender(t, srv, o365smtp.TransportGraph)
	m := graphMsg(t, "someone@example.com")
	if err := m.Bcc("hidden@example.com"); err != nil {
		t.Fatal(err)
	}
	content := pattern(300_001, 42)
	p := filepath.Join(t.TempDir(), "Bericht für März.pdf")
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	m.AttachFile(p)
	if files, _, err := o365smtp.StreamPlan(s, m); err != nil || files != 1 {
		t.Fatalf("StreamPlan = %d files, %v; want 1 streamed", files, err)
	}
	if err := s.Send(pipeCtx(t), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Transport != "graph" || len(msgs[0].To) != 2 || msgs[0].To[1] != "hidden@example.com" {
		t.Fatalf("messages: %+v", msgs)
	}
	_, leaves := mimeTree(t, msgs[0].Data)
	ok := false
	for _, l := range leaves {
		ok = ok || bytes.Equal(l.body, content)
	}
	if !ok {
		t.Error("the attachment did not arrive intact")
	}
}

// TestStreamChangedAttachmentGraph: over Graph, an attachment that changes
// or fails between the count and the rendering is a final
// ErrInvalidMessage; it is not mistaken for a message too large for
// sendMail, so no draft is made and no Graph request is sent.
func TestStreamChangedAttachmentGraph(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fail=%v", fail), func(t *testing.T) {
			srv := o365smtptest.NewServer()
			defer srv.Close()
			s := graphSender(t, srv, o365smtp.TransportGraph)
			m := newMsg(t)
			f, calls := changing(fail)
			m.SetAttachments([]*mail.File{f})
			err := s.Send(pipeCtx(t), m)
			var e *o365smtp.Error
			if !errors.As(err, &e) || e.Kind != o365smtp.ErrInvalidMessage || e.Retryable() || e.Op != "message" {
				t.Fatalf("Send = %v, want a final ErrInvalidMessage of Op message", err)
			}
			if *calls != 2 {
				t.Errorf("the attachment was read %d times, want 2 (count, rendering)", *calls)
			}
			if n, d := srv.GraphRequests(), srv.GraphDrafts(); n != 0 || d != 0 {
				t.Errorf("%d Graph requests and %d drafts, want none", n, d)
			}
		})
	}
}
