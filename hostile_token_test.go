package o365smtp_test

// Issue 12, the token side: hostile and broken token endpoints, each an
// httptest TLS server with OpenID Connect discovery (hsEntra), trusted
// through Config.HTTPClient, with Config.AuthorityHost its URL.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
)

// hsTooLarge is how the Message or Hint must say the response was too large.
var hsTooLarge = regexp.MustCompile(`(?i)too large|too big|too long|larger than|exceed|limit`)

// The gzip bomb: concatenated gzip members (one stream to a reader), a JSON
// head, then members of 1 MiB of "A" each (about 1 KB compressed): 1024 of
// them are about 1 MB on the wire and 1 GiB decompressed.
var (
	hsBombOnce         sync.Once
	hsBombHead, hsBomb []byte
	hsBombTail         []byte
)

func hsGzip(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func hsBombParts() (head, member, tail []byte) {
	hsBombOnce.Do(func() {
		hsBombHead = hsGzip([]byte(`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"`))
		hsBomb = hsGzip(bytes.Repeat([]byte("A"), 1<<20))
		hsBombTail = hsGzip([]byte(`"}`))
	})
	return hsBombHead, hsBomb, hsBombTail
}

// hsValve is a client-side safety valve: a RoundTripper that cuts every
// response body off after 128 MiB (as the client reads it, after any
// decompression), so that a client that reads a bomb without bound fails
// the test instead of exhausting the machine. Its error says nothing about
// size, so a cut-off body is not mistaken for the library's own bound.
type hsValve struct {
	base    http.RoundTripper
	tripped atomic.Bool
	maxRead atomic.Int64 // the most bytes read of any one body
}

const hsValveCap = 128 << 20

func (v *hsValve) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := v.base.RoundTrip(r)
	if err == nil {
		resp.Body = &hsValveBody{ReadCloser: resp.Body, v: v}
	}
	return resp, err
}

type hsValveBody struct {
	io.ReadCloser
	v *hsValve
	n int64
}

func (b *hsValveBody) Read(p []byte) (int, error) {
	if b.n >= hsValveCap {
		b.v.tripped.Store(true)
		return 0, errors.New("hostile-test valve: body cut off")
	}
	if int64(len(p)) > hsValveCap-b.n {
		p = p[:hsValveCap-b.n]
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	for {
		m := b.v.maxRead.Load()
		if b.n <= m || b.v.maxRead.CompareAndSwap(m, b.n) {
			break
		}
	}
	return n, err
}

// hsValveClient returns a client like c whose responses pass the valve.
func hsValveClient(c *http.Client) (*http.Client, *hsValve) {
	v := &hsValve{base: c.Transport}
	if v.base == nil {
		v.base = http.DefaultTransport
	}
	nc := *c
	nc.Transport = v
	return &nc, v
}

// hsTokenAttack is a hostile token response; shared with the heap test.
type hsTokenAttack struct {
	name    string
	handler func(w http.ResponseWriter, r *http.Request, n int)
}

var hsTokenAttacks = []hsTokenAttack{
	{"gzip-bomb", func(w http.ResponseWriter, r *http.Request, _ int) {
		io.Copy(io.Discard, r.Body)
		head, member, tail := hsBombParts()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusOK)
		w.Write(head)
		for i := 0; i < 1024; i++ {
			if _, err := w.Write(member); err != nil {
				return
			}
		}
		w.Write(tail)
	}},
	{"10MB-token-body", func(w http.ResponseWriter, r *http.Request, _ int) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"`)
		chunk := bytes.Repeat([]byte("A"), 64<<10)
		for i := 0; i < 160; i++ { // 10 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `"}`)
	}},
	{"10MB-invalid-json", func(w http.ResponseWriter, r *http.Request, _ int) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte("<html>not json at all "), 3000)
		for n := 0; n < 10<<20; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}},
}

// hsTokenAttackByName returns the attack named name.
func hsTokenAttackByName(name string) hsTokenAttack {
	for _, a := range hsTokenAttacks {
		if a.name == name {
			return a
		}
	}
	panic("no attack " + name)
}

