package o365smtp

import (
	"strings"

	"github.com/o365smtp/o365smtp/internal/jwtclaims"
)

// tokenClaims decodes an access token's claims without verifying them: the
// token is Exchange's to validate, not ours.
func tokenClaims(token string) jwtclaims.Claims { return jwtclaims.Decode(token) }

// exchangeAppID is Office 365 Exchange Online's application ID, which v2
// tokens may carry as aud.
const exchangeAppID = "00000002-0000-0ff1-ce00-000000000000"

// exchangeAudiences are the audiences Exchange Online's SMTP AUTH accepts
// in every cloud: Entra issues a token for any resource of the tenant (a
// Graph token too), and Exchange refuses the others at AUTH with 535 5.7.3
// (sasl-xoauth2#5, MailKit#1126; docs/exchange-behaviour.md).
var exchangeAudiences = map[string]bool{
	"https://outlook.office365.com":         true,
	"https://outlook.office.com":            true,
	"https://outlook.office365.us":          true,
	"https://outlook-dod.office365.us":      true,
	"https://partner.outlook.cn":            true,
	exchangeAppID:                           true,
	"https://" + exchangeAppID:              true,
	"00000002-0000-0ff1-ce00-000000000000/": true,
}

// graphAudiences are Microsoft Graph's, the most common wrong one.
var graphAudiences = map[string]bool{
	"https://graph.microsoft.com":             true,
	"https://graph.microsoft.us":              true,
	"https://dod-graph.microsoft.us":          true,
	"https://microsoftgraph.chinacloudapi.cn": true,
	"00000003-0000-0000-c000-000000000000":    true,
}

// exchangeAudience reports whether a token with audience aud can
// authenticate to Exchange's SMTP AUTH: an Exchange Online resource, or the
// resource of the configured scope (an emulator, a private endpoint), unless
// that is Graph's.
func exchangeAudience(aud, scope string) bool {
	a := strings.ToLower(strings.TrimSuffix(aud, "/"))
	if graphAudiences[a] {
		return false
	}
	return exchangeAudiences[a] || a == strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(scope, "/.default"), "/"))
}
