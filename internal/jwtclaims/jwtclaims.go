// Package jwtclaims reads the claims of an Entra access token that
// o365smtp's diagnostics show (Verify's token_claims step, the hints that
// name the service principal, the CLI's setup-script). It decodes once, with
// golang-jwt, for the library and the command alike.
package jwtclaims

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the access token claims that diagnostics read. The token is
// Exchange's, not ours to validate: its signature is not checked.
type Claims struct {
	Aud     string
	Iss     string
	Tid     string
	AppID   string
	OID     string
	Roles   []string
	Exp     time.Time
	Decoded bool
}

// Decode decodes an access token's payload without verifying it.
func Decode(token string) Claims {
	var mc jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &mc); err != nil {
		return Claims{}
	}
	c := Claims{Decoded: true}
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
