// Package o365smtp sends mail as a Microsoft 365 (Exchange Online) mailbox
// with app-only OAuth 2.0.
//
// It acquires a client-credentials token from Microsoft Entra ID with MSAL Go
// (for https://outlook.office365.com/.default), connects to
// smtp.office365.com:587, upgrades with STARTTLS (TLS 1.2 or newer, verified),
// authenticates with SASL XOAUTH2 and submits the message with go-mail.
// Every failure is an [*Error] whose Kind says what went wrong and whose Hint
// says what to change.
//
//	sender, err := o365smtp.New(o365smtp.Config{
//		TenantID:     "contoso.onmicrosoft.com",
//		ClientID:     "00000000-0000-0000-0000-000000000000",
//		ClientSecret: os.Getenv("O365SMTP_CLIENT_SECRET"),
//		Mailbox:      "notifications@contoso.com",
//	})
//	if err != nil { ... }
//	defer sender.Close()
//	msg := mail.NewMsg()
//	msg.To("someone@example.com")
//	msg.Subject("Hello")
//	msg.SetBodyString(mail.TypeTextPlain, "Sent with app-only OAuth.")
//	err = sender.Send(ctx, msg)
//
// A [Sender] is safe for concurrent use, keeps up to MaxConnections
// authenticated connections, paces itself to Exchange Online's per-mailbox
// limits, holds no global state and logs nothing unless Config.Logger is set.
// Secrets and access tokens never appear in errors, logs or formatted values.
//
// The subpackage o365smtptest emulates Entra ID and Exchange Online on
// loopback, so code that uses this package can be tested without a tenant.
package o365smtp

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Config configures a [Sender]. It is plain data: it can be filled from code,
// from JSON (secrets, callbacks and plumbing are never marshalled) or from the
// environment. The zero value of every optional field means a safe default.
type Config struct {
	// TenantID is the Directory (tenant) ID: a GUID, or a verified domain
	// such as "contoso.onmicrosoft.com". Required unless TokenSource is set.
	TenantID string `json:"tenant_id"`
	// ClientID is the Application (client) ID of the app registration, a
	// GUID. Required unless TokenSource is set.
	ClientID string `json:"client_id"`
	// Mailbox is the mailbox to send as: the XOAUTH2 user, and the From of
	// messages that have none. Required.
	Mailbox string `json:"mailbox"`

	// ClientSecret is the client secret's Value (shown once, when the secret
	// is created), not its Secret ID. Exactly one of ClientSecret,
	// ClientSecretFile, Certificate, ClientAssertion and TokenSource must be
	// set.
	ClientSecret string `json:"-"`
	// ClientSecretFile names a file holding the client secret's Value. It is
	// read by New and again for each token request, so a rotated secret is
	// picked up without a restart. Surrounding whitespace is ignored.
	ClientSecretFile string `json:"client_secret_file,omitempty"`
	// Certificate is a certificate credential with an RSA private key, for
	// example from tls.LoadX509KeyPair.
	Certificate *tls.Certificate `json:"-"`
	// ClientAssertion returns a federated credential (a signed JWT, such as
	// the Kubernetes workload identity token named by
	// AZURE_FEDERATED_TOKEN_FILE). It is called for each token request and
	// must be safe for concurrent use.
	ClientAssertion func(ctx context.Context) (string, error) `json:"-"`
	// TokenSource supplies access tokens from elsewhere (see NewTokenSource
	// and TokenSourceFunc). Its tokens are still cached by the Sender.
	TokenSource TokenSource `json:"-"`

	// Cloud selects the national cloud whose endpoints are the defaults.
	// The zero value is CloudGlobal (worldwide and GCC).
	Cloud Cloud `json:"cloud,omitempty"`
	// Host is the SMTP submission host. Default: the Cloud's, for example
	// "smtp.office365.com".
	Host string `json:"host,omitempty"`
	// Port is the SMTP port. Default 587, or 465 with SecurityImplicitTLS.
	Port int `json:"port,omitempty"`
	// Security selects STARTTLS or implicit TLS. TLS is always mandatory.
	Security Security `json:"security,omitempty"`
	// AuthorityHost is the https URL of the Entra login host. Default: the
	// Cloud's, for example "https://login.microsoftonline.com".
	AuthorityHost string `json:"authority_host,omitempty"`
	// Scope is the token scope. Default: the Cloud's, for example
	// "https://outlook.office365.com/.default".
	Scope string `json:"scope,omitempty"`

	// HTTPClient makes the token requests. If nil, a client with a 30 s
	// timeout is used.
	HTTPClient *http.Client `json:"-"`
	// TLSConfig is the TLS configuration for SMTP. It is cloned; ServerName
	// defaults to Host. InsecureSkipVerify, or a MinVersion below TLS 1.2,
	// is an ErrConfig. If nil, the system roots and TLS 1.2 or newer are
	// used.
	TLSConfig *tls.Config `json:"-"`
	// DialContext opens SMTP connections, for example through an egress
	// proxy. If nil, a net.Dialer is used.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error) `json:"-"`
	// Logger receives debug logs, including the SMTP protocol transcript
	// with authentication data redacted. If nil, nothing is logged.
	Logger *slog.Logger `json:"-"`

	// MaxConnections bounds the Sender's concurrent SMTP connections. Zero
	// means 3, Exchange Online's limit per mailbox; negative is an
	// ErrConfig. Exchange's limits are per mailbox: processes that send as
	// the same mailbox add up, unless they share a Fleet.
	MaxConnections int `json:"max_connections,omitempty"`
	// MessagesPerMinute bounds message submissions (DATA attempts, retries
	// included) in any rolling 60 seconds. Zero means 30, Exchange Online's
	// limit per mailbox; negative disables the built-in governor.
	MessagesPerMinute int `json:"messages_per_minute,omitempty"`
	// Limiter, if set, replaces the built-in per-minute governor, for
	// example with a limiter shared by every process sending as Mailbox.
	// *rate.Limiter satisfies it.
	Limiter Limiter `json:"-"`
	// MaxAttempts bounds the attempts per message for failures whose
	// Retryable method reports true. Zero means 3; 1 disables retries.
	MaxAttempts int `json:"max_attempts,omitempty"`
	// RetryBackoff is the delay before the first retry; each later retry
	// waits twice as long as the one before (at most 15 s), with ±50%
	// jitter, within the caller's context. Zero means 1 s.
	RetryBackoff time.Duration `json:"retry_backoff,omitempty"`
	// CoolOff is how long, after a failure that needs a person (a rejected
	// secret or token, SMTP AUTH disabled, the sender suspended...), further
	// sends fail at once with the same error, without a token request or a
	// connection, so that a queue of messages does not feed Exchange's
	// continuous-error throttling. Zero means 30 s; negative disables it.
	CoolOff time.Duration `json:"cool_off,omitempty"`

	// Transport selects SMTP AUTH, Microsoft Graph, or SMTP with a switch
	// to Graph when SMTP AUTH is disabled. The zero value is TransportSMTP.
	Transport Transport `json:"transport,omitempty"`
	// GraphURL is where Graph requests go. Default: the Cloud's, for example
	// "https://graph.microsoft.com".
	GraphURL string `json:"graph_url,omitempty"`
	// GraphScope is the token scope for Graph. Default: the Cloud's, for
	// example "https://graph.microsoft.com/.default". It is not derived from
	// GraphURL, so an emulator or proxy URL keeps the real audience.
	GraphScope string `json:"graph_scope,omitempty"`
	// CAFile names a PEM file of CA certificates trusted in addition to the
	// system's, for SMTP, the token endpoint and Graph (for example the CA
	// of a TLS-inspecting proxy, or of the emulator). The certificates are
	// added to TLSConfig.RootCAs when that is set, and to the system roots
	// otherwise. An HTTPClient given in the Config is used as it is: its
	// transport decides what it trusts.
	CAFile string `json:"ca_file,omitempty"`
	// ManagedIdentity selects an Azure managed identity as the credential:
	// "system" for the system-assigned identity, or the client ID of a
	// user-assigned one.
	ManagedIdentity string `json:"managed_identity,omitempty"`
	// Fleet shares the mailbox's Exchange Online limits (connections,
	// messages per minute, back-off after throttling, the fail-fast after a
	// setup failure and the day's recipients) with every other process that
	// sends as Mailbox, for example redisfleet.New(rdb). MaxConnections and
	// MessagesPerMinute then bound the processes together: give them all the
	// same values. While the Fleet fails, the Sender uses its own limits.
	// Nil means this Sender's own limits. See docs/fleet.md.
	Fleet Fleet `json:"-"`
}

