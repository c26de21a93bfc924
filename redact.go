package o365smtp

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

const redacted = "[REDACTED]"

// String describes c with every secret redacted.
func (c Config) String() string { return "o365smtp.Config{" + c.describe(", ") + "}" }

// GoString implements fmt.GoStringer with every secret redacted.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter so that %v, %+v, %#v and %s never print
// the client secret or a token.
func (c Config) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// LogValue implements slog.LogValuer with every secret redacted.
func (c Config) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, kv := range c.fields() {
		attrs = append(attrs, slog.String(kv[0], kv[1]))
	}
	return slog.GroupValue(attrs...)
}

func (c Config) describe(sep string) string {
	var b strings.Builder
	for i, kv := range c.fields() {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(kv[0])
		b.WriteByte(':')
		b.WriteString(kv[1])
	}
	return b.String()
}

// fields lists c's fields as text, secrets redacted, unset ones left out.
func (c Config) fields() [][2]string {
	set := func(ok bool) string {
		if ok {
			return "<set>"
		}
		return ""
	}
	var out [][2]string
	add := func(k, v string) {
		if v != "" && v != "0" {
			out = append(out, [2]string{k, v})
		}
	}
	add("TenantID", c.TenantID)
	add("ClientID", c.ClientID)
	add("Mailbox", c.Mailbox)
	if c.ClientSecret != "" {
		add("ClientSecret", redacted)
	}
	add("ClientSecretFile", c.ClientSecretFile)
	add("Certificate", set(c.Certificate != nil))
	add("ClientAssertion", set(c.ClientAssertion != nil))
	add("TokenSource", set(c.TokenSource != nil))
	add("Cloud", c.Cloud.String())
	add("Host", c.Host)
	add("Port", strconv.Itoa(c.Port))
	add("Security", c.Security.String())
	add("AuthorityHost", c.AuthorityHost)
	add("Scope", c.Scope)
	add("HTTPClient", set(c.HTTPClient != nil))
	add("TLSConfig", set(c.TLSConfig != nil))
	add("DialContext", set(c.DialContext != nil))
	add("Logger", set(c.Logger != nil))
	add("MaxConnections", strconv.Itoa(c.MaxConnections))
	add("MessagesPerMinute", strconv.Itoa(c.MessagesPerMinute))
	add("Limiter", set(c.Limiter != nil))
	add("MaxAttempts", strconv.Itoa(c.MaxAttempts))
	add("RetryBackoff", durationText(c.RetryBackoff))
	add("CoolOff", durationText(c.CoolOff))
	if c.Transport != TransportSMTP {
		add("Transport", c.Transport.String())
	}
	add("GraphURL", c.GraphURL)
	add("GraphScope", c.GraphScope)
	add("CAFile", c.CAFile)
	add("ManagedIdentity", c.ManagedIdentity)
	add("Fleet", set(c.Fleet != nil))
	return out
}

// String describes the Sender: its mailbox and endpoints, never a secret.
func (s *Sender) String() string {
	if s == nil || s.r == nil {
		return "o365smtp.Sender(nil)"
	}
	return fmt.Sprintf("o365smtp.Sender{Mailbox:%s Host:%s Port:%d Authority:%s Credential:%s}",
		s.r.cfg.Mailbox, s.r.host, s.r.port, s.r.authority, s.r.credential)
}

// GoString implements fmt.GoStringer without secrets.
func (s *Sender) GoString() string { return s.String() }

// Format implements fmt.Formatter so that every verb prints String.
func (s *Sender) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// LogValue implements slog.LogValuer without secrets.
func (s *Sender) LogValue() slog.Value {
	if s == nil || s.r == nil {
		return slog.StringValue("o365smtp.Sender(nil)")
	}
	return slog.GroupValue(slog.String("mailbox", s.r.cfg.Mailbox), slog.String("host", s.r.host),
		slog.Int("port", s.r.port), slog.String("credential", s.r.credential))
}

// Format keeps the cache's token out of formatted output.
func (c *cachedSource) Format(f fmt.State, _ rune) { io.WriteString(f, "o365smtp.TokenSource{cached}") }

func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
