package o365smtptest

import "github.com/o365smtp/o365smtp/internal/emulator"

// Engine returns the emulator behind s, for the tests of what only the
// repository uses (scenarios, the HTTP API).
func Engine(s *Server) *emulator.Server { return s.e }
