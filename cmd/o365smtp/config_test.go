package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
)

func load(args []string, env map[string]string) (o365smtp.Config, error) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	return loadConfig(fs, args, func(k string) string { return env[k] })
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"O365SMTP_TENANT_ID":      "contoso.onmicrosoft.com",
		"O365SMTP_CLIENT_ID":      "11111111-2222-3333-4444-555555555555",
		"O365SMTP_CLIENT_SECRET":  "env-secret",
		"O365SMTP_MAILBOX":        "env@contoso.com",
		"O365SMTP_HOST":           "smtp.example.net",
		"O365SMTP_PORT":           "2525",
		"O365SMTP_SECURITY":       "starttls",
		"O365SMTP_CLOUD":          "gcchigh",
		"O365SMTP_AUTHORITY_HOST": "https://login.example.net",
		"O365SMTP_SCOPE":          "https://outlook.example.net/.default",
	}
	cfg, err := load(nil, env)
	if err != nil {
		t.Fatal(err)
	}
	want := o365smtp.Config{TenantID: "contoso.onmicrosoft.com", ClientID: "11111111-2222-3333-4444-555555555555",
		ClientSecret: "env-secret", Mailbox: "env@contoso.com", Host: "smtp.example.net", Port: 2525,
		Security: o365smtp.SecurityStartTLS, Cloud: o365smtp.CloudUSGovGCCHigh,
		AuthorityHost: "https://login.example.net", Scope: "https://outlook.example.net/.default"}
	if cfg.TenantID != want.TenantID || cfg.ClientID != want.ClientID || cfg.ClientSecret != want.ClientSecret ||
		cfg.Mailbox != want.Mailbox || cfg.Host != want.Host || cfg.Port != want.Port || cfg.Security != want.Security ||
		cfg.Cloud != want.Cloud || cfg.AuthorityHost != want.AuthorityHost || cfg.Scope != want.Scope {
		t.Errorf("from the environment: %+v, want %+v", cfg, want)
	}
	if cfg.TLSConfig != nil || cfg.HTTPClient != nil {
		t.Errorf("TLSConfig or HTTPClient set without a CA file")
	}

	// Flags win over the environment; an empty flag still wins.
	cfg, err = load([]string{"--mailbox", "flag@contoso.com", "--port=587", "--security", "tls", "--cloud", "global", "--host="}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mailbox != "flag@contoso.com" || cfg.Port != 587 || cfg.Security != o365smtp.SecurityImplicitTLS ||
		cfg.Cloud != o365smtp.CloudGlobal || cfg.Host != "" || cfg.TenantID != env["O365SMTP_TENANT_ID"] {
		t.Errorf("flags over the environment: %+v", cfg)
	}

	// A credential flag replaces every credential from the environment.
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("file-secret\n"), 0o600)
	cfg, err = load([]string{"--client-secret-file", secretFile}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientSecret != "" || cfg.ClientSecretFile != secretFile {
		t.Errorf("credential flag: ClientSecret %q, ClientSecretFile %q", cfg.ClientSecret, cfg.ClientSecretFile)
	}
	// ... and the workload identity's federated token file too.
	env["AZURE_FEDERATED_TOKEN_FILE"] = filepath.Join(t.TempDir(), "missing")
	if cfg, err = load([]string{"--client-secret-file", secretFile}, env); err != nil || cfg.ClientAssertion != nil {
		t.Errorf("credential flag with AZURE_FEDERATED_TOKEN_FILE set: ClientAssertion set %v, %v", cfg.ClientAssertion != nil, err)
	}

	// The library's reading of the environment: the transport, and the
	// workload identity fallback.
	cfg, err = load([]string{"--transport", "graph"}, map[string]string{"AZURE_TENANT_ID": "fabrikam.onmicrosoft.com", "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Transport != o365smtp.TransportGraph || cfg.TenantID != "fabrikam.onmicrosoft.com" || cfg.AuthorityHost != "https://login.microsoftonline.com" {
		t.Errorf("--transport and AZURE_*: Transport %v, TenantID %q, AuthorityHost %q", cfg.Transport, cfg.TenantID, cfg.AuthorityHost)
	}
	if cfg, err = load(nil, map[string]string{"O365SMTP_TRANSPORT": "auto"}); err != nil || cfg.Transport != o365smtp.TransportAuto {
		t.Errorf("O365SMTP_TRANSPORT=auto: %v, %v", cfg.Transport, err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"port word", nil, map[string]string{"O365SMTP_PORT": "smtp"}, "O365SMTP_PORT"},
		{"port zero", []string{"--port", "0"}, nil, "--port"},
		{"port big", []string{"--port", "65536"}, nil, "--port"},
		{"security", nil, map[string]string{"O365SMTP_SECURITY": "ssl"}, "auto, starttls or tls"},
		{"cloud", []string{"--cloud", "mars"}, nil, "global, gcchigh, dod or china"},
		{"CA missing", []string{"--ca-file", filepath.Join(dir, "nope")}, nil, "--ca-file"},
		{"CA directory", nil, map[string]string{"O365SMTP_CA_FILE": dir}, "not a regular file"},
		{"CA not PEM", []string{"--ca-file", notPEM}, nil, "no PEM certificate"},
		{"key without cert", []string{"--key-file", notPEM}, nil, "without O365SMTP_CERT_FILE (given as --key-file)"},
		{"secret file missing", []string{"--client-secret-file", filepath.Join(dir, "nope")}, nil, "O365SMTP_CLIENT_SECRET_FILE: cannot read"},
		{"secret file variable missing", nil, map[string]string{"O365SMTP_CLIENT_SECRET_FILE": filepath.Join(dir, "nope")}, "O365SMTP_CLIENT_SECRET_FILE"},
		{"assertion file missing", []string{"--client-assertion-file", filepath.Join(dir, "nope")}, nil, "(given as --client-assertion-file)"},
		{"federated token file missing", nil, map[string]string{"AZURE_FEDERATED_TOKEN_FILE": filepath.Join(dir, "nope")}, "AZURE_FEDERATED_TOKEN_FILE"},
		{"transport", []string{"--transport", "ews"}, nil, "smtp, graph or auto"},
		{"two credential variables", nil, map[string]string{"O365SMTP_CLIENT_SECRET": "s", "O365SMTP_MANAGED_IDENTITY": "system"}, "more than one credential"},
		{"tenant common", []string{"--tenant-id", "common"}, nil, "(given as --tenant-id)"},
		{"cert not PEM", []string{"--cert-file", notPEM}, nil, "certificate"},
		{"unknown flag", []string{"--tenant", "x"}, nil, "-tenant"},
		{"stray argument", []string{"x"}, nil, `"x"`},
		{"secret", []string{"--client-secret", "s"}, nil, "O365SMTP_CLIENT_SECRET"},
		{"secret after --", []string{"--", "--client-secret"}, nil, `"--client-secret"`},
	} {
		_, err := load(tc.args, tc.env)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want a usage error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := load([]string{"--help"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
}

// refusedTransports ask for a transport that New refuses in this version:
// by flag, by variable, and by flag over the variable.
var refusedTransports = []struct {
	args           []string
	env, transport string
}{
	{[]string{"--transport", "graph"}, "", "graph"},
	{nil, "auto", "auto"},
	{[]string{"--transport=graph"}, "smtp", "graph"},
}

func TestRefuseSecrets(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("subject", "", "")
	fs.Bool("json", false, "")
	for _, tc := range []struct {
		args   []string
		refuse bool
	}{
		{[]string{"--client-secret", "x"}, true},
		{[]string{"-client-secret=x"}, true},
		{[]string{"--Client-Secret=x"}, true},
		{[]string{"--json", "--token", "x"}, true},
		{[]string{"positional", "--password=x"}, true},
		{[]string{"--subject", "--client-secret"}, false}, // the subject's value
		{[]string{"--subject=a", "--client-secret"}, true},
		{[]string{"--json", "--client-secret"}, true},
		{[]string{"--", "--client-secret"}, false},
		{[]string{"--client-secret-file", "f"}, false},
	} {
		err := refuseSecrets(fs, tc.args)
		if (err != nil) != tc.refuse {
			t.Errorf("refuseSecrets(%q) = %v, want refused %v", tc.args, err, tc.refuse)
		}
	}
}

// writeCert writes a self-signed RSA certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := selfSigned(t, key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, certPEM, 0o644)
	os.WriteFile(keyFile, keyPEM, 0o600)
	return certFile, keyFile
}

// writeECDSACert writes a self-signed ECDSA certificate and its key to one
// PEM file: well-formed, but not the RSA key New requires.
func writeECDSACert(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := selfSigned(t, key)
	file := filepath.Join(t.TempDir(), "ecdsa.pem")
	if err := os.WriteFile(file, append(certPEM, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// selfSigned returns a self-signed CA certificate for key and the key, as
// PEM.
func selfSigned(t *testing.T, key crypto.Signer) (certPEM, keyPEM []byte) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "o365smtp test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func TestLoadConfigFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)

	// CA file: the library's CAFile, which New trusts for tokens and SMTP.
	cfg, err := load([]string{"--ca-file", certFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CAFile != certFile || cfg.TLSConfig != nil || cfg.HTTPClient != nil {
		t.Fatalf("CA file: CAFile %q, TLSConfig %v, HTTPClient %v", cfg.CAFile, cfg.TLSConfig, cfg.HTTPClient)
	}

	// Certificate credential, in two files or in one.
	cfg, err = load([]string{"--cert-file", certFile, "--key-file", keyFile}, map[string]string{"O365SMTP_CLIENT_SECRET": "s"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Certificate == nil || cfg.ClientSecret != "" {
		t.Errorf("cert and key files: Certificate %v, ClientSecret %q", cfg.Certificate, cfg.ClientSecret)
	}
	cfg, err = load(nil, map[string]string{"O365SMTP_CERT_FILE": certFile, "O365SMTP_KEY_FILE": keyFile})
	if err != nil || cfg.Certificate == nil {
		t.Errorf("cert and key from the environment: %v", err)
	}
	// The key is part of the credential: with --cert-file, O365SMTP_KEY_FILE
	// is not used.
	if _, err := load([]string{"--cert-file", certFile}, map[string]string{"O365SMTP_KEY_FILE": keyFile}); err == nil {
		t.Errorf("--cert-file took its key from O365SMTP_KEY_FILE")
	}
	both := filepath.Join(dir, "both.pem")
	c, _ := os.ReadFile(certFile)
	k, _ := os.ReadFile(keyFile)
	os.WriteFile(both, append(c, k...), 0o600)
	if cfg, err = load([]string{"--cert-file", both}, nil); err != nil || cfg.Certificate == nil {
		t.Errorf("one PEM file: %v", err)
	}

	// Client assertion: read, trimmed, on each call.
	assertion := filepath.Join(dir, "assertion")
	os.WriteFile(assertion, []byte(" first.jwt.value\n"), 0o600)
	cfg, err = load(nil, map[string]string{"O365SMTP_CLIENT_ASSERTION_FILE": assertion})
	if err != nil || cfg.ClientAssertion == nil {
		t.Fatalf("assertion file: %v", err)
	}
	if a, err := cfg.ClientAssertion(context.Background()); a != "first.jwt.value" || err != nil {
		t.Errorf("ClientAssertion() = %q, %v", a, err)
	}
	os.WriteFile(assertion, []byte("second.jwt.value"), 0o600)
	if a, err := cfg.ClientAssertion(context.Background()); a != "second.jwt.value" || err != nil {
		t.Errorf("ClientAssertion() after rotation = %q, %v", a, err)
	}
	os.WriteFile(assertion, []byte("\n"), 0o600)
	if _, err := cfg.ClientAssertion(context.Background()); err == nil {
		t.Errorf("ClientAssertion() of an empty file succeeded")
	}
}

// FuzzLoadConfig: no environment and no arguments make loadConfig panic,
// every error is a usage error (or help), and a secret flag is always
// refused.
func FuzzLoadConfig(f *testing.F) {
	f.Add("contoso.onmicrosoft.com", "11111111-2222-3333-4444-555555555555", "secret", "a@contoso.com", "smtp.office365.com",
		"587", "auto", "global", "https://login.microsoftonline.com", "", "--mailbox\nb@contoso.com\n--port=25", []byte("x"), uint8(0))
	f.Add("", "", "", "", "", "0x10", "TLS", "China", "", "", "--client-secret\nabc", []byte(""), uint8(1))
	f.Add("t", "c", "", "m", "h", "-1", "starttls", "dod", "a", "s", "--ca-file\n--cert-file=x", []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), uint8(255))
	dir := f.TempDir()
	file := filepath.Join(dir, "file")
	f.Fuzz(func(t *testing.T, tenant, clientID, secret, mailbox, host, port, security, cloud, authority, scope, args string, data []byte, files uint8) {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{
			"O365SMTP_TENANT_ID": tenant, "O365SMTP_CLIENT_ID": clientID, "O365SMTP_CLIENT_SECRET": secret,
			"O365SMTP_MAILBOX": mailbox, "O365SMTP_HOST": host, "O365SMTP_PORT": port, "O365SMTP_SECURITY": security,
			"O365SMTP_CLOUD": cloud, "O365SMTP_AUTHORITY_HOST": authority, "O365SMTP_SCOPE": scope,
		}
		for i, k := range []string{"O365SMTP_CA_FILE", "O365SMTP_CERT_FILE", "O365SMTP_KEY_FILE", "O365SMTP_CLIENT_SECRET_FILE", "O365SMTP_CLIENT_ASSERTION_FILE"} {
			if files&(1<<i) != 0 {
				env[k] = file
			}
		}
		var argv []string
		if args != "" {
			argv = strings.Split(args, "\n")
		}
		cfg, err := load(argv, env)
		var ue *usageError
		if err != nil && !errors.As(err, &ue) && !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("loadConfig(%q) error %v (%T), want a usage error", argv, err, err)
		}
		if len(argv) > 0 && strings.HasPrefix(argv[0], "-") {
			name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(argv[0], "-"), "-"), "=")
			if secretFlags[strings.ToLower(name)] && err == nil {
				t.Errorf("loadConfig(%q) accepted a secret on the command line", argv)
			}
		}
		if err != nil {
			return
		}
		if cfg.Port < 0 || cfg.Port > 65535 {
			t.Errorf("Port %d", cfg.Port)
		}
		if cfg.ClientAssertion != nil {
			cfg.ClientAssertion(context.Background())
		}
	})
}
