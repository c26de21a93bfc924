package o365smtptest_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/golang-jwt/jwt/v5"

	"github.com/o365smtp/o365smtp/o365smtptest"
)

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func getJSON(t testing.TB, s *o365smtptest.Server, path string) (int, map[string]any) {
	t.Helper()
	resp, err := s.Client().Get(s.AuthorityHost + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, body
}

func TestDiscovery(t *testing.T) {
	s := newServer(t)
	for _, tenant := range []string{s.TenantID, s.TenantDomain, strings.ToUpper(s.TenantDomain)} {
		status, doc := getJSON(t, s, "/"+tenant+"/v2.0/.well-known/openid-configuration")
		if status != http.StatusOK {
			t.Fatalf("discovery for %s: HTTP %d %v", tenant, status, doc)
		}
		base := s.AuthorityHost + "/" + s.TenantID
		for k, want := range map[string]string{
			"issuer":                 base + "/v2.0",
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"jwks_uri":               base + "/discovery/v2.0/keys",
		} {
			if doc[k] != want {
				t.Errorf("discovery for %s: %s = %v, want %s", tenant, k, doc[k], want)
			}
		}
		// MSAL requires the issuer's scheme and host to be the authority's.
		iss, _ := url.Parse(doc["issuer"].(string))
		auth, _ := url.Parse(s.AuthorityHost)
		if iss.Scheme != "https" || iss.Host != auth.Host {
			t.Errorf("issuer %v does not match authority %s", iss, s.AuthorityHost)
		}
	}
	status, body := getJSON(t, s, "/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration")
	checkEntraError(t, status, body, http.StatusBadRequest, "invalid_tenant", 90002,
		"Tenant 'fabrikam.onmicrosoft.com' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.")
}

// checkEntraError checks the shape of an Entra error response.
func checkEntraError(t testing.TB, status int, body map[string]any, wantStatus int, wantError string, wantCode int, wantText string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantError {
		t.Fatalf("got HTTP %d error %v, want HTTP %d %s: %v", status, body["error"], wantStatus, wantError, body)
	}
	codes, _ := body["error_codes"].([]any)
	if len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Errorf("error_codes = %v, want [%d]", body["error_codes"], wantCode)
	}
	trace, _ := body["trace_id"].(string)
	corr, _ := body["correlation_id"].(string)
	ts, _ := body["timestamp"].(string)
	if !guidRE.MatchString(trace) || !guidRE.MatchString(corr) {
		t.Errorf("trace_id %q, correlation_id %q: want GUIDs", trace, corr)
	}
	if _, err := time.Parse("2006-01-02 15:04:05Z", ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
	desc, _ := body["error_description"].(string)
	wantDesc := "AADSTS" + itoa(wantCode) + ": " + wantText + "\r\nTrace ID: " + trace + "\r\nCorrelation ID: " + corr + "\r\nTimestamp: " + ts
	if wantText == "" {
		if !strings.HasPrefix(desc, "AADSTS"+itoa(wantCode)+": ") || !strings.HasSuffix(desc, "\r\nTrace ID: "+trace+"\r\nCorrelation ID: "+corr+"\r\nTimestamp: "+ts) {
			t.Errorf("error_description = %q", desc)
		}
	} else if desc != wantDesc {
		t.Errorf("error_description = %q\nwant %q", desc, wantDesc)
	}
	if uri, _ := body["error_uri"].(string); !strings.HasSuffix(uri, "/error?code="+itoa(wantCode)) {
		t.Errorf("error_uri = %q", uri)
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

// parseToken verifies tok with the key set the emulator publishes.
func parseToken(t testing.TB, s *o365smtptest.Server, tok string) (jwt.MapClaims, map[string]any) {
	t.Helper()
	_, keys := getJSON(t, s, "/"+s.TenantID+"/discovery/v2.0/keys")
	k := keys["keys"].([]any)[0].(map[string]any)
	n, _ := base64.RawURLEncoding.DecodeString(k["n"].(string))
	e, _ := base64.RawURLEncoding.DecodeString(k["e"].(string))
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		t.Fatalf("access token does not verify with the published key: %v", err)
	}
	if parsed.Header["kid"] != k["kid"] {
		t.Errorf("kid = %v, want %v", parsed.Header["kid"], k["kid"])
	}
	return claims, parsed.Header
}

func TestTokenSuccess(t *testing.T) {
	s := newServer(t)
	for i, tenant := range []string{s.TenantID, s.TenantDomain} {
		status, body := postToken(t, s, tenant, secretForm(s))
		if status != http.StatusOK {
			t.Fatalf("HTTP %d %v", status, body)
		}
		if body["token_type"] != "Bearer" || body["expires_in"] != float64(3599) || body["ext_expires_in"] != float64(3599) {
			t.Errorf("response = %v", body)
		}
		tok := body["access_token"].(string)
		claims, _ := parseToken(t, s, tok)
		want := map[string]any{
			"aud":      "https://outlook.office365.com",
			"iss":      "https://sts.windows.net/" + s.TenantID + "/",
			"tid":      s.TenantID,
			"appid":    s.ClientID,
			"appidacr": "1",
			"oid":      s.ServicePrincipalID,
			"sub":      s.ServicePrincipalID,
			"idtyp":    "app",
			"ver":      "1.0",
		}
		for k, v := range want {
			if claims[k] != v {
				t.Errorf("claim %s = %v, want %v", k, claims[k], v)
			}
		}
		if roles, _ := claims["roles"].([]any); len(roles) != 1 || roles[0] != "SMTP.SendAsApp" {
			t.Errorf("roles = %v, want [SMTP.SendAsApp]", claims["roles"])
		}
		if _, ok := claims["scp"]; ok {
			t.Errorf("app-only token has scp: %v", claims["scp"])
		}
		if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3599 {
			t.Errorf("exp - iat = %v, want 3599", exp-iat)
		}
		if got := s.Stats().TokenRequests; got != i+1 {
			t.Errorf("TokenRequests() = %d, want %d", got, i+1)
		}
		if got := s.IssuedTokens(); len(got) != i+1 || got[i] != tok {
			t.Errorf("IssuedTokens() does not end with the token issued")
		}
	}
}

func TestTokenSecretBasicAuth(t *testing.T) {
	s := newServer(t)
	form := secretForm(s)
	form.Del("client_secret")
	form.Del("client_id")
	req, _ := http.NewRequest(http.MethodPost, s.AuthorityHost+"/"+s.TenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(s.ClientID), url.QueryEscape(s.ClientSecret))
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("client_secret_basic: HTTP %d", resp.StatusCode)
	}
}

func TestTokenErrors(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(s *o365smtptest.Server)
		tenant func(s *o365smtptest.Server) string
		form   func(s *o365smtptest.Server, f url.Values)
		status int
		error  string
		code   int
		text   func(s *o365smtptest.Server) string
	}{
		{
			name:   "unknown tenant",
			tenant: func(*o365smtptest.Server) string { return "11111111-2222-3333-4444-555555555555" },
			status: 400, error: "invalid_tenant", code: 90002,
			text: func(*o365smtptest.Server) string {
				return "Tenant '11111111-2222-3333-4444-555555555555' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
			},
		},
		{
			name:   "common endpoint",
			tenant: func(*o365smtptest.Server) string { return "common" },
			status: 400, error: "invalid_request", code: 9001023,
			text: func(*o365smtptest.Server) string {
				return "The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint."
			},
		},
		{
			name:   "organizations endpoint",
			tenant: func(*o365smtptest.Server) string { return "organizations" },
			status: 400, error: "invalid_request", code: 9001023,
		},
		{
			name:   "unknown client",
			form:   func(_ *o365smtptest.Server, f url.Values) { f.Set("client_id", "99999999-8888-7777-6666-555555555555") },
			status: 400, error: "unauthorized_client", code: 700016,
			text: func(*o365smtptest.Server) string {
				return "Application with identifier '99999999-8888-7777-6666-555555555555' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
			},
		},
		{
			name:   "wrong secret",
			form:   func(_ *o365smtptest.Server, f url.Values) { f.Set("client_secret", "abc8Q~not-the-secret") },
			status: 401, error: "invalid_client", code: 7000215,
			text: func(s *o365smtptest.Server) string {
				return "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + s.ClientID + "'."
			},
		},
		{
			name:   "rotated secret",
			setup:  func(s *o365smtptest.Server) { s.SetClientSecret("new8Q~secret") },
			status: 401, error: "invalid_client", code: 7000215,
		},
		{
			name:   "expired secret",
			setup:  func(s *o365smtptest.Server) { s.SetClientSecretExpired(true) },
			status: 401, error: "invalid_client", code: 7000222,
			text: func(s *o365smtptest.Server) string {
				return "The provided client secret keys for app '" + s.ClientID + "' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
			},
		},
		{
			name:   "no credential",
			form:   func(_ *o365smtptest.Server, f url.Values) { f.Del("client_secret") },
			status: 401, error: "invalid_client", code: 7000218,
		},
		{
			name:   "unknown resource",
			form:   func(_ *o365smtptest.Server, f url.Values) { f.Set("scope", "https://outlook.office356.com/.default") },
			status: 400, error: "invalid_resource", code: 500011,
		},
		{
			name:   "delegated scope",
			form:   func(_ *o365smtptest.Server, f url.Values) { f.Set("scope", "https://outlook.office.com/SMTP.Send") },
			status: 400, error: "invalid_scope", code: 1002012,
			text: func(*o365smtptest.Server) string {
				return "The provided value for scope https://outlook.office.com/SMTP.Send is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
			},
		},
		{
			name:   "only openid scopes",
			form:   func(_ *o365smtptest.Server, f url.Values) { f.Set("scope", "openid offline_access profile") },
			status: 400, error: "invalid_scope", code: 1002012,
		},
		{
			name: "two resources",
			form: func(s *o365smtptest.Server, f url.Values) {
				f.Set("scope", s.Scope+" https://graph.microsoft.com/.default")
			},
			status: 400, error: "invalid_scope", code: 70011,
		},
		{
			name:   "no scope",
			form:   func(_ *o365smtptest.Server, f url.Values) { f.Del("scope") },
			status: 400, error: "invalid_request", code: 900144,
		},
		{
			name:   "password grant",
			form:   func(_ *o365smtptest.Server, f url.Values) { f.Set("grant_type", "password") },
			status: 400, error: "unsupported_grant_type", code: 70003,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			if tc.setup != nil {
				tc.setup(s)
			}
			tenant := s.TenantID
			if tc.tenant != nil {
				tenant = tc.tenant(s)
			}
			form := secretForm(s)
			if tc.form != nil {
				tc.form(s, form)
			}
			status, body := postToken(t, s, tenant, form)
			text := ""
			if tc.text != nil {
				text = tc.text(s)
			}
			checkEntraError(t, status, body, tc.status, tc.error, tc.code, text)
			if _, ok := body["access_token"]; ok || len(s.IssuedTokens()) != 0 {
				t.Errorf("a token was issued")
			}
			if s.Stats().TokenRequests != 1 {
				t.Errorf("TokenRequests() = %d, want 1", s.Stats().TokenRequests)
			}
		})
	}
}

