package o365smtp

import "time"

// refreshAt is when a token expiring at expiresOn should be replaced:
// min(maxRefreshMargin, half its remaining lifetime) before it expires.
func refreshAt(expiresOn, now time.Time) time.Time {
	return expiresOn.Add(-min(expiresOn.Sub(now)/2, maxRefreshMargin))
}
