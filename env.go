package o365smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/o365smtp/o365smtp/internal/catalog"
)

// The environment variables ConfigFromEnv reads.
const (
	envTenantID            = "O365SMTP_TENANT_ID"
	envClientID            = "O365SMTP_CLIENT_ID"
	envClientSecret        = "O365SMTP_CLIENT_SECRET"
	envClientSecretFile    = "O365SMTP_CLIENT_SECRET_FILE"
	envCertFile            = "O365SMTP_CERT_FILE"
	envKeyFile             = "O365SMTP_KEY_FILE"
	envClientAssertionFile = "O365SMTP_CLIENT_ASSERTION_FILE"
	envManagedIdentity     = "O365SMTP_MANAGED_IDENTITY"
	envMailbox             = "O365SMTP_MAILBOX"
	envHost                = "O365SMTP_HOST"
	envPort                = "O365SMTP_PORT"
	envSecurity            = "O365SMTP_SECURITY"
	envCloud               = "O365SMTP_CLOUD"
	envAuthorityHost       = "O365SMTP_AUTHORITY_HOST"
	envScope               = "O365SMTP_SCOPE"
	envCAFile              = "O365SMTP_CA_FILE"
	envTransport           = "O365SMTP_TRANSPORT"
	envGraphURL            = "O365SMTP_GRAPH_URL"
	envGraphScope          = "O365SMTP_GRAPH_SCOPE"

	// Azure workload identity, as injected by the AKS webhook.
	envAzureTenantID      = "AZURE_TENANT_ID"
	envAzureClientID      = "AZURE_CLIENT_ID"
	envAzureTokenFile     = "AZURE_FEDERATED_TOKEN_FILE"
	envAzureAuthorityHost = "AZURE_AUTHORITY_HOST"
)

// maxEnvFileSize bounds the secret, assertion, certificate and key files
// named by the environment.
const maxEnvFileSize = 1 << 20

// ConfigFromEnv returns the Config that the O365SMTP_* environment variables
// describe (the same set, names and meanings as the o365smtp command's, plus
// O365SMTP_TRANSPORT, O365SMTP_GRAPH_URL and O365SMTP_MANAGED_IDENTITY).
// Where O365SMTP_TENANT_ID, O365SMTP_CLIENT_ID or a credential is absent, the
// workload identity variables that Azure injects are used: AZURE_TENANT_ID,
// AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE (a client assertion re-read for
// each token request) and AZURE_AUTHORITY_HOST. A malformed value is an
// *Error of Kind ErrConfig naming the variable.
//
// The variables and the Config fields they set:
//
//	O365SMTP_TENANT_ID              TenantID (else AZURE_TENANT_ID)
//	O365SMTP_CLIENT_ID              ClientID (else AZURE_CLIENT_ID)
//	O365SMTP_MAILBOX                Mailbox
//	O365SMTP_CLIENT_SECRET          ClientSecret
//	O365SMTP_CLIENT_SECRET_FILE     ClientSecretFile
//	O365SMTP_CERT_FILE              Certificate: a PEM certificate, and its key unless O365SMTP_KEY_FILE is set
//	O365SMTP_KEY_FILE               the PEM private key of O365SMTP_CERT_FILE
//	O365SMTP_CLIENT_ASSERTION_FILE  ClientAssertion, re-reading the file for each token request
//	O365SMTP_MANAGED_IDENTITY       ManagedIdentity: "system" or a client ID
//	O365SMTP_HOST, O365SMTP_PORT    Host, Port
//	O365SMTP_SECURITY               Security: auto, starttls or tls
//	O365SMTP_CLOUD                  Cloud: global, gcchigh, dod or china
//	O365SMTP_AUTHORITY_HOST         AuthorityHost (else AZURE_AUTHORITY_HOST, unless O365SMTP_CLOUD is set)
//	O365SMTP_SCOPE                  Scope
//	O365SMTP_CA_FILE                CAFile
//	O365SMTP_TRANSPORT              Transport: smtp, graph or auto
//	O365SMTP_GRAPH_URL              GraphURL
//	O365SMTP_GRAPH_SCOPE            GraphScope
//
// An empty variable is an absent one. At most one credential variable may be
// set; AZURE_FEDERATED_TOKEN_FILE is the credential only when none is. A
// trailing slash of an authority host (AKS injects
// "https://login.microsoftonline.com/") is dropped. When O365SMTP_CLOUD is
// set, AZURE_AUTHORITY_HOST is not used: the mailbox's cloud, and so its
// login host, may differ from the cluster's.
//
// ConfigFromEnv reads the files the variables name, so that a missing or
// unreadable file is reported here, naming its variable; it does no network
// I/O. Secrets and the contents of files are never part of an error. It
// checks the form of each value; New checks the Config as a whole. So a pod
// with AKS workload identity needs only O365SMTP_MAILBOX:
//
//	cfg, err := o365smtp.ConfigFromEnv()
//	if err != nil {
//		log.Fatal(err)
//	}
//	sender, err := o365smtp.New(cfg)
//
// The file that `o365smtp emulate --env-file` writes, once sourced, gives a
// Config that works against the emulator with no other code.
func ConfigFromEnv() (Config, error) {
	return ConfigFromLookup(os.Getenv)
}

