package emulator

import (
	"slices"
	"time"
)

// Option configures a Server made by New (and by o365smtptest.NewServer,
// whose Option it is).
type Option func(*options)

type options struct {
	implicitTLS     bool
	noSTARTTLS      bool
	maxTLS          uint16
	hosts           []string
	smtpAddr        string
	httpAddr        string
	tokenLifetime   time.Duration
	maxMessageBytes int64
	scope           string
	recipient       func(addr string) (reply string, ok bool)
	messageAPI      bool
	inbox           bool
	scenario        string
	maxSendBytes    int64
	acceptSMTPUTF8  bool
	sendAsAtMail    bool
	idleTimeout     time.Duration
	tarpit          time.Duration
	replyLatency    time.Duration
	managedIdentity bool
}

// WithReplyLatency: see o365smtptest.WithLatency.
func WithReplyLatency(d time.Duration) Option { return func(o *options) { o.replyLatency = d } }

// WithMaxSendSize: see o365smtptest.WithMaxSendSize.
func WithMaxSendSize(n int64) Option { return func(o *options) { o.maxSendBytes = n } }

// WithIdleTimeout: see o365smtptest.WithIdleTimeout.
func WithIdleTimeout(d time.Duration) Option { return func(o *options) { o.idleTimeout = d } }

// WithTarpit: see o365smtptest.WithTarpit.
func WithTarpit(d time.Duration) Option { return func(o *options) { o.tarpit = d } }

// WithSMTPUTF8Accepted makes MAIL FROM accept the SMTPUTF8 parameter, which
// Exchange Online refuses with "502 5.3.3 Command not implemented" although
// EHLO advertises it (wneessen/go-mail#545): for a client that cannot leave
// it out, or to test the mail a server that honours it would take.
func WithSMTPUTF8Accepted() Option { return func(o *options) { o.acceptSMTPUTF8 = true } }

// WithSendAsRefusedAtMail refuses a sender the mailbox may not send as at
// MAIL FROM, with "550 5.7.60 SMTP; Client does not have permissions to
// send as this sender", as older front ends did (gophish#1600), instead of
// accepting it there and refusing the message after the final dot with
// 554 5.2.252.
func WithSendAsRefusedAtMail() Option { return func(o *options) { o.sendAsAtMail = true } }

// WithImplicitTLS: see o365smtptest.WithImplicitTLS.
func WithImplicitTLS() Option { return func(o *options) { o.implicitTLS = true } }

// WithTokenLifetime: see o365smtptest.WithTokenLifetime.
func WithTokenLifetime(d time.Duration) Option { return func(o *options) { o.tokenLifetime = d } }

// WithMaxMessageSize: see o365smtptest.WithMaxMessageSize.
func WithMaxMessageSize(n int64) Option { return func(o *options) { o.maxMessageBytes = n } }

// WithScope: see o365smtptest.WithScope.
func WithScope(scope string) Option { return func(o *options) { o.scope = scope } }

// WithRecipientHook: see o365smtptest.WithRecipientHook.
func WithRecipientHook(f func(addr string) (reply string, ok bool)) Option {
	return func(o *options) { o.recipient = f }
}

// WithoutSTARTTLS makes the SMTP service plain text that never offers
// STARTTLS, like a misconfigured relay or an interception proxy. AUTH is
// still never accepted without TLS. It has no effect with WithImplicitTLS.
func WithoutSTARTTLS() Option { return func(o *options) { o.noSTARTTLS = true } }

// WithMaxTLSVersion caps the TLS version of the SMTP service, for example at
// tls.VersionTLS11 to test that a client refuses TLS below 1.2. A cap below
// TLS 1.2 also lowers the service's minimum version to TLS 1.0. The HTTPS
// server is not affected.
func WithMaxTLSVersion(v uint16) Option { return func(o *options) { o.maxTLS = v } }

// WithCertificateHosts sets the DNS names and IP addresses in the leaf
// certificate of both the SMTP and the HTTPS server. The default is
// "127.0.0.1", "::1" and "localhost"; a name such as "wrong.example" makes
// certificate verification fail.
func WithCertificateHosts(hosts ...string) Option {
	return func(o *options) { o.hosts = slices.Clone(hosts) }
}

// WithSMTPAddr sets the listen address of the SMTP service. The default is
// "127.0.0.1:0", a free port on loopback.
func WithSMTPAddr(addr string) Option { return func(o *options) { o.smtpAddr = addr } }

// WithHTTPAddr sets the listen address of the HTTPS server (Entra and the
// HTTP API). The default is "127.0.0.1:0", a free port on loopback.
func WithHTTPAddr(addr string) Option { return func(o *options) { o.httpAddr = addr } }

// WithMessageAPI serves the HTTP API for received messages (see api.go) on
// the HTTPS server, as the standalone emulator does.
func WithMessageAPI() Option { return func(o *options) { o.messageAPI = true } }

// WithInbox serves the web inbox (package inbox) at / on the HTTPS server,
// and the HTTP API it uses; it implies WithMessageAPI.
func WithInbox() Option { return func(o *options) { o.inbox, o.messageAPI = true, true } }

// WithScenario applies the named scenario (see Scenarios) when the server
// starts. New panics on an unknown name: check it with LookupScenario
// first.
func WithScenario(name string) Option { return func(o *options) { o.scenario = name } }
