package emulator

import "github.com/golang-jwt/jwt/v5"

// accessClaims are the claims of an access token that SMTP AUTH looks at.
type accessClaims struct {
	oid, appid string
	roles      []string
}

// verifyAccessToken checks an access token's signature, expiry, audience,
// issuer and tenant.
func (s *Server) verifyAccessToken(token string) (accessClaims, bool) {
	if !s.keyReady.Load() {
		return accessClaims{}, false // no token was issued yet
	}
	key, _ := s.signingKey()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims,
		func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithAudience(s.resource),
		jwt.WithIssuer("https://sts.windows.net/"+s.TenantID+"/"),
	)
	if err != nil {
		return accessClaims{}, false
	}
	if tid, _ := claims["tid"].(string); tid != s.TenantID {
		return accessClaims{}, false
	}
	c := accessClaims{}
	c.oid, _ = claims["oid"].(string)
	c.appid, _ = claims["appid"].(string)
	if roles, ok := claims["roles"].([]any); ok {
		for _, r := range roles {
			if r, ok := r.(string); ok {
				c.roles = append(c.roles, r)
			}
		}
	}
	return c, true
}