func TestTokenRotatedSecret(t *testing.T) {
	s := newServer(t)
	s.SetClientSecret("new8Q~rotated-secret-value")
	form := secretForm(s)
	form.Set("client_secret", "new8Q~rotated-secret-value")
	if status, body := postToken(t, s, s.TenantID, form); status != http.StatusOK {
		t.Fatalf("new secret: HTTP %d %v", status, body)
	}
	if s.Config().ClientSecret != s.ClientSecret {
		t.Errorf("Config().ClientSecret changed with SetClientSecret")
	}
}

func TestTokenLifetimeAndRoles(t *testing.T) {
	s := newServer(t, o365smtptest.WithTokenLifetime(2*time.Hour))
	_, body := postToken(t, s, s.TenantID, secretForm(s))
	if body["expires_in"] != float64(7200) {
		t.Errorf("expires_in = %v, want 7200", body["expires_in"])
	}
	s.SetTokenLifetime(10 * time.Minute)
	s.SetRoles(nil)
	_, body = postToken(t, s, s.TenantID, secretForm(s))
	if body["expires_in"] != float64(600) || body["ext_expires_in"] != float64(600) {
		t.Errorf("expires_in = %v, want 600", body["expires_in"])
	}
	claims, _ := parseToken(t, s, body["access_token"].(string))
	if _, ok := claims["roles"]; ok {
		t.Errorf("roles = %v, want no roles claim", claims["roles"])
	}
	s.SetRoles([]string{"Mail.Send", "SMTP.SendAsApp"})
	claims, _ = parseToken(t, s, accessToken(t, s))
	if roles, _ := claims["roles"].([]any); len(roles) != 2 {
		t.Errorf("roles = %v", claims["roles"])
	}
}

