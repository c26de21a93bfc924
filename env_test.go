package o365smtp_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// envFiles are the files the ConfigFromEnv tests name in variables.
type envFiles struct {
	dir, cert, key, both, secret, assertion, ca, empty, garbage string
}

func writeEnvFiles(t *testing.T) envFiles {
	t.Helper()
	dir := t.TempDir()
	f := envFiles{dir: dir}
	c := rsaCert(t, time.Now().Add(time.Hour))
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.cert = write("cert.pem", certPEM)
	f.key = write("key.pem", keyPEM)
	f.both = write("both.pem", append(certPEM, keyPEM...))
	f.secret = write("secret", []byte("file-secret-value\n"))
	f.assertion = write("assertion", []byte("  federated.jwt.value\n"))
	f.ca = write("ca.pem", certPEM)
	f.empty = write("empty", []byte(" \n"))
	f.garbage = write("garbage", []byte("not PEM at all"))
	return f
}

// fromMap is ConfigFromLookup over env.
func fromMap(env map[string]string) (o365smtp.Config, error) {
	return o365smtp.ConfigFromLookup(func(k string) string { return env[k] })
}

const (
	envGUID1 = "11111111-2222-3333-4444-555555555555"
	envGUID2 = "66666666-7777-8888-9999-000000000000"
)

