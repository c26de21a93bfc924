package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/jwtclaims"
)

func cmdSetupScript(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlagSet("setup-script", "[--from ADDR]... [flags]", `
Setup-script prints the Exchange Online PowerShell an administrator runs so
that the app may send as the mailbox, with this configuration's IDs filled
in. If a credential is configured it requests a token and reads the service
principal's object ID from it (the token's oid); otherwise the script holds a
placeholder, and says where to find the ID. Nothing is changed anywhere: the
script is only printed. Without a credential no network is used.`, true)
	var from stringList
	fs.Var(&from, "from", "another `address` the app puts in From; the script grants Send As on it (repeatable)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up on the token request after this `duration`")
	cfg, err := loadConfig(fs, args, getenv)
	if code, ok := parseOutcome(fs, err, stdout, stderr); !ok {
		return code
	}

	var c jwtclaims.Claims
	var tokenNote string // why the oid is unknown, for the script
	switch {
	case !hasCredential(cfg):
		tokenNote = "no credential is configured, so no token was requested"
	case cfg.TenantID == "" || cfg.ClientID == "":
		tokenNote = "the tenant ID or client ID is not configured, so no token was requested"
	default:
		tctx, cancel := context.WithTimeout(ctx, *timeout)
		c, tokenNote = tokenClaims(tctx, cfg, stderr)
		cancel()
	}
	switch cfg.Transport {
	case o365smtp.TransportGraph:
		writeGraphSetupScript(stdout, cfg, c, tokenNote, from)
	case o365smtp.TransportAuto:
		writeSetupScript(stdout, cfg, c, tokenNote, from)
		fmt.Fprintln(stdout)
		writeGraphSetupScript(stdout, cfg, c, tokenNote, from)
	default:
		writeSetupScript(stdout, cfg, c, tokenNote, from)
	}
	return exitOK
}

// tokenClaims gets a token with cfg's credential and returns its claims, or
// a note saying why it could not (the failure is also printed to stderr).
func tokenClaims(ctx context.Context, cfg o365smtp.Config, stderr io.Writer) (jwtclaims.Claims, string) {
	ts, err := o365smtp.NewTokenSource(cfg)
	if err == nil {
		var tok o365smtp.Token
		tok, err = ts.Token(ctx)
		if err == nil {
			c := jwtclaims.Decode(tok.AccessToken)
			if !c.Decoded {
				fmt.Fprintln(stderr, "setup-script: the access token cannot be decoded: it is not a JWT")
				return c, "the token could not be read: it is not a JWT"
			}
			return c, ""
		}
	}
	printError(stderr, "setup-script: could not get a token", err)
	note := "the token request failed"
	var e *o365smtp.Error
	if errors.As(err, &e) {
		note += " (" + string(e.Kind) + ")"
	}
	return jwtclaims.Claims{}, note + "; run 'o365smtp verify' for details"
}

// Placeholders: PowerShell refuses to parse an unquoted '<', so a script
// that still holds one does not run at all.
const (
	phTenant   = "<DIRECTORY-TENANT-ID>"
	phClientID = "<APPLICATION-CLIENT-ID>"
	phMailbox  = "<MAILBOX-ADDRESS>"
	phOID      = "<ENTERPRISE-APPLICATION-OBJECT-ID>"
)

