package o365smtp_test

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
)

// rawServer answers every connection with script, a function of the raw
// connection: a server that misbehaves in ways the emulator is too polite
// for.
func rawServer(t *testing.T, script func(c net.Conn, r *bufio.Reader)) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			script(c, bufio.NewReader(c))
			c.Close()
		}
	}()
	h, p, _ := net.SplitHostPort(ln.Addr().String())
	port, _ = strconv.Atoi(p)
	return h, port
}

// A server that sends garbage, closes early or stays silent yields an
// *Error, never a panic or a hang past the context's deadline.
func TestMisbehavingServer(t *testing.T) {
	t.Parallel()
	silentUntilClosed := func(c net.Conn, r *bufio.Reader) { r.ReadString(0) }
	cases := []struct {
		name   string
		script func(c net.Conn, r *bufio.Reader)
		kinds  []o365smtp.Kind
	}{
		{"garbage greeting", func(c net.Conn, r *bufio.Reader) { c.Write([]byte("hello there\r\n")) }, []o365smtp.Kind{o365smtp.ErrConnection, o365smtp.ErrUnexpectedReply}},
		{"binary greeting", func(c net.Conn, r *bufio.Reader) { c.Write([]byte("\x00\xff\xfe\r\n\r\n")) }, []o365smtp.Kind{o365smtp.ErrConnection, o365smtp.ErrUnexpectedReply}},
		{"early close", func(c net.Conn, r *bufio.Reader) {}, []o365smtp.Kind{o365smtp.ErrConnection}},
		{"close after greeting", func(c net.Conn, r *bufio.Reader) { c.Write([]byte("220 hi\r\n")) }, []o365smtp.Kind{o365smtp.ErrConnection}},
		{"garbage EHLO reply", func(c net.Conn, r *bufio.Reader) {
			c.Write([]byte("220 hi\r\n"))
			r.ReadString('\n')
			c.Write([]byte("250-ok\r\nthis is not smtp\r\n"))
			r.ReadString('\n')
		}, []o365smtp.Kind{o365smtp.ErrConnection, o365smtp.ErrUnexpectedReply, o365smtp.ErrCanceled}},
		{"silence", silentUntilClosed, []o365smtp.Kind{o365smtp.ErrCanceled}},
		{"silent after greeting", func(c net.Conn, r *bufio.Reader) {
			c.Write([]byte("220 hi\r\n"))
			silentUntilClosed(c, r)
		}, []o365smtp.Kind{o365smtp.ErrCanceled}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host, port := rawServer(t, tc.script)
			s := newSender(t, o365smtp.Config{
				TenantID: "contoso.onmicrosoft.com", ClientID: "11111111-2222-3333-4444-555555555555",
				Mailbox: "sender@contoso.com", Host: host, Port: port, MaxAttempts: 1, MessagesPerMinute: -1,
				TokenSource: o365smtp.TokenSourceFunc(func(context.Context) (o365smtp.Token, error) {
					return o365smtp.Token{AccessToken: "static-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
				}),
			})
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := s.Send(ctx, newMsg(t))
			if d := time.Since(start); d > 500*time.Millisecond+o365smtp.ReplyGrace {
				t.Errorf("Send took %v; the context allowed 500ms", d)
			}
			e := asError(t, err)
			ok := false
			for _, k := range tc.kinds {
				ok = ok || e.Kind == k
			}
			if !ok {
				t.Errorf("kind %s (%v); want one of %v", e.Kind, err, tc.kinds)
			}
		})
	}
}
