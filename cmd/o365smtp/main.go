// Command o365smtp sends mail as a Microsoft 365 (Exchange Online) mailbox
// with app-only OAuth 2.0, checks an application's setup, prints the
// Exchange Online PowerShell an administrator runs for it, and runs the
// emulator of package o365smtptest as a standalone server.
//
// Usage:
//
//	o365smtp demo [--verbose] [--timeout D]   # the whole path against the built-in emulator; no account, no network
//	o365smtp verify [--json] [--from ADDR]...
//	o365smtp send --to ADDR [--to ADDR...] [--cc ADDR...] [--from ADDR] [--subject S] [--body S | --body-file F] [--html] [--attach F...]
//	o365smtp setup-script [--from ADDR]...
//	o365smtp emulate [--env-file F] [--scenario NAME]
//	o365smtp version                          # also: o365smtp --version
//
// Configuration comes from flags or, when a flag is absent, from the
// environment variables O365SMTP_TENANT_ID, O365SMTP_CLIENT_ID,
// O365SMTP_CLIENT_SECRET, O365SMTP_CLIENT_SECRET_FILE, O365SMTP_CERT_FILE,
// O365SMTP_KEY_FILE, O365SMTP_CLIENT_ASSERTION_FILE,
// O365SMTP_MANAGED_IDENTITY, O365SMTP_MAILBOX, O365SMTP_HOST, O365SMTP_PORT,
// O365SMTP_SECURITY, O365SMTP_CLOUD, O365SMTP_AUTHORITY_HOST,
// O365SMTP_SCOPE, O365SMTP_CA_FILE, O365SMTP_TRANSPORT, O365SMTP_GRAPH_URL
// and O365SMTP_GRAPH_SCOPE, read by o365smtp.ConfigFromLookup with the flags
// in place of their variables, so the command and a program that calls
// o365smtp.ConfigFromEnv read the environment the same way (including the
// AZURE_* workload identity fallback). A credential given by a flag replaces
// every credential from the environment. Secrets are never accepted on the
// command line, which other processes can read: use O365SMTP_CLIENT_SECRET
// or --client-secret-file.
//
// Exit status:
//
//	0  success (verify: every step passed or warned)
//	1  failure: the check, the send or the token request failed, or the
//	   library refused the configuration (printed with its hint)
//	2  usage error: an unknown command or flag, a malformed value, a secret
//	   on the command line, a required setting missing, or a file named by a
//	   flag or variable that cannot be read (or, for emulate, written)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand.
type command struct {
	name     string
	synopsis string
	run      func(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int
}

var commands = []command{
	{"demo", "send one message through the built-in emulator (no account, no network)", cmdDemo},
	{"verify", "check the setup step by step against the service; sends nothing", cmdVerify},
	{"send", "send one message", cmdSend},
	{"setup-script", "print the Exchange Online PowerShell an administrator runs for this configuration", cmdSetupScript},
	{"emulate", "run the emulator of Entra ID and Exchange Online as a standalone server", cmdEmulate},
	{"version", "print the version of the module this command was built from", cmdVersion},
}

// run runs the command named by args[0].
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		return cmdVersion(ctx, args[1:], stdout, stderr, getenv)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr, getenv)
		}
	}
	fmt.Fprintf(stderr, "o365smtp: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `o365smtp sends mail as a Microsoft 365 mailbox with app-only OAuth 2.0
(SMTP AUTH XOAUTH2) and checks the setup.

Usage:
  o365smtp demo [--verbose] [--timeout D]
  o365smtp verify [--json] [--from ADDR]...
  o365smtp send --to ADDR [--to ADDR...] [--cc ADDR...] [--from ADDR] [--subject S]
                [--body S | --body-file F] [--html] [--attach F...]
  o365smtp setup-script [--from ADDR]...
  o365smtp emulate [--env-file F] [--scenario NAME]
  o365smtp version | o365smtp --version

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.synopsis)
	}
	fmt.Fprint(w, `
Run 'o365smtp COMMAND --help' for a command's flags and environment variables.
Start with 'o365smtp demo', then 'o365smtp emulate' and 'o365smtp verify'.

`+exitStatusHelp)
}
