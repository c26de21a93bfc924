package smtpclient

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: every scripted
// server must have exited, every connection been closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
