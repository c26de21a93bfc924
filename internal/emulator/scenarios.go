package emulator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/o365smtp/o365smtp/internal/emulator/smtpd"
)

// Scenario is a named way for the emulated tenant to be set up, for the
// standalone emulator (o365smtp emulate --scenario NAME) and for tests.
type Scenario struct {
	// Name identifies the scenario, for example "sp-not-registered".
	Name string
	// Description says what is wrong and what a client sees, in one line.
	Description string
}

// scenario is a Scenario and how to apply it.
type scenario struct {
	Scenario
	apply func(s *Server)
}

var scenarios = []scenario{
	{Scenario{"ok", "everything set up right (the default): mail from the mailbox, or from shared@contoso.com, which it may send as, gets 250 2.0.0 OK <id> [Hostname=...]"},
		func(*Server) {}},
	{Scenario{"sp-not-registered", "the service principal is not registered in Exchange Online (New-ServicePrincipal): AUTH fails with 535 5.7.3 Authentication unsuccessful [host time session]"},
		func(s *Server) { s.SetServicePrincipalRegistered(false) }},
	{Scenario{"wrong-object-id", "the service principal was registered with the App registration's object ID, not the Enterprise application's: AUTH fails with 535 5.7.3"},
		func(s *Server) { s.RegisterServicePrincipal(s.AppObjectID) }},
	{Scenario{"no-mailbox-permission", "the service principal has no FullAccess on the mailbox (Add-MailboxPermission): AUTH fails with 535 5.7.3"},
		func(s *Server) { s.SetMailboxPermission(s.Mailbox, false) }},
	{Scenario{"fullaccess-not-propagated", "FullAccess was granted minutes ago and has not reached every server: AUTH succeeds, the message gets 430 4.2.0 STOREDRV; mailbox logon failure ... after the final dot"},
		func(s *Server) {
			s.SetMailboxPermission(s.Mailbox, false)
			s.update(func(t *tenantState) { t.fullAccessLag = true })
		}},
	{Scenario{"smtp-auth-disabled-tenant", "SMTP AUTH is disabled for the tenant (Set-TransportConfig): AUTH fails with 535 5.7.139 ... disabled for the Tenant"},
		func(s *Server) { s.SetSMTPAuthDisabledForTenant(true) }},
	{Scenario{"smtp-auth-disabled-mailbox", "SMTP AUTH is disabled for the mailbox (Set-CASMailbox): AUTH fails with 535 5.7.139 ... disabled for the Mailbox"},
		func(s *Server) { s.SetSMTPAuthDisabledForMailbox(s.Mailbox, true) }},
	{Scenario{"send-as-denied", "the mailbox has no Send As on any other address (shared@contoso.com included): another MAIL FROM or From is accepted at MAIL and refused after the final dot with 554 5.2.252 SendAsDenied; ..."},
		func(s *Server) { s.SetSendAs(s.SharedMailbox, false) }},
	{Scenario{"secret-expired", "the client secret has expired: the token request fails with AADSTS7000222 (HTTP 401 invalid_client)"},
		func(s *Server) { s.SetClientSecretExpired(true) }},
	{Scenario{"wrong-secret", "the configured client secret is not the app's (e.g. its Secret ID was used): the token request fails with AADSTS7000215 (HTTP 401 invalid_client)"},
		func(s *Server) { s.SetClientSecret(newSecret()) }},
	{Scenario{"no-smtp-role", "the SMTP.SendAsApp application permission has no admin consent: the token has no roles and AUTH fails with 535 5.7.3"},
		func(s *Server) { s.SetRoles(nil) }},
	{Scenario{"throttle", "at most 3 connections per mailbox at once, as in Exchange Online: a message on a 4th concurrent connection fails after DATA with 432 4.3.2 Concurrent connections limit exceeded"},
		func(s *Server) { s.SetConnectionLimit(defaultConnectionLimit) }},
	{Scenario{"quota-exceeded", "the mailbox has used its 10,000 recipients for today: every message fails after the final dot with 554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"},
		func(s *Server) {
			s.update(func(t *tenantState) { t.recipientsSent[strings.ToLower(s.Mailbox)] = t.recipientLimit })
		}},
	{Scenario{"transient-data-end", "the store is unhealthy: after the final dot messages get, in turn, 451 4.3.111 ... MRH1, 430 4.2.0 STOREDRV; mailbox logon failure, 451 4.7.0 Temporary server error ... PRX4, then 250 (retry and it goes)"},
		func(s *Server) {
			s.update(func(t *tenantState) { t.dataEndReplies = []string{replyMRH, replyLogonFailed, replyPRX, ""} })
		}},
	{Scenario{"entra-throttled", "Entra throttles the app for asking too often: the token request gets HTTP 429 with Retry-After: 60"},
		func(s *Server) { s.update(func(t *tenantState) { t.tokenThrottled = true }) }},
	{Scenario{"conditional-access", "a Conditional Access policy for workload identities blocks the app: the token request fails with AADSTS53003 (HTTP 400 invalid_grant)"},
		func(s *Server) { s.update(func(t *tenantState) { t.conditionalBlock = true }) }},
	{Scenario{"hve", "High Volume Email (smtp-hve.office365.com) rules: an unknown user= fails AUTH with 501 5.5.124 Invalid XOAUTH2 auth data - User address provided is not valid..., a token expiring within 10 minutes with 501 5.5.127 ... Token will expire soon"},
		func(s *Server) { s.update(func(t *tenantState) { t.hve = true }) }},
}

