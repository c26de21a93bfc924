package emulator

import (
	"crypto/x509"
	"maps"
	"slices"
	"strings"
	"time"
)

// tenantState is the emulated tenant's setup: what the tenant setup methods
// change. Addresses are kept in lower case. Guarded by Server.mu.
type tenantState struct {
	smtpAuthDisabled bool            // Set-TransportConfig -SmtpClientAuthenticationDisabled
	mailboxAuth      map[string]bool // Set-CASMailbox -SmtpClientAuthenticationDisabled, when set explicitly
	spRegistered     bool            // New-ServicePrincipal done
	spObjectID       string          // the -ObjectId it was registered with
	mailboxes        map[string]bool // mailboxes that exist
	fullAccess       map[string]bool // Add-MailboxPermission -AccessRights FullAccess for the SP
	sendAs           map[string]bool // Add-RecipientPermission -AccessRights SendAs: sendAsKey(trustee, addr)
	roles            []string        // application permissions consented (roles claim)
	secret           string          // the client secret the token endpoint accepts
	secretExpired    bool
	lifetime         time.Duration
	connLimit        int
	certs            []*x509.Certificate // certificate credentials
	federated        string              // accepted federated assertion, "" if none

	// What only a busy or unhealthy tenant does (scenarios.go).
	recipientLimit   int            // recipients per mailbox per day; 0: no limit
	recipientsSent   map[string]int // recipients submitted today, by mailbox
	throttled        string         // continuous-error suspension reply, "" if none
	dataEndReplies   []string       // transient replies after the final dot, in turn
	dataEndNext      int            // the next of dataEndReplies
	fullAccessLag    bool           // FullAccess not yet propagated: 430 4.2.0 after the final dot
	hve              bool           // High Volume Email's AUTH rules
	tokenThrottled   bool           // the token endpoint answers 429 with Retry-After
	conditionalBlock bool           // Conditional Access blocks the token (AADSTS53003)
}

// defaultRecipientLimit is the SMTP AUTH recipient rate limit per mailbox
// and day ([MS-SUBMIT]: "Recipient rate limit of 10,000 recipients per
// day").
const defaultRecipientLimit = 10000

// sendAsKey is the key of tenantState.sendAs: Send As on addr held by
// trustee (both in lower case).
func sendAsKey(trustee, addr string) string { return trustee + "\x00" + addr }

func (s *Server) defaultTenant() tenantState {
	mbx, shared := strings.ToLower(s.Mailbox), strings.ToLower(s.SharedMailbox)
	return tenantState{
		mailboxAuth:  map[string]bool{},
		spRegistered: true,
		spObjectID:   s.ServicePrincipalID,
		mailboxes:    map[string]bool{mbx: true, shared: true},
		fullAccess:   map[string]bool{mbx: true},
		sendAs:       map[string]bool{sendAsKey(mbx, shared): true},
		roles:        []string{roleSendAsApp},
		secret:       s.ClientSecret,
		lifetime:     s.opts.tokenLifetime,
		connLimit:    defaultConnectionLimit,

		recipientLimit: defaultRecipientLimit,
		recipientsSent: map[string]int{},
	}
}

func (t tenantState) clone() tenantState {
	t.mailboxAuth = maps.Clone(t.mailboxAuth)
	t.mailboxes = maps.Clone(t.mailboxes)
	t.fullAccess = maps.Clone(t.fullAccess)
	t.sendAs = maps.Clone(t.sendAs)
	t.recipientsSent = maps.Clone(t.recipientsSent)
	t.dataEndReplies = slices.Clone(t.dataEndReplies)
	t.roles = slices.Clone(t.roles)
	t.certs = slices.Clone(t.certs)
	return t
}

// setup returns a snapshot of the tenant's setup.
func (s *Server) setup() tenantState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenant.clone()
}

func (s *Server) update(f func(t *tenantState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.tenant)
}