// Item 2: a gzip bomb and a 10 MB body end in an *Error of Kind
// ErrTokenRequest that says the response is too large (bounded at about
// 1 MiB after decompression).
func TestHostileTokenUnboundedResponse(t *testing.T) {
	for _, name := range []string{"gzip-bomb", "10MB-token-body"} {
		t.Run(name, func(t *testing.T) {
			e := newHSEntra(t, hsTokenAttackByName(name).handler)
			cfg := e.config(hsSecret(t), nil)
			var valve *hsValve
			cfg.HTTPClient, valve = hsValveClient(cfg.HTTPClient)
			s := hsSender(t, cfg)
			start := time.Now()
			err := s.Send(hsCtx(t, 15*time.Second), hsMsg(t, name))
			took := time.Since(start)
			if valve.tripped.Load() {
				t.Errorf("the client read more than %d MiB of the response: the test's valve cut it off", hsValveCap>>20)
			}
			te := hsAsError(t, err)
			if te.Kind != o365smtp.ErrTokenRequest {
				t.Errorf("Kind = %s (%s), want %s", te.Kind, hsShort(err.Error()), o365smtp.ErrTokenRequest)
			}
			if !hsTooLarge.MatchString(te.Message) && !hsTooLarge.MatchString(te.Hint) {
				t.Errorf("neither Message %q nor Hint %q says the response is too large", hsShort(te.Message), hsShort(te.Hint))
			}
			if len(te.Message) > 1024 {
				t.Errorf("Message is %d bytes, want at most 1 KiB", len(te.Message))
			}
			if n := valve.maxRead.Load(); n > 2<<20 {
				t.Errorf("the client read %.1f MiB of the (decompressed) response, want it bounded at about 1 MiB", float64(n)/(1<<20))
			}
			t.Logf("%s: %s in %v, %d bytes read", name, hsShort(err.Error()), took, valve.maxRead.Load())
		})
	}
}

// hsEchoBody returns a token handler that echoes the request's form body
// (with the client secret) in a response of the given shape.
func hsEchoBody(shape string) func(w http.ResponseWriter, r *http.Request, n int) {
	return func(w http.ResponseWriter, r *http.Request, _ int) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		form, _ := url.ParseQuery(string(body))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		switch shape {
		case "200-raw":
			w.WriteHeader(http.StatusOK)
			fmt.Fprintf(w, "Bad request, you sent: %s", body)
		case "200-decoded":
			w.WriteHeader(http.StatusOK)
			fmt.Fprintf(w, "{not json: secret=%s id=%s", form.Get("client_secret"), form.Get("client_id"))
		case "200-padded":
			// The secret far from the start, after 100 KB of text.
			w.WriteHeader(http.StatusOK)
			fmt.Fprintf(w, "<html>%s %s</html>", strings.Repeat("padding ", 12800), body)
		case "400-json":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"invalid_request","error_description":"AADSTS900144: The request body was: %s\r\nTrace ID: 0a1b2c3d-0000-4000-8000-000000000001\r\nCorrelation ID: 0a1b2c3d-0000-4000-8000-000000000002\r\nTimestamp: 2026-12-01 10:00:00Z","error_codes":[900144],"error_uri":"https://login.microsoftonline.com/error?code=900144","received":"%s"}`,
				strings.ReplaceAll(string(body), `"`, ``), form.Get("client_secret"))
		case "500-text":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "upstream said: client_secret=%s", form.Get("client_secret"))
		}
	}
}

