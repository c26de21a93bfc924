package emulator

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/o365smtp/o365smtp/internal/emulator/inbox"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/o365smtp/o365smtp/internal/emulator/smtpd"
)

const (
	jwtBearer         = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	tenantDisplayName = "Contoso"
	appDisplayName    = "o365smtp emulator"
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// resourceOf returns the resource of a ".default" scope.
func resourceOf(scope string) string {
	return strings.TrimRight(strings.TrimSuffix(scope, ".default"), "/")
}

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleDiscovery)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.handleToken)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.handleKeys)
	s.graphRoutes(mux)
	if s.opts.messageAPI {
		s.apiRoutes(mux)
	}
	if s.opts.inbox {
		mux.Handle("GET /", inbox.Handler())
	}
	return mux
}

func (s *Server) isTenant(t string) bool {
	return strings.EqualFold(t, s.TenantID) || strings.EqualFold(t, s.TenantDomain)
}

// entraError is the body of Entra's error responses.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

// tokenError is an error response of the token endpoint.
type tokenError struct {
	status int
	error  string
	code   int
	text   string // without the "AADSTSnnn: " prefix
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *tokenError) {
	now := time.Now().UTC()
	ts := now.Format("2006-01-02 15:04:05Z")
	trace := newGUID()
	corr := r.Header.Get("client-request-id")
	if !guidRE.MatchString(corr) {
		corr = newGUID()
	}
	body := entraError{
		Error: e.error,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			e.code, e.text, trace, corr, ts),
		ErrorCodes:    []int{e.code},
		Timestamp:     ts,
		TraceID:       trace,
		CorrelationID: corr,
		ErrorURI:      s.AuthorityHost + "/error?code=" + strconv.Itoa(e.code),
	}
	w.Header().Set("x-ms-request-id", trace)
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	w.Write(b)
}

// tenantNotFound is Entra's answer for a tenant that does not exist, in
// its current shape: error invalid_tenant, and the description with its
// Trace ID, Correlation ID and Timestamp lines (Azure/azure-cli#22145,
// microsoftgraph/windowsupdates-webapplication-sample#6,
// james-gould/azure-keyvault-emulator#324; older responses said
// invalid_request and "This may happen if there are no active
// subscriptions", microsoft/azure-tools-for-java#3900).
func tenantNotFound(tenant string) *tokenError {
	return &tokenError{http.StatusBadRequest, "invalid_tenant", 90002,
		fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)}
}

// multiTenantEndpoint is the answer of /common, /organizations and
// /consumers to a client credentials request (AzureAD/microsoft-authentication-library-for-java#382,
// Microsoft365DSC/MSCloudLoginAssistant#100).
var multiTenantEndpoint = &tokenError{http.StatusBadRequest, "invalid_request", 9001023,
	"The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint."}

// isMultiTenant reports whether t names one of Entra's multi-tenant
// endpoints rather than a tenant.
func isMultiTenant(t string) bool {
	switch strings.ToLower(t) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}

func missingParameter(name string) *tokenError {
	return &tokenError{http.StatusBadRequest, "invalid_request", 900144,
		fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

// handleDiscovery serves the OpenID Connect discovery document of the
// tenant, by ID or domain.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	base, issuer := s.AuthorityHost+"/"+s.TenantID, s.AuthorityHost+"/"+s.TenantID+"/v2.0"
	switch {
	case isMultiTenant(tenant):
		// Served, as Entra does, with a templated issuer: only the token
		// request fails there.
		base, issuer = s.AuthorityHost+"/"+strings.ToLower(tenant), s.AuthorityHost+"/{tenantid}/v2.0"
	case !s.isTenant(tenant):
		s.writeError(w, r, tenantNotFound(tenant))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                issuer,
		"request_uri_parameter_supported":       false,
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		"tenant_region_scope":   "NA",
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          "graph.microsoft.com",
	})
}