// smtpAuthDisabledFor reports whether SMTP AUTH is disabled for mailbox,
// and whether by the mailbox's own setting.
func (t *tenantState) smtpAuthDisabledFor(mailbox string) (disabled, byMailbox bool) {
	if d, ok := t.mailboxAuth[mailbox]; ok {
		return d, true
	}
	return t.smtpAuthDisabled, false
}

// maySendAs reports whether a client authenticated as user may use addr as
// the sender: user itself, or an address on which user holds Send As.
// Neither the service principal's FullAccess on addr nor its own Send As
// on it is enough: Exchange checks the authenticating mailbox
// (Notifuse/notifuse#250, 2026: SendAs and FullAccess granted to the
// service principal on every sender still gave SendAsDeniedException
// until the authenticating mailbox had Send As).
func (t *tenantState) maySendAs(user, addr string) bool {
	addr, user = strings.ToLower(addr), strings.ToLower(user)
	return addr != "" && (addr == user || t.sendAs[sendAsKey(user, addr)])
}

// SetSMTPAuthDisabledForTenant sets the tenant-wide
// SmtpClientAuthenticationDisabled (Set-TransportConfig). While it is true,
// AUTH fails with "535 5.7.139 Authentication unsuccessful,
// SmtpClientAuthentication is disabled for the Tenant. ..." for every
// mailbox that does not enable SMTP AUTH itself.
func (s *Server) SetSMTPAuthDisabledForTenant(disabled bool) {
	s.update(func(t *tenantState) { t.smtpAuthDisabled = disabled })
}

// SetSMTPAuthDisabledForMailbox sets mailbox's own
// SmtpClientAuthenticationDisabled (Set-CASMailbox), which overrides the
// tenant's setting: with true, AUTH as mailbox fails with "535 5.7.139
// Authentication unsuccessful, SmtpClientAuthentication is disabled for the
// Mailbox. ..."; with false, AUTH as mailbox works even while SMTP AUTH is
// disabled for the tenant.
func (s *Server) SetSMTPAuthDisabledForMailbox(mailbox string, disabled bool) {
	s.update(func(t *tenantState) { t.mailboxAuth[strings.ToLower(mailbox)] = disabled })
}

// SetServicePrincipalRegistered sets whether the app's service principal is
// registered in Exchange Online (New-ServicePrincipal), with
// ServicePrincipalID; the default is true. Unregistered, AUTH fails with
// 535 5.7.3.
func (s *Server) SetServicePrincipalRegistered(registered bool) {
	s.update(func(t *tenantState) {
		t.spRegistered = registered
		t.spObjectID = s.ServicePrincipalID
	})
}

// RegisterServicePrincipal registers the app's service principal in
// Exchange Online with objectID, as New-ServicePrincipal -ObjectId does.
// Only ServicePrincipalID makes AUTH work; AppObjectID, the App
// registration's object ID, is the classic mistake and makes AUTH fail with
// 535 5.7.3.
func (s *Server) RegisterServicePrincipal(objectID string) {
	s.update(func(t *tenantState) {
		t.spRegistered = true
		t.spObjectID = strings.ToLower(strings.TrimSpace(objectID))
	})
}

// SetMailboxPermission grants or revokes the service principal's
// FullAccess on mailbox (Add-MailboxPermission / Remove-MailboxPermission).
// It is granted on Mailbox by default. AUTH as a mailbox without it fails
// with 535 5.7.3.
func (s *Server) SetMailboxPermission(mailbox string, granted bool) {
	s.update(func(t *tenantState) { t.fullAccess[strings.ToLower(mailbox)] = granted })
}

// AddMailbox creates a mailbox with address addr in the tenant, for example
// a shared mailbox. The service principal has no permission on it until
// SetMailboxPermission or SetSendAs grants one.
func (s *Server) AddMailbox(addr string) {
	s.update(func(t *tenantState) { t.mailboxes[strings.ToLower(addr)] = true })
}

// SetSendAs grants or revokes Mailbox's Send As permission on addr
// (Add-RecipientPermission -Identity addr -Trustee Mailbox -AccessRights
// SendAs): see SetSendAsFor.
func (s *Server) SetSendAs(addr string, granted bool) { s.SetSendAsFor(s.Mailbox, addr, granted) }

