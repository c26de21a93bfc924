package emulator

import (
	"fmt"
	"slices"
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
	{Scenario{"ok", "everything set up right: mail from the mailbox (or shared@contoso.com, which it may send as) is accepted"},
		func(*Server) {}},
	{Scenario{"sp-not-registered", "the service principal is not registered in Exchange Online (New-ServicePrincipal): AUTH fails with 535 5.7.3"},
		func(s *Server) { s.SetServicePrincipalRegistered(false) }},
	{Scenario{"wrong-object-id", "the service principal was registered with the App registration's object ID, not the Enterprise application's: AUTH fails with 535 5.7.3"},
		func(s *Server) { s.RegisterServicePrincipal(s.AppObjectID) }},
	{Scenario{"no-mailbox-permission", "the service principal has no FullAccess on the mailbox (Add-MailboxPermission): AUTH fails with 535 5.7.3"},
		func(s *Server) { s.SetMailboxPermission(s.Mailbox, false) }},
	{Scenario{"smtp-auth-disabled-tenant", "SMTP AUTH is disabled for the tenant (Set-TransportConfig): AUTH fails with 535 5.7.139 ... disabled for the Tenant"},
		func(s *Server) { s.SetSMTPAuthDisabledForTenant(true) }},
	{Scenario{"smtp-auth-disabled-mailbox", "SMTP AUTH is disabled for the mailbox (Set-CASMailbox): AUTH fails with 535 5.7.139 ... disabled for the Mailbox"},
		func(s *Server) { s.SetSMTPAuthDisabledForMailbox(s.Mailbox, true) }},
	{Scenario{"send-as-denied", "no Send As on any other address (shared@contoso.com included): another MAIL FROM fails with 550 5.7.60, another From header with 554 5.2.252 after DATA"},
		func(s *Server) { s.SetSendAs(s.SharedMailbox, false) }},
	{Scenario{"secret-expired", "the client secret has expired: the token request fails with AADSTS7000222 (HTTP 401 invalid_client)"},
		func(s *Server) { s.SetClientSecretExpired(true) }},
	{Scenario{"wrong-secret", "the configured client secret is not the app's (e.g. its Secret ID was used): the token request fails with AADSTS7000215 (HTTP 401 invalid_client)"},
		func(s *Server) { s.SetClientSecret(newSecret()) }},
	{Scenario{"no-smtp-role", "the SMTP.SendAsApp application permission has no admin consent: the token has no roles and AUTH fails with 535 5.7.3"},
		func(s *Server) { s.SetRoles(nil) }},
	{Scenario{"throttle", "at most 3 connections per mailbox at once, as in Exchange Online: a message on a 4th concurrent connection fails after DATA with 432 4.3.2"},
		func(s *Server) { s.SetConnectionLimit(defaultConnectionLimit) }},
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
	return nil
}