// handleKeys serves the key that signs access tokens, as a JWK set.
func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !s.isTenant(tenant) {
		s.writeError(w, r, tenantNotFound(tenant))
		return
	}
	key, kid := s.signingKey()
	pub := key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA",
		"use": "sig",
		"kid": kid,
		"x5t": kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// handleToken is the v2.0 token endpoint, for the client credentials grant.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	if f, ok := s.takeTokenFault(); ok {
		// The request's context ends with the client or Close (see
		// BaseContext in New).
		if !smtpd.Sleep(r.Context(), f.Delay) {
			return
		}
		if f.Hang {
			<-r.Context().Done()
			return
		}
		if f.Status != 0 || f.Body != "" || f.Delay == 0 {
			status := f.Status
			if status == 0 {
				status = http.StatusInternalServerError
			}
			if f.Body == "" {
				s.writeError(w, r, &tokenError{status, "temporarily_unavailable", 50000,
					"There was an error issuing a token or an issue with our sign-in service. Please try again."})
				return
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(status)
			w.Write([]byte(f.Body))
			return
		}
	}

	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.writeError(w, r, missingParameter("grant_type"))
		return
	}
	tenant := r.PathValue("tenant")
	switch {
	case isMultiTenant(tenant):
		s.writeError(w, r, multiTenantEndpoint)
		return
	case !s.isTenant(tenant):
		s.writeError(w, r, tenantNotFound(tenant))
		return
	}
	form := r.PostForm
	switch grant := form.Get("grant_type"); grant {
	case "client_credentials":
	case "":
		s.writeError(w, r, missingParameter("grant_type"))
		return
	default:
		s.writeError(w, r, &tokenError{http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant)})
		return
	}
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if id, sec, ok := r.BasicAuth(); ok { // client_secret_basic: URL-encoded, RFC 6749 2.3.1
		if v, err := url.QueryUnescape(id); err == nil {
			clientID = v
		}
		if v, err := url.QueryUnescape(sec); err == nil {
			secret = v
		}
	}
	if clientID == "" {
		s.writeError(w, r, missingParameter("client_id"))
		return
	}
	if !strings.EqualFold(clientID, s.ClientID) {
		s.writeError(w, r, &tokenError{http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenantDisplayName)})
		return
	}
	t := s.setup()
	acr, e := s.authenticateClient(&t, secret, form.Get("client_assertion"), form.Get("client_assertion_type"))
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	resource, e := s.checkScope(form.Get("scope"))
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	switch {
	case t.tokenThrottled:
		// For the client credentials grant Entra throttles with a bare
		// 429 and Retry-After: 60 (learn.microsoft.com/entra/msal/dotnet/advanced/client-and-server-throttling);
		// the body is ours, Entra's AADSTS50196 LoopDetected.
		w.Header().Set("Retry-After", "60")
		s.writeError(w, r, &tokenError{http.StatusTooManyRequests, "invalid_grant", 50196,
			"The server terminated an operation because it encountered a loop while processing a request."})
		return
	case t.conditionalBlock:
		// [ENTRA-ERR]: "BlockedByConditionalAccess - Access has been
		// blocked by Conditional Access policies. The access policy does
		// not allow token issuance."
		s.writeError(w, r, &tokenError{http.StatusBadRequest, "invalid_grant", 53003,
			"Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."})
		return
	}
	tok, err := s.issueToken(&t, acr, resource)
	if err != nil {
		s.writeError(w, r, &tokenError{http.StatusInternalServerError, "temporarily_unavailable", 50000,
			"There was an error issuing a token or an issue with our sign-in service. Please try again."})
		return
	}
	expiresIn := max(0, int(t.lifetime/time.Second))
	writeJSON(w, http.StatusOK, struct {
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		ExtExpiresIn int    `json:"ext_expires_in"`
		AccessToken  string `json:"access_token"`
	}{"Bearer", expiresIn, expiresIn, tok})
}

// checkScope checks the scope of a client credentials request: one
// resource's ".default", plus MSAL's "openid offline_access profile"
// (ignored; MSAL for Java always adds offline_access,
// AzureAD/microsoft-authentication-library-for-java#199). It returns the
// resource, which may be any the tenant has (see tenantResources), not
// only the one SMTP AUTH accepts: Entra issues a Graph token as readily,
// and only AUTH refuses it (tarickb/sasl-xoauth2#5, jstedfast/MailKit#1126).
func (s *Server) checkScope(scope string) (string, *tokenError) {
	if strings.TrimSpace(scope) == "" {
		return "", missingParameter("scope")
	}
	var res []string
	for _, sc := range strings.Fields(scope) {
		switch strings.ToLower(sc) {
		case "openid", "offline_access", "profile", "email":
		default:
			res = append(res, sc)
		}
	}
	for _, sc := range res {
		if !strings.HasSuffix(sc, "/.default") {
			return "", &tokenError{http.StatusBadRequest, "invalid_scope", 1002012,
				fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", sc)}
		}
	}
	switch {
	case len(res) == 0:
		return "", &tokenError{http.StatusBadRequest, "invalid_scope", 1002012,
			fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)}
	case len(res) > 1:
		return "", &tokenError{http.StatusBadRequest, "invalid_scope", 70011,
			fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope %s is not valid. The scopes must all be for a single resource.", scope)}
	}
	resource := resourceOf(res[0])
	if !s.hasResource(resource) {
		return "", &tokenError{http.StatusBadRequest, "invalid_resource", 500011,
			fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, tenantDisplayName)}
	}
	return resource, nil
}

