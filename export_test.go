package o365smtp

import "time"

// SetRetryBackoff shortens the retry backoff for tests of package
// o365smtp_test.
func SetRetryBackoff(s *Sender, d time.Duration) { s.backoffBase = d }

// ReplyGrace is the documented grace after the end of the data.
const ReplyGrace = replyGrace

// SetTokenClock replaces the token cache's clock of a Sender or of a
// TokenSource made by NewTokenSource.
func SetTokenClock(v any, now func() time.Time) {
	switch x := v.(type) {
	case *Sender:
		x.tokens.now = now
	case *cachedSource:
		x.now = now
	}
}
