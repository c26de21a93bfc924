package o365smtp

import (
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

	"github.com/o365smtp/o365smtp/internal/clock"
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

// configError returns an ErrConfig *Error.
func configError(msg, hint string) *Error {
	return &Error{Kind: ErrConfig, Op: "config", Message: msg, Hint: hint}
}

// resolve validates cfg and applies the defaults. It does no network I/O; it
// reads ClientSecretFile.
func resolve(cfg Config) (*resolved, error) {
	r := &resolved{cfg: cfg, clock: clock.Real{}}
	if cfg.Cloud < 0 || int(cfg.Cloud) >= len(clouds) {
		return nil, configError(fmt.Sprintf("Cloud %d is not a known cloud", int(cfg.Cloud)),
			`Set Cloud to CloudGlobal ("global"), CloudUSGovGCCHigh ("gcchigh"), CloudUSGovDoD ("dod") or CloudChina ("china").`)
	}
	if cfg.Security < SecurityAuto || cfg.Security > SecurityImplicitTLS {
		return nil, configError(fmt.Sprintf("Security %d is not a known mode", int(cfg.Security)),
			`Set Security to SecurityAuto ("auto"), SecurityStartTLS ("starttls") or SecurityImplicitTLS ("tls").`)
	}
	ce := clouds[cfg.Cloud]

	// Credential: exactly one.
	var creds []string
	if cfg.ClientSecret != "" {
		creds = append(creds, "ClientSecret")
		r.credential = credClientSecret
	}
	if cfg.ClientSecretFile != "" {
		creds = append(creds, "ClientSecretFile")
		r.credential = credClientSecretFile
	}
	if cfg.Certificate != nil {
		creds = append(creds, "Certificate")
		r.credential = credCertificate
	}
	if cfg.ClientAssertion != nil {
		creds = append(creds, "ClientAssertion")
		r.credential = credClientAssertion
	}
	if cfg.TokenSource != nil {
		creds = append(creds, "TokenSource")
		r.credential = credTokenSource
	}
	if cfg.ManagedIdentity != "" {
		creds = append(creds, "ManagedIdentity")
		r.credential = credManagedIdentity
	}
	switch {
	case len(creds) == 0:
		return nil, configError("no credential is set",
			"Set ClientSecret to the client secret's Value (Entra admin center > App registrations > your app > Certificates & secrets), or set ClientSecretFile, Certificate, ClientAssertion, ManagedIdentity or TokenSource.")
	case len(creds) > 1:
		return nil, configError("more than one credential is set: "+strings.Join(creds, ", "),
			"Set exactly one of ClientSecret, ClientSecretFile, Certificate, ClientAssertion, ManagedIdentity and TokenSource.")
	}

	if err := notYet(cfg); err != nil {
		return nil, err
	}

	if cfg.TokenSource == nil || cfg.TenantID != "" {
		if err := checkTenant(cfg.TenantID); err != nil {
			return nil, err
		}
	}
	if cfg.TokenSource == nil || cfg.ClientID != "" {
		if err := checkClientID(cfg.ClientID); err != nil {
			return nil, err
		}
	}
	if err := checkMailbox(cfg.Mailbox); err != nil {
		return nil, err
	}
	if err := checkSecret(cfg.ClientSecret); err != nil {
		return nil, err
	}
	if cfg.ClientSecretFile != "" {
		if _, err := readSecretFile(cfg.ClientSecretFile); err != nil {
			return nil, err
		}
	}
	if cfg.Certificate != nil {
		if err := checkCertificate(cfg.Certificate); err != nil {
			return nil, err
		}
	}

	// Endpoints.
	r.host = cfg.Host
	if r.host == "" {
		r.host = ce.host
	}
	if strings.ContainsAny(r.host, ":/ ") && !isIPv6(r.host) {
		return nil, configError(fmt.Sprintf("Host %q is not a host name", r.host),
			`Set Host to a bare DNS name such as "smtp.office365.com" and the port in Port.`)
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, configError(fmt.Sprintf("Port %d is out of range", cfg.Port),
			"Set Port to 587 (STARTTLS, what Exchange Online uses) or leave it 0 for the default.")
	}
	r.port = cfg.Port
	switch {
	case r.port == 0 && cfg.Security == SecurityImplicitTLS:
		r.port = defaultImplicitPort
	case r.port == 0:
		r.port = defaultPort
	}
	r.implicitTLS = cfg.Security == SecurityImplicitTLS || (cfg.Security == SecurityAuto && r.port == defaultImplicitPort)

	authority := cfg.AuthorityHost
	if authority == "" {
		authority = ce.authority
	}
	u, err := url.Parse(authority)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, configError(fmt.Sprintf("AuthorityHost %q is not an https URL of a host", authority),
			`Set AuthorityHost to the login host only, such as "https://login.microsoftonline.com" (no tenant, no path), or leave it empty for the Cloud's default.`)
	}
	r.authority = "https://" + u.Host
	r.scope = cfg.Scope
	if r.scope == "" {
		r.scope = ce.scope
	}

	// TLS.
	if cfg.TLSConfig != nil {
		if cfg.TLSConfig.InsecureSkipVerify {
			return nil, configError("TLSConfig.InsecureSkipVerify is set",
				"Remove InsecureSkipVerify: the token must only be sent to a verified server. To trust a private CA, set TLSConfig.RootCAs.")
		}
		if cfg.TLSConfig.MinVersion != 0 && cfg.TLSConfig.MinVersion < tls.VersionTLS12 {
			return nil, configError("TLSConfig.MinVersion is below TLS 1.2",
				"Set TLSConfig.MinVersion to tls.VersionTLS12 or leave it 0: Exchange Online requires TLS 1.2 or newer.")
		}
		if cfg.TLSConfig.MaxVersion != 0 && cfg.TLSConfig.MaxVersion < tls.VersionTLS12 {
			return nil, configError("TLSConfig.MaxVersion is below TLS 1.2",
				"Leave TLSConfig.MaxVersion 0: Exchange Online requires TLS 1.2 or newer.")
		}
		r.tlsConfig = cfg.TLSConfig.Clone()
	} else {
		r.tlsConfig = &tls.Config{}
	}
	if r.tlsConfig.MinVersion < tls.VersionTLS12 {
		r.tlsConfig.MinVersion = tls.VersionTLS12
	}
	if r.tlsConfig.ServerName == "" {
		r.tlsConfig.ServerName = r.host
	}

	r.httpClient = cfg.HTTPClient
	if cfg.CAFile != "" {
		extra, err := readCAFile(cfg.CAFile)
		if err != nil {
			return nil, err
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
	r.logger = cfg.Logger

	// Pacing.
	if cfg.MaxConnections < 0 {
		return nil, configError(fmt.Sprintf("MaxConnections %d is negative", cfg.MaxConnections),
			"Set MaxConnections to 0 for Exchange Online's limit of 3 per mailbox, or to a smaller positive number.")
	}
	r.maxConns = cfg.MaxConnections
	if r.maxConns == 0 {
		r.maxConns = defaultMaxConnections
	}
	r.perMinute = cfg.MessagesPerMinute
	if r.perMinute == 0 {
		r.perMinute = defaultPerMinute
	}
	if cfg.MaxAttempts < 0 {
		return nil, configError(fmt.Sprintf("MaxAttempts %d is negative", cfg.MaxAttempts),
			"Set MaxAttempts to 0 for the default of 3, or 1 to disable retries.")
	}
	r.maxAttempts = cfg.MaxAttempts
	if r.maxAttempts == 0 {
		r.maxAttempts = defaultMaxAttempts
	}
	if cfg.RetryBackoff < 0 {
		return nil, configError(fmt.Sprintf("RetryBackoff %s is negative", cfg.RetryBackoff),
			"Set RetryBackoff to 0 for the default of 1 s, or to the delay before the first retry; set MaxAttempts to 1 to disable retries.")
	}
	r.retryBackoff = cfg.RetryBackoff
	if r.retryBackoff == 0 {
		r.retryBackoff = defaultRetryBackoff
	}
	switch {
	case cfg.CoolOff == 0:
		r.coolOff = defaultCoolOff
	case cfg.CoolOff > 0:
		r.coolOff = cfg.CoolOff
	}
	return r, nil
}

// notYet refuses the settings of this release whose work has not landed.
func notYet(cfg Config) error {
	const hint = "This setting is part of the next o365smtp release and not implemented yet: leave it unset."
	switch {
	case cfg.Transport < TransportSMTP || cfg.Transport > TransportAuto:
		return configError(fmt.Sprintf("Transport %d is not a known transport", int(cfg.Transport)),
			`Set Transport to TransportSMTP ("smtp"), TransportGraph ("graph") or TransportAuto ("auto").`)
	case cfg.Transport != TransportSMTP:
		return configError("Transport "+cfg.Transport.String()+" is not implemented yet", hint+" Only TransportSMTP works in this version.")
	case cfg.ManagedIdentity != "":
		return configError("ManagedIdentity is not implemented yet", hint+" Use ClientSecret, ClientSecretFile, Certificate or ClientAssertion.")
	case cfg.Fleet != nil:
		return configError("Fleet is not implemented yet", hint+" Each Sender keeps its own limits in this version.")
	}
	return nil
}

// maxCAFileSize bounds the CA file read by New.
const maxCAFileSize = 4 << 20

// readCAFile reads the certificates of a PEM file.
func readCAFile(name string) ([]*x509.Certificate, error) {
	b, err := readBounded(name, maxCAFileSize)
	if err != nil {
		return nil, &Error{Kind: ErrConfig, Op: "config", Message: fmt.Sprintf("cannot read CAFile %q", name),
			Hint: "Make CAFile name a readable PEM file of CA certificates (at most 4 MiB).", Err: err}
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
			return nil, &Error{Kind: ErrConfig, Op: "config", Message: fmt.Sprintf("CAFile %q holds a certificate that cannot be parsed", name),
				Hint: "Make CAFile a PEM bundle of CA certificates (-----BEGIN CERTIFICATE----- blocks).", Err: err}
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, configError(fmt.Sprintf("CAFile %q holds no PEM certificate", name),
			"Make CAFile a PEM bundle of CA certificates (-----BEGIN CERTIFICATE----- blocks).")
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
		return configError("TenantID is empty",
			"Set TenantID to the Directory (tenant) ID shown on the app registration's Overview page (a GUID), or to a verified domain such as contoso.onmicrosoft.com.")
	case isGUID(t):
		return nil
	case strings.EqualFold(t, "common") || strings.EqualFold(t, "organizations") || strings.EqualFold(t, "consumers"):
		return configError(fmt.Sprintf("TenantID %q is not a tenant", t),
			"The client-credentials grant needs a specific tenant: set TenantID to the Directory (tenant) ID (a GUID) or a verified domain of the tenant that owns the mailbox.")
	case domainRE.MatchString(t) && len(t) <= 253:
		return nil
	}
	return configError(fmt.Sprintf("TenantID %q is neither a GUID nor a domain", t),
		"Set TenantID to the Directory (tenant) ID shown on the app registration's Overview page, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47, or to a verified domain such as contoso.onmicrosoft.com.")
}

func checkClientID(id string) error {
	switch {
	case id == "":
		return configError("ClientID is empty",
			"Set ClientID to the Application (client) ID shown on the app registration's Overview page (a GUID).")
	case !isGUID(id):
		return configError(fmt.Sprintf("ClientID %q is not a GUID", id),
			"Set ClientID to the Application (client) ID shown on the app registration's Overview page, a GUID such as 11111111-2222-3333-4444-555555555555.")
	}
	return nil
}

func checkMailbox(m string) error {
	if m == "" {
		return configError("Mailbox is empty",
			"Set Mailbox to the address of the Exchange Online mailbox to send as, such as notifications@contoso.com.")
	}
	a, err := mail.ParseAddress(m)
	if err != nil || a.Address != m || a.Name != "" {
		return configError(fmt.Sprintf("Mailbox %q is not an email address", m),
			"Set Mailbox to a bare address such as notifications@contoso.com, without a display name or angle brackets.")
	}
	return nil
}

func checkSecret(s string) error {
	if s == "" {
		return nil
	}
	if isGUID(strings.TrimSpace(s)) {
		// Never echo the value: it might be a real secret after all.
		return configError("the client secret looks like a Secret ID (a GUID), not a secret Value",
			"Use the secret's Value, not its Secret ID: in Certificates & secrets the Value is shown only once, right after the secret is created. If it is lost, create a new client secret and copy its Value.")
	}
	if strings.TrimSpace(s) != s {
		return configError("the client secret has leading or trailing whitespace",
			"Remove the spaces or line breaks around the client secret's Value.")
	}
	return nil
}

// readSecretFile reads and trims a client secret file. Its errors never
// contain the file's contents.
func readSecretFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", &Error{Kind: ErrConfig, Op: "config", Message: fmt.Sprintf("cannot read ClientSecretFile %q", name),
			Hint: "Make ClientSecretFile name a readable file that holds the client secret's Value.", Err: err}
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", configError(fmt.Sprintf("ClientSecretFile %q is empty", name),
			"Write the client secret's Value into the file named by ClientSecretFile.")
	}
	if err := checkSecret(s); err != nil {
		return "", err
	}
	return s, nil
}

func checkCertificate(c *tls.Certificate) error {
	if len(c.Certificate) == 0 {
		return configError("Certificate has no certificate",
			"Load the certificate together with its private key, for example with tls.LoadX509KeyPair(certFile, keyFile).")
	}
	if c.PrivateKey == nil {
		return configError("Certificate has no private key",
			"Load the certificate together with its private key, for example with tls.LoadX509KeyPair(certFile, keyFile).")
	}
	key, ok := c.PrivateKey.(*rsa.PrivateKey)
	if !ok {
		return configError(fmt.Sprintf("Certificate has a %T private key; only RSA keys are supported", c.PrivateKey),
			"Create an RSA certificate (2048 bits or more), upload its public part to the app registration (Certificates & secrets > Certificates) and use it here.")
	}
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return &Error{Kind: ErrConfig, Op: "config", Message: "Certificate cannot be parsed",
				Hint: "Load the certificate with tls.LoadX509KeyPair from PEM files.", Err: err}
		}
	}
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return configError("Certificate's private key does not match its certificate",
			"Load the certificate and the private key that belong together.")
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
