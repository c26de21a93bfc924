// Package httpguard wraps the HTTP client that o365smtp's token requests
// (and Graph's) go through, so that a hostile or broken peer cannot exhaust
// memory or lure a secret off TLS: every response body is bounded after
// decompression, and no redirect is followed that leaves https or the host
// of the first request.
package httpguard

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// MaxBody is the default bound of a response body, after decompression.
// An Entra token response is a few KiB; Graph's error bodies are smaller.
const MaxBody = 1 << 20

// ErrTooLarge is the error of reading a response body past its bound.
var ErrTooLarge = errors.New("the response is larger than 1 MiB")

// RedirectError is a redirect that was refused.
type RedirectError struct {
	From, To string // scheme://host of the first request and of the target
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("refused a redirect from %s to %s: it leaves https or the host", e.From, e.To)
}

// Client returns a copy of c (http.DefaultClient's settings if nil) whose
// responses are bounded to max bytes and whose redirects stay on https and
// on the first request's host. c itself is not changed; its Transport is
// shared, and its CheckRedirect still applies to redirects that pass.
func Client(c *http.Client, max int64) *http.Client {
	var g http.Client
	if c != nil {
		g = *c
	}
	base := g.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	g.Transport = &transport{base: base, max: max}
	user := g.CheckRedirect
	g.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if req.URL.Scheme != "https" || !strings.EqualFold(req.URL.Host, first.Host) {
			return &RedirectError{From: first.Scheme + "://" + first.Host, To: req.URL.Scheme + "://" + req.URL.Host}
		}
		if user != nil {
			return user(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &g
}

type transport struct {
	base http.RoundTripper
	max  int64
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, ErrTooLarge
	}
	resp.Body = &body{rc: resp.Body, left: t.max}
	return resp, nil
}

// body fails with ErrTooLarge once more than its bound has been read.
type body struct {
	rc   io.ReadCloser
	left int64
}

func (b *body) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, ErrTooLarge
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// Base returns the transport a client made by Client wraps (c's own
// Transport otherwise).
func Base(c *http.Client) http.RoundTripper {
	if t, ok := c.Transport.(*transport); ok {
		return t.base
	}
	if c.Transport == nil {
		return http.DefaultTransport
	}
	return c.Transport
}
