package emulator

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ManagedIdentity is an emulated managed identity: the IDs of its service
// principal.
type ManagedIdentity struct {
	// ClientID is the identity's client (application) ID: the appid of
	// its tokens, and Config.ManagedIdentity of a user-assigned one.
	ClientID string
	// ObjectID is its service principal's object ID: the oid of its
	// tokens, and what New-ServicePrincipal -ObjectId registers.
	ObjectID string
}

// identity is an emulated managed identity and its setup. Guarded by
// Server.mu.
type identity struct {
	ManagedIdentity
	system     bool
	assigned   bool            // the system-assigned one turned on, or a user-assigned one added to the resource
	registered bool            // New-ServicePrincipal in Exchange
	fullAccess map[string]bool // Add-MailboxPermission for its service principal
	roles      []string        // app role assignments (New-MgServicePrincipalAppRoleAssignment)
}

// identityAPIVersion is the api-version of App Service's identity endpoint
// that MSAL sends.
const identityAPIVersion = "2019-08-01"

// identityParams are the query parameters App Service's endpoint takes.
var identityParams = []string{"api-version", "resource", "client_id", "principal_id", "object_id", "mi_res_id"}

// WithManagedIdentity serves an App Service-style managed identity endpoint
// (IdentityEndpoint, IdentityHeader) over plain HTTP on 127.0.0.1, as App
// Service does, with a system-assigned identity turned on.
func WithManagedIdentity() Option { return func(o *options) { o.managedIdentity = true } }

// startIdentity starts the identity endpoint (New, WithManagedIdentity).
func (s *Server) startIdentity() {
	s.identityHeader = newSecret()
	s.identities = []*identity{s.newIdentity(true)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /msi/token", s.handleIdentity)
	hs := httptest.NewUnstartedServer(mux)
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.Config.ReadHeaderTimeout = time.Minute
	hs.Start()
	s.identitySrv = hs
}

func (s *Server) newIdentity(system bool) *identity {
	return &identity{ManagedIdentity: ManagedIdentity{ClientID: newGUID(), ObjectID: newGUID()}, system: system,
		assigned: true, registered: true, fullAccess: map[string]bool{strings.ToLower(s.Mailbox): true},
		roles: []string{roleSendAsApp}}
}

// IdentityEndpoint is the IDENTITY_ENDPOINT of the managed identity
// endpoint, "http://127.0.0.1:port/msi/token"; "" without
// WithManagedIdentity.
func (s *Server) IdentityEndpoint() string {
	if s.identitySrv == nil {
		return ""
	}
	return s.identitySrv.URL + "/msi/token"
}

// IdentityHeader is the IDENTITY_HEADER the endpoint expects in
// X-IDENTITY-HEADER.
func (s *Server) IdentityHeader() string { return s.identityHeader }

// SystemAssignedIdentity returns the system-assigned identity (zero without
// WithManagedIdentity). It is turned on, has SMTP.SendAsApp, and is
// registered in Exchange with FullAccess on Mailbox.
func (s *Server) SystemAssignedIdentity() ManagedIdentity {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.identities) == 0 {
		return ManagedIdentity{}
	}
	return s.identities[0].ManagedIdentity
}

// AddUserAssignedIdentity creates a user-assigned identity, assigned to the
// emulated resource, with SMTP.SendAsApp, registered in Exchange with
// FullAccess on Mailbox.
func (s *Server) AddUserAssignedIdentity() ManagedIdentity {
	id := s.newIdentity(false)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identities = append(s.identities, id)
	return id.ManagedIdentity
}

// SetIdentityAssigned turns the identity with clientID on or off for the
// resource (the system-assigned one: Identity > System assigned; a
// user-assigned one: added or removed). Off, the endpoint answers 400
// "Unable to load the proper Managed Identity.".
func (s *Server) SetIdentityAssigned(clientID string, assigned bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id := s.identityByClientID(clientID); id != nil {
		id.assigned = assigned
	}
}

// SetIdentityRegistered sets whether the identity's service principal is
// registered in Exchange (New-ServicePrincipal); unregistered, AUTH fails
// with 535 5.7.3.
func (s *Server) SetIdentityRegistered(clientID string, registered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id := s.identityByClientID(clientID); id != nil {
		id.registered = registered
	}
}

// identityByClientID is the identity with clientID, or nil; s.mu is held.
func (s *Server) identityByClientID(clientID string) *identity {
	for _, id := range s.identities {
		if strings.EqualFold(id.ClientID, clientID) {
			return id
		}
	}
	return nil
}

// identityMaySubmit reports whether claims are those of a managed identity
// whose service principal Exchange knows, with FullAccess on mailbox;
// s.mu is held.
func (s *Server) identityMaySubmit(c accessClaims, mailbox string) bool {
	id := s.identityByClientID(c.appid)
	return id != nil && id.registered && strings.EqualFold(id.ObjectID, c.oid) && id.fullAccess[strings.ToLower(mailbox)]
}

// identityFailure is App Service's error body.
type identityFailure struct {
	StatusCode    int    `json:"statusCode"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId"`
}

// handleIdentity is App Service's identity endpoint: GET with
// api-version=2019-08-01, resource and optionally client_id, and the
// X-IDENTITY-HEADER; it answers access_token, expires_on (Unix seconds, a
// string), resource, token_type and client_id.
func (s *Server) handleIdentity(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	fail := func(status int, msg string) {
		writeJSON(w, status, identityFailure{status, msg, newGUID()})
	}
	if f, ok := s.takeTokenFault(); ok {
		if f.Hang {
			<-r.Context().Done()
			return
		}
		fail(cmpStatus(f.Status), "An unexpected error occurred while fetching the AAD Token.")
		return
	}
	if r.Header.Get("X-IDENTITY-HEADER") != s.identityHeader {
		fail(http.StatusUnauthorized, "The X-IDENTITY-HEADER is missing or incorrect.")
		return
	}
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(identityParams, k) {
			fail(http.StatusBadRequest, "Unknown query parameter "+k+".")
			return
		}
	}
	if q.Get("api-version") != identityAPIVersion {
		fail(http.StatusBadRequest, "The api-version is missing or not supported.")
		return
	}
	resource := q.Get("resource")
	if resource == "" || !s.hasResource(resource) {
		fail(http.StatusBadRequest, "AADSTS500011: The resource principal named "+resource+" was not found in the tenant.")
		return
	}
	s.mu.Lock()
	var id *identity
	if cid := q.Get("client_id"); cid != "" {
		if x := s.identityByClientID(cid); x != nil && x.assigned {
			id = x
		}
	} else if len(s.identities) > 0 && s.identities[0].assigned {
		id = s.identities[0]
	}
	var mi identity
	if id != nil {
		mi = *id
		mi.roles = slices.Clone(id.roles)
	}
	s.mu.Unlock()
	if id == nil {
		fail(http.StatusBadRequest, "Unable to load the proper Managed Identity.")
		return
	}
	t := s.setup()
	if !s.isExchange(resource) {
		mi.roles = nil
	}
	tok, err := s.issueTokenFor(&t, "2", resource, mi.ClientID, mi.ObjectID, mi.roles)
	if err != nil {
		fail(http.StatusInternalServerError, "An unexpected error occurred while fetching the AAD Token.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok,
		"expires_on":   strconv.FormatInt(time.Now().Add(t.lifetime).Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    mi.ClientID,
	})
}

func cmpStatus(st int) int {
	if st == 0 {
		return http.StatusInternalServerError
	}
	return st
}
