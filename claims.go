package o365smtp

import "github.com/o365smtp/o365smtp/internal/jwtclaims"

// tokenClaims decodes an access token's claims without verifying them: the
// token is Exchange's to validate, not ours.
func tokenClaims(token string) jwtclaims.Claims { return jwtclaims.Decode(token) }