// Item 4: raw bodies in errors. A 200 with 10 MB of invalid JSON gives a
// Message that is a short excerpt; a body that echoes the request leaves the
// client secret reachable from nothing: Message, Hint, Error() of every
// error in the Unwrap chain, the fmt verbs, the Debug log.
func TestHostileTokenRawBodies(t *testing.T) {
	t.Run("10MB-invalid-json", func(t *testing.T) {
		e := newHSEntra(t, hsTokenAttackByName("10MB-invalid-json").handler)
		s := hsSender(t, e.config(hsSecret(t), nil))
		err := s.Send(hsCtx(t, 15*time.Second), hsMsg(t, "invalid json"))
		te := hsAsError(t, err)
		if te.Kind != o365smtp.ErrTokenRequest {
			t.Errorf("Kind = %s, want %s", te.Kind, o365smtp.ErrTokenRequest)
		}
		if len(te.Message) > 1024 {
			t.Errorf("Message is %d bytes, want a short excerpt (at most 1 KiB)", len(te.Message))
		}
		if n := len(err.Error()); n > 2048 {
			t.Errorf("Error() is %d bytes, want at most 2 KiB", n)
		}
		for where, txt := range hsErrorTexts(err) {
			if len(txt) > 1<<20+4096 {
				t.Errorf("%s is %d bytes: the error keeps more than the 1 MiB the response is bounded to", where, len(txt))
			}
		}
	})
	for _, shape := range []string{"200-raw", "200-decoded", "200-padded", "400-json", "500-text"} {
		t.Run("echo-"+shape, func(t *testing.T) {
			e := newHSEntra(t, hsEchoBody(shape))
			secret := hsSecret(t)
			cfg := e.config(secret, nil)
			logger, logs := hsDebugLogger()
			cfg.Logger = logger
			s := hsSender(t, cfg)
			err := s.Send(hsCtx(t, 15*time.Second), hsMsg(t, "echo"))
			te := hsAsError(t, err)
			if len(te.Message) > 1024 {
				t.Errorf("Message is %d bytes, want at most 1 KiB", len(te.Message))
			}
			texts := hsErrorTexts(err)
			texts["debug log"] = logs.String()
			secrets := map[string]string{"client secret": secret, "form-encoded client secret": url.QueryEscape(secret)}
			if leak := hsFindLeak(texts, secrets); leak != "" {
				t.Errorf("client secret leaked: %s", leak)
			}
			t.Logf("Kind %s: %s", te.Kind, hsShort(err.Error()))
		})
	}
}

// hsPlainListener is a plain-HTTP listener that records every byte it
// receives and answers 400.
type hsPlainListener struct {
	ln    net.Listener
	bytes atomic.Int64
	conns atomic.Int64
	wg    sync.WaitGroup
}

func newHSPlainListener(t testing.TB) *hsPlainListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &hsPlainListener{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					p.bytes.Add(int64(len(line)))
					if err != nil || line == "\r\n" {
						break
					}
				}
				io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

// Item 5: a token endpoint that redirects POST /token, to plain HTTP or to
// another HTTPS host: no request reaches the target, and the error is an
// *Error of Kind ErrTokenRequest that says a redirect was refused.
func TestHostileTokenRedirect(t *testing.T) {
	plain := newHSPlainListener(t)
	var otherHits atomic.Int64
	var otherConns atomic.Int64
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, hsTokenJSON("stolen", "3599"))
	}))
	other.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			otherConns.Add(1)
		}
	}
	other.StartTLS()
	defer other.Close()
	plainURL := "http://" + plain.ln.Addr().String() + "/token"
	cases := []struct {
		name     string
		status   int
		location string
	}{
		{"307-to-plain-http", http.StatusTemporaryRedirect, plainURL},
		{"308-to-plain-http", http.StatusPermanentRedirect, plainURL},
		{"302-to-plain-http", http.StatusFound, plainURL},
		{"307-to-other-https", http.StatusTemporaryRedirect, other.URL + "/token"},
	}
	redirect := regexp.MustCompile(`(?i)redirect`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plain.bytes.Store(0)
			plain.conns.Store(0)
			otherHits.Store(0)
			otherConns.Store(0)
			e := newHSEntra(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Location", tc.location)
				w.WriteHeader(tc.status)
			})
			secret := hsSecret(t)
			cfg := e.config(secret, nil)
			cfg.HTTPClient = e.srv.Client() // trusts every httptest TLS server, "other" included
			s := hsSender(t, cfg)
			err := s.Send(hsCtx(t, 10*time.Second), hsMsg(t, "redirect"))
			te := hsAsError(t, err)
			if n := plain.bytes.Load(); n != 0 || plain.conns.Load() != 0 {
				t.Errorf("the plain-HTTP redirect target received %d bytes on %d connections", n, plain.conns.Load())
			}
			if n := otherHits.Load(); n != 0 || otherConns.Load() != 0 {
				t.Errorf("the other HTTPS host received %d requests on %d connections", n, otherConns.Load())
			}
			if te.Kind != o365smtp.ErrTokenRequest {
				t.Errorf("Kind = %s (%s), want %s", te.Kind, hsShort(err.Error()), o365smtp.ErrTokenRequest)
			}
			if !redirect.MatchString(te.Message) && !redirect.MatchString(te.Hint) {
				t.Errorf("neither Message %q nor Hint %q says a redirect was refused", hsShort(te.Message), hsShort(te.Hint))
			}
			if leak := hsFindLeak(hsErrorTexts(err), map[string]string{"client secret": secret}); leak != "" {
				t.Errorf("client secret leaked: %s", leak)
			}
			t.Logf("%s: %s", tc.name, hsShort(err.Error()))
		})
	}
}

