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
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("o365smtp.Config{")
	for i, f := range c.fields() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.name + ":" + f.text)
	}
	b.WriteString("}")
	return b.String()
}

// GoString implements fmt.GoStringer: c as a Go composite literal with
// every secret redacted. Set pointer, func and interface fields, which have
// no Go syntax, are named in a comment.
func (c Config) GoString() string {
	var b strings.Builder
	var set []string
	b.WriteString("o365smtp.Config{")
	for _, f := range c.fields() {
		if f.code == "" {
			set = append(set, f.name)
			continue
		}
		if b.Len() > len("o365smtp.Config{") {
			b.WriteString(", ")
		}
		b.WriteString(f.name + ":" + f.code)
	}
	if len(set) > 0 {
		b.WriteString(" /* set: " + strings.Join(set, ", ") + " */")
	}
	b.WriteString("}")
	return b.String()
}

// Format implements fmt.Formatter so that no verb prints the client secret:
// %#v prints GoString, every other verb String.
func (c Config) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c) }

// LogValue implements slog.LogValuer with every secret redacted.
func (c Config) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, f := range c.fields() {
		attrs = append(attrs, slog.String(f.name, f.text))
	}
	return slog.GroupValue(attrs...)
}

// formatRedacted implements Format for a type whose String and GoString
// redact: %#v prints GoString, %q the quoted String, any other verb String,
// so that no verb reaches the fields.
func formatRedacted(f fmt.State, verb rune, v interface {
	String() string
	GoString() string
}) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, v.GoString())
	case verb == 'q':
		io.WriteString(f, strconv.Quote(v.String()))
	default:
		io.WriteString(f, v.String())
	}
}

// configField is one set field of a Config, secrets redacted.
type configField struct {
	name string
	text string // as String and LogValue show it
	code string // as Go syntax, for GoString; "" for a set pointer, func or interface
}

// fields lists c's set fields, secrets redacted, in declaration order.
func (c Config) fields() []configField {
	var out []configField
	str := func(name, v string) {
		if v != "" {
			out = append(out, configField{name, v, strconv.Quote(v)})
		}
	}
	num := func(name string, n int) {
		if n != 0 {
			out = append(out, configField{name, strconv.Itoa(n), strconv.Itoa(n)})
		}
	}
	set := func(name string, ok bool) {
		if ok {
			out = append(out, configField{name, "<set>", ""})
		}
	}
	dur := func(name string, d time.Duration) {
		if d != 0 {
			out = append(out, configField{name, d.String(), durationCode(d)})
		}
	}
	enum := func(name, text string, v int, consts []string, typ string) {
		code := "o365smtp." + typ + "(" + strconv.Itoa(v) + ")"
		if v >= 0 && v < len(consts) {
			code = "o365smtp." + consts[v]
		}
		out = append(out, configField{name, text, code})
	}
	str("TenantID", c.TenantID)
	str("ClientID", c.ClientID)
	str("Mailbox", c.Mailbox)
	if c.ClientSecret != "" {
		str("ClientSecret", redacted)
	}
	str("ClientSecretFile", c.ClientSecretFile)
	set("Certificate", c.Certificate != nil)
	set("ClientAssertion", c.ClientAssertion != nil)
	set("TokenSource", c.TokenSource != nil)
	enum("Cloud", c.Cloud.String(), int(c.Cloud), cloudConsts, "Cloud")
	str("Host", c.Host)
	num("Port", c.Port)
	enum("Security", c.Security.String(), int(c.Security), securityConsts, "Security")
	str("AuthorityHost", c.AuthorityHost)
	str("Scope", c.Scope)
	set("HTTPClient", c.HTTPClient != nil)
	set("TLSConfig", c.TLSConfig != nil)
	set("DialContext", c.DialContext != nil)
	set("Logger", c.Logger != nil)
	num("MaxConnections", c.MaxConnections)
	num("MessagesPerMinute", c.MessagesPerMinute)
	set("Limiter", c.Limiter != nil)
	num("MaxAttempts", c.MaxAttempts)
	dur("RetryBackoff", c.RetryBackoff)
	dur("CoolOff", c.CoolOff)
	if c.Transport != TransportSMTP {
		enum("Transport", c.Transport.String(), int(c.Transport), transportConsts, "Transport")
	}
	str("GraphURL", c.GraphURL)
	str("GraphScope", c.GraphScope)
	str("CAFile", c.CAFile)
	str("ManagedIdentity", c.ManagedIdentity)
	set("Fleet", c.Fleet != nil)
	return out
}

// The constant names of Cloud, Security and Transport, by value, for
// GoString.
var (
	cloudConsts     = []string{"CloudGlobal", "CloudUSGovGCCHigh", "CloudUSGovDoD", "CloudChina"}
	securityConsts  = []string{"SecurityAuto", "SecurityStartTLS", "SecurityImplicitTLS"}
	transportConsts = []string{"TransportSMTP", "TransportGraph", "TransportAuto"}
)

// durationCode returns d as a Go expression: 30*time.Second, or
// time.Duration(n) when d is not a whole number of milliseconds.
func durationCode(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "Hour"}, {time.Minute, "Minute"}, {time.Second, "Second"}, {time.Millisecond, "Millisecond"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + "*time." + u.name
		}
	}
	return "time.Duration(" + strconv.FormatInt(int64(d), 10) + ")"
}

// Format implements fmt.Formatter: every verb prints the Sender's mailbox
// and endpoints. Without it, a verb that does not suit a pointer (%s, %q,
// %t, ...) makes fmt print the struct behind it, and the one behind that,
// which holds the Config and its client secret; and %v reads the Sender's
// mutexes and atomics by reflection while other goroutines use them.
func (s *Sender) Format(f fmt.State, _ rune) {
	if s == nil || s.r == nil {
		io.WriteString(f, "o365smtp.Sender(nil)")
		return
	}
	fmt.Fprintf(f, "o365smtp.Sender{Mailbox:%s Host:%s Port:%d Authority:%s Credential:%s}",
		s.r.cfg.Mailbox, s.r.host, s.r.port, s.r.authority, s.r.credential)
}

// Format implements fmt.Formatter for the source NewTokenSource returns. Its
// fields hold no secret, but without it fmt would read them, singleflight's
// mutex and the atomics among them, by reflection while other goroutines
// use the source: a data race.
func (c *cachedSource) Format(f fmt.State, _ rune) { io.WriteString(f, "o365smtp.TokenSource{cached}") }
