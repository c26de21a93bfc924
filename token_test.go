package o365smtp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestCache(fetch func(ctx context.Context) (Token, error)) (*cachedSource, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	c := &cachedSource{fetch: fetch, now: clk.now, redact: func() []string { return nil }}
	return c, clk
}

func TestTokenCacheMargin(t *testing.T) {
	var n atomic.Int32
	var c *cachedSource
	var clk *fakeClock
	c, clk = newTestCache(func(context.Context) (Token, error) {
		i := n.Add(1)
		return Token{AccessToken: fmt.Sprint("tok", i), ExpiresOn: clk.now().Add(time.Hour)}, nil
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
	clk.advance(49 * time.Minute) // 11 min left: more than the 10 min margin
	if tok, cached := get(); tok != "tok1" || !cached {
		t.Fatalf("at 49m = %s cached=%v; want tok1 from cache", tok, cached)
	}
	clk.advance(61 * time.Second) // 9m59s left
	if tok, cached := get(); tok != "tok2" || cached {
		t.Fatalf("at 50m01s = %s cached=%v; want a fresh tok2", tok, cached)
	}
	if got := c.requests.Load(); got != 2 {
		t.Errorf("requests = %d; want 2", got)
	}
}

func TestTokenCacheShortLifetimeUsesHalf(t *testing.T) {
	var clk *fakeClock
	var n atomic.Int32
	c, clk := newTestCache(func(context.Context) (Token, error) {
		n.Add(1)
		return Token{AccessToken: "t", ExpiresOn: clk.now().Add(8 * time.Minute)}, nil
	})
	_ = clk
	c.token(context.Background())
	clk.advance(3*time.Minute + 59*time.Second)
	c.token(context.Background())
	if n.Load() != 1 {
		t.Fatalf("fetches = %d before half-life; want 1", n.Load())
	}
	clk.advance(2 * time.Second)
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
	var clk *fakeClock
	c, clk := newTestCache(func(context.Context) (Token, error) {
		n.Add(1)
		<-release
		return Token{AccessToken: "t", ExpiresOn: clk.now().Add(time.Hour)}, nil
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
	var clk *fakeClock
	c, clk := newTestCache(func(context.Context) (Token, error) {
		i := n.Add(1)
		return Token{AccessToken: fmt.Sprint("tok", i), ExpiresOn: clk.now().Add(time.Hour)}, nil
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
	tok := Token{AccessToken: "eyJ.secret.sig", ExpiresOn: time.Unix(0, 0)}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(f, tok); contains(s, "eyJ.secret.sig") {
			t.Errorf("Sprintf(%q) = %s", f, s)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0)
}
func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func BenchmarkTokenCached(b *testing.B) {
	c, clk := newTestCache(nil)
	c.fetch = func(context.Context) (Token, error) {
		return Token{AccessToken: "t", ExpiresOn: clk.now().Add(time.Hour)}, nil
	}
	ctx := context.Background()
	c.Token(ctx)
	var ts TokenSource = c
	b.ReportAllocs()
	for b.Loop() {
		ts.Token(ctx)
	}
}