// hsThrottleBody is Entra's AADSTS50196 error.
const hsThrottleBody = `{"error":"temporarily_unavailable","error_description":"AADSTS50196: The server terminated an operation because it encountered a client request loop. Please contact your app vendor.\r\nTrace ID: 5e6f7a8b-0000-4000-8000-00000000c001\r\nCorrelation ID: 5e6f7a8b-0000-4000-8000-00000000c002\r\nTimestamp: 2026-12-01 10:00:00Z","error_codes":[50196],"timestamp":"2026-12-01 10:00:00Z","trace_id":"5e6f7a8b-0000-4000-8000-00000000c001","correlation_id":"5e6f7a8b-0000-4000-8000-00000000c002","error_uri":"https://login.microsoftonline.com/error?code=50196"}`

// Item 7: 429 with Retry-After. The retry comes no sooner than Retry-After
// says (server-side timestamps: a lower bound on behaviour, not a measure of
// speed), in seconds and as an HTTP date; and with a deadline shorter than
// Retry-After, Send returns within the deadline with the throttling error,
// without asking again. The two slow cases run in parallel (~2-3 s).
func TestHostileTokenRetryAfter(t *testing.T) {
	slow := []struct {
		name  string
		value func() (header string, notBefore time.Time)
	}{
		{"seconds", func() (string, time.Time) { return "2", time.Now().Add(2 * time.Second) }},
		{"http-date", func() (string, time.Time) {
			d := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second)
			return d.Format(http.TimeFormat), d
		}},
	}
	for _, tc := range slow {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var notBefore time.Time
			tok := hsJWT(t)
			e := newHSEntra(t, func(w http.ResponseWriter, r *http.Request, n int) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				if n == 1 {
					h, nb := tc.value()
					mu.Lock()
					notBefore = nb
					mu.Unlock()
					w.Header().Set("Retry-After", h)
					w.WriteHeader(http.StatusTooManyRequests)
					io.WriteString(w, hsThrottleBody)
					return
				}
				io.WriteString(w, hsTokenJSON(tok, "3599"))
			})
			smtp := newHSSMTP(t, nil)
			cfg := e.config(hsSecret(t), smtp)
			cfg.MaxAttempts = 3
			cfg.RetryBackoff = time.Millisecond // only Retry-After may make it wait
			s := hsSender(t, cfg)
			err := s.Send(hsCtx(t, 15*time.Second), hsMsg(t, "retry-after "+tc.name))
			if err != nil {
				t.Errorf("Send = %v, want nil (the second token request succeeds)", err)
			}
			reqs := e.requests()
			if len(reqs) < 2 {
				t.Fatalf("%d token requests, want 2", len(reqs))
			}
			mu.Lock()
			nb := notBefore
			mu.Unlock()
			if reqs[1].Before(nb) {
				t.Errorf("the second token request came %v after the first, %v before Retry-After allowed",
					reqs[1].Sub(reqs[0]).Round(time.Millisecond), nb.Sub(reqs[1]).Round(time.Millisecond))
			}
			t.Logf("Retry-After %s: second request %v after the first", tc.name, reqs[1].Sub(reqs[0]).Round(time.Millisecond))
		})
	}
	t.Run("deadline-shorter", func(t *testing.T) {
		t.Parallel()
		e := newHSEntra(t, func(w http.ResponseWriter, r *http.Request, n int) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, hsThrottleBody)
		})
		cfg := e.config(hsSecret(t), nil)
		cfg.MaxAttempts = 3
		cfg.RetryBackoff = time.Millisecond
		s := hsSender(t, cfg)
		const limit = 1500 * time.Millisecond
		ctx := hsCtx(t, limit)
		start := time.Now()
		err := s.Send(ctx, hsMsg(t, "retry-after deadline"))
		took := time.Since(start)
		te := hsAsError(t, err)
		if took > limit+time.Second {
			t.Errorf("Send took %v with a %v deadline", took, limit)
		}
		if te.Kind != o365smtp.ErrTokenRequest || te.AADSTS != 50196 {
			t.Errorf("got Kind %s AADSTS %d (%s), want the throttling error (%s, AADSTS50196)", te.Kind, te.AADSTS, hsShort(err.Error()), o365smtp.ErrTokenRequest)
		}
		if n := len(e.requests()); n != 1 {
			t.Errorf("%d token requests, want 1: Retry-After 30 s was not honoured", n)
		}
	})
}

