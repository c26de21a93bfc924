package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/o365smtp/o365smtp"
)

// setting is one configuration value: its flag (empty for secrets, which have
// none) and its environment variable.
type setting struct {
	flag, env, help string
	credential      bool // a credential: a credential flag replaces every credential variable
}

// The configuration settings, in the order --help lists them.
var settings = []setting{
	{"tenant-id", "O365SMTP_TENANT_ID", "Directory (tenant) `ID` (a GUID) or verified domain", false},
	{"client-id", "O365SMTP_CLIENT_ID", "Application (client) `ID` of the app registration (a GUID)", false},
	{"mailbox", "O365SMTP_MAILBOX", "`address` of the mailbox to send as", false},
	{"", "O365SMTP_CLIENT_SECRET", "client secret Value (never a flag: other processes can read a command line)", true},
	{"client-secret-file", "O365SMTP_CLIENT_SECRET_FILE", "`file` holding the client secret Value (re-read for each token)", true},
	{"cert-file", "O365SMTP_CERT_FILE", "PEM `file` of the certificate credential (RSA); may also hold the key", true},
	{"key-file", "O365SMTP_KEY_FILE", "PEM `file` of the certificate credential's private key", true},
	{"client-assertion-file", "O365SMTP_CLIENT_ASSERTION_FILE", "`file` holding a federated credential (JWT), re-read for each token, e.g. $AZURE_FEDERATED_TOKEN_FILE", true},
	{"host", "O365SMTP_HOST", "SMTP `host` (default per cloud: smtp.office365.com)", false},
	{"port", "O365SMTP_PORT", "SMTP `port` (default 587; 465 with --security tls)", false},
	{"security", "O365SMTP_SECURITY", "`mode`: auto, starttls or tls (default auto)", false},
	{"cloud", "O365SMTP_CLOUD", "`cloud`: global, gcchigh, dod or china (default global)", false},
	{"authority-host", "O365SMTP_AUTHORITY_HOST", "login host `URL` (default per cloud: https://login.microsoftonline.com)", false},
	{"scope", "O365SMTP_SCOPE", "token `scope` (default per cloud: https://outlook.office365.com/.default)", false},
	{"ca-file", "O365SMTP_CA_FILE", "PEM `file` of CA certificates trusted in addition to the system's (token endpoint and SMTP)", false},
}

// secretFlags are flags that would carry a secret on the command line; they
// are refused.
var secretFlags = map[string]bool{
	"client-secret": true, "secret": true, "client-secret-value": true,
	"password": true, "pass": true, "token": true, "access-token": true,
	"client-assertion": true, "assertion": true,
}

// usageError is a problem with the command line or the environment that the
// user must fix before anything is tried: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// maxFileSize bounds the files the command reads itself.
const maxFileSize = 1 << 20