// ConfigFromLookup is ConfigFromEnv with getenv in the place of os.Getenv:
// it returns the Config that the variables getenv reports describe. It lets
// a program take its configuration from somewhere other than the process
// environment (a map in a test, which then needs no t.Setenv, or a command
// whose flags override the environment, as the o365smtp command's do).
// getenv returns "" for an absent variable.
func ConfigFromLookup(getenv func(key string) string) (Config, error) {
	env := lookup(getenv)
	var cfg Config
	var err error

	name, v := env.first(envTenantID, envAzureTenantID)
	if err = env.check(name, v, checkTenant); err != nil {
		return Config{}, err
	}
	cfg.TenantID = v
	name, v = env.first(envClientID, envAzureClientID)
	if err = env.check(name, v, checkClientID); err != nil {
		return Config{}, err
	}
	cfg.ClientID = v
	cfg.Mailbox = env.get(envMailbox)
	if err = env.check(envMailbox, cfg.Mailbox, checkMailbox); err != nil {
		return Config{}, err
	}
	if err = env.credential(&cfg); err != nil {
		return Config{}, err
	}

	if cfg.Host = env.get(envHost); strings.ContainsAny(cfg.Host, ":/ ") && !isIPv6(cfg.Host) {
		return Config{}, envError("env.host", envHost, fmt.Sprintf("%q is not a host name", cfg.Host), nil)
	}
	if p := env.get(envPort); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, envError("env.port", envPort, fmt.Sprintf("%q is not a port number", p), nil)
		}
		cfg.Port = n
	}
	if err = env.text(envSecurity, &cfg.Security, "auto, starttls or tls"); err != nil {
		return Config{}, err
	}
	if err = env.text(envCloud, &cfg.Cloud, "global, gcchigh, dod or china"); err != nil {
		return Config{}, err
	}
	if err = env.text(envTransport, &cfg.Transport, "smtp, graph or auto"); err != nil {
		return Config{}, err
	}

	names := []string{envAuthorityHost}
	if env.get(envCloud) == "" {
		names = append(names, envAzureAuthorityHost)
	}
	name, v = env.first(names...)
	if cfg.AuthorityHost, err = httpsURL("env.authority", name, v, false); err != nil {
		return Config{}, err
	}
	cfg.Scope = env.get(envScope)
	if cfg.GraphURL, err = httpsURL("env.graph_url", envGraphURL, env.get(envGraphURL), true); err != nil {
		return Config{}, err
	}
	cfg.GraphScope = env.get(envGraphScope)

	if cfg.CAFile = env.get(envCAFile); cfg.CAFile != "" {
		if err := checkRegular("env.ca_file", envCAFile, cfg.CAFile); err != nil {
			return Config{}, err
		}
		if _, err := readCAFile(cfg.CAFile); err != nil {
			return Config{}, renamed(envCAFile, err)
		}
	}
	return cfg, nil
}

// lookup reads variables.
type lookup func(string) string

// get returns the value of the variable name, without surrounding space.
func (l lookup) get(name string) string { return strings.TrimSpace(l(name)) }

// first returns the first of names that is set, and its value; or the
// first name and "".
func (l lookup) first(names ...string) (name, value string) {
	for _, n := range names {
		if v := l.get(n); v != "" {
			return n, v
		}
	}
	return names[0], ""
}

// check runs a Config check on a value that is set, naming the variable in
// its error.
func (l lookup) check(name, v string, check func(string) error) error {
	if v == "" {
		return nil
	}
	return renamed(name, check(v))
}

// text sets dst from the variable name with UnmarshalText.
func (l lookup) text(name string, dst interface{ UnmarshalText([]byte) error }, valid string) error {
	v := l.get(name)
	if err := dst.UnmarshalText([]byte(v)); err != nil {
		return localError("env.choice", name+": "+fmt.Sprintf("%q is not one of %s", v, valid), catalog.Values{Subject: name, Choices: valid}, nil)
	}
	return nil
}