func TestTokenFaults(t *testing.T) {
	s := newServer(t)
	s.FailToken(o365smtptest.TokenFault{Times: 1})
	status, body := postToken(t, s, s.TenantID, secretForm(s))
	checkEntraError(t, status, body, 500, "temporarily_unavailable", 50000, "")

	s.FailToken(o365smtptest.TokenFault{Status: 429, Body: `{"error":"throttled"}`, Times: 1})
	status, body = postToken(t, s, s.TenantID, secretForm(s))
	if status != 429 || body["error"] != "throttled" {
		t.Errorf("got HTTP %d %v, want 429 throttled", status, body)
	}

	s.FailToken(o365smtptest.TokenFault{Status: 503, Times: 1})
	status, body = postToken(t, s, s.TenantID, secretForm(s))
	checkEntraError(t, status, body, 503, "temporarily_unavailable", 50000, "")

	// A delay alone delays a normal answer.
	s.FailToken(o365smtptest.TokenFault{Delay: 30 * time.Millisecond, Times: 1})
	start := time.Now()
	accessToken(t, s)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("delayed request took %v", d)
	}

	// A hang lasts until the client gives up.
	s.FailToken(o365smtptest.TokenFault{Hang: true, Times: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.AuthorityHost+"/"+s.TenantID+"/oauth2/v2.0/token", strings.NewReader(secretForm(s).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := s.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			resp.Body.Close()
		}
		t.Errorf("hanging request: %v, want deadline exceeded", err)
	}
	accessToken(t, s) // Times: 1 is used up

	// Faults queue up; ClearFaults removes them.
	s.FailToken(o365smtptest.TokenFault{Status: 500, Times: 2})
	s.FailToken(o365smtptest.TokenFault{Status: 502})
	for _, want := range []int{500, 500, 502, 502} {
		if status, _ := postToken(t, s, s.TenantID, secretForm(s)); status != want {
			t.Errorf("got HTTP %d, want %d", status, want)
		}
	}
	s.ClearFaults()
	accessToken(t, s)
	if got := s.Stats().TokenRequests; got != 11 {
		t.Errorf("TokenRequests() = %d, want 11", got)
	}
}

