package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// getIdentity asks the identity endpoint as MSAL's App Service source does.
func getIdentity(t *testing.T, s *Server, header string, q url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.IdentityEndpoint()+"?"+q.Encode(), nil)
	req.Header.Set("X-IDENTITY-HEADER", header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestIdentityEndpoint(t *testing.T) {
	s := New(WithManagedIdentity())
	defer s.Close()
	user := s.AddUserAssignedIdentity()
	q := func(kv ...string) url.Values {
		v := url.Values{"api-version": {identityAPIVersion}, "resource": {"https://outlook.office365.com"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		header string
		q      url.Values
		status int
		appid  string
	}{
		{"system", s.IdentityHeader(), q(), 200, s.SystemAssignedIdentity().ClientID},
		{"user", s.IdentityHeader(), q("client_id", user.ClientID), 200, user.ClientID},
		{"unknown client", s.IdentityHeader(), q("client_id", newGUID()), 400, ""},
		{"wrong header", "nope", q(), 401, ""},
		{"unknown parameter", s.IdentityHeader(), q("claims", "{}"), 400, ""},
		{"old api-version", s.IdentityHeader(), q("api-version", "2017-09-01"), 400, ""},
		{"unknown resource", s.IdentityHeader(), q("resource", "https://example.com"), 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := getIdentity(t, s, tc.header, tc.q)
			if status != tc.status {
				t.Fatalf("HTTP %d %v, want %d", status, body, tc.status)
			}
			if status != 200 {
				if body["message"] == "" || body["statusCode"] != float64(status) {
					t.Errorf("error body %v", body)
				}
				return
			}
			exp, err := strconv.ParseInt(body["expires_on"].(string), 10, 64)
			if err != nil || time.Until(time.Unix(exp, 0)) < 50*time.Minute {
				t.Errorf("expires_on %v", body["expires_on"])
			}
			if body["client_id"] != tc.appid || body["token_type"] != "Bearer" || body["resource"] != "https://outlook.office365.com" {
				t.Errorf("body %v", body)
			}
			c, ok := s.verifyAccessToken(body["access_token"].(string))
			s.mu.Lock()
			may := s.identityMaySubmit(c, s.Mailbox)
			s.mu.Unlock()
			if !ok || c.appid != tc.appid || !may {
				t.Errorf("token claims %+v ok=%v", c, ok)
			}
		})
	}
	if s.Stats().TokenRequests != 7 {
		t.Errorf("TokenRequests %d, want 7", s.Stats().TokenRequests)
	}
}
