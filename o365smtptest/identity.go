package o365smtptest

import (
	"testing"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/emulator"
)

// ManagedIdentity is an emulated managed identity: ClientID is its client
// (application) ID, the appid of its tokens and the ManagedIdentity of a
// user-assigned one; ObjectID is its service principal's object ID, the
// oid of its tokens.
type ManagedIdentity = emulator.ManagedIdentity

// SystemAssignedIdentity returns the system-assigned identity of a server
// made WithManagedIdentity (zero otherwise). It is turned on, holds
// SMTP.SendAsApp, and its service principal is registered in Exchange with
// FullAccess on Mailbox.
func (s *Server) SystemAssignedIdentity() ManagedIdentity { return s.e.SystemAssignedIdentity() }

// AddUserAssignedIdentity creates a user-assigned identity, assigned to the
// emulated resource and set up like the system-assigned one.
func (s *Server) AddUserAssignedIdentity() ManagedIdentity { return s.e.AddUserAssignedIdentity() }

// SetIdentityAssigned turns the identity with clientID on or off for the
// resource; off, a token request for it fails as Azure's does, with
// 400 "Unable to load the proper Managed Identity.".
func (s *Server) SetIdentityAssigned(clientID string, assigned bool) {
	s.e.SetIdentityAssigned(clientID, assigned)
}

// SetIdentityRegistered sets whether the identity's service principal is
// registered in Exchange (New-ServicePrincipal); unregistered, AUTH fails
// with 535 5.7.3.
func (s *Server) SetIdentityRegistered(clientID string, registered bool) {
	s.e.SetIdentityRegistered(clientID, registered)
}

// ManagedIdentityConfig returns Config with ManagedIdentity set to identity
// ("system", or a user-assigned identity's ClientID) in place of the app's
// IDs and secret, and sets IDENTITY_ENDPOINT and IDENTITY_HEADER with
// t.Setenv, as App Service does: MSAL reads them from the process
// environment, so the test (and its parents) must not be parallel. The
// server must have been made WithManagedIdentity.
func (s *Server) ManagedIdentityConfig(t testing.TB, identity string) o365smtp.Config {
	t.Helper()
	if s.e.IdentityEndpoint() == "" {
		t.Fatal("o365smtptest: ManagedIdentityConfig needs a server made WithManagedIdentity")
	}
	t.Setenv("IDENTITY_ENDPOINT", s.e.IdentityEndpoint())
	t.Setenv("IDENTITY_HEADER", s.e.IdentityHeader())
	for _, v := range []string{"IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"} {
		t.Setenv(v, "")
	}
	cfg := s.Config()
	cfg.TenantID, cfg.ClientID, cfg.ClientSecret = "", "", ""
	cfg.ManagedIdentity = identity
	return cfg
}
