package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/o365smtp/o365smtp"
)

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlagSet("verify", "[--json] [--from ADDR]... [flags]", `
Verify walks the setup checklist against the live service and sends nothing:
configuration, credential, token (and what it says: the service principal's
object ID, roles), connection, TLS, AUTH XOAUTH2 as the mailbox and, for each
--from address, a MAIL FROM probe (Exchange checks Send As only after the
message data, so for another address than the mailbox it can only warn).
Exit status 0 only if every step passed (warnings allowed).`, true)
	asJSON := fs.Bool("json", false, "print the report as one line of JSON")
	var from stringList
	fs.Var(&from, "from", "an `address` the application puts in From, checked for send-as (repeatable)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this `duration`")
	verbose := fs.Bool("verbose", false, "log the protocol (authentication redacted) to stderr")
	sender, code := openSender(fs, args, stdout, stderr, getenv, verbose, nil, func(err error) int {
		// The values were given but the library refused them: the first
		// check failed. Report it the way Verify reports a failed step.
		printReport(stdout, &o365smtp.Report{Steps: []o365smtp.Step{configStep(err)}}, *asJSON)
		return exitFailure
	})
	if sender == nil {
		return code
	}
	defer sender.Close()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	report, err := sender.Verify(ctx, from...)
	printReport(stdout, report, *asJSON)
	if report.OK && err == nil {
		return exitOK
	}
	return exitFailure
}

// configStep is the failed config step of New's refusal err.
func configStep(err error) o365smtp.Step {
	step := o365smtp.Step{Name: "config", Status: o365smtp.StatusFail, Kind: o365smtp.ErrConfig, Detail: err.Error()}
	var e *o365smtp.Error
	if errors.As(err, &e) {
		step.Kind, step.Detail, step.Hint = e.Kind, e.Message, e.Hint
		if e.Err != nil {
			step.Detail += ": " + e.Err.Error()
		}
	}
	return step
}

// missingOutcome reports settings a Sender needs that are not set.
func missingOutcome(fs *flag.FlagSet, missing []string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "o365smtp %s: missing configuration:\n", fs.Name())
	for _, m := range missing {
		fmt.Fprintf(stderr, "  - %s\n", m)
	}
	fmt.Fprintf(stderr, "Run 'o365smtp %s --help' for usage, or 'o365smtp emulate --env-file F' for a local setup to try.\n", fs.Name())
	return exitUsage
}

// printReport prints r as one line of JSON, or for people.
func printReport(w io.Writer, r *o365smtp.Report, asJSON bool) {
	if asJSON {
		b, err := json.Marshal(r)
		if err != nil {
			// Only a broken Report could do this; say so in JSON.
			b, _ = json.Marshal(map[string]any{"ok": false, "error": err.Error()})
		}
		w.Write(append(b, '\n'))
		return
	}
	formatReport(w, r)
}

// formatReport prints r for people: a header, one line per step, the hint
// of warnings and failures below their step, and a verdict.
func formatReport(w io.Writer, r *o365smtp.Report) {
	fmt.Fprintln(w, "o365smtp verify")
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(w, "  %-15s %s\n", name+":", value)
		}
	}
	if r.Host != "" {
		field("smtp", fmt.Sprintf("%s:%d", r.Host, r.Port))
	}
	field("authority", r.Authority)
	field("scope", r.Scope)
	field("credential", r.Credential)
	if r.ObjectID != "" {
		field("object id", r.ObjectID+" (service principal: Enterprise applications > the app > Object ID)")
	}
	if !r.TokenExpiresOn.IsZero() {
		field("token expires", r.TokenExpiresOn.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(w)

	const pad = "       " // under the step name
	var failed *o365smtp.Step
	for i := range r.Steps {
		s := &r.Steps[i]
		line := fmt.Sprintf("%s %-12s %s", mark(s.Status), s.Name, indent(s.Detail, pad+"             "))
		if s.Kind != "" {
			line += " (" + string(s.Kind) + ")"
		}
		fmt.Fprintf(w, "%s  [%d ms]\n", strings.TrimRight(line, " "), s.ElapsedMS)
		if s.Hint != "" && (s.Status == o365smtp.StatusFail || s.Status == o365smtp.StatusWarn) {
			fmt.Fprintf(w, "%shint: %s\n", pad, indent(s.Hint, pad+"      "))
		}
		if s.Status == o365smtp.StatusFail && failed == nil {
			failed = s
		}
	}
	fmt.Fprintln(w)
	switch {
	case r.OK:
		fmt.Fprintln(w, "verify: ok")
	case failed != nil:
		fmt.Fprintf(w, "verify: failed at %s (%s)\n", failed.Name, string(failed.Kind))
	default:
		fmt.Fprintln(w, "verify: failed")
	}
}

func mark(s o365smtp.Status) string {
	switch s {
	case o365smtp.StatusPass:
		return "[PASS]"
	case o365smtp.StatusWarn:
		return "[WARN]"
	case o365smtp.StatusFail:
		return "[FAIL]"
	case o365smtp.StatusSkip:
		return "[SKIP]"
	}
	return "[" + strings.ToUpper(string(s)) + "]"
}
