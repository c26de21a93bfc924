package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"

	"github.com/o365smtp/o365smtp"
)

// setting is one configuration value: its flag (empty for secrets, which have
// none, and for the Azure workload identity variables) and its environment
// variable. o365smtp.ConfigFromLookup reads the variables; the flags stand in
// for them.
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
	{"managed-identity", "O365SMTP_MANAGED_IDENTITY", "managed identity credential: system, or the client `ID` of a user-assigned one", true},
	{"host", "O365SMTP_HOST", "SMTP `host` (default per cloud: smtp.office365.com)", false},
	{"port", "O365SMTP_PORT", "SMTP `port` (default 587; 465 with --security tls)", false},
	{"security", "O365SMTP_SECURITY", "`mode`: auto, starttls or tls (default auto)", false},
	{"cloud", "O365SMTP_CLOUD", "`cloud`: global, gcchigh, dod or china (default global)", false},
	{"authority-host", "O365SMTP_AUTHORITY_HOST", "login host `URL` (default per cloud: https://login.microsoftonline.com)", false},
	{"scope", "O365SMTP_SCOPE", "token `scope` (default per cloud: https://outlook.office365.com/.default)", false},
	{"ca-file", "O365SMTP_CA_FILE", "PEM `file` of CA certificates trusted in addition to the system's (token endpoint, SMTP and Graph)", false},
	{"transport", "O365SMTP_TRANSPORT", "`transport`: smtp, graph or auto (default smtp)", false},
	{"graph-url", "O365SMTP_GRAPH_URL", "Microsoft Graph base `URL` (default per cloud: https://graph.microsoft.com)", false},
	{"graph-scope", "O365SMTP_GRAPH_SCOPE", "Graph token `scope` (default per cloud: https://graph.microsoft.com/.default)", false},
	{"", "AZURE_TENANT_ID", "workload identity: the tenant ID, when O365SMTP_TENANT_ID is absent", false},
	{"", "AZURE_CLIENT_ID", "workload identity: the client ID, when O365SMTP_CLIENT_ID is absent", false},
	{"", "AZURE_FEDERATED_TOKEN_FILE", "workload identity: the federated credential, when no other credential is set", true},
	{"", "AZURE_AUTHORITY_HOST", "workload identity: the login host, when O365SMTP_AUTHORITY_HOST and O365SMTP_CLOUD are absent", false},
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
type usageError struct{ msg, hint string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

// loadConfig registers the configuration flags on fs, parses args and returns
// the Config that o365smtp.ConfigFromLookup reads from getenv with the flags
// given in place of their variables. It does no network I/O; it reads the
// files the flags and variables name. Every error is a *usageError, or
// flag.ErrHelp.
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (o365smtp.Config, error) {
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		if s.flag != "" {
			vals[s.flag] = fs.String(s.flag, "", s.help+" [$"+s.env+"]")
		}
	}
	if err := parseFlags(fs, args); err != nil {
		return o365smtp.Config{}, err
	}
	given := map[string]string{} // variable -> the value of its flag
	credFlag := false
	fs.Visit(func(f *flag.Flag) {
		for _, s := range settings {
			if s.flag == f.Name {
				given[s.env] = *vals[s.flag]
				credFlag = credFlag || s.credential
			}
		}
	})
	cfg, err := o365smtp.ConfigFromLookup(func(k string) string {
		if v, ok := given[k]; ok {
			return v
		}
		if credFlag && isCredential(k) {
			return ""
		}
		return getenv(k)
	})
	if err != nil {
		return cfg, configUsageError(err, given)
	}
	return cfg, nil
}

// isCredential reports whether the variable env is a credential.
func isCredential(env string) bool {
	for _, s := range settings {
		if s.env == env {
			return s.credential
		}
	}
	return false
}