// writeSetupScript writes the PowerShell for cfg: the classic model and the
// RBAC for Applications model.
func writeSetupScript(w io.Writer, cfg o365smtp.Config, c jwtclaims.Claims, tokenNote string, from []string) {
	clientID := psValue(cfg.ClientID, phClientID)
	mailbox := psValue(cfg.Mailbox, phMailbox)
	oid := psValue(c.OID, phOID)
	name := "o365smtp"
	if cfg.Mailbox != "" {
		name += " " + cfg.Mailbox
	}
	displayName := psQuote(name)
	scopeName := psQuote(name + " scope")
	filterMailbox := strings.ReplaceAll(oneLine(cfg.Mailbox), "'", "''")
	if cfg.Mailbox == "" {
		filterMailbox = phMailbox
	}
	filter := psQuote("PrimarySmtpAddress -eq '" + filterMailbox + "'")

	p := scriptHeader(w, cfg, c, tokenNote, "app-only OAuth 2.0 (SMTP AUTH XOAUTH2)", "o365smtp setup-script")
	if c.AppID != "" && cfg.ClientID != "" && !strings.EqualFold(c.AppID, cfg.ClientID) {
		p("# WARNING: the token's appid %s is not the configured client ID.", oneLine(c.AppID))
	}
	p("#")
	p("# One app has two object IDs. Exchange needs the service principal's:")
	p("#   - Enterprise applications > the app > Overview > Object ID: the service principal. USE THIS ONE.")
	p("#     It is the oid claim of the app's access tokens.")
	p("#   - App registrations > the app > Overview > Object ID: the application object. NOT this one.")
	p("#     Guides that use it for New-ServicePrincipal are wrong: Exchange then rejects the token (535 5.7.3).")
	p("#")
	p("# Use ONE of the two models below. Changes can take 15-30 minutes to apply;")
	p("# then check with 'o365smtp verify'.")
	p("")
	p("# ===== Model 1: classic (Entra API permission + mailbox permission) =====")
	p("# Before running it: Entra admin center > App registrations > the app > API permissions > Add a permission >")
	p("#   APIs my organization uses > Office 365 Exchange Online > Application permissions > SMTP.SendAsApp,")
	p("#   then 'Grant admin consent'.")
	switch {
	case c.OID == "":
	case slices.Contains(c.Roles, "SMTP.SendAsApp"):
		p("#   (The token has the SMTP.SendAsApp role: this is done.)")
	default:
		p("#   (The token has no SMTP.SendAsApp role: this is NOT done yet, or consent is missing.)")
	}
	p("")
	p("# Sign in to Exchange Online (Install-Module ExchangeOnlineManagement, if it is missing).")
	p("Connect-ExchangeOnline")
	p("# Register the app's service principal in Exchange: -AppId is the Application (client) ID,")
	p("# -ObjectId the Enterprise application's Object ID (not the App registration's).")
	p("New-ServicePrincipal -AppId %s -ObjectId %s -DisplayName %s", clientID, oid, displayName)
	p("# Let the service principal use the mailbox it authenticates as.")
	p("Add-MailboxPermission -Identity %s -User %s -AccessRights FullAccess", mailbox, oid)
	sendAs(p, from, oid)
	p("# Allow SMTP AUTH for the mailbox (this overrides the tenant-wide setting).")
	p("Set-CASMailbox -Identity %s -SmtpClientAuthenticationDisabled $false", mailbox)
	p("")
	p("# ===== Model 2: RBAC for Applications (Exchange Online, 2025) =====")
	p("# This model needs no Entra API permission: do not add SMTP.SendAsApp to the app for it.")
	p("")
	p("# Sign in to Exchange Online.")
	p("Connect-ExchangeOnline")
	p("# Register the app's service principal in Exchange (same IDs as in model 1).")
	p("New-ServicePrincipal -AppId %s -ObjectId %s -DisplayName %s", clientID, oid, displayName)
	p("# A management scope holding only the mailbox.")
	p("New-ManagementScope -Name %s -RecipientRestrictionFilter %s", scopeName, filter)
	p("# Let the app send as the mailboxes in that scope (-App takes the Application (client) ID or the service principal's Object ID).")
	p("New-ManagementRoleAssignment -App %s -Role \"Application SMTP.SendAsApp\" -CustomResourceScope %s", clientID, scopeName)
	sendAs(p, from, oid)
	p("# Allow SMTP AUTH for the mailbox (this overrides the tenant-wide setting).")
	p("Set-CASMailbox -Identity %s -SmtpClientAuthenticationDisabled $false", mailbox)
}

// sendAs writes the Send As grants for the From addresses.
func sendAs(p func(string, ...any), from []string, oid string) {
	for _, f := range from {
		p("# Let the service principal send as %s (a From other than the mailbox).", oneLine(f))
		p("Add-RecipientPermission -Identity %s -Trustee %s -AccessRights SendAs -Confirm:$false", psQuote(f), oid)
	}
}

// psValue quotes v for PowerShell, or returns the placeholder when v is empty.
func psValue(v, placeholder string) string {
	if v == "" {
		return placeholder
	}
	return psQuote(v)
}

// psQuote quotes s as a PowerShell single-quoted (verbatim) string, in which
// only quote characters are special: PowerShell takes the typographic single
// quotes for quotes too, and each is escaped by doubling it.
func psQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range oneLine(s) {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// oneLine replaces control characters, so a value cannot end a comment line
// and start a command.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 || r == 0x85 {
			return '?'
		}
		return r
	}, s)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// scriptHeader writes the comment block both setup scripts start with
// (the IDs, and where to find the service principal's object ID) and
// returns the line printer for the rest.
func scriptHeader(w io.Writer, cfg o365smtp.Config, c jwtclaims.Claims, tokenNote, what, command string) func(format string, args ...any) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("# Exchange Online setup for sending as %s with %s.", oneLine(orDefault(cfg.Mailbox, "the mailbox")), what)
	p("# Printed by '%s'. Review it, then run it in PowerShell as an Exchange administrator.", command)
	p("#")
	p("# Tenant (Directory) ID:     %s", oneLine(orDefault(cfg.TenantID, phTenant)))
	p("# Application (client) ID:   %s   (App registrations > the app > Overview)", oneLine(orDefault(cfg.ClientID, phClientID)))
	p("# Mailbox:                   %s", oneLine(orDefault(cfg.Mailbox, phMailbox)))
	if c.OID != "" {
		p("# Service principal object ID: %s   (read from the access token's oid claim)", oneLine(c.OID))
	} else {
		p("# Service principal object ID: %s   (unknown: %s)", phOID, oneLine(tokenNote))
		p("#   Find it in the Microsoft Entra admin center: Enterprise applications > the app > Overview > Object ID,")
		p("#   or run '%s' with the app's credential set, which reads it from a token.", command)
	}
	return p
}