// SetSendAsFor grants or revokes trustee's Send As permission on addr. A
// client authenticated as a mailbox may use the mailbox itself as MAIL FROM
// and From, and the addresses the mailbox holds Send As on; FullAccess and
// the service principal's own permissions do not count. Another sender is
// accepted at MAIL FROM and the message refused after the final dot with
// "554 5.2.252 SendAsDenied; ..." (or at MAIL FROM with 550 5.7.60 under
// WithSendAsRefusedAtMail). Mailbox holds Send As on SharedMailbox by
// default.
func (s *Server) SetSendAsFor(trustee, addr string, granted bool) {
	s.update(func(t *tenantState) { t.sendAs[sendAsKey(strings.ToLower(trustee), strings.ToLower(addr))] = granted })
}

// SetDailyRecipientLimit sets how many recipients each mailbox may submit
// to per day; the default is Exchange Online's 10,000. A message beyond it
// is refused after the final dot with "554 5.2.0
// STOREDRV.Submission.Exception:SubmissionQuotaExceededException; ...".
// Zero or less means no limit. The emulator's day never ends.
func (s *Server) SetDailyRecipientLimit(n int) {
	s.update(func(t *tenantState) { t.recipientLimit = n })
}

// SetRoles sets the roles claim of the access tokens issued from now on:
// the application permissions the admin consented to. The default is
// ["SMTP.SendAsApp"]; without SMTP.SendAsApp, AUTH fails with 535 5.7.3. An
// empty list leaves the claim out, as Entra does when no permission was
// consented.
func (s *Server) SetRoles(roles []string) {
	s.update(func(t *tenantState) { t.roles = slices.Clone(roles) })
}

// SetClientSecret makes secret the only client secret the token endpoint
// accepts, as when the secret is rotated. The ClientSecret field, and so
// Config, keep the original one.
func (s *Server) SetClientSecret(secret string) {
	s.update(func(t *tenantState) { t.secret = secret })
}

// SetClientSecretExpired sets whether the client secret has expired. While
// it has, a token request with it fails with HTTP 401 invalid_client,
// AADSTS7000222.
func (s *Server) SetClientSecretExpired(expired bool) {
	s.update(func(t *tenantState) { t.secretExpired = expired })
}

// SetTokenLifetime sets the lifetime of the access tokens issued from now
// on (see WithTokenLifetime). A lifetime of zero or less issues tokens that
// have already expired, which SMTP AUTH refuses with 535 5.7.3.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.update(func(t *tenantState) { t.lifetime = d })
}

// SetConnectionLimit sets how many connections may be authenticated as the
// same mailbox at once; the default is 3, like Exchange Online's. A message
// submitted on a connection beyond the limit (in order of authentication) is
// refused at the end of DATA with "432 4.3.2 Concurrent connections limit
// exceeded. ...", as Exchange does. Zero or less means no limit.
func (s *Server) SetConnectionLimit(n int) {
	s.update(func(t *tenantState) { t.connLimit = n })
}

// RegisterCertificate adds cert as a credential of the app: the token
// endpoint then accepts client assertions (JWTs) signed by its private key,
// identified by the x5t#S256 (SHA-256, as MSAL sends with PS256) or x5t
// (SHA-1, with RS256) thumbprint header. The assertion's aud must be the
// token endpoint's URL, and its iss and sub the ClientID; an unknown key or
// a bad signature gives AADSTS700027 and an assertion outside its nbf-exp
// range AADSTS700024, both HTTP 401 invalid_client.
func (s *Server) RegisterCertificate(cert *x509.Certificate) {
	if cert == nil {
		return
	}
	s.update(func(t *tenantState) { t.certs = append(t.certs, cert) })
}

// SetFederatedAssertion makes the token endpoint accept a client_assertion
// equal to assertion, as a federated identity credential (for example a
// Kubernetes workload identity token) would be. The empty string removes it.
func (s *Server) SetFederatedAssertion(assertion string) {
	s.update(func(t *tenantState) { t.federated = assertion })
}