// tenantResources are the resources of a worldwide tenant besides the
// configured one: Exchange Online by its application ID and both its URIs,
// and Microsoft Graph by its URI and application ID. A national cloud's
// tenant (WithScope) knows only its own Exchange URI and the application
// IDs: the worldwide URIs are no resources there.
var tenantResources = []string{
	exchangeAppID, exchangeResource, exchangeResourceAlt,
	"https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000",
}

// hasResource reports whether resource is one of the tenant's.
func (s *Server) hasResource(resource string) bool {
	known := tenantResources
	if !strings.EqualFold(s.resource, exchangeResource) {
		known = []string{exchangeAppID, "00000003-0000-0000-c000-000000000000"}
	}
	return strings.EqualFold(resource, s.resource) ||
		slices.ContainsFunc(known, func(r string) bool { return strings.EqualFold(r, resource) })
}

// isExchange reports whether resource is Exchange Online, whose tokens
// carry the SMTP.SendAsApp role.
func (s *Server) isExchange(resource string) bool {
	return slices.ContainsFunc(s.exchangeAudiences(), func(r string) bool { return strings.EqualFold(r, resource) })
}

// authenticateClient checks the client's credential and returns the
// appidacr of the token to issue: "1" for a secret, "2" for an assertion.
func (s *Server) authenticateClient(t *tenantState, secret, assertion, assertionType string) (string, *tokenError) {
	switch {
	case secret != "":
		if subtle.ConstantTimeCompare([]byte(secret), []byte(t.secret)) != 1 {
			return "", &tokenError{http.StatusUnauthorized, "invalid_client", 7000215,
				fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", s.ClientID)}
		}
		if t.secretExpired {
			return "", &tokenError{http.StatusUnauthorized, "invalid_client", 7000222,
				fmt.Sprintf("The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", s.ClientID)}
		}
		return "1", nil
	case assertion != "":
		if assertionType != jwtBearer {
			return "", &tokenError{http.StatusBadRequest, "invalid_request", 90014,
				"The required field 'client_assertion_type' is missing from the credential. Ensure that you have all the necessary parameters for the login request."}
		}
		if t.federated != "" && subtle.ConstantTimeCompare([]byte(assertion), []byte(t.federated)) == 1 {
			return "2", nil
		}
		if e := s.verifyClientAssertion(t, assertion); e != nil {
			return "", e
		}
		return "2", nil
	}
	return "", &tokenError{http.StatusUnauthorized, "invalid_client", 7000218,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

// verifyClientAssertion checks a certificate credential's assertion.
func (s *Server) verifyClientAssertion(t *tenantState, assertion string) *tokenError {
	unverified, _, err := jwt.NewParser().ParseUnverified(assertion, jwt.MapClaims{})
	if err != nil {
		return &tokenError{http.StatusBadRequest, "invalid_request", 50027,
			"JWT token is invalid or malformed."}
	}
	claims := unverified.Claims.(jwt.MapClaims)
	if iss, _ := claims["iss"].(string); !strings.EqualFold(iss, s.ClientID) && t.federated != "" {
		// Not a certificate assertion (those are issued by the app itself):
		// a federated credential that does not match.
		return &tokenError{http.StatusUnauthorized, "invalid_client", 700211,
			fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", iss)}
	}

	// Find the registered certificates the header points at.
	var candidates []*x509.Certificate
	thumb := ""
	switch {
	case unverified.Header["x5t#S256"] != nil:
		thumb, _ = unverified.Header["x5t#S256"].(string)
		candidates = certsByThumbprint(t.certs, thumb, func(b []byte) []byte { s := sha256.Sum256(b); return s[:] })
	case unverified.Header["x5t"] != nil:
		thumb, _ = unverified.Header["x5t"].(string)
		candidates = certsByThumbprint(t.certs, thumb, func(b []byte) []byte { s := sha1.Sum(b); return s[:] })
	default:
		candidates = t.certs
	}
	if len(candidates) == 0 {
		return &tokenError{http.StatusUnauthorized, "invalid_client", 700027,
			fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", thumbHex(thumb), s.ClientID)}
	}
	verified := false
	for _, c := range candidates {
		key, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			continue
		}
		_, err := jwt.Parse(assertion, func(*jwt.Token) (any, error) { return key, nil },
			jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithoutClaimsValidation())
		if err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return &tokenError{http.StatusUnauthorized, "invalid_client", 700027,
			"Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]"}
	}

	if !s.assertionAudienceOK(claims["aud"]) {
		return &tokenError{http.StatusUnauthorized, "invalid_client", 50012,
			fmt.Sprintf("Client assertion audience claim does not match the token endpoint. Expected audience: '%s/%s/oauth2/v2.0/token'.", s.AuthorityHost, s.TenantID)}
	}
	iss, _ := claims["iss"].(string)
	sub, _ := claims["sub"].(string)
	if !strings.EqualFold(iss, s.ClientID) || !strings.EqualFold(sub, s.ClientID) {
		return &tokenError{http.StatusUnauthorized, "invalid_client", 50012,
			fmt.Sprintf("Client assertion issuer and subject must both be the application's client ID '%s'.", s.ClientID)}
	}
	now := time.Now().UTC()
	exp, errExp := claims.GetExpirationTime()
	nbf, errNbf := claims.GetNotBefore()
	if errExp != nil || errNbf != nil || exp == nil || !now.Before(exp.Time) || (nbf != nil && nbf.Time.After(now)) {
		from, until := "(none)", "(none)"
		if nbf != nil {
			from = nbf.UTC().Format("01/02/2006 15:04:05")
		}
		if exp != nil {
			until = exp.UTC().Format("01/02/2006 15:04:05")
		}
		return &tokenError{http.StatusUnauthorized, "invalid_client", 700024,
			fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .",
				now.Format("2006-01-02T15:04:05.0000000Z"), from, until)}
	}
	return nil
}

// assertionAudienceOK reports whether aud (a string or a list) names this
// tenant's token endpoint.
func (s *Server) assertionAudienceOK(aud any) bool {
	var auds []string
	switch v := aud.(type) {
	case string:
		auds = []string{v}
	case []any:
		for _, a := range v {
			if a, ok := a.(string); ok {
				auds = append(auds, a)
			}
		}
	}
	for _, a := range auds {
		rest, ok := strings.CutPrefix(strings.ToLower(a), strings.ToLower(s.AuthorityHost)+"/")
		if !ok {
			continue
		}
		tenant, path, _ := strings.Cut(rest, "/")
		if s.isTenant(tenant) && (path == "oauth2/v2.0/token" || path == "oauth2/token") {
			return true
		}
	}
	return false
}

// thumbprintMatches compares a thumbprint header in any base64 flavour (MSAL
// uses standard encoding, the specification base64url) with sum.
func thumbprintMatches(header string, sum []byte) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(header); err == nil && subtle.ConstantTimeCompare(b, sum) == 1 {
			return true
		}
	}
	return false
}

// thumbHex renders a thumbprint header as Entra does in its errors.
func thumbHex(header string) string {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(header); err == nil {
			return strings.ToUpper(hex.EncodeToString(b))
		}
	}
	return header
}

