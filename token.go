package o365smtp

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"

	"github.com/o365smtp/o365smtp/internal/catalog"
	"github.com/o365smtp/o365smtp/internal/clock"
)

// Token is an OAuth 2.0 access token for Exchange Online.
//
// Its JSON form is the token itself, {"AccessToken":"...","ExpiresOn":"..."}:
// a shared token cache can json.Marshal a Token and json.Unmarshal it back.
// Its String, GoString, Format and LogValue redact the access token, so
// that printing or logging a Token never shows it.
type Token struct {
	// AccessToken is the bearer token.
	AccessToken string
	// ExpiresOn is when the token expires. The zero value means unknown:
	// such a token is used for the connections being made when it arrives
	// and is not cached.
	ExpiresOn time.Time
}

// String returns a description of t without the access token.
func (t Token) String() string {
	state := "empty"
	if t.AccessToken != "" {
		state = redacted
	}
	if t.ExpiresOn.IsZero() {
		return "Token{AccessToken:" + state + "}"
	}
	return "Token{AccessToken:" + state + " ExpiresOn:" + t.ExpiresOn.Format(time.RFC3339) + "}"
}

// GoString implements fmt.GoStringer: t as a Go composite literal with the
// access token redacted.
func (t Token) GoString() string {
	tok := `""`
	if t.AccessToken != "" {
		tok = strconv.Quote(redacted)
	}
	if t.ExpiresOn.IsZero() {
		return "o365smtp.Token{AccessToken:" + tok + "}"
	}
	return "o365smtp.Token{AccessToken:" + tok + ", ExpiresOn:" + t.ExpiresOn.GoString() + "}"
}

// Format implements fmt.Formatter so that no verb prints the access token:
// %#v prints GoString, every other verb String.
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t) }

// LogValue implements slog.LogValuer without the access token.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// TokenSource supplies access tokens. Token must be safe for concurrent use
// by multiple goroutines and must honour ctx.
type TokenSource interface {
	Token(ctx context.Context) (Token, error)
}

// TokenSourceFunc adapts a function to a TokenSource.
type TokenSourceFunc func(ctx context.Context) (Token, error)

// Token calls f(ctx).
func (f TokenSourceFunc) Token(ctx context.Context) (Token, error) { return f(ctx) }

// NewTokenSource returns the cached, single-flight token source that New
// builds from cfg's credential, endpoint and HTTPClient fields (Mailbox is not
// needed), so that several Senders, one per mailbox, can share one app token:
// set each Sender's Config.TokenSource to it. Its errors are *Error values.
func NewTokenSource(cfg Config) (TokenSource, error) {
	r, err := resolveTokenSource(cfg)
	if err != nil {
		return nil, err
	}
	return newCachedSource(r), nil
}

// resolveTokenSource is resolve for a token source, which needs no Mailbox.
func resolveTokenSource(cfg Config) (*resolved, error) {
	if cfg.Mailbox == "" {
		cfg.Mailbox = "token-source@invalid.example" // not used; satisfies validation
	}
	return resolve(cfg)
}

// Token cache tuning.
const (
	// maxRefreshMargin: a cached token is replaced when less than
	// min(maxRefreshMargin, half its lifetime) is left. Exchange's High
	// Volume Email endpoint rejects tokens that expire within minutes.
	maxRefreshMargin = 10 * time.Minute
	// fetchTimeout bounds one token request, which is shared by every
	// caller waiting for it and so does not use any one caller's context
	// (it is abandoned when none is left waiting).
	fetchTimeout = 30 * time.Second
)

// refreshAt returns when a token that expires at expiresOn, received at now,
// is due to be replaced: min(maxRefreshMargin, half its remaining lifetime)
// before it expires. The token cache refreshes then, and a connection
// authenticated with the token retires then. expiresOn must not be zero
// (unknown); such a token is neither cached nor a reason to retire.
func refreshAt(expiresOn, now time.Time) time.Time {
	margin := min(expiresOn.Sub(now)/2, maxRefreshMargin)
	return expiresOn.Add(-margin)
}

// cachedToken is one token in the cache.
type cachedToken struct {
	tok       Token
	refreshAt time.Time // serve from cache before this
}

