package o365smtptest

import (
	"crypto/x509"
	"time"

	"github.com/o365smtp/o365smtp/internal/emulator"
)

// The tenant setup methods change the emulated tenant, as an administrator
// would in Entra and Exchange Online. Each takes effect at once, for new
// token requests and SMTP commands.

// SetSMTPAuthDisabledForTenant sets the tenant-wide
// SmtpClientAuthenticationDisabled (Set-TransportConfig). While it is true,
// AUTH fails with "535 5.7.139 Authentication unsuccessful,
// SmtpClientAuthentication is disabled for the Tenant. ..." for every
// mailbox that does not enable SMTP AUTH itself.
func (s *Server) SetSMTPAuthDisabledForTenant(disabled bool) {
	s.e.SetSMTPAuthDisabledForTenant(disabled)
}

// SetSMTPAuthDisabledForMailbox sets mailbox's own
// SmtpClientAuthenticationDisabled (Set-CASMailbox), which overrides the
// tenant's setting: with true, AUTH as mailbox fails with "535 5.7.139
// Authentication unsuccessful, SmtpClientAuthentication is disabled for the
// Mailbox. ..."; with false, AUTH as mailbox works even while SMTP AUTH is
// disabled for the tenant.
func (s *Server) SetSMTPAuthDisabledForMailbox(mailbox string, disabled bool) {
	s.e.SetSMTPAuthDisabledForMailbox(mailbox, disabled)
}

// SetServicePrincipalRegistered sets whether the app's service principal is
// registered in Exchange Online (New-ServicePrincipal), with
// ServicePrincipalID; the default is true. Unregistered, AUTH fails with
// 535 5.7.3.
func (s *Server) SetServicePrincipalRegistered(registered bool) {
	s.e.SetServicePrincipalRegistered(registered)
}

// RegisterServicePrincipal registers the app's service principal in
// Exchange Online with objectID, as New-ServicePrincipal -ObjectId does.
// Only ServicePrincipalID makes AUTH work; AppObjectID, the App
// registration's object ID, is the classic mistake and makes AUTH fail with
// 535 5.7.3.
func (s *Server) RegisterServicePrincipal(objectID string) { s.e.RegisterServicePrincipal(objectID) }

// SetMailboxPermission grants or revokes the service principal's
// FullAccess on mailbox (Add-MailboxPermission / Remove-MailboxPermission).
// It is granted on Mailbox by default. AUTH as a mailbox without it fails
// with 535 5.7.3.
func (s *Server) SetMailboxPermission(mailbox string, granted bool) {
	s.e.SetMailboxPermission(mailbox, granted)
}

// AddMailbox creates a mailbox with address addr in the tenant, for example
// a shared mailbox. The service principal has no permission on it until
// SetMailboxPermission grants FullAccess (to authenticate as it), and
// Mailbox may not send as it until SetSendAs grants that.
func (s *Server) AddMailbox(addr string) { s.e.AddMailbox(addr) }

// SetSendAs grants or revokes Mailbox's Send As permission on addr
// (Add-RecipientPermission -Identity addr -Trustee Mailbox -AccessRights
// SendAs). A client authenticated as Mailbox may use Mailbox itself and the
// addresses it holds Send As on as MAIL FROM and From; FullAccess and the
// service principal's own permissions do not count, as in Exchange Online.
// Another sender is accepted at MAIL FROM and the message refused after the
// final dot with "554 5.2.252 SendAsDenied; <mailbox> not allowed to send
// as <addr>; ...". Send As on SharedMailbox is granted by default.
func (s *Server) SetSendAs(addr string, granted bool) { s.e.SetSendAs(addr, granted) }

// SetRoles sets the roles claim of the access tokens issued from now on:
// the application permissions the admin consented to. The default is
// ["SMTP.SendAsApp"]; without SMTP.SendAsApp, AUTH fails with 535 5.7.3. An
// empty list leaves the claim out, as Entra does when no permission was
// consented.
func (s *Server) SetRoles(roles []string) { s.e.SetRoles(roles) }

// SetClientSecret makes secret the only client secret the token endpoint
// accepts, as when the secret is rotated. The ClientSecret field, and so
// Config, keep the original one.
func (s *Server) SetClientSecret(secret string) { s.e.SetClientSecret(secret) }

// SetClientSecretExpired sets whether the client secret has expired. While
// it has, a token request with it fails with HTTP 401 invalid_client,
// AADSTS7000222.
func (s *Server) SetClientSecretExpired(expired bool) { s.e.SetClientSecretExpired(expired) }

// SetTokenLifetime sets the lifetime of the access tokens issued from now
// on (see WithTokenLifetime). A lifetime of zero or less issues tokens that
// have already expired, which SMTP AUTH refuses with 535 5.7.3.
func (s *Server) SetTokenLifetime(d time.Duration) { s.e.SetTokenLifetime(d) }