// issueToken signs an app-only access token of the v1.0 shape Exchange
// Online gets, for resource (its aud). Only Exchange's tokens carry the
// roles consented on Exchange.
func (s *Server) issueToken(t *tenantState, acr, resource string) (string, error) {
	var roles []string
	if s.isExchange(resource) {
		roles = t.roles
	}
	return s.issueTokenFor(t, acr, resource, s.ClientID, s.ServicePrincipalID, roles)
}

// issueTokenFor signs an app-only access token for the service principal
// appid and oid (the app's, or a managed identity's), with roles.
func (s *Server) issueTokenFor(t *tenantState, acr, resource, appid, oid string, roles []string) (string, error) {
	now := time.Now()
	sts := "https://sts.windows.net/" + s.TenantID + "/"
	claims := jwt.MapClaims{
		"aud":             resource,
		"iss":             sts,
		"iat":             now.Unix(),
		"nbf":             now.Unix(),
		"exp":             now.Add(t.lifetime).Unix(),
		"aio":             base64.RawURLEncoding.EncodeToString(randBytes(48)),
		"app_displayname": appDisplayName,
		"appid":           appid,
		"appidacr":        acr,
		"idp":             sts,
		"idtyp":           "app",
		"oid":             oid,
		"rh":              "0." + base64.RawURLEncoding.EncodeToString(randBytes(24)) + ".",
		"sub":             oid,
		"tid":             s.TenantID,
		"uti":             base64.RawURLEncoding.EncodeToString(randBytes(16)),
		"ver":             "1.0",
	}
	if len(roles) > 0 {
		claims["roles"] = roles
	}
	if roles := s.graphRoles(); len(roles) > 0 && isGraphResource(resource) {
		claims["roles"] = roles
	}
	key, kid := s.signingKey()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["x5t"] = kid
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(key)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.issued = append(s.issued, signed)
	s.mu.Unlock()
	return signed, nil
}

// certsByThumbprint returns the certificates whose thumbprint (sum of the
// DER) matches the assertion header's want.
func certsByThumbprint(certs []*x509.Certificate, want string, sum func([]byte) []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		if thumbprintMatches(want, sum(c.Raw)) {
			out = append(out, c)
		}
	}
	return out
}
