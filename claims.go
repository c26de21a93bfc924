package o365smtp

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// claims are the access token claims that diagnostics read. The token is
// Exchange's, not ours to validate: its signature is not checked.
type claims struct {
	Aud     string
	Iss     string
	Tid     string
	AppID   string
	OID     string
	Roles   []string
	Exp     time.Time
	Decoded bool
}

// tokenClaims decodes an access token's payload without verifying it.
func tokenClaims(token string) claims {
	var mc jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &mc); err != nil {
		return claims{}
	}
	c := claims{Decoded: true}
	str := func(k string) string { v, _ := mc[k].(string); return v }
	c.Iss, c.Tid, c.OID = str("iss"), str("tid"), str("oid")
	c.AppID = str("appid")
	if c.AppID == "" {
		c.AppID = str("azp")
	}
	if aud, err := mc.GetAudience(); err == nil && len(aud) > 0 {
		c.Aud = aud[0]
	}
	if exp, err := mc.GetExpirationTime(); err == nil && exp != nil {
		c.Exp = exp.Time
	}
	if roles, ok := mc["roles"].([]any); ok {
		for _, r := range roles {
			if s, ok := r.(string); ok {
				c.Roles = append(c.Roles, s)
			}
		}
	}
	return c
}