func TestConfigFromEnv(t *testing.T) {
	f := writeEnvFiles(t)
	for _, tc := range []struct {
		name      string
		env       map[string]string
		want      o365smtp.Config // without Certificate and ClientAssertion
		cert      bool            // want a Certificate
		assertion string          // want a ClientAssertion returning this
	}{
		{name: "nothing", env: nil, want: o365smtp.Config{}},
		{name: "tenant GUID", env: map[string]string{"O365SMTP_TENANT_ID": envGUID1}, want: o365smtp.Config{TenantID: envGUID1}},
		{name: "tenant domain, trimmed", env: map[string]string{"O365SMTP_TENANT_ID": " contoso.onmicrosoft.com\n"}, want: o365smtp.Config{TenantID: "contoso.onmicrosoft.com"}},
		{name: "client ID", env: map[string]string{"O365SMTP_CLIENT_ID": envGUID1}, want: o365smtp.Config{ClientID: envGUID1}},
		{name: "mailbox", env: map[string]string{"O365SMTP_MAILBOX": "alerts@contoso.com "}, want: o365smtp.Config{Mailbox: "alerts@contoso.com"}},
		{name: "client secret, as is", env: map[string]string{"O365SMTP_CLIENT_SECRET": "s3cr3t~value"}, want: o365smtp.Config{ClientSecret: "s3cr3t~value"}},
		{name: "client secret file", env: map[string]string{"O365SMTP_CLIENT_SECRET_FILE": f.secret}, want: o365smtp.Config{ClientSecretFile: f.secret}},
		{name: "cert and key files", env: map[string]string{"O365SMTP_CERT_FILE": f.cert, "O365SMTP_KEY_FILE": f.key}, cert: true},
		{name: "cert file with its key", env: map[string]string{"O365SMTP_CERT_FILE": f.both}, cert: true},
		{name: "client assertion file", env: map[string]string{"O365SMTP_CLIENT_ASSERTION_FILE": f.assertion}, assertion: "federated.jwt.value"},
		{name: "managed identity system", env: map[string]string{"O365SMTP_MANAGED_IDENTITY": "System"}, want: o365smtp.Config{ManagedIdentity: "system"}},
		{name: "managed identity client ID", env: map[string]string{"O365SMTP_MANAGED_IDENTITY": envGUID2}, want: o365smtp.Config{ManagedIdentity: envGUID2}},
		{name: "host", env: map[string]string{"O365SMTP_HOST": "smtp.example.net"}, want: o365smtp.Config{Host: "smtp.example.net"}},
		{name: "host IPv6", env: map[string]string{"O365SMTP_HOST": "::1"}, want: o365smtp.Config{Host: "::1"}},
		{name: "port", env: map[string]string{"O365SMTP_PORT": " 2525 "}, want: o365smtp.Config{Port: 2525}},
		{name: "security", env: map[string]string{"O365SMTP_SECURITY": "TLS"}, want: o365smtp.Config{Security: o365smtp.SecurityImplicitTLS}},
		{name: "cloud", env: map[string]string{"O365SMTP_CLOUD": "gcchigh"}, want: o365smtp.Config{Cloud: o365smtp.CloudUSGovGCCHigh}},
		{name: "authority host", env: map[string]string{"O365SMTP_AUTHORITY_HOST": "https://login.example.net"}, want: o365smtp.Config{AuthorityHost: "https://login.example.net"}},
		{name: "authority host, slash dropped", env: map[string]string{"O365SMTP_AUTHORITY_HOST": "https://login.example.net/"}, want: o365smtp.Config{AuthorityHost: "https://login.example.net"}},
		{name: "scope", env: map[string]string{"O365SMTP_SCOPE": "https://outlook.office365.us/.default"}, want: o365smtp.Config{Scope: "https://outlook.office365.us/.default"}},
		{name: "CA file", env: map[string]string{"O365SMTP_CA_FILE": f.ca}, want: o365smtp.Config{CAFile: f.ca}},
		{name: "transport graph", env: map[string]string{"O365SMTP_TRANSPORT": "graph"}, want: o365smtp.Config{Transport: o365smtp.TransportGraph}},
		{name: "transport auto", env: map[string]string{"O365SMTP_TRANSPORT": "Auto"}, want: o365smtp.Config{Transport: o365smtp.TransportAuto}},
		{name: "transport smtp", env: map[string]string{"O365SMTP_TRANSPORT": "smtp"}, want: o365smtp.Config{Transport: o365smtp.TransportSMTP}},
		{name: "graph URL", env: map[string]string{"O365SMTP_GRAPH_URL": "https://127.0.0.1:8443/"}, want: o365smtp.Config{GraphURL: "https://127.0.0.1:8443"}},
		{name: "graph scope", env: map[string]string{"O365SMTP_GRAPH_SCOPE": "https://graph.microsoft.us/.default"}, want: o365smtp.Config{GraphScope: "https://graph.microsoft.us/.default"}},

		// Azure workload identity, where the O365SMTP_ variable is absent.
		{name: "AZURE_TENANT_ID", env: map[string]string{"AZURE_TENANT_ID": envGUID1}, want: o365smtp.Config{TenantID: envGUID1}},
		{name: "O365SMTP_TENANT_ID over AZURE_TENANT_ID", env: map[string]string{"O365SMTP_TENANT_ID": envGUID2, "AZURE_TENANT_ID": envGUID1}, want: o365smtp.Config{TenantID: envGUID2}},
		{name: "AZURE_CLIENT_ID", env: map[string]string{"AZURE_CLIENT_ID": envGUID1}, want: o365smtp.Config{ClientID: envGUID1}},
		{name: "O365SMTP_CLIENT_ID over AZURE_CLIENT_ID", env: map[string]string{"O365SMTP_CLIENT_ID": envGUID2, "AZURE_CLIENT_ID": envGUID1}, want: o365smtp.Config{ClientID: envGUID2}},
		{name: "AZURE_FEDERATED_TOKEN_FILE", env: map[string]string{"AZURE_FEDERATED_TOKEN_FILE": f.assertion}, assertion: "federated.jwt.value"},
		{name: "client secret over AZURE_FEDERATED_TOKEN_FILE", env: map[string]string{"O365SMTP_CLIENT_SECRET": "s", "AZURE_FEDERATED_TOKEN_FILE": f.assertion}, want: o365smtp.Config{ClientSecret: "s"}},
		{name: "client secret file over AZURE_FEDERATED_TOKEN_FILE", env: map[string]string{"O365SMTP_CLIENT_SECRET_FILE": f.secret, "AZURE_FEDERATED_TOKEN_FILE": f.garbage}, want: o365smtp.Config{ClientSecretFile: f.secret}},
		{name: "certificate over AZURE_FEDERATED_TOKEN_FILE", env: map[string]string{"O365SMTP_CERT_FILE": f.both, "AZURE_FEDERATED_TOKEN_FILE": f.assertion}, cert: true},
		{name: "assertion file over AZURE_FEDERATED_TOKEN_FILE", env: map[string]string{"O365SMTP_CLIENT_ASSERTION_FILE": f.assertion, "AZURE_FEDERATED_TOKEN_FILE": f.garbage}, assertion: "federated.jwt.value"},
		{name: "managed identity over AZURE_FEDERATED_TOKEN_FILE", env: map[string]string{"O365SMTP_MANAGED_IDENTITY": "system", "AZURE_FEDERATED_TOKEN_FILE": f.assertion}, want: o365smtp.Config{ManagedIdentity: "system"}},
		{name: "AZURE_AUTHORITY_HOST as AKS injects it", env: map[string]string{"AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/"}, want: o365smtp.Config{AuthorityHost: "https://login.microsoftonline.com"}},
		{name: "O365SMTP_AUTHORITY_HOST over AZURE_AUTHORITY_HOST", env: map[string]string{"O365SMTP_AUTHORITY_HOST": "https://login.example.net", "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/"}, want: o365smtp.Config{AuthorityHost: "https://login.example.net"}},
		{name: "O365SMTP_CLOUD over AZURE_AUTHORITY_HOST", env: map[string]string{"O365SMTP_CLOUD": "gcchigh", "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/"}, want: o365smtp.Config{Cloud: o365smtp.CloudUSGovGCCHigh}},
		{
			name: "AKS workload identity pod",
			env: map[string]string{"O365SMTP_MAILBOX": "alerts@contoso.com", "AZURE_TENANT_ID": envGUID1, "AZURE_CLIENT_ID": envGUID2,
				"AZURE_FEDERATED_TOKEN_FILE": f.assertion, "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/"},
			want:      o365smtp.Config{TenantID: envGUID1, ClientID: envGUID2, Mailbox: "alerts@contoso.com", AuthorityHost: "https://login.microsoftonline.com"},
			assertion: "federated.jwt.value",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := fromMap(tc.env)
			if err != nil {
				t.Fatalf("ConfigFromLookup: %v", err)
			}
			if (cfg.Certificate != nil) != tc.cert {
				t.Errorf("Certificate %v, want one: %v", cfg.Certificate, tc.cert)
			}
			if cfg.Certificate != nil && (len(cfg.Certificate.Certificate) != 1 || cfg.Certificate.PrivateKey == nil) {
				t.Errorf("Certificate has %d certificates and key %T", len(cfg.Certificate.Certificate), cfg.Certificate.PrivateKey)
			}
			switch {
			case tc.assertion == "" && cfg.ClientAssertion != nil:
				t.Errorf("ClientAssertion set, want none")
			case tc.assertion != "" && cfg.ClientAssertion == nil:
				t.Errorf("no ClientAssertion, want one")
			case tc.assertion != "":
				if a, err := cfg.ClientAssertion(context.Background()); a != tc.assertion || err != nil {
					t.Errorf("ClientAssertion() = %q, %v, want %q", a, err, tc.assertion)
				}
			}
			cfg.Certificate, cfg.ClientAssertion = nil, nil
			if !reflect.DeepEqual(cfg, tc.want) {
				t.Errorf("ConfigFromLookup = %+v, want %+v", cfg, tc.want)
			}
		})
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	f := writeEnvFiles(t)
	fifo := filepath.Join(f.dir, "does-not-exist", "x")
	for _, tc := range []struct {
		name     string
		env      map[string]string
		variable string // named by Message
	}{
		{"tenant common", map[string]string{"O365SMTP_TENANT_ID": "common"}, "O365SMTP_TENANT_ID"},
		{"tenant word", map[string]string{"O365SMTP_TENANT_ID": "contoso"}, "O365SMTP_TENANT_ID"},
		{"AZURE_TENANT_ID word", map[string]string{"AZURE_TENANT_ID": "not a tenant"}, "AZURE_TENANT_ID"},
		{"client ID", map[string]string{"O365SMTP_CLIENT_ID": "my-app"}, "O365SMTP_CLIENT_ID"},
		{"AZURE_CLIENT_ID", map[string]string{"AZURE_CLIENT_ID": "my-app"}, "AZURE_CLIENT_ID"},
		{"mailbox display name", map[string]string{"O365SMTP_MAILBOX": "Alerts <alerts@contoso.com>"}, "O365SMTP_MAILBOX"},
		{"mailbox word", map[string]string{"O365SMTP_MAILBOX": "alerts"}, "O365SMTP_MAILBOX"},
		{"secret ID for secret", map[string]string{"O365SMTP_CLIENT_SECRET": envGUID1}, "O365SMTP_CLIENT_SECRET"},
		{"secret with space", map[string]string{"O365SMTP_CLIENT_SECRET": "secret\n"}, "O365SMTP_CLIENT_SECRET"},
		{"secret file missing", map[string]string{"O365SMTP_CLIENT_SECRET_FILE": filepath.Join(f.dir, "nope")}, "O365SMTP_CLIENT_SECRET_FILE"},
		{"secret file directory", map[string]string{"O365SMTP_CLIENT_SECRET_FILE": f.dir}, "O365SMTP_CLIENT_SECRET_FILE"},
		{"secret file empty", map[string]string{"O365SMTP_CLIENT_SECRET_FILE": f.empty}, "O365SMTP_CLIENT_SECRET_FILE"},
		{"two credentials", map[string]string{"O365SMTP_CLIENT_SECRET": "s", "O365SMTP_CLIENT_SECRET_FILE": f.secret}, "O365SMTP_CLIENT_SECRET_FILE"},
		{"three credentials", map[string]string{"O365SMTP_CERT_FILE": f.both, "O365SMTP_CLIENT_ASSERTION_FILE": f.assertion, "O365SMTP_MANAGED_IDENTITY": "system"}, "O365SMTP_MANAGED_IDENTITY"},
		{"cert missing", map[string]string{"O365SMTP_CERT_FILE": fifo}, "O365SMTP_CERT_FILE"},
		{"cert not PEM", map[string]string{"O365SMTP_CERT_FILE": f.garbage}, "O365SMTP_CERT_FILE"},
		{"cert without key", map[string]string{"O365SMTP_CERT_FILE": f.cert}, "O365SMTP_CERT_FILE"},
		{"key missing", map[string]string{"O365SMTP_CERT_FILE": f.cert, "O365SMTP_KEY_FILE": filepath.Join(f.dir, "nope")}, "O365SMTP_KEY_FILE"},
		{"key not PEM", map[string]string{"O365SMTP_CERT_FILE": f.cert, "O365SMTP_KEY_FILE": f.garbage}, "O365SMTP_KEY_FILE"},
		{"key without cert", map[string]string{"O365SMTP_KEY_FILE": f.key}, "O365SMTP_KEY_FILE"},
		{"assertion file missing", map[string]string{"O365SMTP_CLIENT_ASSERTION_FILE": filepath.Join(f.dir, "nope")}, "O365SMTP_CLIENT_ASSERTION_FILE"},
		{"assertion file empty", map[string]string{"O365SMTP_CLIENT_ASSERTION_FILE": f.empty}, "O365SMTP_CLIENT_ASSERTION_FILE"},
		{"federated token file missing", map[string]string{"AZURE_FEDERATED_TOKEN_FILE": filepath.Join(f.dir, "nope")}, "AZURE_FEDERATED_TOKEN_FILE"},
		{"federated token file empty", map[string]string{"AZURE_FEDERATED_TOKEN_FILE": f.empty}, "AZURE_FEDERATED_TOKEN_FILE"},
		{"managed identity word", map[string]string{"O365SMTP_MANAGED_IDENTITY": "user"}, "O365SMTP_MANAGED_IDENTITY"},
		{"host with port", map[string]string{"O365SMTP_HOST": "smtp.office365.com:587"}, "O365SMTP_HOST"},
		{"host URL", map[string]string{"O365SMTP_HOST": "smtp://smtp.office365.com"}, "O365SMTP_HOST"},
		{"port word", map[string]string{"O365SMTP_PORT": "smtp"}, "O365SMTP_PORT"},
		{"port zero", map[string]string{"O365SMTP_PORT": "0"}, "O365SMTP_PORT"},
		{"port big", map[string]string{"O365SMTP_PORT": "65536"}, "O365SMTP_PORT"},
		{"security", map[string]string{"O365SMTP_SECURITY": "ssl"}, "O365SMTP_SECURITY"},
		{"cloud", map[string]string{"O365SMTP_CLOUD": "mars"}, "O365SMTP_CLOUD"},
		{"transport", map[string]string{"O365SMTP_TRANSPORT": "ews"}, "O365SMTP_TRANSPORT"},
		{"authority http", map[string]string{"O365SMTP_AUTHORITY_HOST": "http://login.microsoftonline.com"}, "O365SMTP_AUTHORITY_HOST"},
		{"authority with tenant", map[string]string{"O365SMTP_AUTHORITY_HOST": "https://login.microsoftonline.com/contoso.com"}, "O365SMTP_AUTHORITY_HOST"},
		{"authority bare host", map[string]string{"O365SMTP_AUTHORITY_HOST": "login.microsoftonline.com"}, "O365SMTP_AUTHORITY_HOST"},
		{"AZURE_AUTHORITY_HOST http", map[string]string{"AZURE_AUTHORITY_HOST": "http://login.microsoftonline.com/"}, "AZURE_AUTHORITY_HOST"},
		{"graph URL http", map[string]string{"O365SMTP_GRAPH_URL": "http://graph.microsoft.com"}, "O365SMTP_GRAPH_URL"},
		{"graph URL query", map[string]string{"O365SMTP_GRAPH_URL": "https://graph.microsoft.com/?x=1"}, "O365SMTP_GRAPH_URL"},
		{"CA missing", map[string]string{"O365SMTP_CA_FILE": filepath.Join(f.dir, "nope")}, "O365SMTP_CA_FILE"},
		{"CA directory", map[string]string{"O365SMTP_CA_FILE": f.dir}, "O365SMTP_CA_FILE"},
		{"CA not PEM", map[string]string{"O365SMTP_CA_FILE": f.garbage}, "O365SMTP_CA_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fromMap(tc.env)
			var e *o365smtp.Error
			if !errors.As(err, &e) {
				t.Fatalf("ConfigFromLookup: %v (%T), want an *o365smtp.Error", err, err)
			}
			if e.Kind != o365smtp.ErrConfig || e.Op != "config" || !errors.Is(err, o365smtp.ErrConfig) {
				t.Errorf("Kind %q, Op %q, want config, config", e.Kind, e.Op)
			}
			if !strings.Contains(e.Message, tc.variable) || !strings.Contains(err.Error(), tc.variable) {
				t.Errorf("Message %q, Error() %q: want %s named", e.Message, err, tc.variable)
			}
			if e.Hint == "" {
				t.Errorf("no Hint for %q", e.Message)
			}
		})
	}
}

