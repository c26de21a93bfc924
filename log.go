package o365smtp

import (
	"context"
	"log/slog"
)

// logDebug logs at Debug level when Config.Logger is set.
func (c *core) logDebug(msg string, args ...any) {
	if c.r.logger == nil {
		return
	}
	c.r.logger.Debug(msg, args...)
}

// secretValues lists the values that must never reach a log line: the
// client secret and the access tokens in use.
func (c *core) secretValues() []string {
	out := c.tokens.redact()
	if ct := c.tokens.cur.Load(); ct != nil {
		out = append(out, ct.tok.AccessToken)
	}
	return out
}

// protocolLog returns the SMTP client's transcript logger: each line at
// Debug as "smtp" with dir ("client" or "server") and line, the AUTH payload
// never included and known secrets scrubbed as a second guard. It returns
// nil without a Logger.
func (c *core) protocolLog() func(dir, line string) {
	l := c.r.logger
	if l == nil {
		return nil
	}
	return func(dir, line string) {
		ctx := context.Background()
		if !l.Enabled(ctx, slog.LevelDebug) {
			return
		}
		line = redactAll(line, c.secretValues())
		l.LogAttrs(ctx, slog.LevelDebug, "smtp", slog.String("dir", dir), slog.String("line", line))
	}
}
