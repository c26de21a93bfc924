package o365smtp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp/internal/httpguard"
)

const (
	testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testClient = "11111111-2222-3333-4444-555555555555"
)

func validConfig() Config {
	return Config{TenantID: testTenant, ClientID: testClient, Mailbox: "sender@contoso.com", ClientSecret: "s3cr~et-value"}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of Message
		hint   string // substring of Hint
	}{
		{"no tenant", func(c *Config) { c.TenantID = "" }, "TenantID is empty", "Directory (tenant) ID"},
		{"tenant garbage", func(c *Config) { c.TenantID = "not a tenant" }, "neither a GUID nor a domain", "verified domain"},
		{"tenant common", func(c *Config) { c.TenantID = "common" }, "not a tenant", "specific tenant"},
		{"no client", func(c *Config) { c.ClientID = "" }, "ClientID is empty", "Application (client) ID"},
		{"client not guid", func(c *Config) { c.ClientID = "my-app" }, "not a GUID", "Application (client) ID"},
		{"no mailbox", func(c *Config) { c.Mailbox = "" }, "Mailbox is empty", "mailbox to send as"},
		{"mailbox not address", func(c *Config) { c.Mailbox = "sender" }, "not an email address", "bare address"},
		{"mailbox with name", func(c *Config) { c.Mailbox = "Sender <sender@contoso.com>" }, "not an email address", "bare address"},
		{"no credential", func(c *Config) { c.ClientSecret = "" }, "no credential", "secret's Value"},
		{"two credentials", func(c *Config) { c.ClientSecretFile = "/x" }, "more than one credential is set: ClientSecret, ClientSecretFile", "exactly one"},
		{"secret id pasted", func(c *Config) { c.ClientSecret = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" }, "Secret ID", "shown only once"},
		{"secret file missing", func(c *Config) { c.ClientSecret = ""; c.ClientSecretFile = filepath.Join(dir, "nope") }, "cannot read ClientSecretFile", "readable file"},
		{"secret file empty", func(c *Config) { c.ClientSecret = ""; c.ClientSecretFile = empty }, "is empty", "Write the client secret"},
		{"port too big", func(c *Config) { c.Port = 70000 }, "out of range", "587"},
		{"port negative", func(c *Config) { c.Port = -1 }, "out of range", "587"},
		{"authority http", func(c *Config) { c.AuthorityHost = "http://login.microsoftonline.com" }, "not an https URL", "https://login.microsoftonline.com"},
		{"authority with tenant", func(c *Config) { c.AuthorityHost = "https://login.microsoftonline.com/" + testTenant }, "not an https URL", "no tenant"},
		{"insecure tls", func(c *Config) { c.TLSConfig = &tls.Config{InsecureSkipVerify: true} }, "InsecureSkipVerify", "RootCAs"},
		{"tls 1.1", func(c *Config) { c.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS11} }, "below TLS 1.2", "TLS 1.2"},
		{"negative conns", func(c *Config) { c.MaxConnections = -1 }, "negative", "3 per mailbox"},
		{"negative attempts", func(c *Config) { c.MaxAttempts = -2 }, "negative", "retries"},
		{"bad cloud", func(c *Config) { c.Cloud = 9 }, "not a known cloud", "gcchigh"},
		{"bad security", func(c *Config) { c.Security = 7 }, "not a known mode", "starttls"},
		{"host with port", func(c *Config) { c.Host = "smtp.office365.com:587" }, "not a host name", "Port"},
		{"cert without key", func(c *Config) { c.ClientSecret = ""; c.Certificate = &tls.Certificate{Certificate: [][]byte{{1}}} }, "no private key", "LoadX509KeyPair"},
		{"cert without cert", func(c *Config) { c.ClientSecret = ""; c.Certificate = &tls.Certificate{PrivateKey: ecKey} }, "has no certificate", "LoadX509KeyPair"},
		{"negative retry backoff", func(c *Config) { c.RetryBackoff = -time.Second }, "RetryBackoff -1s is negative", "first retry"},
		{"auto with a token source", func(c *Config) {
			c.Transport = TransportAuto
			c.ClientSecret = ""
			c.TokenSource = TokenSourceFunc(func(context.Context) (Token, error) { return Token{}, nil })
		}, "TransportAuto needs two tokens", "TransportGraph"},
		{"graph url", func(c *Config) { c.Transport = TransportGraph; c.GraphURL = "http://graph.example" }, "not an https URL", "GraphURL"},
		{"bad transport", func(c *Config) { c.Transport = 5 }, "not a known transport", "TransportGraph"},
		{"managed identity not an ID", func(c *Config) { c.ClientSecret = ""; c.ManagedIdentity = "my-identity" }, `ManagedIdentity "my-identity" is neither "system" nor a client ID`, "Client ID"},
		{"managed identity and secret", func(c *Config) { c.ManagedIdentity = "system" }, "more than one credential is set: ClientSecret, ManagedIdentity", "exactly one"},
		{"ca file missing", func(c *Config) { c.CAFile = filepath.Join(dir, "nope.pem") }, "cannot read CAFile", "PEM file"},
		{"ca file without certificate", func(c *Config) { c.CAFile = empty }, "holds no PEM certificate", "BEGIN CERTIFICATE"},
		{"ec key", func(c *Config) {
			c.ClientSecret = ""
			c.Certificate = &tls.Certificate{Certificate: [][]byte{{1}}, PrivateKey: ecKey}
		}, "only RSA", "RSA certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.mutate(&cfg)
			s, err := New(cfg)
			if err == nil {
				s.Close()
				t.Fatalf("New succeeded; want ErrConfig")
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != ErrConfig || e.Op != "config" {
				t.Fatalf("New error = %#v; want *Error Kind config Op config", err)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("errors.Is(err, ErrConfig) = false")
			}
			if !strings.Contains(e.Message, tc.want) {
				t.Errorf("Message = %q; want it to contain %q", e.Message, tc.want)
			}
			if !strings.Contains(e.Hint, tc.hint) {
				t.Errorf("Hint = %q; want it to contain %q", e.Hint, tc.hint)
			}
			if strings.Contains(err.Error(), e.Hint) {
				t.Errorf("Error() contains the Hint")
			}
			if strings.Contains(err.Error()+e.Hint, "s3cr~et-value") {
				t.Errorf("the error shows the secret")
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	cases := []struct {
		cfg                    Config
		host, authority, scope string
		port                   int
		implicit               bool
	}{
		{validConfig(), "smtp.office365.com", "https://login.microsoftonline.com", "https://outlook.office365.com/.default", 587, false},
		{func() Config { c := validConfig(); c.Security = SecurityImplicitTLS; return c }(), "smtp.office365.com", "https://login.microsoftonline.com", "https://outlook.office365.com/.default", 465, true},
		{func() Config { c := validConfig(); c.Port = 465; return c }(), "smtp.office365.com", "https://login.microsoftonline.com", "https://outlook.office365.com/.default", 465, true},
		{func() Config { c := validConfig(); c.Port = 465; c.Security = SecurityStartTLS; return c }(), "smtp.office365.com", "https://login.microsoftonline.com", "https://outlook.office365.com/.default", 465, false},
		{func() Config { c := validConfig(); c.Cloud = CloudUSGovGCCHigh; return c }(), "smtp.office365.us", "https://login.microsoftonline.us", "https://outlook.office365.us/.default", 587, false},
		{func() Config { c := validConfig(); c.Cloud = CloudUSGovDoD; return c }(), "outlook-dod.office365.us", "https://login.microsoftonline.us", "https://outlook-dod.office365.us/.default", 587, false},
		{func() Config { c := validConfig(); c.Cloud = CloudChina; return c }(), "smtp.partner.outlook.cn", "https://login.partner.microsoftonline.cn", "https://partner.outlook.cn/.default", 587, false},
		{func() Config {
			c := validConfig()
			c.Cloud, c.Host, c.AuthorityHost, c.Scope = CloudChina, "smtp.example.net", "https://login.example.net/", "https://x.example.net/.default"
			return c
		}(), "smtp.example.net", "https://login.example.net", "https://x.example.net/.default", 587, false},
	}
	for _, tc := range cases {
		r, err := resolve(tc.cfg)
		if err != nil {
			t.Fatalf("resolve(%v): %v", tc.cfg, err)
		}
		if r.host != tc.host || r.authority != tc.authority || r.scope != tc.scope || r.port != tc.port || r.implicitTLS != tc.implicit {
			t.Errorf("resolve(%v) = %s %s %s %d %v; want %s %s %s %d %v", tc.cfg, r.host, r.authority, r.scope, r.port, r.implicitTLS,
				tc.host, tc.authority, tc.scope, tc.port, tc.implicit)
		}
		if r.maxConns != 3 || r.perMinute != 30 || r.maxAttempts != 3 || r.tlsConfig.MinVersion != tls.VersionTLS12 || r.tlsConfig.ServerName != tc.host {
			t.Errorf("pacing/TLS defaults = %d %d %d %x %q", r.maxConns, r.perMinute, r.maxAttempts, r.tlsConfig.MinVersion, r.tlsConfig.ServerName)
		}
	}
}

func TestConfigJSON(t *testing.T) {
	in := `{"tenant_id":"contoso.onmicrosoft.com","client_id":"` + testClient + `","mailbox":"a@contoso.com","client_secret_file":"/run/secret","cloud":"gcchigh","security":"starttls","port":587,"max_connections":2,"messages_per_minute":-1}`
	var c Config
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if c.Cloud != CloudUSGovGCCHigh || c.Security != SecurityStartTLS || c.MaxConnections != 2 || c.MessagesPerMinute != -1 || c.ClientSecretFile != "/run/secret" {
		t.Errorf("Unmarshal = %+v", c)
	}
	c.ClientSecret = "s3cr~et-value"
	b, _ := json.Marshal(c)
	if strings.Contains(string(b), "s3cr~et-value") || !strings.Contains(string(b), `"cloud":"gcchigh"`) {
		t.Errorf("Marshal = %s", b)
	}
	var bad Config
	if err := json.Unmarshal([]byte(`{"cloud":"mars"}`), &bad); err == nil {
		t.Errorf("unknown cloud accepted")
	}
	if err := json.Unmarshal([]byte(`{"security":"ssl3"}`), &bad); err == nil {
		t.Errorf("unknown security accepted")
	}
}

func TestInstanceDiscoveryPerCloud(t *testing.T) {
	for c := range clouds {
		cfg := validConfig()
		cfg.Cloud = Cloud(c)
		r, err := resolve(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !instanceDiscovery(r.authority) {
			t.Errorf("cloud %s (%s): instance discovery off; want on for Microsoft's login host", Cloud(c), r.authority)
		}
	}
	for _, a := range []string{"https://127.0.0.1:8443", "https://login.microsoftonline.com:8443", "https://login.example.net"} {
		if instanceDiscovery(a) {
			t.Errorf("instance discovery on for %s; want off", a)
		}
	}
}

func TestPolicyDefaults(t *testing.T) {
	cases := []struct {
		name            string
		backoff, cool   time.Duration
		wantB, wantCool time.Duration
	}{
		{"defaults", 0, 0, time.Second, 30 * time.Second},
		{"set", 10 * time.Millisecond, time.Minute, 10 * time.Millisecond, time.Minute},
		{"cool-off disabled", 0, -1, time.Second, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			cfg.RetryBackoff, cfg.CoolOff = tc.backoff, tc.cool
			r, err := resolve(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if r.retryBackoff != tc.wantB || r.coolOff != tc.wantCool {
				t.Errorf("retryBackoff, coolOff = %v, %v; want %v, %v", r.retryBackoff, r.coolOff, tc.wantB, tc.wantCool)
			}
		})
	}
}

func TestCAFileTrustedForSMTPAndTokens(t *testing.T) {
	ca := writeTestCA(t)
	cfg := validConfig()
	cfg.CAFile = ca.file
	r, err := resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts := x509.VerifyOptions{Roots: r.tlsConfig.RootCAs}
	if _, err := ca.cert.Verify(opts); err != nil {
		t.Errorf("SMTP TLS roots do not trust the CA file: %v", err)
	}
	tr, ok := httpguard.Base(r.httpClient).(*http.Transport)
	if !ok || tr.TLSClientConfig == nil {
		t.Fatalf("HTTP client transport = %T; want an *http.Transport with the CA file's roots", r.httpClient.Transport)
	}
	if _, err := ca.cert.Verify(x509.VerifyOptions{Roots: tr.TLSClientConfig.RootCAs}); err != nil {
		t.Errorf("token endpoint roots do not trust the CA file: %v", err)
	}
	if tr.TLSClientConfig.MinVersion < tls.VersionTLS12 {
		t.Errorf("token endpoint MinVersion = %x; want TLS 1.2 or newer", tr.TLSClientConfig.MinVersion)
	}

	// An explicit HTTPClient is used as it is; an explicit TLSConfig's
	// RootCAs gain the CA file's certificates.
	own := &http.Client{}
	cfg.HTTPClient = own
	cfg.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()}
	r, err = resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if httpguard.Base(r.httpClient) != httpguard.Base(own) {
		t.Error("CAFile replaced the transport of the Config's HTTPClient")
	}
	if _, err := ca.cert.Verify(x509.VerifyOptions{Roots: r.tlsConfig.RootCAs}); err != nil {
		t.Errorf("TLSConfig.RootCAs did not gain the CA file: %v", err)
	}
	if _, err := ca.cert.Verify(x509.VerifyOptions{Roots: cfg.TLSConfig.RootCAs}); err == nil {
		t.Error("the caller's RootCAs pool was modified")
	}
}

type testCA struct {
	cert *x509.Certificate
	file string
}

func writeTestCA(t *testing.T) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "o365smtp test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testCA{cert: cert, file: file}
}