func TestTokenHangEndsOnClose(t *testing.T) {
	s := o365smtptest.NewServer()
	s.FailToken(o365smtptest.TokenFault{Hang: true})
	errc := make(chan error, 1)
	go func() {
		resp, err := s.Client().PostForm(s.AuthorityHost+"/"+s.TenantID+"/oauth2/v2.0/token", secretForm(s))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	for s.Stats().TokenRequests == 0 {
		// The request must be in the handler before Close; this spins on
		// a counter, it does not sleep.
		time.Sleep(0)
	}
	s.Close()
	<-errc // any outcome, as long as Close did not wait for the client
}

// newCert returns a self-signed RSA certificate credential.
func newCert(t testing.TB) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "o365smtp test app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func newMSAL(t testing.TB, s *o365smtptest.Server, tenant string, cred confidential.Credential) confidential.Client {
	t.Helper()
	c, err := confidential.New(s.AuthorityHost+"/"+tenant, s.ClientID, cred,
		confidential.WithHTTPClient(s.Client()), confidential.WithInstanceDiscovery(false),
		confidential.WithAzureRegion("DisableMsalForceRegion"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMSALSecret(t *testing.T) {
	s := newServer(t)
	for _, tenant := range []string{s.TenantID, s.TenantDomain} {
		cred, err := confidential.NewCredFromSecret(s.ClientSecret)
		if err != nil {
			t.Fatal(err)
		}
		c := newMSAL(t, s, tenant, cred)
		before := s.Stats().TokenRequests
		for range 2 {
			res, err := c.AcquireTokenByCredential(context.Background(), []string{s.Scope})
			if err != nil {
				t.Fatalf("AcquireTokenByCredential (%s): %v", tenant, err)
			}
			if !slices.Contains(s.IssuedTokens(), res.AccessToken) {
				t.Errorf("MSAL returned a token the emulator did not issue")
			}
			if d := time.Until(res.ExpiresOn); d < 59*time.Minute || d > time.Hour {
				t.Errorf("ExpiresOn in %v", d)
			}
		}
		if got := s.Stats().TokenRequests - before; got != 1 {
			t.Errorf("token requests for two acquisitions = %d, want 1 (MSAL's cache)", got)
		}
	}
}

func TestMSALErrors(t *testing.T) {
	s := newServer(t)
	s.SetClientSecretExpired(true)
	cred, _ := confidential.NewCredFromSecret(s.ClientSecret)
	_, err := newMSAL(t, s, s.TenantID, cred).AcquireTokenByCredential(context.Background(), []string{s.Scope})
	var ce msalerrors.CallErr
	if !errors.As(err, &ce) || ce.Resp.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "AADSTS7000222") {
		t.Fatalf("expired secret: %v", err)
	}

	cred, _ = confidential.NewCredFromSecret(s.ClientSecret)
	_, err = newMSAL(t, s, "fabrikam.onmicrosoft.com", cred).AcquireTokenByCredential(context.Background(), []string{s.Scope})
	if !errors.As(err, &ce) || ce.Resp.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), "AADSTS90002") {
		t.Fatalf("unknown tenant: %v", err)
	}
}

