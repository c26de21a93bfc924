package o365smtp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/textproto"
	"strings"
	"time"

	"github.com/o365smtp/o365smtp/internal/catalog"
)

// Report is the result of Sender.Verify: the resolved endpoints, the
// credential type, what the token says and one Step per checklist item.
type Report struct {
	// OK is true when no step failed (warnings allowed).
	OK bool `json:"ok"`
	// Host and Port are the SMTP endpoint used.
	Host string `json:"host"`
	Port int    `json:"port"`
	// Authority is the Entra authority (login host and tenant).
	Authority string `json:"authority"`
	// Scope is the token scope.
	Scope string `json:"scope"`
	// Credential is the credential type: "client_secret",
	// "client_secret_file", "certificate", "client_assertion",
	// "managed_identity" or "token_source".
	Credential string `json:"credential"`
	// ObjectID is the token's oid: the object ID of the service principal
	// (the Enterprise application), which Exchange's New-ServicePrincipal
	// and Add-MailboxPermission need. It is not the App registration's
	// object ID.
	ObjectID string `json:"object_id,omitempty"`
	// TokenExpiresOn is the token's expiry.
	TokenExpiresOn time.Time `json:"token_expires_on,omitempty"`
	// Transport is the transport this Sender would use now: "smtp" or
	// "graph".
	Transport string `json:"transport"`
	// Steps are the checklist items, in order.
	Steps []Step `json:"steps"`
}

// Status is the outcome of one Step.
type Status string

// Step outcomes.
const (
	StatusPass Status = "pass"
	StatusWarn Status = "warn" // works, but something needs attention
	StatusFail Status = "fail"
	StatusSkip Status = "skip" // not run: an earlier step failed, or nothing to check
)

// Step is one checklist item of a Report.
type Step struct {
	// Name is a stable id: "config", "credential", "token",
	// "token_claims", "connect", "tls", "auth" or "send_as".
	Name string `json:"name"`
	// Status is the outcome: pass, warn, fail or skip.
	Status Status `json:"status"`
	// Kind is set when Status is StatusFail.
	Kind Kind `json:"kind,omitempty"`
	// Detail says what was found, such as the TLS version or the reply.
	Detail string `json:"detail,omitempty"`
	// Hint says what to change, for a warning or a failure.
	Hint string `json:"hint,omitempty"`
	// ElapsedMS is how long the step took, in milliseconds.
	ElapsedMS int64 `json:"elapsed_ms"`
}

// Verify walks the setup checklist against the live service and never sends
// a message: config, credential, token, token_claims, connect, tls, auth and
// send_as. from lists the addresses the application puts in From; each is
// probed with MAIL FROM and RSET (none: send_as is skipped). Verify stops at
// the first failure that makes later steps meaningless; they are reported as
// skipped.
//
// The Report is never nil. err is nil exactly when Report.OK, and otherwise
// is the failing step's *Error. Verify takes a connection slot like Send, so
// probes cannot crowd out real mail, and it ignores (and, on success,
// clears) the fail-fast cool-off that follows a setup failure.
func (s *Sender) Verify(ctx context.Context, from ...string) (*Report, error) {
	v := &verifier{s: s, rep: &Report{
		Host: s.r.host, Port: s.r.port, Authority: s.r.authority + "/" + s.r.cfg.TenantID,
		Scope: s.r.scope, Credential: s.r.credential, Transport: s.transportName(),
	}}
	if s.r.cfg.TenantID == "" {
		v.rep.Authority = ""
	}
	var err *Error
	if ctx, done, ok := s.enter(ctx); ok {
		err = s.closedWhile(ctx, v.run(ctx, from))
		done()
	} else {
		err = v.fail("config", 0, closedError(), "")
	}
	v.rep.OK = err == nil
	for _, st := range v.rep.Steps {
		if st.Status == StatusFail {
			v.rep.OK = false
		}
	}
	if err != nil {
		return v.rep, err
	}
	s.endCoolOff(ctx)
	return v.rep, nil
}

// verifyStepNames are the steps, in order.
var verifyStepNames = []string{"config", "credential", "token", "token_claims", "connect", "tls", "auth", "send_as"}

type verifier struct {
	s   *Sender
	rep *Report
}

func (v *verifier) add(name string, st Status, d time.Duration, detail, hint string, kind Kind) {
	v.rep.Steps = append(v.rep.Steps, Step{Name: name, Status: st, Kind: kind, Detail: detail, Hint: hint,
		ElapsedMS: d.Milliseconds()})
}

// since is the time from start to now on the Sender's clock.
func (v *verifier) since(start time.Time) time.Duration { return v.s.r.clock.Now().Sub(start) }

