package o365smtp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
)

// heapSinkEnv makes the test binary, run by BenchmarkAttachmentHeap, the
// benchmark's SMTP server instead of running tests (see TestMain).
const heapSinkEnv = "O365SMTP_HEAP_SINK"

func TestMain(m *testing.M) {
	if os.Getenv(heapSinkEnv) == "1" {
		heapSink()
		return
	}
	os.Exit(m.Run())
}

// sinkTB lets the raw server of hostile_helpers_test.go run outside a test,
// in the sink process: a helper's failure ends the process.
type sinkTB struct{ testing.TB }

func (sinkTB) Helper()                   {}
func (sinkTB) Cleanup(func())            {}
func (sinkTB) Fatal(args ...any)         { log.Fatal(args...) }
func (sinkTB) Fatalf(f string, a ...any) { log.Fatalf(f, a...) }

// heapSink is the server process of BenchmarkAttachmentHeap: the raw
// loopback server (STARTTLS, AUTH XOAUTH2 accepting any token). It prints
// "SINK host:port cert" (the certificate in base64 DER), then, for each
// message, "MSG size sha256" of the message's largest decoded MIME leaf.
// It exits when its standard input closes.
func heapSink() {
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	srv := newHSSMTP(sinkTB{}, func(s *hsSess, verb, _ string) bool {
		if verb != "DATAEND" {
			return false
		}
		n, sum := largestLeaf(s.data)
		mu.Lock()
		fmt.Fprintf(out, "MSG %d %s\n", n, sum)
		out.Flush()
		mu.Unlock()
		s.data = nil
		return false
	})
	cert := srv.tlsCfg.Certificates[0].Certificate[0]
	mu.Lock()
	fmt.Fprintf(out, "SINK %s:%d %s\n", srv.host, srv.port, base64.StdEncoding.EncodeToString(cert))
	out.Flush()
	mu.Unlock()
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.close()
}

// largestLeaf returns the size and SHA-256 of the largest decoded leaf of
// a message ("-" if it does not parse).
func largestLeaf(data []byte) (int, string) {
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return 0, "-"
	}
	var best []byte
	var walk func(ct, cte string, body io.Reader)
	walk = func(ct, cte string, body io.Reader) {
		mt, params, _ := mime.ParseMediaType(ct)
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err != nil {
					return
				}
				walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			}
		}
		if strings.EqualFold(cte, "base64") {
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		if b, err := io.ReadAll(body); err == nil && len(b) > len(best) {
			best = b
		}
	}
	walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	sum := sha256.Sum256(best)
	return len(best), hex.EncodeToString(sum[:])
}

// heapSinkProc is a running sink process.
type heapSinkProc struct {
	host  string
	port  int
	pool  *x509.CertPool
	lines *bufio.Scanner
	stdin io.Closer
	cmd   *exec.Cmd
}

// startHeapSink runs the test binary as the sink, in another process.
func startHeapSink(b *testing.B) *heapSinkProc {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), heapSinkEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &heapSinkProc{lines: bufio.NewScanner(stdout), stdin: stdin, cmd: cmd}
	p.lines.Buffer(make([]byte, 64<<10), 64<<10)
	b.Cleanup(func() {
		p.stdin.Close()
		_ = p.cmd.Wait()
	})
	f := strings.Fields(p.next(b))
	if len(f) != 3 || f[0] != "SINK" {
		b.Fatalf("the sink said %q", f)
	}
	hp := strings.Split(f[1], ":")
	p.host = hp[0]
	fmt.Sscan(hp[1], &p.port)
	der, err := base64.StdEncoding.DecodeString(f[2])
	if err != nil {
		b.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	p.pool = x509.NewCertPool()
	p.pool.AddCert(cert)
	return p
}

func (p *heapSinkProc) next(b *testing.B) string {
	if !p.lines.Scan() {
		b.Fatalf("the sink process ended: %v", p.lines.Err())
	}
	return p.lines.Text()
}

// received checks the sink's report of the last message: its attachment
// has n bytes and the SHA-256 sum.
func (p *heapSinkProc) received(b *testing.B, n int, sum string) {
	want := fmt.Sprintf("MSG %d %s", n, sum)
	if got := p.next(b); got != want {
		b.Fatalf("the server received %q, want %q: the attachment did not arrive intact", got, want)
	}
}

// BenchmarkAttachmentHeap: the peak heap growth (HeapAlloc sampled every
// millisecond, garbage included) during one Send of a message with a 30 MB
// file attachment, o365smtp against go-mail's DialAndSend, both in the
// same run, to a raw SMTP server in another process (this test binary,
// re-executed), which checks that the attachment arrived intact.
//
//	go test -run '^$' -bench AttachmentHeap -benchtime 3x -count 1 .
func BenchmarkAttachmentHeap(b *testing.B) {
	dir := b.TempDir()
	file := filepath.Join(dir, "report.bin")
	content := bytes.Repeat([]byte("0123456789abcdef\n"), 30<<20/17)
	if err := os.WriteFile(file, content, 0o600); err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	size := len(content)
	content = nil
	msg := func() *mail.Msg {
		m := mail.NewMsg()
		m.From(hsMailbox)
		m.To("alice@example.net")
		m.Subject("a 30 MB attachment")
		m.SetBodyString(mail.TypeTextPlain, "see the attachment")
		m.AttachFile(file)
		return m
	}
	sink := startHeapSink(b)
	tok := hsJWT(b)
	var ours, theirs float64
	b.Run("baseline=gomail-DialAndSend", func(b *testing.B) {
		c, err := mail.NewClient(sink.host, mail.WithPort(sink.port), mail.WithTLSPolicy(mail.TLSMandatory),
			mail.WithTLSConfig(&tls.Config{RootCAs: sink.pool, ServerName: sink.host}), mail.WithSMTPAuth(mail.SMTPAuthXOAUTH2),
			mail.WithUsername(hsMailbox), mail.WithPassword(tok), mail.WithoutNoop(), mail.WithoutSMTPUTF8())
		if err != nil {
			b.Fatal(err)
		}
		theirs = 0
		for range b.N {
			m := msg()
			stop := hsHeapPeak()
			if err := c.DialAndSendWithContext(context.Background(), m); err != nil && !strings.Contains(err.Error(), "QUIT") {
				b.Fatal(err)
			}
			alloc, _ := stop()
			sink.received(b, size, want)
			theirs = max(theirs, float64(alloc)/(1<<20))
		}
		b.ReportMetric(theirs, "peak-heap-MB")
		b.ReportMetric(theirs/30, "heap-MB-per-MB")
	})
	b.Run("o365smtp", func(b *testing.B) {
		s := hsSender(b, o365smtp.Config{
			Mailbox: hsMailbox, TokenSource: hsFixedToken(tok), Host: sink.host, Port: sink.port,
			Security: o365smtp.SecurityStartTLS, TLSConfig: &tls.Config{RootCAs: sink.pool}, MessagesPerMinute: -1, MaxAttempts: 1,
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ours = 0
		for range b.N {
			m := msg()
			stop := hsHeapPeak()
			if err := s.Send(ctx, m); err != nil {
				b.Fatal(err)
			}
			alloc, _ := stop()
			sink.received(b, size, want)
			ours = max(ours, float64(alloc)/(1<<20))
		}
		b.ReportMetric(ours, "peak-heap-MB")
		b.ReportMetric(ours/30, "heap-MB-per-MB")
		if theirs > 0 {
			b.ReportMetric(ours/theirs, "vs-gomail-x")
		}
	})
}
