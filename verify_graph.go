package o365smtp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// runGraph is Verify for the Graph transport: config, credential, token,
// token_claims (aud Graph's; no Mail.Send role is a warning, since RBAC
// for Applications grants in Exchange, and so is Mail.Send without the
// Mail.ReadWrite that messages over about 3 MB need), then a sendMail probe with no
// recipients, which Graph authorizes before it validates and so refuses
// with 400 ErrorInvalidRecipients when the app may send as the mailbox,
// and which cannot deliver anything. connect and tls describe the probe's
// HTTPS exchange, auth its verdict; send_as is as for SMTP (Graph checks
// Send As on other From addresses only with a real message).
func (v *verifier) runGraph(ctx context.Context, from []string) *Error {
	s, r := v.s, v.s.r
	u, _ := url.Parse(r.graphURL)
	v.rep.Host, v.rep.Port, v.rep.Scope = u.Hostname(), 443, r.graphScope
	if p := u.Port(); p != "" {
		fmt.Sscan(p, &v.rep.Port)
	}
	v.add("config", StatusPass, 0, fmt.Sprintf("Microsoft Graph at %s, mailbox %s", r.graphURL, r.cfg.Mailbox), "", "")
	if e := v.credential(); e != nil {
		return e
	}
	start := r.clock.Now()
	tok, cached, e := s.graphTokens.token(ctx)
	if e != nil {
		return v.fail("token", v.since(start), e, "")
	}
	v.rep.TokenExpiresOn = tok.ExpiresOn
	src := "new token"
	if cached {
		src = "cached token"
	}
	v.add("token", StatusPass, v.since(start), src+" for "+r.graphScope+" from "+v.rep.Authority, "", "")
	// token_claims
	start = r.clock.Now()
	c := tokenClaims(tok.AccessToken)
	switch {
	case !c.Decoded:
		v.add("token_claims", StatusWarn, 0, "the token is not a JWT; its claims cannot be checked", "", "")
	default:
		v.rep.ObjectID = c.OID
		detail := fmt.Sprintf("aud %s, tid %s, appid %s, oid %s (the service principal's object ID), roles [%s]", c.Aud, c.Tid, c.AppID, c.OID, strings.Join(c.Roles, " "))
		var problems []string
		if c.Aud != "" && !graphAudiences[strings.ToLower(strings.TrimSuffix(c.Aud, "/"))] {
			problems = append(problems, fmt.Sprintf("aud is %q, not Microsoft Graph: Graph refuses it with 401 InvalidAuthenticationToken", c.Aud))
		}
		if !c.Exp.IsZero() && !c.Exp.After(r.clock.Now()) {
			problems = append(problems, "the token has expired")
		}
		if len(problems) > 0 {
			e := localError("token.claims", strings.Join(problems, "; "), s.graph.graphValues(""), nil)
			return v.fail("token_claims", v.since(start), e, detail+": "+e.Message)
		}
		if !containsFold(c.Roles, "Mail.Send") {
			v.add("token_claims", StatusWarn, v.since(start), detail,
				fmt.Sprintf("The token has no Mail.Send role. Either grant Microsoft Graph > Application permissions > Mail.Send to app %s with admin consent, or grant \"Application Mail.Send\" in Exchange with RBAC for Applications (then no role is needed, and the probe below decides).", r.cfg.ClientID), "")
		} else if !containsFold(c.Roles, "Mail.ReadWrite") {
			v.add("token_claims", StatusWarn, v.since(start), detail,
				fmt.Sprintf("The token has Mail.Send but not Mail.ReadWrite: messages up to about 3 MB go with one sendMail request, but larger ones go through a draft and upload sessions, which need Mail.ReadWrite too. Grant Microsoft Graph > Application permissions > Mail.ReadWrite to app %s with admin consent, or \"Application Mail.ReadWrite\" with RBAC for Applications, if you send large messages.", r.cfg.ClientID), "")
		} else {
			v.add("token_claims", StatusPass, v.since(start), detail, "", "")
		}
	}
	// The probe.
	start = r.clock.Now()
	s.graph.requests.Add(1)
	resp, err := s.graph.client.ProbeSendMail(ctx, tok.AccessToken, r.cfg.Mailbox)
	if err != nil {
		e := s.graph.requestError(ctx, err, tok.AccessToken)
		if e.Kind == ErrUnknownOutcome {
			e = localError("graph.unreachable", e.Message, s.graph.graphValues(""), e.Err) // a probe delivers nothing
		}
		if e.Kind == ErrTLS {
			v.add("connect", StatusPass, v.since(start), r.graphURL, "", "")
			return v.fail("tls", v.since(start), e, "")
		}
		return v.fail("connect", v.since(start), e, "")
	}
	d := v.since(start)
	v.add("connect", StatusPass, d, fmt.Sprintf("%s answered HTTP %d", r.graphURL, resp.Status), "", "")
	tlsDetail := "TLS"
	if resp.TLS != nil {
		tlsDetail = tls.VersionName(resp.TLS.Version) + ", certificate valid for " + u.Hostname() + ", " + resp.TLS.NegotiatedProtocol
	}
	v.add("tls", StatusPass, 0, tlsDetail, "", "")
	ge, _ := s.graph.responseError(resp, "", tok.AccessToken, "")
	switch {
	case resp.Status == 400 && strings.HasPrefix(ge.Message, "ErrorInvalidRecipients"):
		v.add("auth", StatusPass, d, "Graph authorized sendMail as "+r.cfg.Mailbox+" (a probe with no recipients, refused with ErrorInvalidRecipients; nothing was delivered)", "", "")
	case resp.Status == 202:
		v.add("auth", StatusWarn, d, "Graph accepted a sendMail with no recipients (not Microsoft Graph?)", "Check GraphURL.", "")
	default:
		return v.fail("auth", d, ge, "")
	}
	v.graphSendAs(from)
	return nil
}

// graphSendAs reports the From addresses: Graph checks Send As only with a
// real message.
func (v *verifier) graphSendAs(from []string) {
	var others []string
	for _, a := range from {
		if !strings.EqualFold(a, v.s.r.cfg.Mailbox) {
			others = append(others, a)
		}
	}
	switch {
	case len(from) == 0:
		v.add("send_as", StatusSkip, 0, "no From addresses to check (pass them to Verify, or --from to the CLI)", "", "")
	case len(others) == 0:
		v.add("send_as", StatusPass, 0, "From is the mailbox itself: no Send As needed", "", "")
	default:
		var grants []string
		for _, a := range others {
			grants = append(grants, "  Add-RecipientPermission -Identity "+a+" -Trustee "+v.s.r.cfg.Mailbox+" -AccessRights SendAs")
		}
		v.add("send_as", StatusWarn, time.Duration(0), "Graph checks Send As on "+strings.Join(others, ", ")+" only when a message is sent (403 ErrorSendAsDenied)",
			"If the first message fails with send_as_denied, grant Send As:\n"+strings.Join(grants, "\n"), "")
	}
}
