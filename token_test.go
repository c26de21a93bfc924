package o365smtp

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp/internal/clock"
)

// testStart is where the fake clocks of the internal tests start.
var testStart = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newTestCache(fetch func(ctx context.Context) (Token, error)) (*cachedSource, *clock.Fake) {
	clk := clock.NewFake(testStart)
	c := &cachedSource{fetch: fetch, clock: clk, redact: func() []string { return nil }}
	return c, clk
}

func TestTokenCacheMargin(t *testing.T) {
	var n atomic.Int32
	var c *cachedSource
	var clk *clock.Fake
	c, clk = newTestCache(func(context.Context) (Token, error) {
		i := n.Add(1)
		return Token{AccessToken: fmt.Sprint("tok", i), ExpiresOn: clk.Now().Add(time.Hour)}, nil
	})
	ctx := context.Background()
	get := func() (string, bool) {
		t.Helper()
		tok, cached, err := c.token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken, cached
	}
	if tok, cached := get(); tok != "tok1" || cached {
		t.Fatalf("first = %s cached=%v", tok, cached)
	}
	clk.Advance(49 * time.Minute) // 11 min left: more than the 10 min margin
	if tok, cached := get(); tok != "tok1" || !cached {
		t.Fatalf("at 49m = %s cached=%v; want tok1 from cache", tok, cached)
	}
	clk.Advance(61 * time.Second) // 9m59s left
	if tok, cached := get(); tok != "tok2" || cached {
		t.Fatalf("at 50m01s = %s cached=%v; want a fresh tok2", tok, cached)
	}
	if got := c.requests.Load(); got != 2 {
		t.Errorf("requests = %d; want 2", got)
	}
}

func TestTokenCacheShortLifetimeUsesHalf(t *testing.T) {
	var clk *clock.Fake
	var n atomic.Int32
	c, clk := newTestCache(func(context.Context) (Token, error) {
		n.Add(1)
		return Token{AccessToken: "t", ExpiresOn: clk.Now().Add(8 * time.Minute)}, nil
	})
	c.token(context.Background())
	clk.Advance(3*time.Minute + 59*time.Second)
	c.token(context.Background())
	if n.Load() != 1 {
		t.Fatalf("fetches = %d before half-life; want 1", n.Load())
	}
	clk.Advance(2 * time.Second)
	c.token(context.Background())
	if n.Load() != 2 {
		t.Fatalf("fetches = %d after half-life; want 2", n.Load())
	}
}

func TestTokenZeroExpiryNotCached(t *testing.T) {
	var n atomic.Int32
	c, _ := newTestCache(func(context.Context) (Token, error) {
		n.Add(1)
		return Token{AccessToken: "t"}, nil
	})
	for range 3 {
		if _, cached, err := c.token(context.Background()); err != nil || cached {
			t.Fatalf("token: cached=%v err=%v", cached, err)
		}
	}
	if n.Load() != 3 {
		t.Errorf("fetches = %d; want 3 (zero ExpiresOn is never cached)", n.Load())
	}
}

func TestTokenSingleFlight(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int32
	var clk *clock.Fake
	c, clk := newTestCache(func(context.Context) (Token, error) {
		n.Add(1)
		<-release
		return Token{AccessToken: "t", ExpiresOn: clk.Now().Add(time.Hour)}, nil
	})
	var wg sync.WaitGroup
	started := make(chan struct{}, 50)
	for range 50 {
		wg.Go(func() {
			started <- struct{}{}
			if tok, err := c.Token(context.Background()); err != nil || tok.AccessToken != "t" {
				t.Errorf("Token = %v, %v", tok, err)
			}
		})
	}
	for range 50 {
		<-started
	}
	close(release)
	wg.Wait()
	if n.Load() != 1 {
		t.Errorf("fetches = %d for 50 concurrent cold callers; want 1", n.Load())
	}
}

func TestTokenWaiterCancellable(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{})
	c, _ := newTestCache(func(ctx context.Context) (Token, error) {
		close(entered)
		<-release
		return Token{}, errors.New("never")
	})
	go c.Token(context.Background()) // the flight's leader
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Token(ctx)
	if !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Token with canceled ctx = %v; want ErrCanceled wrapping context.Canceled", err)
	}
}