// TestConfigFromEnvNeverEchoesSecrets: neither a secret nor a file's
// contents are in any part of an error.
func TestConfigFromEnvNeverEchoesSecrets(t *testing.T) {
	dir := t.TempDir()
	secretID := "0f0e0d0c-1b1a-2c2b-3d3e-4f4e4d4c4b4a" // pasted in place of the secret's Value
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, secret string
		env          map[string]string
	}{
		{"secret ID", secretID, map[string]string{"O365SMTP_CLIENT_SECRET": secretID}},
		{"secret ID with space", secretID, map[string]string{"O365SMTP_CLIENT_SECRET": " " + secretID + " "}},
		{"secret with newline", "Xy7Q~trailing.newline", map[string]string{"O365SMTP_CLIENT_SECRET": "Xy7Q~trailing.newline\n"}},
		{"two credentials", "Ab8Q~two.credentials", map[string]string{"O365SMTP_CLIENT_SECRET": "Ab8Q~two.credentials", "O365SMTP_MANAGED_IDENTITY": "system"}},
		{"secret ID in file", secretID, map[string]string{"O365SMTP_CLIENT_SECRET_FILE": write("secret-id", secretID+"\n")}},
		{"secret as cert", "Cd9Q~not.a.certificate", map[string]string{"O365SMTP_CERT_FILE": write("cert", "Cd9Q~not.a.certificate")}},
		{"secret as key", "Ef0Q~not.a.key", map[string]string{"O365SMTP_CERT_FILE": write("cert2", "-----BEGIN CERTIFICATE-----\nEf0Q\n-----END CERTIFICATE-----\n"), "O365SMTP_KEY_FILE": write("key", "Ef0Q~not.a.key")}},
		{"secret as CA", "Gh1Q~not.a.ca", map[string]string{"O365SMTP_CA_FILE": write("ca", "Gh1Q~not.a.ca")}},
		{"secret in tenant", "Ij2Q~pasted.as.tenant", map[string]string{"O365SMTP_CLIENT_SECRET": "Ij2Q~pasted.as.tenant", "O365SMTP_PORT": "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fromMap(tc.env)
			var e *o365smtp.Error
			if !errors.As(err, &e) {
				t.Fatalf("ConfigFromLookup: %v, want an *o365smtp.Error", err)
			}
			for i, s := range []string{err.Error(), e.Message, e.Hint, fmt.Sprintf("%+v", e), fmt.Sprint(e.Err)} {
				if strings.Contains(s, tc.secret) {
					t.Errorf("part %d of the error holds the secret: %q", i, s)
				}
			}
		})
	}
}