// Item 11: token lifetimes. expires_in 10^18 (which overflows MSAL's
// arithmetic) is cached (and clamped): three sends on three connections
// make one token request. expires_in 0 and -5: each new connection gets a
// fresh token. (expires_in written 1e18 is not an integer, which MSAL's
// parser refuses: TestHostileTokenUnparsableLifetime.)
func TestHostileTokenLifetimes(t *testing.T) {
	cases := []struct {
		expiresIn string
		want      int // token requests for 3 connections
	}{
		{"1000000000000000000", 1},
		{"0", 3},
		{"-5", 3},
	}
	for _, tc := range cases {
		t.Run("expires_in="+tc.expiresIn, func(t *testing.T) {
			tok := hsJWT(t)
			e := newHSEntra(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				io.WriteString(w, hsTokenJSON(tok, tc.expiresIn))
			})
			// The server hangs up instead of answering a second MAIL on a
			// session, so that each message needs a new connection (and
			// so a token).
			smtp := newHSSMTP(t, func(s *hsSess, verb, _ string) bool {
				if verb != "MAIL" || s.data == nil {
					return false
				}
				s.done = true
				return true
			})
			s := hsSender(t, e.config(hsSecret(t), smtp))
			ctx := hsCtx(t, 15*time.Second)
			for i := range 3 {
				if err := s.Send(ctx, hsMsg(t, fmt.Sprintf("lifetime %d", i))); err != nil {
					t.Errorf("Send %d = %v, want nil", i, err)
				}
			}
			if n := smtp.connections(); n != 3 {
				t.Errorf("%d SMTP connections, want 3", n)
			}
			reqs := len(e.requests())
			if reqs != tc.want {
				t.Errorf("expires_in %s: %d token requests for 3 connections, want %d", tc.expiresIn, reqs, tc.want)
			}
			t.Logf("expires_in %s: %d token requests for %d connections, %d AUTH", tc.expiresIn, reqs, smtp.connections(), smtp.count("AUTH"))
		})
	}
}

// Item 11: an expires_in that is not an integer (1e18) is a typed token
// error that names the field and carries neither the token nor the body.
func TestHostileTokenUnparsableLifetime(t *testing.T) {
	tok := hsJWT(t)
	e := newHSEntra(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, hsTokenJSON(tok, "1e18"))
	})
	smtp := newHSSMTP(t, nil)
	secret := hsSecret(t)
	s := hsSender(t, e.config(secret, smtp))
	err := s.Send(hsCtx(t, 10*time.Second), hsMsg(t, "lifetime 1e18"))
	te := hsAsError(t, err)
	if te.Kind != o365smtp.ErrTokenRequest || !strings.Contains(te.Message, "1e18") {
		t.Errorf("Send = %v; want ErrTokenRequest naming the unparsable expires_in", err)
	}
	for _, leak := range []string{tok[:40], tok[len(tok)-40:], secret} {
		if strings.Contains(te.Message, leak) || strings.Contains(fmt.Sprintf("%+v", err), leak) || strings.Contains(errors.Unwrap(err).Error(), leak) {
			t.Errorf("the error carries the token or the secret: %s", hsShort(err.Error()))
		}
	}
}
