package o365smtptest

import (
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

var (
	errXOAUTH2Syntax = errors.New("o365smtptest: malformed XOAUTH2 response")
	errSASLState     = errors.New("o365smtptest: unexpected SASL response")
)

// parseXOAUTH2 parses an XOAUTH2 client response,
// "user=" address ^A "auth=Bearer " token ^A ^A, as Exchange Online expects
// it. Other key=value fields are ignored. It never panics, whatever b holds.
func parseXOAUTH2(b []byte) (user, token string, err error) {
	s := string(b)
	body, ok := strings.CutSuffix(s, "\x01\x01")
	if !ok || body == "" {
		return "", "", errXOAUTH2Syntax
	}
	var haveUser, haveAuth bool
	for _, kv := range strings.Split(body, "\x01") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return "", "", errXOAUTH2Syntax
		}
		switch k {
		case "user":
			if haveUser {
				return "", "", errXOAUTH2Syntax
			}
			user, haveUser = v, true
		case "auth":
			if haveAuth {
				return "", "", errXOAUTH2Syntax
			}
			scheme, tok, ok := strings.Cut(v, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				return "", "", errXOAUTH2Syntax
			}
			token, haveAuth = tok, true
		}
	}
	if user == "" || token == "" || strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return "", "", errXOAUTH2Syntax
	}
	return user, token, nil
}

// xoauth2Server is the server side of SASL XOAUTH2, in the single-step
// ("AUTH XOAUTH2 <b64>") and the two-step form ("AUTH XOAUTH2", a bare
// "334 ", then the response).
type xoauth2Server struct {
	auth  func(resp []byte) error
	state int // 0: start, 1: challenged, 2: done
}

func (x *xoauth2Server) Next(response []byte) (challenge []byte, done bool, err error) {
	switch {
	case x.state == 0 && response == nil:
		x.state = 1
		return nil, false, nil
	case x.state > 1:
		return nil, true, errSASLState
	}
	x.state = 2
	if err := x.auth(response); err != nil {
		return nil, true, err
	}
	return nil, true, nil
}

// loginServer is the server side of SASL LOGIN, which Exchange Online
// advertises but, with basic authentication off, always refuses. The
// credentials are read and forgotten.
type loginServer struct {
	auth  func() error
	state int // 0: start, 1: asked for the user name, 2: asked for the password, 3: done
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.state {
	case 0:
		if response == nil {
			l.state = 1
			return []byte("Username:"), false, nil
		}
		l.state = 2
		return []byte("Password:"), false, nil
	case 1:
		l.state = 2
		return []byte("Password:"), false, nil
	case 2:
		l.state = 3
		if err := l.auth(); err != nil {
			return nil, true, err
		}
		return nil, true, nil
	}
	return nil, true, errSASLState
}

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