// TestConfigFromEnvAssertionReread: the assertion file is read for each
// token request, so a rotated token is used and a broken file is an error
// naming the variable.
func TestConfigFromEnvAssertionReread(t *testing.T) {
	for _, name := range []string{"O365SMTP_CLIENT_ASSERTION_FILE", "AZURE_FEDERATED_TOKEN_FILE"} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(file, []byte("first.jwt\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := fromMap(map[string]string{name: file})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if a, err := cfg.ClientAssertion(ctx); a != "first.jwt" || err != nil {
				t.Errorf("ClientAssertion() = %q, %v, want first.jwt", a, err)
			}
			os.WriteFile(file, []byte("second.jwt"), 0o600)
			if a, err := cfg.ClientAssertion(ctx); a != "second.jwt" || err != nil {
				t.Errorf("ClientAssertion() after rotation = %q, %v, want second.jwt", a, err)
			}
			os.WriteFile(file, []byte("\n"), 0o600)
			if _, err := cfg.ClientAssertion(ctx); !errors.Is(err, o365smtp.ErrConfig) || !strings.Contains(err.Error(), name) {
				t.Errorf("ClientAssertion() of an empty file: %v, want ErrConfig naming %s", err, name)
			}
			os.WriteFile(file, make([]byte, 1<<20+1), 0o600)
			if _, err := cfg.ClientAssertion(ctx); !errors.Is(err, o365smtp.ErrConfig) {
				t.Errorf("ClientAssertion() of a file over 1 MiB: %v, want ErrConfig", err)
			}
			os.Remove(file)
			if _, err := cfg.ClientAssertion(ctx); !errors.Is(err, o365smtp.ErrConfig) || !strings.Contains(err.Error(), name) {
				t.Errorf("ClientAssertion() of a removed file: %v, want ErrConfig naming %s", err, name)
			}
		})
	}
}