// loadConfig registers the configuration flags on fs, parses args and returns
// the Config from the flags and, for flags that are absent, from getenv. It
// does no network I/O and calls nothing in the library that could; it reads
// the CA, certificate and key files. Every error is a *usageError, or
// flag.ErrHelp.
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (o365smtp.Config, error) {
	var cfg o365smtp.Config
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		if s.flag != "" {
			vals[s.flag] = fs.String(s.flag, "", s.help+" [$"+s.env+"]")
		}
	}
	if err := parseFlags(fs, args); err != nil {
		return cfg, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	credFlag := false
	for _, s := range settings {
		if s.credential && set[s.flag] {
			credFlag = true
		}
	}
	get := func(s setting) string {
		if s.flag != "" && set[s.flag] {
			return *vals[s.flag]
		}
		if s.credential && credFlag {
			return ""
		}
		return getenv(s.env)
	}
	v := map[string]string{}
	for _, s := range settings {
		v[s.env] = get(s)
	}

	cfg.TenantID = strings.TrimSpace(v["O365SMTP_TENANT_ID"])
	cfg.ClientID = strings.TrimSpace(v["O365SMTP_CLIENT_ID"])
	cfg.Mailbox = strings.TrimSpace(v["O365SMTP_MAILBOX"])
	cfg.ClientSecret = v["O365SMTP_CLIENT_SECRET"] // as is: New reports stray whitespace without echoing it
	cfg.ClientSecretFile = v["O365SMTP_CLIENT_SECRET_FILE"]
	cfg.Host = strings.TrimSpace(v["O365SMTP_HOST"])
	cfg.AuthorityHost = strings.TrimSpace(v["O365SMTP_AUTHORITY_HOST"])
	cfg.Scope = strings.TrimSpace(v["O365SMTP_SCOPE"])

	if p := strings.TrimSpace(v["O365SMTP_PORT"]); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return cfg, usagef("port %q is not a port number (1-65535) (--port, O365SMTP_PORT)", p)
		}
		cfg.Port = n
	}
	if err := cfg.Security.UnmarshalText([]byte(v["O365SMTP_SECURITY"])); err != nil {
		return cfg, usagef("security %q: want auto, starttls or tls (--security, O365SMTP_SECURITY)", v["O365SMTP_SECURITY"])
	}
	if err := cfg.Cloud.UnmarshalText([]byte(v["O365SMTP_CLOUD"])); err != nil {
		return cfg, usagef("cloud %q: want global, gcchigh, dod or china (--cloud, O365SMTP_CLOUD)", v["O365SMTP_CLOUD"])
	}

	if f := v["O365SMTP_CA_FILE"]; f != "" {
		pem, err := readFile(f)
		if err != nil {
			return cfg, usagef("CA file (--ca-file, O365SMTP_CA_FILE): %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return cfg, usagef("CA file %q (--ca-file, O365SMTP_CA_FILE) holds no PEM certificate", f)
		}
		cfg.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		cfg.HTTPClient = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}

	certFile, keyFile := v["O365SMTP_CERT_FILE"], v["O365SMTP_KEY_FILE"]
	switch {
	case keyFile != "" && certFile == "":
		return cfg, usagef("a key file is set (--key-file, O365SMTP_KEY_FILE) without a certificate file (--cert-file, O365SMTP_CERT_FILE)")
	case certFile != "":
		if keyFile == "" {
			keyFile = certFile // one PEM file with both
		}
		certPEM, err := readFile(certFile)
		if err != nil {
			return cfg, usagef("certificate file (--cert-file, O365SMTP_CERT_FILE): %v", err)
		}
		keyPEM, err := readFile(keyFile)
		if err != nil {
			return cfg, usagef("key file (--key-file, O365SMTP_KEY_FILE): %v", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return cfg, usagef("certificate %q with key %q: %v", certFile, keyFile, err)
		}
		cfg.Certificate = &cert
	}

	if f := v["O365SMTP_CLIENT_ASSERTION_FILE"]; f != "" {
		cfg.ClientAssertion = func(context.Context) (string, error) {
			b, err := readFile(f)
			if err != nil {
				return "", err
			}
			a := strings.TrimSpace(string(b))
			if a == "" {
				return "", fmt.Errorf("client assertion file %q is empty", f)
			}
			return a, nil
		}
	}
	return cfg, nil
}

// parseFlags parses args into fs after refusing secrets on the command line.
// Errors are *usageError or flag.ErrHelp; fs prints nothing.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := refuseSecrets(fs, args); err != nil {
		return err
	}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// refuseSecrets returns a usage error if args hold a flag that carries a
// secret. It walks args the way package flag does, skipping the values of
// fs's flags, but goes on past the first non-flag argument.
func refuseSecrets(fs *flag.FlagSet, args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return nil
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, _, hasValue := strings.Cut(name, "=")
		if secretFlags[strings.ToLower(name)] {
			return usagef("--%s: secrets are not accepted on the command line, where other processes can read them; set O365SMTP_CLIENT_SECRET in the environment or name a file with --client-secret-file", name)
		}
		if f := fs.Lookup(name); f != nil && !hasValue && !isBoolFlag(f) {
			i++ // its value
		}
	}
	return nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// checkRegular returns an error unless name is a regular file (not a