// cachedSource caches tokens from fetch and shares one request in flight
// among concurrent callers. It is what NewTokenSource returns.
//
// A request in flight is abandoned (its context canceled) when the last
// caller waiting for it gives up, so that no request outlives the callers
// that wanted it; close cancels it at once and waits for it.
type cachedSource struct {
	fetch    func(ctx context.Context) (Token, error)
	clock    clock.Clock
	cur      atomic.Pointer[cachedToken]
	requests atomic.Int64 // token requests made (fetch calls)
	hints    catalog.Values
	redact   func() []string // secrets that must never appear in errors
	identity string          // Config.ManagedIdentity, for its errors

	life    context.Context // canceled by close
	stop    context.CancelFunc
	mu      sync.Mutex // guards flight
	flight  *flight
	flights sync.WaitGroup
}

// flight is one token request and the callers waiting for it.
type flight struct {
	done    chan struct{} // closed when res and err are set
	res     *cachedToken
	err     *Error
	cancel  context.CancelFunc
	waiters int // guarded by cachedSource.mu
}

func newCachedSource(r *resolved) *cachedSource {
	if inner, ok := r.cfg.TokenSource.(*cachedSource); ok {
		// Already cached and single-flight (NewTokenSource): share it.
		return inner
	}
	c := &cachedSource{clock: r.clock}
	c.life, c.stop = context.WithCancel(context.Background())
	c.hints = catalog.Values{ClientID: r.cfg.ClientID, TenantID: r.cfg.TenantID, Mailbox: r.cfg.Mailbox,
		Host: r.host, Authority: r.authority, Scope: r.scope}
	if ts := r.cfg.TokenSource; ts != nil {
		c.fetch = ts.Token
		c.redact = func() []string { return nil }
		return c
	}
	m := &msalSource{r: r}
	c.identity = r.cfg.ManagedIdentity
	c.fetch = m.token
	c.redact = m.secrets
	return c
}

// Token returns a cached token, or fetches one.
func (c *cachedSource) Token(ctx context.Context) (Token, error) {
	t, _, err := c.token(ctx)
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

// fresh returns the cached token if it is not due for refresh.
func (c *cachedSource) fresh() *cachedToken {
	if ct := c.cur.Load(); ct != nil && c.clock.Now().Before(ct.refreshAt) {
		return ct
	}
	return nil
}

// token returns a token and whether it came from the cache.
func (c *cachedSource) token(ctx context.Context) (Token, bool, *Error) {
	if ct := c.fresh(); ct != nil {
		return ct.tok, true, nil
	}
	if err := ctx.Err(); err != nil {
		return Token{}, false, canceledError("token", err)
	}
	f := c.join()
	select {
	case <-f.done:
		c.leave(f)
		if f.err != nil {
			e := *f.err // each caller gets its own copy
			return Token{}, false, &e
		}
		return f.res.tok, false, nil
	case <-ctx.Done():
		c.leave(f)
		return Token{}, false, canceledError("token", ctx.Err())
	}
}

// join returns the flight in progress, or starts one.
func (c *cachedSource) join() *flight {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.flight
	if f == nil {
		base := c.life
		if base == nil { // a cachedSource made without newCachedSource
			base = context.Background()
		}
		fctx, cancel := context.WithTimeout(base, fetchTimeout)
		f = &flight{done: make(chan struct{}), cancel: cancel}
		c.flight = f
		c.flights.Add(1)
		go c.run(fctx, f)
	}
	f.waiters++
	return f
}

// leave is a caller's end of waiting; the last one abandons the flight.
func (c *cachedSource) leave(f *flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.waiters--; f.waiters == 0 {
		f.cancel()
	}
}

// run makes the token request of f.
func (c *cachedSource) run(ctx context.Context, f *flight) {
	defer c.flights.Done()
	defer f.cancel()
	f.res, f.err = c.request(ctx)
	c.mu.Lock()
	if c.flight == f {
		c.flight = nil
	}
	c.mu.Unlock()
	close(f.done)
}

// request gets a token (unless a flight that just ended cached one) and
// caches it.
func (c *cachedSource) request(ctx context.Context) (*cachedToken, *Error) {
	if ct := c.fresh(); ct != nil {
		return ct, nil
	}
	c.requests.Add(1)
	tok, err := c.fetch(ctx)
	if err != nil {
		// Classify here, once: the response body can be read only
		// once, and every waiter shares this result.
		return nil, c.tokenError(err)
	}
	if tok.AccessToken == "" {
		return nil, localError("token.empty", "the token source returned an empty access token", c.hints, nil)
	}
	now := c.clock.Now()
	tok.ExpiresOn = clampExpiry(tok.ExpiresOn, now)
	ct := &cachedToken{tok: tok}
	if !tok.ExpiresOn.IsZero() {
		ct.refreshAt = refreshAt(tok.ExpiresOn, now)
		c.cur.Store(ct)
	}
	return ct, nil
}

// close cancels the request in flight, if any, and waits for it to end.
func (c *cachedSource) close() {
	if c.stop != nil {
		c.stop()
	}
	c.flights.Wait()
}

// maxTokenLifetime bounds a token's lifetime as reported: Entra's are an
// hour or so (a day at most, with continuous access evaluation).
const maxTokenLifetime = 24 * time.Hour

// clampExpiry bounds an absurd expiry: one more than maxTokenLifetime away,
// in the future or in the past (an expires_in so large that MSAL's
// arithmetic overflowed), becomes now+maxTokenLifetime. An expiry at or
// before now within that bound (expires_in 0 or negative) is kept: such a
// token is used for the connection being made and not cached. If Exchange
// refuses a token as expired, the Sender asks for a new one.
func clampExpiry(exp, now time.Time) time.Time {
	if exp.IsZero() {
		return exp
	}
	if exp.After(now.Add(maxTokenLifetime)) || exp.Before(now.Add(-maxTokenLifetime)) {
		return now.Add(maxTokenLifetime)
	}
	return exp
}

// invalidate drops tok from the cache if it is still the cached token, so
// that concurrent callers that saw the same token rejected cause only one
// refresh.
func (c *cachedSource) invalidate(accessToken string) {
	ct := c.cur.Load()
	if ct != nil && ct.tok.AccessToken == accessToken {
		c.cur.CompareAndSwap(ct, nil)
	}
}

// msalSource gets tokens from Entra with an MSAL confidential client.
type msalSource struct {
	r *resolved

	mu     sync.Mutex
	client *confidential.Client
	secret string // the secret the client was built with (ClientSecretFile)
	mi     *managedidentity.Client
	source managedidentity.Source // where mi gets its tokens
}

// emptyCache makes MSAL's cache always empty: our cache is the only one, so
// a token we dropped after a 535 is never served again by MSAL.
type emptyCache struct{}

func (emptyCache) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	return u.Unmarshal([]byte("{}"))
}
func (emptyCache) Export(context.Context, cache.Marshaler, cache.ExportHints) error { return nil }