// TestConfigFromEnvReadsTheProcessEnvironment: ConfigFromEnv is
// ConfigFromLookup(os.Getenv).
func TestConfigFromEnvReadsTheProcessEnvironment(t *testing.T) {
	t.Setenv("O365SMTP_MAILBOX", "process@contoso.com")
	t.Setenv("O365SMTP_PORT", "2525")
	cfg, err := o365smtp.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mailbox != "process@contoso.com" || cfg.Port != 2525 {
		t.Errorf("ConfigFromEnv() = %+v, want the process's O365SMTP_MAILBOX and O365SMTP_PORT", cfg)
	}
	t.Setenv("O365SMTP_PORT", "twenty-five")
	if _, err := o365smtp.ConfigFromEnv(); !errors.Is(err, o365smtp.ErrConfig) {
		t.Errorf("ConfigFromEnv() with a bad O365SMTP_PORT: %v, want ErrConfig", err)
	}
}

// TestConfigFromEnvWorkloadIdentity: a pod with AKS workload identity sets
// only O365SMTP_MAILBOX (here also the emulator's endpoints and CA), and
// sends.
func TestConfigFromEnvWorkloadIdentity(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "azure-identity-token")
	os.WriteFile(tokenFile, []byte("projected.service.account.token\n"), 0o600)
	srv.SetFederatedAssertion("projected.service.account.token")
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, srv.CACertPEM(), 0o644)
	emu := srv.Config()

	cfg, err := fromMap(map[string]string{
		// What the AKS webhook injects.
		"AZURE_TENANT_ID":            srv.TenantID,
		"AZURE_CLIENT_ID":            srv.ClientID,
		"AZURE_FEDERATED_TOKEN_FILE": tokenFile,
		"AZURE_AUTHORITY_HOST":       srv.AuthorityHost + "/",
		// What the application sets; only the mailbox outside a test.
		"O365SMTP_MAILBOX":   srv.Mailbox,
		"O365SMTP_HOST":      emu.Host,
		"O365SMTP_PORT":      fmt.Sprint(emu.Port),
		"O365SMTP_SECURITY":  emu.Security.String(),
		"O365SMTP_SCOPE":     emu.Scope,
		"O365SMTP_CA_FILE":   ca,
		"O365SMTP_TRANSPORT": "smtp",
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := o365smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := mail.NewMsg()
	msg.To("someone@example.com")
	msg.Subject("workload identity")
	msg.SetBodyString(mail.TypeTextPlain, "hi")
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := srv.Messages(); len(got) != 1 || got[0].Mailbox != srv.Mailbox {
		t.Errorf("the emulator received %+v, want one message as %s", got, srv.Mailbox)
	}
	report, err := s.Verify(context.Background())
	if err != nil || report.Credential != "client_assertion" {
		t.Errorf("Verify: credential %q, %v, want client_assertion", report.Credential, err)
	}
}