func (v *verifier) fail(name string, d time.Duration, e *Error, detail string) *Error {
	if detail == "" {
		detail = e.text()
	}
	v.add(name, StatusFail, d, detail, e.Hint, e.Kind)
	// Later steps are meaningless.
	for _, n := range verifyStepNames[len(v.rep.Steps):] {
		v.rep.Steps = append(v.rep.Steps, Step{Name: n, Status: StatusSkip, Detail: "skipped: " + name + " failed"})
	}
	return e
}

func (v *verifier) run(ctx context.Context, from []string) *Error {
	if v.rep.Transport == TransportGraph.String() {
		return v.runGraph(ctx, from)
	}
	if e := v.config(); e != nil {
		return e
	}
	if e := v.credential(); e != nil {
		return e
	}
	tok, cached, e := v.token(ctx)
	if e != nil {
		return e
	}
	if e := v.claims(v.s.r.clock.Now(), tok); e != nil {
		return e
	}
	if err := v.s.smtp.pool.acquire(ctx); err != nil {
		return v.fail("connect", 0, err, "")
	}
	defer v.s.smtp.pool.releaseSlot()
	if idle := v.s.smtp.pool.take(); idle != nil {
		// Verify dials afresh to test the path; keep within MaxConnections.
		v.s.smtp.pool.retire(idle)
	}
	c, e := v.session(ctx, tok, cached)
	if e != nil {
		return e
	}
	return v.sendAs(ctx, c, from)
}

// config checks what New accepts but Exchange Online does not offer.
func (v *verifier) config() *Error {
	r := v.s.r
	switch {
	case r.implicitTLS && isMicrosoftSMTPHost(r.host):
		e := configError("verify.implicit_tls", fmt.Sprintf("implicit TLS on port %d: %s does not offer it", r.port, r.host))
		return v.fail("config", 0, e, "")
	case r.port != 587 && r.port != 25 && isMicrosoftSMTPHost(r.host):
		v.add("config", StatusWarn, 0, fmt.Sprintf("%s:%d with %s", r.host, r.port, modeName(r)),
			"Exchange Online's SMTP AUTH submission listens on port 587 (STARTTLS).", "")
	default:
		v.add("config", StatusPass, 0, fmt.Sprintf("%s:%d with %s, mailbox %s", r.host, r.port, modeName(r), r.cfg.Mailbox), "", "")
	}
	return nil
}