// configUsageError turns an error of o365smtp.ConfigFromLookup, which names
// a variable, into a usage error that also names the flag given for it.
func configUsageError(err error, given map[string]string) error {
	ue := &usageError{msg: err.Error()}
	var e *o365smtp.Error
	if errors.As(err, &e) {
		ue.msg, ue.hint = e.Message, e.Hint
	}
	var flags []string
	for _, s := range settings {
		if _, ok := given[s.env]; ok && regexp.MustCompile(`\b`+s.env+`\b`).MatchString(ue.msg) {
			flags = append(flags, "--"+s.flag)
		}
	}
	if len(flags) > 0 {
		ue.msg += " (given as " + strings.Join(flags, ", ") + ")"
	}
	return ue
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
		return &usageError{msg: err.Error()}
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

// missingSettings names the settings a Sender needs that cfg lacks, with the
// flag and variable that set them.
func missingSettings(cfg o365smtp.Config) []string {
	var m []string
	ids := cfg.ManagedIdentity == "" // a managed identity needs neither ID
	if ids && cfg.TenantID == "" {
		m = append(m, "tenant ID (--tenant-id, O365SMTP_TENANT_ID or AZURE_TENANT_ID)")
	}
	if ids && cfg.ClientID == "" {
		m = append(m, "client ID (--client-id, O365SMTP_CLIENT_ID or AZURE_CLIENT_ID)")
	}
	if cfg.Mailbox == "" {
		m = append(m, "mailbox (--mailbox or O365SMTP_MAILBOX)")
	}
	if !hasCredential(cfg) {
		m = append(m, "a credential (O365SMTP_CLIENT_SECRET, --client-secret-file, --cert-file, --client-assertion-file, --managed-identity or AZURE_FEDERATED_TOKEN_FILE)")
	}
	return m
}

func hasCredential(cfg o365smtp.Config) bool {
	return cfg.ClientSecret != "" || cfg.ClientSecretFile != "" || cfg.Certificate != nil ||
		cfg.ClientAssertion != nil || cfg.TokenSource != nil || cfg.ManagedIdentity != ""
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
				switch {
				case strings.HasPrefix(s.env, "AZURE_"):
					fl = "(" + s.help + ")"
				case s.flag != "":
					fl = "--" + s.flag
				}
				fmt.Fprintf(w, "  %-31s %s\n", s.env, fl)
			}
		}
		fmt.Fprint(w, "\n"+exitStatusHelp)
	}
	return fs
}

// exitStatusHelp documents the exit statuses, for every --help.
const exitStatusHelp = `Exit status:
  0  success (verify: every step passed or warned)
  1  failure: the check, the send or the token request failed, or the library
     refused the configuration (printed with its hint)
  2  usage error: an unknown command or flag, a malformed value, a secret on
     the command line, a required setting missing, or a file named by a flag
     or variable that cannot be read (or, for emulate, written)
`

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
	var ue *usageError
	if errors.As(err, &ue) && ue.hint != "" {
		fmt.Fprintf(stderr, "hint: %s\n", indent(ue.hint, "      "))
	}
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

// openSender is the configuration step of the commands that send or check:
// it parses args into fs with the configuration flags, runs check (for the
// command's own flags; its error is a usage error), requires the settings a
// Sender needs, and makes the Sender, logging to stderr if *verbose. When it
// returns no Sender the command exits with code: refused prints New's
// error and returns the code for it.
func openSender(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, getenv func(string) string,
	verbose *bool, check func() error, refused func(error) int) (sender *o365smtp.Sender, code int) {
	cfg, err := loadConfig(fs, args, getenv)
	if err == nil && check != nil {
		err = check()
	}
	if code, ok := parseOutcome(fs, err, stdout, stderr); !ok {
		return nil, code
	}
	if m := missingSettings(cfg); len(m) > 0 {
		return nil, missingOutcome(fs, m, stderr)
	}
	if *verbose {
		cfg.Logger = debugLogger(stderr)
	}
	if sender, err = o365smtp.New(cfg); err != nil {
		return nil, refused(err)
	}
	return sender, exitOK
}