// trustedLoginHosts are the Microsoft login hosts for which MSAL's instance
// discovery works; for any other host (an emulator, a private endpoint) it is
// turned off.
var trustedLoginHosts = map[string]bool{
	"login.microsoftonline.com":        true,
	"login.microsoft.com":              true,
	"login.windows.net":                true,
	"login.microsoftonline.us":         true,
	"login-us.microsoftonline.com":     true,
	"login.partner.microsoftonline.cn": true,
	"login.chinacloudapi.cn":           true,
}

// instanceDiscovery reports whether MSAL's instance discovery suits the
// authority: only Microsoft's own login hosts serve it (MSAL then asks that
// same host, so each national cloud stays within itself).
func instanceDiscovery(authority string) bool {
	u, err := url.Parse(authority)
	return err == nil && u.Port() == "" && trustedLoginHosts[strings.ToLower(u.Hostname())]
}

func (m *msalSource) secrets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	// IDENTITY_HEADER authenticates requests to App Service's identity
	// endpoint: never in an error.
	return []string{m.r.cfg.ClientSecret, m.secret, os.Getenv("IDENTITY_HEADER")}
}

// clientFor returns the MSAL client, rebuilding it when the secret file
// changed (MSAL credentials are immutable).
func (m *msalSource) clientFor() (*confidential.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cfg := m.r.cfg
	var cred confidential.Credential
	switch {
	case cfg.ClientSecretFile != "":
		s, err := readSecretFile(cfg.ClientSecretFile)
		if err != nil {
			return nil, err
		}
		if m.client != nil && s == m.secret {
			return m.client, nil
		}
		m.secret = s
		cred, err = confidential.NewCredFromSecret(s)
		if err != nil {
			return nil, err
		}
	case m.client != nil:
		return m.client, nil
	case cfg.ClientSecret != "":
		var err error
		if cred, err = confidential.NewCredFromSecret(cfg.ClientSecret); err != nil {
			return nil, err
		}
	case cfg.Certificate != nil:
		var certs []*x509.Certificate
		for i, der := range cfg.Certificate.Certificate {
			if i == 0 {
				certs = append(certs, leafOf(cfg.Certificate))
				continue
			}
			if c, err := x509.ParseCertificate(der); err == nil {
				certs = append(certs, c)
			}
		}
		var err error
		if cred, err = confidential.NewCredFromCert(certs, cfg.Certificate.PrivateKey); err != nil {
			return nil, configError("config.cert_credential", "the certificate credential cannot be used: "+err.Error())
		}
	case cfg.ClientAssertion != nil:
		cb := cfg.ClientAssertion
		cred = confidential.NewCredFromAssertionCallback(func(ctx context.Context, _ confidential.AssertionRequestOptions) (string, error) {
			a, err := cb(ctx)
			if err != nil {
				return "", &assertionError{err}
			}
			return a, nil
		})
	}
	c, err := confidential.New(m.r.authority+"/"+cfg.TenantID, cfg.ClientID, cred,
		confidential.WithHTTPClient(m.r.httpClient),
		confidential.WithInstanceDiscovery(instanceDiscovery(m.r.authority)),
		confidential.WithCache(emptyCache{}),
		confidential.WithAzureRegion("DisableMsalForceRegion"),
	)
	if err != nil {
		return nil, configError("config.token_client", "the token client cannot be built: "+err.Error())
	}
	m.client = &c
	return m.client, nil
}

