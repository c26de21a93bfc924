package smtpclient

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCert is a self-signed ECDSA certificate for the IP 127.0.0.1, and a
// pool that trusts it.
var testCert = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtpclient test"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
})

func serverTLS() *tls.Config {
	cert, _ := testCert()
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

func clientTLS() *tls.Config {
	_, pool := testCert()
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// testServer is the server end of one scripted session. Its methods report
// failures with t.Errorf (they run on the server goroutine) and return false,
// so a script reads as a chain of &&.
type testServer struct {
	t    *testing.T
	conn net.Conn // the TCP connection, or TLS over it after upgrade
	br   *bufio.Reader
	quit <-chan struct{} // closed when the test ends
}

// startServer listens on 127.0.0.1, accepts one connection and runs script
// on it. The listener and the connection are closed, and the goroutine
// waited for, when the test ends.
func startServer(t *testing.T, script func(s *testServer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	var mu sync.Mutex
	var conn net.Conn
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-quit:
			default:
				t.Errorf("server: accept: %v", err)
			}
			return
		}
		mu.Lock()
		conn = c
		mu.Unlock()
		defer c.Close()
		// A safety net, so that a broken client cannot hang the test run.
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		s := &testServer{t: t, conn: c, br: bufio.NewReader(c), quit: quit}
		defer func() { s.conn.Close() }() // with TLS: close_notify first
		script(s)
	}()
	t.Cleanup(func() {
		close(quit)
		ln.Close()
		mu.Lock()
		if conn != nil {
			conn.Close()
		}
		mu.Unlock()
		<-done
	})
	return ln.Addr().String()
}

// dial connects a Client to addr; it is closed when the test ends (before
// the server's cleanup, which was registered earlier).
func dial(t *testing.T, addr string, cfg Config) *Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return newClient(t, conn, cfg)
}

func newClient(t *testing.T, conn net.Conn, cfg Config) *Client {
	t.Helper()
	if cfg.TLS == nil {
		cfg.TLS = clientTLS()
	}
	c := New(conn, cfg)
	t.Cleanup(func() { c.Close() })
	return c
}

// readLine reads one command line; it must end in CRLF.
func (s *testServer) readLine() (string, error) {
	l, err := s.br.ReadString('\n')
	if err != nil {
		return l, err
	}
	if !strings.HasSuffix(l, "\r\n") {
		s.t.Errorf("server: line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n"), nil
}

// expect reads one line, which must be want.
func (s *testServer) expect(want string) bool {
	got, err := s.readLine()
	if err != nil {
		s.t.Errorf("server: waiting for %q: %v", want, err)
		return false
	}
	if got != want {
		s.t.Errorf("server: got %q, want %q", got, want)
		return false
	}
	return true
}

// send writes raw in one Write.
func (s *testServer) send(raw string) bool {
	if _, err := io.WriteString(s.conn, raw); err != nil {
		s.t.Errorf("server: write %q: %v", raw, err)
		return false
	}
	return true
}

// cmd expects the line want and answers reply.
func (s *testServer) cmd(want, reply string) bool { return s.expect(want) && s.send(reply) }

// upgrade runs the server side of the TLS handshake.
func (s *testServer) upgrade() bool {
	if n := s.br.Buffered(); n > 0 {
		s.t.Errorf("server: %d bytes pipelined before the TLS handshake", n)
		return false
	}
	tc := tls.Server(s.conn, serverTLS())
	if err := tc.Handshake(); err != nil {
		s.t.Errorf("server: TLS handshake: %v", err)
		return false
	}
	s.conn, s.br = tc, bufio.NewReader(tc)
	return true
}

// readData reads message lines up to the final dot, which is not returned.
func (s *testServer) readData() ([]string, bool) {
	var lines []string
	for {
		l, err := s.readLine()
		if err != nil {
			s.t.Errorf("server: in the message data: %v", err)
			return lines, false
		}
		if l == "." {
			return lines, true
		}
		lines = append(lines, l)
	}
}

// wait waits for ch, or the end of the test.
func (s *testServer) wait(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-s.quit:
		return false
	}
}

// drain reads until the client closes its end and returns what it read.
func (s *testServer) drain() []byte {
	b, _ := io.ReadAll(s.br)
	return b
}

// Replies of the scripted servers.
const (
	greeting220 = "220 mx.test Microsoft ESMTP MAIL Service ready\r\n"
	ehloPlain   = "250-mx.test Hello [127.0.0.1]\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
	ehloTLS     = "250-mx.test Hello [127.0.0.1]\r\n250-SIZE 157286400\r\n250-AUTH LOGIN XOAUTH2\r\n250 8BITMIME\r\n"
	starttls220 = "220 2.0.0 SMTP server ready\r\n"
	quit221     = "221 2.0.0 Service closing transmission channel\r\n"
	data354     = "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
)
