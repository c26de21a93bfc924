package o365smtp_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail"
)

// discardData is a hook of the raw loopback server that reads the message
// data and forgets it, so that the measured heap is the client's alone.
func discardData(s *hsSess, verb, _ string) bool {
	if verb != "DATA" {
		return false
	}
	s.reply("354 Start mail input; end with <CRLF>.<CRLF>")
	for {
		l, err := s.br.ReadSlice('\n')
		if err != nil && err.Error() != "bufio: buffer full" {
			return true
		}
		if bytes.Equal(l, []byte(".\r\n")) {
			break
		}
	}
	s.reply("250 2.6.0 <x@test> Queued mail for delivery")
	return true
}

// BenchmarkAttachmentHeap: the peak heap growth during one Send of a
// message with a 30 MB file attachment, o365smtp against go-mail's
// DialAndSend, to a raw loopback server that discards the data.
//
//	go test -run '^$' -bench AttachmentHeap -benchtime 1x ./
func BenchmarkAttachmentHeap(b *testing.B) {
	dir := b.TempDir()
	file := filepath.Join(dir, "report.bin")
	if err := os.WriteFile(file, bytes.Repeat([]byte("0123456789abcdef\n"), 30<<20/17), 0o600); err != nil {
		b.Fatal(err)
	}
	msg := func() *mail.Msg {
		m := mail.NewMsg()
		m.From(hsMailbox)
		m.To("alice@example.net")
		m.Subject("a 30 MB attachment")
		m.SetBodyString(mail.TypeTextPlain, "see the attachment")
		m.AttachFile(file)
		return m
	}
	srv := newHSSMTP(b, discardData)
	tok := hsJWT(b)
	var ours, theirs float64
	b.Run("baseline=gomail-DialAndSend", func(b *testing.B) {
		cfg := srv.config(tok)
		c, err := mail.NewClient(cfg.Host, mail.WithPort(cfg.Port), mail.WithTLSPolicy(mail.TLSMandatory),
			mail.WithTLSConfig(&tls.Config{RootCAs: cfg.TLSConfig.RootCAs, ServerName: cfg.Host}), mail.WithSMTPAuth(mail.SMTPAuthXOAUTH2),
			mail.WithUsername(cfg.Mailbox), mail.WithPassword(tok), mail.WithoutNoop(), mail.WithoutSMTPUTF8())
		if err != nil {
			b.Fatal(err)
		}
		for range b.N {
			m := msg()
			stop := hsHeapPeak()
			if err := c.DialAndSendWithContext(context.Background(), m); err != nil && !strings.Contains(err.Error(), "QUIT") {
				b.Fatal(err)
			}
			alloc, _ := stop()
			theirs = float64(alloc) / (1 << 20)
		}
		b.ReportMetric(theirs, "peak-heap-MB")
	})
	b.Run("o365smtp", func(b *testing.B) {
		s := hsSender(b, srv.config(tok))
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for range b.N {
			m := msg()
			stop := hsHeapPeak()
			if err := s.Send(ctx, m); err != nil {
				b.Fatal(err)
			}
			alloc, _ := stop()
			ours = float64(alloc) / (1 << 20)
		}
		b.ReportMetric(ours, "peak-heap-MB")
		if theirs > 0 {
			b.ReportMetric(ours/theirs, "vs-gomail-x")
		}
	})
}