// Limiter paces submissions; *rate.Limiter satisfies it, and so can a limiter
// shared by several processes. Wait blocks until one more message may be
// submitted, or returns an error when ctx ends first.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Security selects how the SMTP connection is encrypted. TLS is mandatory in
// every mode: a token is never sent on a connection without TLS.
type Security int

const (
	// SecurityAuto uses implicit TLS on port 465 and STARTTLS otherwise.
	SecurityAuto Security = iota
	// SecurityStartTLS connects in plain text and upgrades with STARTTLS,
	// which must be offered. This is what Exchange Online uses on port 587.
	SecurityStartTLS
	// SecurityImplicitTLS speaks TLS from the first byte ("SSL/TLS").
	// Exchange Online does not offer it.
	SecurityImplicitTLS
)

var securityNames = []string{"auto", "starttls", "tls"}

// String returns "auto", "starttls" or "tls".
func (s Security) String() string {
	if s >= 0 && int(s) < len(securityNames) {
		return securityNames[s]
	}
	return fmt.Sprintf("Security(%d)", int(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Security) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(securityNames) {
		return nil, fmt.Errorf("o365smtp: invalid Security %d", int(s))
	}
	return []byte(securityNames[s]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts "auto",
// "starttls" and "tls" in any case; the empty string is SecurityAuto.
func (s *Security) UnmarshalText(b []byte) error {
	v, ok := lookupName(securityNames, string(b))
	if !ok {
		return fmt.Errorf("o365smtp: unknown security %q (want auto, starttls or tls)", b)
	}
	*s = Security(v)
	return nil
}

// Cloud selects a Microsoft 365 national cloud, which sets the default Host,
// AuthorityHost and Scope. An explicit Host, AuthorityHost or Scope overrides
// the preset.
type Cloud int

const (
	// CloudGlobal is the worldwide service, which GCC (moderate) also uses:
	// smtp.office365.com, login.microsoftonline.com,
	// https://outlook.office365.com/.default.
	CloudGlobal Cloud = iota
	// CloudUSGovGCCHigh is US Government GCC High: smtp.office365.us,
	// login.microsoftonline.us, https://outlook.office365.us/.default.
	CloudUSGovGCCHigh
	// CloudUSGovDoD is US Government DoD: login.microsoftonline.us, with
	// outlook-dod.office365.us as SMTP host and token resource. Public
	// sources disagree on the DoD SMTP host and scope (some use the GCC High
	// values); set Host and Scope to override.
	CloudUSGovDoD
	// CloudChina is Microsoft 365 operated by 21Vianet:
	// smtp.partner.outlook.cn, login.partner.microsoftonline.cn,
	// https://partner.outlook.cn/.default.
	CloudChina
)

var cloudNames = []string{"global", "gcchigh", "dod", "china"}

// String returns "global", "gcchigh", "dod" or "china".
func (c Cloud) String() string {
	if c >= 0 && int(c) < len(cloudNames) {
		return cloudNames[c]
	}
	return fmt.Sprintf("Cloud(%d)", int(c))
}

// MarshalText implements encoding.TextMarshaler.
func (c Cloud) MarshalText() ([]byte, error) {
	if c < 0 || int(c) >= len(cloudNames) {
		return nil, fmt.Errorf("o365smtp: invalid Cloud %d", int(c))
	}
	return []byte(cloudNames[c]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts "global",
// "gcchigh", "dod" and "china" in any case; the empty string is CloudGlobal.
func (c *Cloud) UnmarshalText(b []byte) error {
	v, ok := lookupName(cloudNames, string(b))
	if !ok {
		return fmt.Errorf("o365smtp: unknown cloud %q (want global, gcchigh, dod or china)", b)
	}
	*c = Cloud(v)
	return nil
}

func lookupName(names []string, s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	for i, n := range names {
		if strings.EqualFold(n, s) {
			return i, true
		}
	}
	return 0, false
}

// cloudEndpoints are the defaults of one national cloud.
type cloudEndpoints struct {
	host, authority, scope string
	graphURL, graphScope   string
}

var clouds = [...]cloudEndpoints{
	CloudGlobal:       {"smtp.office365.com", "https://login.microsoftonline.com", "https://outlook.office365.com/.default", "https://graph.microsoft.com", "https://graph.microsoft.com/.default"},
	CloudUSGovGCCHigh: {"smtp.office365.us", "https://login.microsoftonline.us", "https://outlook.office365.us/.default", "https://graph.microsoft.us", "https://graph.microsoft.us/.default"},
	CloudUSGovDoD:     {"outlook-dod.office365.us", "https://login.microsoftonline.us", "https://outlook-dod.office365.us/.default", "https://dod-graph.microsoft.us", "https://dod-graph.microsoft.us/.default"},
	CloudChina:        {"smtp.partner.outlook.cn", "https://login.partner.microsoftonline.cn", "https://partner.outlook.cn/.default", "https://microsoftgraph.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn/.default"},
}

// Defaults that are not per cloud.
const (
	defaultPort           = 587
	defaultImplicitPort   = 465
	defaultMaxConnections = 3 // Exchange Online: 3 concurrent SMTP AUTH connections per mailbox
	defaultPerMinute      = 30
	defaultMaxAttempts    = 3
	defaultHTTPTimeout    = 30 * time.Second
	defaultRetryBackoff   = 1 * time.Second
	defaultCoolOff        = 30 * time.Second
)

// New validates cfg and returns a Sender. It does no network I/O; it reads
// ClientSecretFile if set. Every invalid Config is an *Error of Kind
// ErrConfig whose Hint names the field and the fix.
func New(cfg Config) (*Sender, error) {
	r, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	return newSender(r)
}