// token gets a new token from Entra.
func (m *msalSource) token(ctx context.Context) (Token, error) {
	if m.r.cfg.ManagedIdentity != "" {
		return m.identityToken(ctx)
	}
	c, err := m.clientFor()
	if err != nil {
		return Token{}, err
	}
	res, err := c.AcquireTokenByCredential(ctx, []string{m.r.scope})
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: res.AccessToken, ExpiresOn: res.ExpiresOn}, nil
}

// identityClient returns the MSAL managed identity client. MSAL picks the
// source (App Service and Functions, Arc, Cloud Shell, Azure ML, Service
// Fabric, else the instance metadata service of VMs) from the environment
// when the client is made.
func (m *msalSource) identityClient() (*managedidentity.Client, managedidentity.Source, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mi != nil {
		return m.mi, m.source, nil
	}
	id := managedidentity.SystemAssigned()
	if mi := m.r.cfg.ManagedIdentity; !strings.EqualFold(mi, systemIdentity) {
		id = managedidentity.UserAssignedClientID(mi)
	}
	source, err := managedidentity.GetSource()
	if err != nil {
		return nil, source, &identityError{err: err, source: source, build: true}
	}
	// The guarded client: bounded responses, no redirect followed. MSAL's
	// own retries (with real-time sleeps) are off: the Sender retries
	// what is Transient.
	c, err := managedidentity.New(id, managedidentity.WithHTTPClient(m.r.httpClient), managedidentity.WithRetryPolicyDisabled())
	if err != nil {
		return nil, source, &identityError{err: err, source: source, build: true}
	}
	m.mi, m.source = &c, source
	return m.mi, source, nil
}

// freshClaims makes MSAL skip its managed identity cache, which is
// process-wide and cannot be turned off: in v1.10.1 WithClaims only skips
// the cache read and sends nothing to the endpoint (the emulator refuses a
// request with unknown parameters, so an MSAL that starts sending it fails
// the tests). cachedSource is the only cache, as emptyCache makes it for the
// confidential client: a token dropped after a 535 is never served again.
const freshClaims = "{}"

// identityToken gets a new token from the managed identity endpoint, for
// the Scope's resource (a managed identity takes a resource, not a scope).
func (m *msalSource) identityToken(ctx context.Context) (Token, error) {
	c, source, err := m.identityClient()
	if err != nil {
		return Token{}, err
	}
	res, err := c.AcquireToken(ctx, identityResource(m.r.scope), managedidentity.WithClaims(freshClaims))
	if err != nil {
		return Token{}, &identityError{err: err, source: source}
	}
	return Token{AccessToken: res.AccessToken, ExpiresOn: res.ExpiresOn}, nil
}

// identityResource is the resource of scope: without "/.default".
func identityResource(scope string) string { return strings.TrimSuffix(scope, "/.default") }

// identityError marks a failure of the managed identity client; build is
// set when the client could not be made.
type identityError struct {
	err    error
	source managedidentity.Source
	build  bool
}

func (e *identityError) Error() string { return "managed identity: " + e.err.Error() }
func (e *identityError) Unwrap() error { return e.err }