func TestMSALCertificate(t *testing.T) {
	s := newServer(t)
	cert, key := newCert(t)
	cred, err := confidential.NewCredFromCert([]*x509.Certificate{cert}, key)
	if err != nil {
		t.Fatal(err)
	}
	c := newMSAL(t, s, s.TenantDomain, cred)
	_, err = c.AcquireTokenByCredential(context.Background(), []string{s.Scope})
	if err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Fatalf("unregistered certificate: %v, want AADSTS700027", err)
	}

	s.RegisterCertificate(cert)
	res, err := c.AcquireTokenByCredential(context.Background(), []string{s.Scope})
	if err != nil {
		t.Fatalf("registered certificate: %v", err)
	}
	if claims, _ := parseToken(t, s, res.AccessToken); claims["appidacr"] != "2" {
		t.Errorf("appidacr = %v, want 2", claims["appidacr"])
	}
}

// assertion signs a certificate credential's client assertion by hand.
func assertion(t testing.TB, s *o365smtptest.Server, cert *x509.Certificate, key *rsa.PrivateKey, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{
		"aud": s.AuthorityHost + "/" + s.TenantID + "/oauth2/v2.0/token",
		"iss": s.ClientID, "sub": s.ClientID, "jti": "1",
		"nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	if edit != nil {
		edit(claims)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	sum := sha1.Sum(cert.Raw)
	tok.Header["x5t"] = base64.RawURLEncoding.EncodeToString(sum[:])
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func assertionForm(s *o365smtptest.Server, a string) url.Values {
	return url.Values{
		"client_id":             {s.ClientID},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {a},
		"grant_type":            {"client_credentials"},
		"scope":                 {s.Scope},
	}
}

func TestClientAssertion(t *testing.T) {
	s := newServer(t)
	cert, key := newCert(t)
	s.RegisterCertificate(cert)
	_, otherKey := newCert(t)

	if status, body := postToken(t, s, s.TenantID, assertionForm(s, assertion(t, s, cert, key, nil))); status != 200 {
		t.Fatalf("RS256 with x5t: HTTP %d %v", status, body)
	}
	cases := []struct {
		name   string
		a      string
		status int
		code   int
	}{
		{"expired", assertion(t, s, cert, key, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), 401, 700024},
		{"not yet valid", assertion(t, s, cert, key, func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), 401, 700024},
		{"no exp", assertion(t, s, cert, key, func(c jwt.MapClaims) { delete(c, "exp") }), 401, 700024},
		{"wrong signature", assertion(t, s, cert, otherKey, nil), 401, 700027},
		{"wrong audience", assertion(t, s, cert, key, func(c jwt.MapClaims) {
			c["aud"] = "https://login.microsoftonline.com/" + s.TenantID + "/oauth2/v2.0/token"
		}), 401, 50012},
		{"wrong subject", assertion(t, s, cert, key, func(c jwt.MapClaims) { c["sub"] = "someone" }), 401, 50012},
		{"not a JWT", "not-a-jwt", 400, 50027},
	}
	for _, tc := range cases {
		status, body := postToken(t, s, s.TenantID, assertionForm(s, tc.a))
		t.Run(tc.name, func(t *testing.T) {
			checkEntraError(t, status, body, tc.status, map[int]string{400: "invalid_request", 401: "invalid_client"}[tc.status], tc.code, "")
		})
	}
}

func TestFederatedAssertion(t *testing.T) {
	s := newServer(t)
	const fed = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL29pZGMuZXhhbXBsZSJ9.c2ln"
	status, body := postToken(t, s, s.TenantID, assertionForm(s, fed))
	if status == http.StatusOK {
		t.Fatalf("unregistered federated assertion accepted: %v", body)
	}
	s.SetFederatedAssertion(fed)
	status, body = postToken(t, s, s.TenantID, assertionForm(s, fed))
	if status != http.StatusOK {
		t.Fatalf("federated assertion: HTTP %d %v", status, body)
	}
	if claims, _ := parseToken(t, s, body["access_token"].(string)); claims["appidacr"] != "2" {
		t.Errorf("appidacr = %v, want 2", claims["appidacr"])
	}
	// A JWT from another issuer.
	status, body = postToken(t, s, s.TenantID, assertionForm(s, "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL290aGVyLmV4YW1wbGUifQ.c2ln"))
	checkEntraError(t, status, body, 401, "invalid_client", 700211, "")
	form := assertionForm(s, fed)
	form.Del("client_assertion_type")
	status, body = postToken(t, s, s.TenantID, form)
	checkEntraError(t, status, body, 400, "invalid_request", 90014, "")
}