// directory, device or FIFO, which could block or never end).
func checkRegular(name string) error {
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", name)
	}
	return nil
}

// readRegular reads a regular file.
func readRegular(name string) ([]byte, error) {
	if err := checkRegular(name); err != nil {
		return nil, err
	}
	return os.ReadFile(name)
}

// readFile reads a regular file of at most maxFileSize bytes.
func readFile(name string) ([]byte, error) {
	if err := checkRegular(name); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxFileSize)
	}
	return b, nil
}

// missingSettings names the settings a Sender needs that cfg lacks, with the
// flag and variable that set them.
func missingSettings(cfg o365smtp.Config) []string {
	var m []string
	if cfg.TenantID == "" {
		m = append(m, "tenant ID (--tenant-id or O365SMTP_TENANT_ID)")
	}
	if cfg.ClientID == "" {
		m = append(m, "client ID (--client-id or O365SMTP_CLIENT_ID)")
	}
	if cfg.Mailbox == "" {
		m = append(m, "mailbox (--mailbox or O365SMTP_MAILBOX)")
	}
	if !hasCredential(cfg) {
		m = append(m, "a credential (O365SMTP_CLIENT_SECRET, --client-secret-file, --cert-file or --client-assertion-file)")
	}
	return m
}

func hasCredential(cfg o365smtp.Config) bool {
	return cfg.ClientSecret != "" || cfg.ClientSecretFile != "" || cfg.Certificate != nil ||
		cfg.ClientAssertion != nil || cfg.TokenSource != nil
}

// newFlagSet returns a FlagSet whose usage text lists its flags and, if
// withEnv, the configuration's environment variables.
func newFlagSet(name, synopsis, description string, withEnv bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: o365smtp %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
		if withEnv {
			fmt.Fprint(w, "\nEnvironment (used when the flag is absent; a credential flag replaces every credential variable):\n")
			for _, s := range settings {
				fl := "(no flag: other processes can read a command line)"
				if s.flag != "" {
					fl = "--" + s.flag
				}
				fmt.Fprintf(w, "  %-31s %s\n", s.env, fl)
			}
		}
		fmt.Fprint(w, "\nExit status: 0 success, 1 failure, 2 usage error.\n")
	}
	return fs
}

// parseOutcome turns the error of loadConfig or parseFlags into an exit
// status, printing help or the error. ok is false when the command must stop.
func parseOutcome(fs *flag.FlagSet, err error, stdout, stderr io.Writer) (code int, ok bool) {
	switch {
	case err == nil:
		return exitOK, true
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK, false
	}
	fmt.Fprintf(stderr, "o365smtp %s: %v\n", fs.Name(), err)
	fmt.Fprintf(stderr, "Run 'o365smtp %s --help' for usage.\n", fs.Name())
	return exitUsage, false
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// debugLogger returns a debug logger writing to w.
func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// printError prints err (an *o365smtp.Error, normally) with its Kind and
// Hint.
func printError(w io.Writer, prefix string, err error) {
	var e *o365smtp.Error
	if !errors.As(err, &e) {
		fmt.Fprintf(w, "%s: %v\n", prefix, err)
		return
	}
	fmt.Fprintf(w, "%s: %s\n", prefix, string(e.Kind))
	fmt.Fprintf(w, "error: %v\n", e)
	if len(e.Recipients) > 0 {
		fmt.Fprintf(w, "refused recipients: %s\n", strings.Join(e.Recipients, ", "))
	}
	if e.Hint != "" {
		fmt.Fprintf(w, "hint: %s\n", indent(e.Hint, "      "))
	}
}

// indent indents every line of s but the first with prefix.
func indent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}