// credential describes the credential and checks what can be checked
// locally: a readable secret file, a certificate's expiry.
func (v *verifier) credential() *Error {
	r := v.s.r
	start := r.clock.Now()
	detail := r.credential
	credStatus, credHint := StatusPass, ""
	switch r.credential {
	case credClientSecretFile:
		if _, err := readSecretFile(r.cfg.ClientSecretFile); err != nil {
			return v.fail("credential", v.since(start), err.(*Error), "")
		}
		detail = "client secret read from " + r.cfg.ClientSecretFile
	case credCertificate:
		leaf := leafOf(r.cfg.Certificate)
		left := leaf.NotAfter.Sub(start)
		detail = fmt.Sprintf("certificate %q, expires %s", leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
		switch {
		case left <= 0:
			e := configError("verify.cert_expired", "the certificate expired on "+leaf.NotAfter.UTC().Format(time.RFC3339))
			return v.fail("credential", v.since(start), e, "")
		case left < 30*24*time.Hour:
			credStatus = StatusWarn
			credHint = fmt.Sprintf("The certificate expires in %d days: create a new one, upload it to the app registration, and switch to it before then.", int(left.Hours()/24))
		}
	case credClientSecret:
		detail = "client secret (its expiry is not visible to clients: note it when you create a secret)"
	case credClientAssertion:
		detail = "federated client assertion"
	case credTokenSource:
		detail = "token source supplied by the application"
	case credManagedIdentity:
		detail = identityName(r.cfg.ManagedIdentity)
	}
	v.add("credential", credStatus, v.since(start), detail, credHint, "")
	return nil
}

// token gets a token (from the cache if it has one).
func (v *verifier) token(ctx context.Context) (Token, bool, *Error) {
	start := v.s.r.clock.Now()
	tok, cached, e := v.s.tokens.token(ctx)
	if e != nil {
		return tok, false, v.fail("token", v.since(start), e, "")
	}
	if tr := traceFrom(ctx); tr.TokenAcquired != nil {
		tr.TokenAcquired(tok.ExpiresOn, cached)
	}
	v.rep.TokenExpiresOn = tok.ExpiresOn
	src := "new token"
	if cached {
		src = "cached token"
	}
	exp := "no expiry given"
	if !tok.ExpiresOn.IsZero() {
		exp = "expires " + tok.ExpiresOn.UTC().Format(time.RFC3339)
	}
	v.add("token", StatusPass, v.since(start), fmt.Sprintf("%s from %s, %s", src, v.rep.Authority, exp), "", "")
	return tok, cached, nil
}

// session dials one connection and reports its connect, tls and auth
// phases as steps, each with its own duration.
func (v *verifier) session(ctx context.Context, tok Token, cached bool) (*conn, *Error) {
	s, r := v.s, v.s.r
	tr := traceFrom(ctx)
	var banner string
	vt := &Trace{TokenAcquired: tr.TokenAcquired, TLSHandshakeDone: tr.TLSHandshakeDone, Authenticated: tr.Authenticated,
		Connected: func(addr, b string) { banner = b; callIf(tr.Connected, addr, b) }}
	var m dialMarks
	c, de := s.smtp.dial(ctx, tok, vt, &m)
	if de != nil && cached && tokenRejected(de) {
		// Same one-time fresh-token retry as Send.
		s.tokens.invalidate(tok.AccessToken)
		if tok2, _, e2 := s.tokens.token(ctx); e2 == nil {
			tok = tok2
			m = dialMarks{}
			c, de = s.smtp.dial(ctx, tok, vt, &m)
		}
	}
	now := r.clock.Now()
	phase := func(from, to time.Time) time.Duration {
		if to.IsZero() {
			to = now
		}
		return to.Sub(from)
	}
	if de != nil && m.connected.IsZero() {
		return nil, v.fail("connect", phase(m.start, m.connected), de, "")
	}
	v.add("connect", StatusPass, phase(m.start, m.connected), connectDetail(r, banner), "", "")
	if de != nil && m.secured.IsZero() {
		return nil, v.fail("tls", phase(m.connected, m.secured), de, "")
	}
	v.add("tls", StatusPass, phase(m.connected, m.secured), fmt.Sprintf("%s, certificate valid for %s; AUTH %s", tls.VersionName(m.tls.Version), r.tlsConfig.ServerName, m.authMechs), "", "")
	if de != nil {
		if de.Kind == ErrAuthFailed && de.Code == 535 {
			de = v.authHint(de, tok)
		}
		return nil, v.fail("auth", phase(m.secured, m.authenticated), de, "")
	}
	v.add("auth", StatusPass, phase(m.secured, m.authenticated), "XOAUTH2 accepted for "+r.cfg.Mailbox, "", "")
	if !s.smtp.pool.added(c) {
		return nil, v.fail("send_as", 0, closedError(), "")
	}
	return c, nil
}

// sendAs probes each From address with MAIL FROM and RSET.
func (v *verifier) sendAs(ctx context.Context, c *conn, from []string) *Error {
	s := v.s
	start := s.r.clock.Now()
	if len(from) == 0 {
		s.smtp.pool.put(c)
		v.add("send_as", StatusSkip, 0, "no From addresses to probe (pass them to Verify, or --from to the CLI)", "", "")
		return nil
	}
	c.c.Bind(ctx, sendTimeout)
	var probed []string
	for _, addr := range from {
		if err := c.c.Mail(addr); err != nil {
			e := s.smtp.sessionError(ctx, err, nil, addr)
			if stateAfter(err, c.c) == sessionOK {
				s.smtp.pool.put(c)
			} else {
				s.smtp.pool.discard(c)
			}
			return v.fail("send_as", v.since(start), e, "MAIL FROM:<"+addr+">: "+e.text())
		}
		if err := c.c.Reset(); err != nil {
			s.smtp.pool.discard(c)
			return v.fail("send_as", v.since(start), s.smtp.sessionError(ctx, err, nil, addr), "")
		}
		probed = append(probed, addr)
	}
	s.smtp.pool.put(c)
	var others []string
	for _, addr := range probed {
		if !strings.EqualFold(addr, s.r.cfg.Mailbox) {
			others = append(others, addr)
		}
	}
	if len(others) == 0 {
		v.add("send_as", StatusPass, v.since(start), "MAIL FROM accepted for "+strings.Join(probed, ", ")+": the mailbox the app signs in as needs no Send As", "", "")
		return nil
	}
	// Exchange Online accepts MAIL FROM of any address and checks Send As
	// only once it has the message (554 5.2.252 SendAsDenied after the
	// final dot: gophish#2900, PHPMailer#1231), so without sending, a
	// passing probe proves nothing.
	var grants []string
	for _, addr := range others {
		grants = append(grants, "  Add-RecipientPermission -Identity "+addr+" -Trustee "+s.r.cfg.Mailbox+" -AccessRights SendAs")
	}
	v.add("send_as", StatusWarn, v.since(start),
		"MAIL FROM accepted for "+strings.Join(probed, ", ")+"; Exchange Online checks Send As only after the message data (554 5.2.252 SendAsDenied), so Send As on "+strings.Join(others, ", ")+" cannot be confirmed without sending a message",
		"If the first message from "+strings.Join(others, ", ")+" fails with send_as_denied, grant Send As to the mailbox the app signs in as:\n"+strings.Join(grants, "\n"), "")
	return nil
}

// claims checks the token's claims. It returns non-nil only on failure.
func (v *verifier) claims(start time.Time, tok Token) *Error {
	r := v.s.r
	c := tokenClaims(tok.AccessToken)
	if !c.Decoded {
		v.add("token_claims", StatusWarn, v.since(start), "the token is not a JWT; its claims cannot be checked", "", "")
		return nil
	}
	v.rep.ObjectID = c.OID
	var problems, warns []string
	if c.Aud != "" && !exchangeAudience(c.Aud, r.scope) {
		problems = append(problems, fmt.Sprintf("aud is %q, not %q: the token is for another resource, which Exchange refuses with 535 5.7.3", c.Aud, strings.TrimSuffix(r.scope, "/.default")))
	}
	if isGUID(r.cfg.TenantID) && c.Tid != "" && !strings.EqualFold(c.Tid, r.cfg.TenantID) {
		problems = append(problems, fmt.Sprintf("tid is %s, not TenantID %s", c.Tid, r.cfg.TenantID))
	}
	if r.cfg.ClientID != "" && c.AppID != "" && !strings.EqualFold(c.AppID, r.cfg.ClientID) {
		problems = append(problems, fmt.Sprintf("appid is %s, not ClientID %s", c.AppID, r.cfg.ClientID))
	}
	if !c.Exp.IsZero() && !c.Exp.After(r.clock.Now()) {
		problems = append(problems, "the token has expired (exp "+c.Exp.UTC().Format(time.RFC3339)+")")
	}
	if !containsFold(c.Roles, "SMTP.SendAsApp") {
		warns = append(warns, "roles lacks SMTP.SendAsApp")
	}
	detail := fmt.Sprintf("aud %s, tid %s, appid %s, oid %s (the service principal's object ID), roles [%s]",
		c.Aud, c.Tid, c.AppID, c.OID, strings.Join(c.Roles, " "))
	if len(problems) > 0 {
		e := localError("token.claims", strings.Join(problems, "; "), v.s.hintValues(), nil)
		return v.fail("token_claims", v.since(start), e, detail+": "+e.Message)
	}
	if len(warns) > 0 {
		v.add("token_claims", StatusWarn, v.since(start), detail,
			fmt.Sprintf("The token has no SMTP.SendAsApp role. With the classic model, add the application permission Office 365 Exchange Online > SMTP.SendAsApp to app %s and grant admin consent. With Exchange's RBAC for Applications model no Entra permission is needed, and this warning can be ignored.", r.cfg.ClientID), "")
		return nil
	}
	v.add("token_claims", StatusPass, v.since(start), detail, "", "")
	return nil
}

// authHint adds the token's own IDs to the 535 5.7.3 checklist.
func (v *verifier) authHint(e *Error, tok Token) *Error {
	c := tokenClaims(tok.AccessToken)
	vals := v.s.hintValues()
	if c.OID != "" {
		vals.ObjectID = c.OID
	}
	if c.AppID != "" {
		vals.ClientID = c.AppID
	}
	cp := *e
	if tpe, ok := e.Err.(*textproto.Error); ok {
		cp.Hint = catalog.ClassifyReply("auth", tpe.Code, tpe.Msg).Hint(vals)
	}
	return &cp
}

func isMicrosoftSMTPHost(h string) bool {
	h = strings.ToLower(h)
	return strings.HasSuffix(h, ".office365.com") || strings.HasSuffix(h, ".office365.us") || strings.HasSuffix(h, ".outlook.cn") || strings.HasSuffix(h, ".outlook.com")
}

func connectDetail(r *resolved, banner string) string {
	return fmt.Sprintf("%s:%d; greeting: %s", r.host, r.port, banner)
}

func modeName(r *resolved) string {
	if r.implicitTLS {
		return "implicit TLS"
	}
	return "STARTTLS"
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func callIf(f func(string, string), a, b string) {
	if f != nil {
		f(a, b)
	}
}
