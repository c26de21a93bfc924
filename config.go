package o365smtp

import (
	"cmp"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/o365smtp/o365smtp/internal/catalog"
	"github.com/o365smtp/o365smtp/internal/clock"
	"github.com/o365smtp/o365smtp/internal/httpguard"
)

// Credential type names, as reported in Report.Credential.
const (
	credClientSecret     = "client_secret"
	credClientSecretFile = "client_secret_file"
	credCertificate      = "certificate"
	credClientAssertion  = "client_assertion"
	credTokenSource      = "token_source"
	credManagedIdentity  = "managed_identity"
)

// resolved is a validated Config with every default applied.
type resolved struct {
	cfg         Config
	host        string
	port        int
	implicitTLS bool
	authority   string // https://host, no trailing slash
	scope       string
	graphURL    string // https://host, no trailing slash
	graphScope  string
	credential  string
	tlsConfig   *tls.Config
	httpClient  *http.Client
	logger      *slog.Logger
	maxConns    int
	perMinute   int
	maxAttempts int

	retryBackoff time.Duration
	coolOff      time.Duration // 0: disabled

	// clock is the time seam for the token cache, pool, governor,
	// cool-off and backoff; tests replace it before the Sender is built.
	clock clock.Clock
}

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))+$`)
)

func isGUID(s string) bool { return guidRE.MatchString(s) }

// resolve validates cfg and applies the defaults. It does no network I/O; it
// reads ClientSecretFile.
func resolve(cfg Config) (*resolved, error) {
	r := &resolved{cfg: cfg, clock: clock.Real{}, logger: cfg.Logger}
	if cfg.Cloud < 0 || int(cfg.Cloud) >= len(clouds) {
		return nil, configError("config.cloud", fmt.Sprintf("Cloud %d is not a known cloud", int(cfg.Cloud)))
	}
	if cfg.Security < SecurityAuto || cfg.Security > SecurityImplicitTLS {
		return nil, configError("config.security", fmt.Sprintf("Security %d is not a known mode", int(cfg.Security)))
	}
	for _, step := range []func() error{r.resolveCredential, r.resolveEndpoints, r.resolveTLS, r.resolvePolicy} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// resolveCredential checks that exactly one credential is set, and the IDs
// it needs.
func (r *resolved) resolveCredential() error {
	cfg := r.cfg
	var creds []string
	for _, c := range []struct {
		set         bool
		field, name string
	}{
		{cfg.ClientSecret != "", "ClientSecret", credClientSecret},
		{cfg.ClientSecretFile != "", "ClientSecretFile", credClientSecretFile},
		{cfg.Certificate != nil, "Certificate", credCertificate},
		{cfg.ClientAssertion != nil, "ClientAssertion", credClientAssertion},
		{cfg.TokenSource != nil, "TokenSource", credTokenSource},
		{cfg.ManagedIdentity != "", "ManagedIdentity", credManagedIdentity},
	} {
		if c.set {
			creds = append(creds, c.field)
			r.credential = c.name
		}
	}
	switch {
	case len(creds) == 0:
		return configError("config.no_credential", "no credential is set")
	case len(creds) > 1:
		return configError("config.two_credentials", "more than one credential is set: "+strings.Join(creds, ", "))
	}
	if err := checkTransport(cfg); err != nil {
		return err
	}
	// A TokenSource or a managed identity needs neither ID (the identity
	// endpoint knows both); one that is set is still checked.
	needIDs := cfg.TokenSource == nil && cfg.ManagedIdentity == ""
	var checks []func() error
	if needIDs || cfg.TenantID != "" {
		checks = append(checks, func() error { return checkTenant(cfg.TenantID) })
	}
	if needIDs || cfg.ClientID != "" {
		checks = append(checks, func() error { return checkClientID(cfg.ClientID) })
	}
	if cfg.ManagedIdentity != "" {
		checks = append(checks, func() error { return checkManagedIdentity(cfg.ManagedIdentity) })
	}
	checks = append(checks, func() error { return checkMailbox(cfg.Mailbox) }, func() error { return checkSecret(cfg.ClientSecret) })
	if cfg.ClientSecretFile != "" {
		checks = append(checks, func() error { _, err := readSecretFile(cfg.ClientSecretFile); return err })
	}
	if cfg.Certificate != nil {
		checks = append(checks, func() error { return checkCertificate(cfg.Certificate) })
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// resolveEndpoints applies the Cloud's defaults to Host, Port, AuthorityHost
// and Scope, and checks them.
func (r *resolved) resolveEndpoints() error {
	cfg, ce := r.cfg, clouds[r.cfg.Cloud]
	r.host = cmp.Or(cfg.Host, ce.host)
	if strings.ContainsAny(r.host, ":/ ") && !isIPv6(r.host) {
		return configError("config.host", fmt.Sprintf("Host %q is not a host name", r.host))
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return configError("config.port", fmt.Sprintf("Port %d is out of range", cfg.Port))
	}
	r.port = cfg.Port
	switch {
	case r.port == 0 && cfg.Security == SecurityImplicitTLS:
		r.port = defaultImplicitPort
	case r.port == 0:
		r.port = defaultPort
	}
	r.implicitTLS = cfg.Security == SecurityImplicitTLS || (cfg.Security == SecurityAuto && r.port == defaultImplicitPort)

	authority := cmp.Or(cfg.AuthorityHost, ce.authority)
	u, err := url.Parse(authority)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return configError("config.authority", fmt.Sprintf("AuthorityHost %q is not an https URL of a host", authority))
	}
	r.authority = "https://" + u.Host
	r.scope = cmp.Or(cfg.Scope, ce.scope)
	graph := cmp.Or(cfg.GraphURL, ce.graphURL)
	if g, err := url.Parse(graph); err != nil || g.Scheme != "https" || g.Host == "" || (g.Path != "" && g.Path != "/") || g.RawQuery != "" {
		return configError("config.graph_url", fmt.Sprintf("GraphURL %q is not an https URL of a host", graph))
	} else {
		r.graphURL = "https://" + g.Host
	}
	r.graphScope = cmp.Or(cfg.GraphScope, ce.graphScope)
	return nil
}

// resolveTLS checks TLSConfig, applies CAFile, and builds the SMTP TLS
// configuration and the token endpoint's HTTP client.
func (r *resolved) resolveTLS() error {
	cfg := r.cfg
	r.tlsConfig = &tls.Config{}
	if c := cfg.TLSConfig; c != nil {
		switch {
		case c.InsecureSkipVerify:
			return configError("config.tls_insecure", "TLSConfig.InsecureSkipVerify is set")
		case c.MinVersion != 0 && c.MinVersion < tls.VersionTLS12:
			return configError("config.tls_min", "TLSConfig.MinVersion is below TLS 1.2")
		case c.MaxVersion != 0 && c.MaxVersion < tls.VersionTLS12:
			return configError("config.tls_max", "TLSConfig.MaxVersion is below TLS 1.2")
		}
		r.tlsConfig = c.Clone()
	}
	r.tlsConfig.MinVersion = max(r.tlsConfig.MinVersion, tls.VersionTLS12)
	if r.tlsConfig.ServerName == "" {
		r.tlsConfig.ServerName = r.host
	}
	r.httpClient = cfg.HTTPClient
	if cfg.CAFile != "" {
		extra, err := readCAFile(cfg.CAFile)
		if err != nil {
			return err
		}
		r.tlsConfig.RootCAs = withCerts(r.tlsConfig.RootCAs, extra)
		if r.httpClient == nil {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{RootCAs: withCerts(nil, extra), MinVersion: tls.VersionTLS12}
			r.httpClient = &http.Client{Transport: tr, Timeout: defaultHTTPTimeout}
		}
	}
	if r.httpClient == nil {
		r.httpClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	// Bounded responses, and no redirect off https or the host, whatever
	// client the Config brought.
	r.httpClient = httpguard.Client(r.httpClient, httpguard.MaxBody)
	return nil
}

// resolvePolicy checks the pacing and retry settings and applies their
// defaults.
func (r *resolved) resolvePolicy() error {
	cfg := r.cfg
	switch {
	case cfg.MaxConnections < 0:
		return configError("config.max_connections", fmt.Sprintf("MaxConnections %d is negative", cfg.MaxConnections))
	case cfg.MaxAttempts < 0:
		return configError("config.max_attempts", fmt.Sprintf("MaxAttempts %d is negative", cfg.MaxAttempts))
	case cfg.RetryBackoff < 0:
		return configError("config.retry_backoff", fmt.Sprintf("RetryBackoff %s is negative", cfg.RetryBackoff))
	}
	r.maxConns = cmp.Or(cfg.MaxConnections, defaultMaxConnections)
	r.perMinute = cmp.Or(cfg.MessagesPerMinute, defaultPerMinute)
	r.maxAttempts = cmp.Or(cfg.MaxAttempts, defaultMaxAttempts)
	r.retryBackoff = cmp.Or(cfg.RetryBackoff, defaultRetryBackoff)
	switch {
	case cfg.CoolOff == 0:
		r.coolOff = defaultCoolOff
	case cfg.CoolOff > 0:
		r.coolOff = cfg.CoolOff
	}
	return nil
}

// checkTransport refuses an unknown Transport, and TransportAuto with a
// TokenSource.
func checkTransport(cfg Config) error {
	switch {
	case cfg.Transport < TransportSMTP || cfg.Transport > TransportAuto:
		return configError("config.transport", fmt.Sprintf("Transport %d is not a known transport", int(cfg.Transport)))
	case cfg.Transport == TransportAuto && cfg.TokenSource != nil:
		return configError("config.auto_token_source", "TransportAuto needs two tokens (Exchange's and Graph's); a TokenSource gives one kind")
	}
	return nil
}

// maxCAFileSize bounds the CA file read by New.
const maxCAFileSize = 4 << 20

// readCAFile reads the certificates of a PEM file.
func readCAFile(name string) ([]*x509.Certificate, error) {
	b, err := readBounded(name, maxCAFileSize)
	if err != nil {
		return nil, localError("config.ca_unreadable", fmt.Sprintf("cannot read CAFile %q", name), catalog.Values{}, err)
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, localError("config.ca_format", fmt.Sprintf("CAFile %q holds a certificate that cannot be parsed", name), catalog.Values{}, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, configError("config.ca_format", fmt.Sprintf("CAFile %q holds no PEM certificate", name))
	}
	return certs, nil
}

// withCerts returns a copy of pool (the system roots if nil) with certs added.
func withCerts(pool *x509.CertPool, certs []*x509.Certificate) *x509.CertPool {
	if pool != nil {
		pool = pool.Clone()
	} else if sys, err := x509.SystemCertPool(); err == nil {
		pool = sys
	} else {
		pool = x509.NewCertPool()
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// readBounded reads a file of at most limit bytes.
func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return b, nil
}

func isIPv6(h string) bool { return strings.Count(h, ":") >= 2 && !strings.ContainsAny(h, "/ ") }

func checkTenant(t string) error {
	switch {
	case t == "":
		return configError("config.tenant_empty", "TenantID is empty")
	case isGUID(t):
		return nil
	case strings.EqualFold(t, "common") || strings.EqualFold(t, "organizations") || strings.EqualFold(t, "consumers"):
		return configError("config.tenant_multi", fmt.Sprintf("TenantID %q is not a tenant", t))
	case domainRE.MatchString(t) && len(t) <= 253:
		return nil
	}
	return configError("config.tenant_format", fmt.Sprintf("TenantID %q is neither a GUID nor a domain", t))
}

func checkClientID(id string) error {
	switch {
	case id == "":
		return configError("config.client_empty", "ClientID is empty")
	case !isGUID(id):
		return configError("config.client_format", fmt.Sprintf("ClientID %q is not a GUID", id))
	}
	return nil
}

// systemIdentity is the ManagedIdentity value of the system-assigned
// identity.
const systemIdentity = "system"

func checkManagedIdentity(id string) error {
	if strings.EqualFold(id, systemIdentity) || isGUID(id) {
		return nil
	}
	return configError("config.managed_identity", fmt.Sprintf("ManagedIdentity %q is neither \"system\" nor a client ID", id))
}

// identityName describes the managed identity id (a valid ManagedIdentity).
func identityName(id string) string {
	if strings.EqualFold(id, systemIdentity) {
		return "system-assigned managed identity"
	}
	return "user-assigned managed identity " + id
}

func checkMailbox(m string) error {
	if m == "" {
		return configError("config.mailbox_empty", "Mailbox is empty")
	}
	a, err := mail.ParseAddress(m)
	if err != nil || a.Address != m || a.Name != "" {
		return configError("config.mailbox_format", fmt.Sprintf("Mailbox %q is not an email address", m))
	}
	return nil
}

func checkSecret(s string) error {
	if s == "" {
		return nil
	}
	if isGUID(strings.TrimSpace(s)) {
		// Never echo the value: it might be a real secret after all.
		return configError("config.secret_id", "the client secret looks like a Secret ID (a GUID), not a secret Value")
	}
	if strings.TrimSpace(s) != s {
		return configError("config.secret_space", "the client secret has leading or trailing whitespace")
	}
	return nil
}

// readSecretFile reads and trims a client secret file. Its errors never
// contain the file's contents.
func readSecretFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", localError("config.secret_file_unreadable", fmt.Sprintf("cannot read ClientSecretFile %q", name), catalog.Values{}, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", configError("config.secret_file_empty", fmt.Sprintf("ClientSecretFile %q is empty", name))
	}
	if err := checkSecret(s); err != nil {
		return "", err
	}
	return s, nil
}

func checkCertificate(c *tls.Certificate) error {
	if len(c.Certificate) == 0 {
		return configError("config.cert_missing", "Certificate has no certificate")
	}
	if c.PrivateKey == nil {
		return configError("config.cert_missing", "Certificate has no private key")
	}
	key, ok := c.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return configError("config.cert_not_rsa", fmt.Sprintf("Certificate has a %T private key; only RSA keys are supported", c.PrivateKey))
	}
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return localError("config.cert_unparsable", "Certificate cannot be parsed", catalog.Values{}, err)
		}
	}
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return configError("config.cert_mismatch", "Certificate's private key does not match its certificate")
	}
	return nil
}

// leafOf returns the parsed leaf of c.
func leafOf(c *tls.Certificate) *x509.Certificate {
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}
