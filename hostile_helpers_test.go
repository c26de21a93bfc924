package o365smtp_test

// Helpers of the hostile-peer tests (issue 12): a self-signed certificate,
// a hand-written SMTP server on a raw listener whose every step a test can
// replace, an HTTPS token endpoint with OIDC discovery whose token handler
// a test writes, and the checks that no secret is reachable from an error
// or a log. Every name here starts with "hs" so that it cannot collide with
// the helpers of the other test files.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
)

const (
	hsTenant  = "8c2a7f1e-4b3d-4e5f-9a6b-1c2d3e4f5a6b"
	hsClient  = "0f1e2d3c-4b5a-4968-8776-655443322110"
	hsMailbox = "sender@contoso.com"
)

// hsCtx is the per-test context: a missing fix fails fast, never hangs.
func hsCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// hsAsError returns err as an *o365smtp.Error, or fails the test.
func hsAsError(t testing.TB, err error) *o365smtp.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want an *o365smtp.Error")
	}
	var e *o365smtp.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *o365smtp.Error", hsShort(err.Error()), err)
	}
	return e
}

// hsShort cuts s for a test failure message.
func hsShort(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// hsMsg is a message with a unique subject.
func hsMsg(t testing.TB, subject string) *mail.Msg {
	t.Helper()
	m := mail.NewMsg()
	if err := m.To("alice@example.net"); err != nil {
		t.Fatal(err)
	}
	m.Subject(subject)
	m.SetBodyString(mail.TypeTextPlain, "hostile peers test: "+subject)
	return m
}

// hsSender makes a Sender that is closed when the test ends.
func hsSender(t testing.TB, cfg o365smtp.Config) *o365smtp.Sender {
	t.Helper()
	s, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// hsCert makes a self-signed certificate for 127.0.0.1 and a pool that
// trusts it.
func hsCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "hostile.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost", "hostile.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// hsJWT returns a token shaped like an Entra access token (three base64url
// parts), random, so that a test can search for it and its fragments.
func hsJWT(t testing.TB) string {
	t.Helper()
	nonce := make([]byte, 16)
	sig := make([]byte, 256)
	rand.Read(nonce)
	rand.Read(sig)
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"RS256","x5t":"hostile","kid":"hostile"}`))
	body, _ := json.Marshal(map[string]any{
		"aud": "https://outlook.office365.com", "iss": "https://sts.windows.net/" + hsTenant + "/",
		"appid": hsClient, "oid": "5d6e7f80-1a2b-4c3d-9e8f-a0b1c2d3e4f5", "roles": []string{"SMTP.SendAsApp"},
		"tid": hsTenant, "exp": time.Now().Add(time.Hour).Unix(), "uti": base64.RawURLEncoding.EncodeToString(nonce),
	})
	return hdr + "." + base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// hsXOAUTH2Blob is the SASL XOAUTH2 initial response the client sends.
func hsXOAUTH2Blob(user, token string) string {
	return base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"))
}

// hsFixedToken is a TokenSource with one token that expires far away.
func hsFixedToken(tok string) o365smtp.TokenSource {
	return o365smtp.TokenSourceFunc(func(context.Context) (o365smtp.Token, error) {
		return o365smtp.Token{AccessToken: tok, ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
	})
}

// ---------------------------------------------------------------------------
// The SMTP server.

// hsSess is one SMTP session of an hsSMTP server, as a hook sees it.
type hsSess struct {
	srv  *hsSMTP
	n    int // connection number, from 1
	conn net.Conn
	br   *bufio.Reader
	tls  bool
	done bool // set by a hook to end the session (the connection is closed)
	data []byte
}

// write writes s as it is (the hook supplies CRLFs).
func (s *hsSess) write(str string) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
	_, err := io.WriteString(s.conn, str)
	return err
}

// reply writes one reply line with CRLF.
func (s *hsSess) reply(line string) error { return s.write(line + "\r\n") }

// flood writes chunk repeatedly until the client goes away or max bytes
// have been written; it returns the bytes written.
func (s *hsSess) flood(chunk []byte, max int64) int64 {
	var n int64
	for n < max {
		_ = s.conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
		w, err := s.conn.Write(chunk)
		n += int64(w)
		if err != nil {
			break
		}
	}
	return n
}

// hsEvent is what the server saw: a command verb (or BANNER, DATAEND) and
// the line.
type hsEvent struct {
	conn int
	verb string
	line string
}

// hsSMTP is an SMTP server on a raw listener, speaking by hand. Its
// default behaviour is a polite Exchange look-alike (STARTTLS, then AUTH
// XOAUTH2 accepting any token); on, if set, is called at each step first
// and replaces the default when it returns true.
type hsSMTP struct {
	host string
	port int
	pool *x509.CertPool
	on   func(s *hsSess, verb, line string) bool

	ln     net.Listener
	tlsCfg *tls.Config
	wg     sync.WaitGroup

	mu       sync.Mutex
	conns    int
	open     map[net.Conn]bool
	events   []hsEvent
	accepted []string // Subject of each message accepted by the default DATAEND
	rcvd     int64    // bytes received from clients
}

// newHSSMTP starts an SMTP server; on may be nil. It stops when the test
// ends.
func newHSSMTP(t testing.TB, on func(s *hsSess, verb, line string) bool) *hsSMTP {
	t.Helper()
	cert, pool := hsCert(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &hsSMTP{pool: pool, on: on, ln: ln, open: map[net.Conn]bool{},
		tlsCfg: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	h, p, _ := net.SplitHostPort(ln.Addr().String())
	srv.host = h
	srv.port, _ = strconv.Atoi(p)
	srv.wg.Add(1)
	go srv.serve()
	t.Cleanup(srv.close)
	return srv
}

func (srv *hsSMTP) close() {
	srv.ln.Close()
	srv.mu.Lock()
	for c := range srv.open {
		c.Close()
	}
	srv.mu.Unlock()
	srv.wg.Wait()
}

func (srv *hsSMTP) serve() {
	defer srv.wg.Done()
	for {
		c, err := srv.ln.Accept()
		if err != nil {
			return
		}
		srv.mu.Lock()
		srv.conns++
		n := srv.conns
		srv.open[c] = true
		srv.mu.Unlock()
		srv.wg.Add(1)
		go func() {
			defer srv.wg.Done()
			srv.session(c, n)
		}()
	}
}

// config is a Config for this server with a fixed-token TokenSource.
func (srv *hsSMTP) config(tok string) o365smtp.Config {
	return o365smtp.Config{
		Mailbox:           hsMailbox,
		TokenSource:       hsFixedToken(tok),
		Host:              srv.host,
		Port:              srv.port,
		Security:          o365smtp.SecurityStartTLS,
		TLSConfig:         &tls.Config{RootCAs: srv.pool},
		MessagesPerMinute: -1,
		MaxAttempts:       1,
	}
}

func (srv *hsSMTP) record(n int, verb, line string) {
	srv.mu.Lock()
	srv.events = append(srv.events, hsEvent{n, verb, line})
	srv.mu.Unlock()
}

// count returns how many events of verb the server saw.
func (srv *hsSMTP) count(verb string) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	k := 0
	for _, e := range srv.events {
		if e.verb == verb {
			k++
		}
	}
	return k
}

// connections returns how many connections the server accepted.
func (srv *hsSMTP) connections() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.conns
}

// acceptedSubjects returns the subjects of the messages accepted.
func (srv *hsSMTP) acceptedSubjects() []string {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return append([]string(nil), srv.accepted...)
}

const (
	hsEHLOPlain = "250-hostile.test Hello [127.0.0.1]\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n"
	hsEHLOTLS   = "250-hostile.test Hello [127.0.0.1]\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n250-AUTH LOGIN XOAUTH2\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
	hsDataOK    = "250 2.0.0 OK <hostile-%d@hostile.test> [Hostname=hostile.test]"
)

func (srv *hsSMTP) session(c net.Conn, n int) {
	s := &hsSess{srv: srv, n: n, conn: c, br: bufio.NewReader(c)}
	defer func() {
		srv.mu.Lock()
		delete(srv.open, c)
		srv.mu.Unlock()
		s.conn.Close()
	}()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	step := func(verb, line string, def func()) {
		srv.record(n, verb, line)
		if srv.on != nil && srv.on(s, verb, line) {
			return
		}
		def()
	}
	step("BANNER", "", func() {
		s.reply("220 hostile.test Microsoft ESMTP MAIL Service ready at " + time.Now().Format(time.RFC1123Z))
	})
	msgs := 0
	for !s.done {
		line, err := s.br.ReadString('\n')
		srv.mu.Lock()
		srv.rcvd += int64(len(line))
		srv.mu.Unlock()
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(line)
		if i := strings.IndexAny(verb, " :"); i >= 0 {
			verb = verb[:i]
		}
		switch verb {
		case "EHLO", "HELO":
			step(verb, line, func() {
				if s.tls {
					s.write(hsEHLOTLS)
				} else {
					s.write(hsEHLOPlain)
				}
			})
		case "STARTTLS":
			step(verb, line, func() {
				s.reply("220 2.0.0 SMTP server ready")
				s.startTLS()
			})
		case "AUTH":
			if strings.EqualFold(strings.TrimSpace(line), "AUTH XOAUTH2") {
				// The two-step form: the blob comes on its own line.
				s.reply("334 ")
				blob, err := s.br.ReadString('\n')
				if err != nil {
					return
				}
				line = line + " " + strings.TrimRight(blob, "\r\n")
			}
			step(verb, line, func() { s.reply("235 2.7.0 Authentication successful") })
		case "MAIL":
			step(verb, line, func() { s.reply("250 2.1.0 Sender OK") })
		case "RCPT":
			step(verb, line, func() { s.reply("250 2.1.5 Recipient OK") })
		case "DATA":
			srv.record(n, verb, line)
			if srv.on != nil && srv.on(s, verb, line) {
				continue
			}
			s.reply("354 Start mail input; end with <CRLF>.<CRLF>")
			var data bytes.Buffer
			for {
				l, err := s.br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			s.data = data.Bytes()
			msgs++
			step("DATAEND", "", func() {
				srv.accept(s.data)
				s.reply(fmt.Sprintf(hsDataOK, msgs))
			})
		case "RSET":
			step(verb, line, func() { s.reply("250 2.0.0 Resetting") })
		case "NOOP":
			step(verb, line, func() { s.reply("250 2.0.0 OK") })
		case "QUIT":
			step(verb, line, func() {
				s.reply("221 2.0.0 Service closing transmission channel")
				s.done = true
			})
		default:
			step(verb, line, func() { s.reply("500 5.3.3 Unrecognized command") })
		}
	}
}

// startTLS runs the server side of the TLS handshake.
func (s *hsSess) startTLS() {
	tc := tls.Server(s.conn, s.srv.tlsCfg)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		s.done = true
		return
	}
	_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
	s.srv.mu.Lock()
	delete(s.srv.open, s.conn)
	s.srv.open[tc] = true
	s.srv.mu.Unlock()
	s.conn, s.br, s.tls = tc, bufio.NewReader(tc), true
}

// accept records a message as delivered (the default DATAEND does).
func (srv *hsSMTP) accept(data []byte) {
	subj := ""
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "Subject: ") {
			subj = strings.TrimSpace(strings.TrimPrefix(l, "Subject: "))
			break
		}
	}
	srv.mu.Lock()
	srv.accepted = append(srv.accepted, subj)
	srv.mu.Unlock()
}

// ---------------------------------------------------------------------------
// The token endpoint.

// hsEntra is an HTTPS token endpoint with OpenID Connect discovery, as MSAL
// needs it; token answers each POST to the token endpoint (n counts them
// from 1).
type hsEntra struct {
	srv   *httptest.Server
	token func(w http.ResponseWriter, r *http.Request, n int)

	mu    sync.Mutex
	times []time.Time // arrival of each token request
	other []string    // other requests, for diagnosis
}

func newHSEntra(t testing.TB, token func(w http.ResponseWriter, r *http.Request, n int)) *hsEntra {
	t.Helper()
	e := &hsEntra{token: token}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := e.srv.URL + "/" + r.PathValue("tenant")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"response_modes_supported":              []string{"query", "fragment", "form_post"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
			"issuer":                                base + "/v2.0",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
			"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
			"tenant_region_scope":                   "NA",
			"cloud_instance_name":                   "microsoftonline.com",
		})
	})
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.times = append(e.times, time.Now())
		n := len(e.times)
		e.mu.Unlock()
		e.token(w, r, n)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.other = append(e.other, r.Method+" "+r.URL.Path)
		e.mu.Unlock()
		http.NotFound(w, r)
	})
	e.srv = httptest.NewTLSServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// requests returns the arrival times of the token requests.
func (e *hsEntra) requests() []time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Time(nil), e.times...)
}

// hsSecret is a client secret shaped like Entra's (40 characters with a
// "~"), distinct in every test.
func hsSecret(t testing.TB) string {
	t.Helper()
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
	b := make([]byte, 40)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	b[3] = '8'
	b[4] = 'Q'
	b[5] = '~'
	return string(b)
}

// config is a Config with a client secret against this endpoint; smtp, if
// not nil, is where mail goes once a token is issued.
func (e *hsEntra) config(secret string, smtp *hsSMTP) o365smtp.Config {
	cfg := o365smtp.Config{
		TenantID:          hsTenant,
		ClientID:          hsClient,
		ClientSecret:      secret,
		Mailbox:           hsMailbox,
		AuthorityHost:     e.srv.URL,
		HTTPClient:        e.srv.Client(),
		Host:              "127.0.0.1",
		Port:              1, // nothing listens: a token failure comes first
		Security:          o365smtp.SecurityStartTLS,
		MessagesPerMinute: -1,
		MaxAttempts:       1,
	}
	if smtp != nil {
		cfg.Host, cfg.Port = smtp.host, smtp.port
		cfg.TLSConfig = &tls.Config{RootCAs: smtp.pool}
	}
	return cfg
}

// hsTokenJSON is a successful token response.
func hsTokenJSON(tok string, expiresIn string) string {
	return `{"token_type":"Bearer","expires_in":` + expiresIn + `,"ext_expires_in":` + expiresIn + `,"access_token":"` + tok + `"}`
}

// ---------------------------------------------------------------------------
// Leak checks.

// hsBuf is a goroutine-safe log sink.
type hsBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *hsBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *hsBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// hsDebugLogger logs everything at Debug into the returned buffer.
func hsDebugLogger() (*slog.Logger, *hsBuf) {
	b := &hsBuf{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// hsErrorTexts lists everything a caller can read from err: Error(), the
// *Error's Message and Hint, the fmt verbs, the JSON, and the Error() and
// %+v of every error in the Unwrap tree.
func hsErrorTexts(err error) map[string]string {
	out := map[string]string{}
	if err == nil {
		return out
	}
	out["Error()"] = err.Error()
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out["fmt "+f] = fmt.Sprintf(f, err)
	}
	var e *o365smtp.Error
	if errors.As(err, &e) {
		out["Message"] = e.Message
		out["Hint"] = e.Hint
		if b, jerr := json.Marshal(e); jerr == nil {
			out["json"] = string(b)
		}
	}
	var walk func(prefix string, err error, depth int)
	walk = func(prefix string, err error, depth int) {
		if err == nil || depth > 20 {
			return
		}
		out[prefix+".Error()"] = err.Error()
		out[prefix+" %+v"] = fmt.Sprintf("%+v", err)
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			walk(prefix+".Unwrap()", u.Unwrap(), depth+1)
		case interface{ Unwrap() []error }:
			for i, x := range u.Unwrap() {
				walk(fmt.Sprintf("%s.Unwrap()[%d]", prefix, i), x, depth+1)
			}
		}
	}
	walk("err", err, 0)
	return out
}

// hsFindLeak reports where a secret, or any 16-character fragment of it,
// appears in texts; "" if nowhere.
func hsFindLeak(texts map[string]string, secrets map[string]string) string {
	for sname, sec := range secrets {
		if sec == "" {
			continue
		}
		frags := []string{sec}
		if len(sec) > 16 {
			frags = frags[:0]
			for i := 0; i+16 <= len(sec); i++ {
				frags = append(frags, sec[i:i+16])
			}
		}
		for where, txt := range texts {
			for _, f := range frags {
				if i := strings.Index(txt, f); i >= 0 {
					lo, hi := max(0, i-40), min(len(txt), i+len(f)+40)
					return fmt.Sprintf("%s: fragment %q of the %s in %s: ...%q...", where, f, sname, where, txt[lo:hi])
				}
			}
		}
	}
	return ""
}