func init() {
	// The continuous-error suspensions, one scenario each.
	for _, c := range throttledReplies {
		scenarios = append(scenarios, scenario{
			Scenario{"suspended-" + c.name, "the mailbox is suspended from SMTP AUTH after continuous " + c.what + " errors: every message fails after the final dot with " + c.reply},
			func(s *Server) { s.update(func(t *tenantState) { t.throttled = c.reply }) },
		})
	}
}

// The store's replies after the final dot for what only a busy or
// unhealthy tenant does.
const (
	// replyQuotaExceeded is the daily recipient quota's ([MS-SUBMIT]:
	// "Exceeding the recipients per day limit causes the following error:
	// 554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException";
	// MicrosoftDocs/OfficeDocs-Support#1150). The doc gives no more text;
	// the [Hostname=...] suffix is the store's usual one.
	replyQuotaExceeded = "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException [Hostname=" + smtpd.StoreHost + "]"
	// replyLogonFailed is the store's refusal when the service principal's
	// FullAccess has not reached the mailbox's server yet (public setup
	// notes quote "430 4.2.0 STOREDRV; mailbox logon failure ...
	// MapiExceptionLogonFailed", transient); the middle of the text is
	// ours.
	replyLogonFailed = "430 4.2.0 STOREDRV; mailbox logon failure; Failed to process message due to a transient exception with message [BeginDiagnosticData]Cannot open mailbox. MapiExceptionLogonFailed [Hostname=" + smtpd.StoreHost + "]"
	// replyMRH is a transient store error after the final dot
	// (datalust/seq-app-htmlemail#101, 2022).
	replyMRH = "451 4.3.111 Temporary server error. Please try again later MRH1 [Hostname=" + smtpd.StoreHost + "]"
	// replyPRX is the front end's proxy failing to reach a back end
	// (jstedfast/MailKit#566: "4.7.0 Temporary server error. Please try
	// again later. PRX4 [host]", status ErrorInProcessing, i.e. 451).
	replyPRX = "451 4.7.0 Temporary server error. Please try again later. PRX4 [" + smtpd.AuthHost + "]"
)

// throttledReplies are the continuous-error throttling replies of SMTP
// AUTH ([MS-CET], learn.microsoft.com/Exchange/mail-flow-best-practices/continuous-error-throttling-smtp-auth-submissions,
// verbatim). The page does not say at which command they come; the
// emulator gives them after the final dot, where the errors that cause
// them come.
var throttledReplies = []struct{ name, what, reply string }{
	{"mailbox-full", "mailbox full", "550 5.2.251 Sender throttled due to continuous mailbox full errors."},
	{"send-as", "send as denied", "550 5.2.252 Sender throttled due to continuous send as denied errors."},
	{"license", "invalid license", "550 5.2.253 Sender throttled due to continuous invalid license errors."},
	{"too-many-recipients", "too many recipients", "550 5.2.254 Sender throttled due to continuous too many recipients errors."},
	{"invalid-recipients", "invalid recipients", "550 5.2.255 Sender throttled due to continuous invalid recipients errors."},
}

// Scenarios lists the scenarios ApplyScenario knows, "ok" first.
func Scenarios() []Scenario {
	out := make([]Scenario, len(scenarios))
	for i, sc := range scenarios {
		out[i] = sc.Scenario
	}
	return out
}

// LookupScenario returns an error for a name that is not a scenario's.
func LookupScenario(name string) error {
	if !slices.ContainsFunc(scenarios, func(sc scenario) bool { return sc.Name == name }) {
		return fmt.Errorf("o365smtptest: unknown scenario %q", name)
	}
	return nil
}

// ApplyScenario resets the tenant setup (what the Set, Register and Add
// methods change, except the registered certificates and federated
// assertion) to its defaults, then applies the named scenario (see
// Scenarios). Messages, counters and faults are kept. It returns an error
// for an unknown name.
func (s *Server) ApplyScenario(name string) error {
	if err := LookupScenario(name); err != nil {
		return err
	}
	i := slices.IndexFunc(scenarios, func(sc scenario) bool { return sc.Name == name })
	s.mu.Lock()
	certs, federated := s.tenant.certs, s.tenant.federated
	s.tenant = s.defaultTenant()
	s.tenant.certs, s.tenant.federated = certs, federated
	s.mu.Unlock()
	scenarios[i].apply(s)
	s.mu.Lock()
	s.inbox.scenario = name
	s.changedLocked()
	s.mu.Unlock()
	return nil
}