// SetConnectionLimit sets how many connections may be authenticated as the
// same mailbox at once; the default is 3, like Exchange Online's. A message
// submitted on a connection beyond the limit (in order of authentication) is
// refused at the end of DATA with "432 4.3.2 Concurrent connections limit
// exceeded. ...", as Exchange does. Zero or less means no limit.
func (s *Server) SetConnectionLimit(n int) { s.e.SetConnectionLimit(n) }

// SetDailyRecipientLimit sets how many recipients each mailbox may submit
// to per day; the default is Exchange Online's 10,000. A message beyond it
// is refused after the final dot with "554 5.2.0
// STOREDRV.Submission.Exception:SubmissionQuotaExceededException; ...".
// Zero or less means no limit. The emulator's day never ends.
func (s *Server) SetDailyRecipientLimit(n int) { s.e.SetDailyRecipientLimit(n) }

// RegisterCertificate adds cert as a credential of the app: the token
// endpoint then accepts client assertions (JWTs) signed by its private key,
// identified by the x5t#S256 (SHA-256, as MSAL sends with PS256) or x5t
// (SHA-1, with RS256) thumbprint header. The assertion's aud must be the
// token endpoint's URL, and its iss and sub the ClientID; an unknown key or
// a bad signature gives AADSTS700027 and an assertion outside its nbf-exp
// range AADSTS700024, both HTTP 401 invalid_client.
func (s *Server) RegisterCertificate(cert *x509.Certificate) { s.e.RegisterCertificate(cert) }

// SetFederatedAssertion makes the token endpoint accept a client_assertion
// equal to assertion, as a federated identity credential (for example a
// Kubernetes workload identity token) would be. The empty string removes it.
func (s *Server) SetFederatedAssertion(assertion string) { s.e.SetFederatedAssertion(assertion) }

// GraphFault is a Microsoft Graph error answer queued with FailGraph: the
// HTTP status, Graph's error code and message, an optional Retry-After in
// seconds, and the number of requests it applies to (0: all). Op limits it
// to one kind of request (GraphSendMail, GraphCreateDraft,
// GraphCreateUploadSession, GraphUpload, GraphSend, GraphDelete). Drop
// closes the connection once the request body has been read, with no
// answer; Hang holds the answer until Release is closed (the request is
// then served normally) or the client gives up.
type GraphFault = emulator.GraphFault

// The kinds of Graph request, for GraphFault.Op: sendMail; the draft of a
// large message (POST messages), its upload sessions and their PUTs, its
// send, and its deletion.
const (
	GraphSendMail            = emulator.GraphSendMail
	GraphCreateDraft         = emulator.GraphCreateDraft
	GraphCreateUploadSession = emulator.GraphCreateUploadSession
	GraphUpload              = emulator.GraphUpload
	GraphSend                = emulator.GraphSend
	GraphDelete              = emulator.GraphDelete
)

// SetGraphMailReadWrite sets whether the app holds Microsoft Graph's
// Mail.ReadWrite application permission with admin consent (the default),
// which drafts and upload sessions need: without it only messages that fit
// one sendMail request (4 MB) can be sent, and a larger one gets 403
// ErrorAccessDenied at its draft.
func (s *Server) SetGraphMailReadWrite(granted bool) { s.e.SetGraphMailReadWrite(granted) }

// SetGraphUploadSessionLifetime sets how long an upload session's URL is
// valid (15 minutes by default); zero or less makes sessions that have
// already expired, so that their first PUT gets 404 ErrorItemNotFound.
func (s *Server) SetGraphUploadSessionLifetime(d time.Duration) {
	s.e.SetGraphUploadSessionLifetime(d)
}

// GraphDrafts counts the drafts in the mailboxes: created for a large
// message and neither sent nor deleted.
func (s *Server) GraphDrafts() int { return s.e.GraphDrafts() }

// SetGraphMailSend sets whether the app holds Microsoft Graph's Mail.Send
// application permission with admin consent (the default). Without it,
// Graph tokens carry no roles and sendMail gets 403 ErrorAccessDenied,
// unless SetGraphRBAC grants the mailbox.
func (s *Server) SetGraphMailSend(granted bool) { s.e.SetGraphMailSend(granted) }

// SetGraphRBAC grants "Application Mail.Send" on mailbox with RBAC for
// Applications (New-ManagementRoleAssignment -App): sendMail as it works
// without the token's role.
func (s *Server) SetGraphRBAC(mailbox string, granted bool) { s.e.SetGraphRBAC(mailbox, granted) }

// SetGraphExcluded makes an application access policy or RBAC scope
// exclude mailbox: sendMail as it gets 403 ErrorAccessDenied "Access to
// OData is disabled: [RAOP] ...".
func (s *Server) SetGraphExcluded(mailbox string, excluded bool) {
	s.e.SetGraphExcluded(mailbox, excluded)
}

// FailGraph answers the next f.Times Graph requests (after authentication
// and authorization) with f.
func (s *Server) FailGraph(f GraphFault) { s.e.FailGraph(f) }

// GraphRequests counts the Graph requests received.
func (s *Server) GraphRequests() int { return s.e.GraphRequests() }
