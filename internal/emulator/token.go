package emulator

import (
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// accessClaims are the claims of an access token that SMTP AUTH looks at.
type accessClaims struct {
	oid, appid string
	roles      []string
	exp        time.Time
}

// Exchange Online's resource: its application ID and the URIs that name it.
const (
	exchangeAppID       = "00000002-0000-0ff1-ce00-000000000000"
	exchangeResource    = "https://outlook.office365.com"
	exchangeResourceAlt = "https://outlook.office.com"
)

// exchangeAudiences are the aud values SMTP AUTH accepts: the configured
// resource, Exchange's application ID and, in the worldwide cloud, both of
// its URIs (https://outlook.office.com is the aud of the delegated
// https://outlook.office.com/SMTP.Send tokens that work, e.g.
// O365/python-o365#853). Any other, such as Microsoft Graph's, fails AUTH
// with 535 5.7.3 (jstedfast/MailKit#1126, tarickb/sasl-xoauth2#5,
// microsoftgraph/microsoft-graph-docs#6739).
func (s *Server) exchangeAudiences() []string {
	auds := []string{s.resource, exchangeAppID}
	if strings.EqualFold(s.resource, exchangeResource) {
		auds = append(auds, exchangeResourceAlt)
	}
	return auds
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
		jwt.WithIssuer("https://sts.windows.net/"+s.TenantID+"/"),
	)
	if err != nil {
		return accessClaims{}, false
	}
	aud, _ := claims.GetAudience()
	if !slices.ContainsFunc(aud, func(a string) bool {
		return slices.ContainsFunc(s.exchangeAudiences(), func(b string) bool { return strings.EqualFold(a, b) })
	}) {
		return accessClaims{}, false
	}
	if tid, _ := claims["tid"].(string); tid != s.TenantID {
		return accessClaims{}, false
	}
	c := accessClaims{}
	c.oid, _ = claims["oid"].(string)
	c.appid, _ = claims["appid"].(string)
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		c.exp = exp.Time
	}
	if roles, ok := claims["roles"].([]any); ok {
		for _, r := range roles {
			if r, ok := r.(string); ok {
				c.roles = append(c.roles, r)
			}
		}
	}
	return c, true
}
