package o365smtp

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	maillog "github.com/wneessen/go-mail/log"
)

// logDebug logs at Debug level when Config.Logger is set.
func (s *Sender) logDebug(msg string, args ...any) {
	if s.r.logger == nil {
		return
	}
	s.r.logger.Debug(msg, args...)
}

// secretValues lists the values that must never reach a log line: the
// client secret and the access tokens in use.
func (s *Sender) secretValues() []string {
	out := s.tokens.redact()
	if ct := s.tokens.cur.Load(); ct != nil {
		out = append(out, ct.tok.AccessToken)
	}
	return out
}

// slogAdapter sends go-mail's SMTP protocol log to a *slog.Logger at Debug.
// go-mail already redacts the AUTH exchange; the adapter also drops any
// AUTH line and scrubs known secrets, as a second guard.
type slogAdapter struct {
	l       *slog.Logger
	secrets func() []string
}

func (a *slogAdapter) Debugf(l maillog.Log) { a.log(l) }
func (a *slogAdapter) Infof(l maillog.Log)  { a.log(l) }
func (a *slogAdapter) Warnf(l maillog.Log)  { a.log(l) }
func (a *slogAdapter) Errorf(l maillog.Log) { a.log(l) }

func (a *slogAdapter) log(l maillog.Log) {
	dir := "client"
	if l.Direction == maillog.DirServerToClient {
		dir = "server"
	}
	a.line(dir, fmt.Sprintf(l.Format, l.Messages...))
}

// line logs one protocol line; a nil adapter logs nothing.
func (a *slogAdapter) line(dir, line string) {
	if a == nil {
		return
	}
	ctx := context.Background()
	if !a.l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if dir == "client" && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(line)), "AUTH") {
		line = "AUTH <redacted>"
	}
	line = redactAll(line, a.secrets())
	a.l.LogAttrs(ctx, slog.LevelDebug, "smtp", slog.String("dir", dir), slog.String("line", line))
}