func TestTokenInvalidateOnce(t *testing.T) {
	var n atomic.Int32
	var clk *clock.Fake
	c, clk := newTestCache(func(context.Context) (Token, error) {
		i := n.Add(1)
		return Token{AccessToken: fmt.Sprint("tok", i), ExpiresOn: clk.Now().Add(time.Hour)}, nil
	})
	tok, _ := c.Token(context.Background())
	c.invalidate(tok.AccessToken)
	c.invalidate(tok.AccessToken) // a second caller that saw the same token
	t2, _ := c.Token(context.Background())
	c.invalidate(tok.AccessToken) // late: must not drop tok2
	t3, _ := c.Token(context.Background())
	if t2.AccessToken != "tok2" || t3.AccessToken != "tok2" || n.Load() != 2 {
		t.Errorf("after invalidation: %s %s fetches=%d; want tok2 tok2 2", t2.AccessToken, t3.AccessToken, n.Load())
	}
}

func TestTokenFormatRedacts(t *testing.T) {
	const secret = "eyJ.secret.sig"
	for _, tok := range []Token{
		{AccessToken: secret, ExpiresOn: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)},
		{AccessToken: secret},
	} {
		var out []string
		for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %[1]v"} {
			out = append(out, fmt.Sprintf(f, tok), fmt.Sprintf(f, &tok), fmt.Sprintf(f, []Token{tok}))
		}
		var logs strings.Builder
		for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
			slog.New(h).Info("token", "tok", tok, "ptr", &tok)
		}
		out = append(out, logs.String())
		all := strings.Join(out, "\n")
		if strings.Contains(all, secret) || strings.Contains(all, hex.EncodeToString([]byte(secret))) {
			t.Errorf("the access token is printed:\n%s", all)
		}
		if !strings.Contains(all, redacted) {
			t.Errorf("no %s marker: the test would prove nothing:\n%s", redacted, all)
		}
	}
	if got, want := fmt.Sprint(Token{}), "Token{AccessToken:empty}"; got != want {
		t.Errorf("Sprint(Token{}) = %s; want %s", got, want)
	}
}

func TestTokenGoString(t *testing.T) {
	exp := time.Date(2026, 11, 26, 12, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		tok  Token
		want string
	}{
		{Token{AccessToken: "eyJ.secret.sig", ExpiresOn: exp},
			`o365smtp.Token{AccessToken:"[REDACTED]", ExpiresOn:time.Date(2026, time.November, 26, 12, 30, 0, 0, time.UTC)}`},
		{Token{AccessToken: "eyJ.secret.sig"}, `o365smtp.Token{AccessToken:"[REDACTED]"}`},
		{Token{}, `o365smtp.Token{AccessToken:""}`},
	} {
		got := fmt.Sprintf("%#v", c.tok)
		if got != c.want {
			t.Errorf("%%#v = %s; want %s", got, c.want)
		}
		if _, err := parser.ParseExpr(got); err != nil {
			t.Errorf("%%#v = %s is not Go syntax: %v", got, err)
		}
	}
}

// A Token's JSON is the token: a shared token cache stores it and reads it
// back.
func TestTokenJSONRoundTrip(t *testing.T) {
	exp := time.Date(2026, 11, 26, 12, 30, 0, 0, time.FixedZone("CET", 3600))
	for _, in := range []Token{{AccessToken: "eyJ.secret.sig", ExpiresOn: exp}, {AccessToken: "opaque"}, {}} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Token
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if out.AccessToken != in.AccessToken || !out.ExpiresOn.Equal(in.ExpiresOn) {
			t.Errorf("round trip through %s = %#v (%q); want %#v (%q)", b, out, out.AccessToken, in, in.AccessToken)
		}
	}
}

func BenchmarkTokenCached(b *testing.B) {
	c, clk := newTestCache(nil)
	c.fetch = func(context.Context) (Token, error) {
		return Token{AccessToken: "t", ExpiresOn: clk.Now().Add(time.Hour)}, nil
	}
	ctx := context.Background()
	c.Token(ctx)
	var ts TokenSource = c
	b.ReportAllocs()
	for b.Loop() {
		ts.Token(ctx)
	}
}

func TestRefreshAt(t *testing.T) {
	now := testStart
	for _, c := range []struct {
		lifetime time.Duration
		want     time.Duration // after now
	}{
		{time.Hour, 50 * time.Minute},         // margin capped at 10 min
		{20 * time.Minute, 10 * time.Minute},  // half the lifetime is the cap
		{8 * time.Minute, 4 * time.Minute},    // half the lifetime
		{100 * time.Second, 50 * time.Second}, // the emulator's short tokens
		{-time.Minute, -30 * time.Second},     // already expired: due at once
	} {
		if got := refreshAt(now.Add(c.lifetime), now); !got.Equal(now.Add(c.want)) {
			t.Errorf("refreshAt(now+%v, now) = now+%v; want now+%v", c.lifetime, got.Sub(now), c.want)
		}
	}
}