// credential sets cfg's credential from the credential variables, of which
// at most one may be set, or else from AZURE_FEDERATED_TOKEN_FILE.
func (l lookup) credential(cfg *Config) error {
	var set []string
	for _, n := range []string{envClientSecret, envClientSecretFile, envCertFile, envClientAssertionFile, envManagedIdentity} {
		if l(n) != "" {
			set = append(set, n)
		}
	}
	certFile, keyFile := l.get(envCertFile), l.get(envKeyFile)
	switch {
	case len(set) > 1:
		return configError("env.two_credentials", "more than one credential variable is set: "+strings.Join(set, ", "))
	case keyFile != "" && certFile == "":
		return envError("env.key_without_cert", envKeyFile, "set without "+envCertFile, nil)
	case len(set) == 0:
		if f := l.get(envAzureTokenFile); f != "" {
			return assertionFromFile(cfg, envAzureTokenFile, f)
		}
		return nil
	}
	switch set[0] {
	case envClientSecret:
		// As is: a secret with stray space is reported, never trimmed.
		cfg.ClientSecret = l(envClientSecret)
		return renamed(envClientSecret, checkSecret(cfg.ClientSecret))
	case envClientSecretFile:
		cfg.ClientSecretFile = l.get(envClientSecretFile)
		b, err := readEnvFile("env.secret_file", envClientSecretFile, cfg.ClientSecretFile)
		if err != nil {
			return err
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return envError("env.secret_file", envClientSecretFile, fmt.Sprintf("the file %q is empty", cfg.ClientSecretFile), nil)
		}
		return renamed(envClientSecretFile, checkSecret(s))
	case envCertFile:
		return certificateFromFiles(cfg, certFile, keyFile)
	case envClientAssertionFile:
		return assertionFromFile(cfg, envClientAssertionFile, l.get(envClientAssertionFile))
	}
	// envManagedIdentity
	cfg.ManagedIdentity = l.get(envManagedIdentity)
	if strings.EqualFold(cfg.ManagedIdentity, "system") {
		cfg.ManagedIdentity = "system"
	} else if !isGUID(cfg.ManagedIdentity) {
		return envError("env.managed_identity", envManagedIdentity, fmt.Sprintf("%q is neither \"system\" nor a client ID", cfg.ManagedIdentity), nil)
	}
	return nil
}

// certificateFromFiles loads the certificate credential; keyFile "" means
// that certFile holds the key too.
func certificateFromFiles(cfg *Config, certFile, keyFile string) error {
	certPEM, err := readEnvFile("env.cert_file", envCertFile, certFile)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%s: %q (certificate and key)", envCertFile, certFile)
	keyPEM := certPEM
	if keyFile != "" {
		what = fmt.Sprintf("%s: %q with %s %q", envCertFile, certFile, envKeyFile, keyFile)
		if keyPEM, err = readEnvFile("env.key_file", envKeyFile, keyFile); err != nil {
			return err
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The cause is crypto/tls's, which never quotes the key.
		return localError("env.cert_pair", fmt.Sprintf("%s cannot be loaded: %v", what, err), catalog.Values{}, err)
	}
	cfg.Certificate = &cert
	return nil
}

// assertionFromFile sets a ClientAssertion that reads file for each token
// request, after reading it once so that a missing file is reported now.
func assertionFromFile(cfg *Config, name, file string) error {
	if _, err := readAssertion(name, file); err != nil {
		return err
	}
	cfg.ClientAssertion = func(context.Context) (string, error) { return readAssertion(name, file) }
	return nil
}

// readAssertion reads and trims a client assertion file.
func readAssertion(name, file string) (string, error) {
	b, err := readEnvFile("env.assertion_file", name, file)
	if err != nil {
		return "", err
	}
	a := strings.TrimSpace(string(b))
	if a == "" {
		return "", envError("env.assertion_file", name, fmt.Sprintf("the file %q is empty", file), nil)
	}
	return a, nil
}

// readEnvFile reads the regular file named by the variable name, of at most
// maxEnvFileSize bytes. Its errors never hold the file's contents.
func readEnvFile(id, name, file string) ([]byte, error) {
	if err := checkRegular(id, name, file); err != nil {
		return nil, err
	}
	b, err := readBounded(file, maxEnvFileSize)
	if err != nil {
		return nil, envError(id, name, fmt.Sprintf("cannot read %q", file), err)
	}
	return b, nil
}

// checkRegular returns an ErrConfig naming the variable unless file is a
// regular file: a directory, device or FIFO could block or never end.
func checkRegular(id, name, file string) error {
	st, err := os.Stat(file)
	if err != nil {
		return envError(id, name, fmt.Sprintf("cannot read %q: %v", file, errors.Unwrap(err)), err)
	}
	if !st.Mode().IsRegular() {
		return envError(id, name, fmt.Sprintf("%q is not a regular file", file), nil)
	}
	return nil
}

// httpsURL validates and normalises an https URL from the variable name;
// without path, a URL with a path is refused. A trailing slash is dropped.
func httpsURL(id, name, v string, path bool) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
		(!path && u.Path != "" && u.Path != "/") {
		return "", envError(id, name, fmt.Sprintf("%q is not an https URL of a host", v), nil)
	}
	return strings.TrimRight(v, "/"), nil
}

// envError returns the ErrConfig of row id about the variable name: its
// Message starts with the name, and the Hint names it.
func envError(id, name, msg string, cause error) *Error {
	return localError(id, name+": "+msg, catalog.Values{Subject: name}, cause)
}

// renamed returns err, an *Error of a Config check, with the variable name
// in front of its Message.
func renamed(name string, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Message = name + ": " + e.Message
	return &c
}
