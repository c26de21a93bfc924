// Package o365smtptest provides an in-process emulator of Microsoft Entra
// ID's token endpoint and of Exchange Online's SMTP AUTH submission service,
// for testing code that sends mail with package o365smtp without a Microsoft
// 365 tenant, in the manner of net/http/httptest.
//
// NewServer starts both halves on loopback, each with TLS from a certificate
// authority of its own: Entra (OpenID Connect discovery and the v2.0 token
// endpoint, client credentials with a secret, a certificate or a federated
// assertion) over HTTPS, and Exchange Online SMTP (EHLO, STARTTLS, AUTH
// XOAUTH2, MAIL, RCPT, DATA, BDAT) with the replies, in the wording, that
// Exchange Online gives. Server.Config returns an o365smtp.Config that is
// ready to use against it:
//
//	srv := o365smtptest.NewServer()
//	defer srv.Close()
//	sender, err := o365smtp.New(srv.Config())
//	if err != nil { ... }
//	defer sender.Close()
//	err = sender.Send(ctx, msg)
//	got := srv.Messages() // what Exchange accepted
//
// The emulated tenant starts out set up right: the app has the
// SMTP.SendAsApp role, its service principal is registered in Exchange with
// the Enterprise application's object ID, it has FullAccess on Mailbox,
// Mailbox has Send As on SharedMailbox, and SMTP AUTH is enabled. The tenant setup
// methods (SetServicePrincipalRegistered, SetMailboxPermission,
// SetSMTPAuthDisabledForTenant, SetClientSecretExpired, ...) break one thing
// at a time, so that the emulator answers the way a misconfigured tenant
// does. Fail and FailToken inject transport faults (drops, delays, hangs,
// arbitrary replies) at a given stage of the protocol.
//
// By default, recipients whose local part starts with "reject" (for example
// reject-me@example.com) are refused at RCPT with
// "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP
// address lookup", so that a test can exercise partial recipient failures;
// WithRecipientHook replaces that rule. (Exchange Online itself mostly
// accepts an unknown recipient at RCPT and bounces the message later.)
//
// The SMTP service behaves like Exchange Online in 2026, as
// docs/exchange-behaviour.md in the repository lists with its sources:
// MAIL FROM with SMTPUTF8 gets "502 5.3.3 Command not implemented" (Go's
// net/smtp adds it whenever it is advertised), another sender is refused
// after the final dot, a message over 35 MB (WithMaxSendSize) is refused
// after the final dot, and only Exchange's token audiences pass AUTH. It
// answers at once unless WithTarpit makes failures wait, as Exchange's do.
//
// Stats counts connections, AUTH attempts and token requests, and
// IssuedTokens lists the tokens issued, for example to check that none of
// them leaks into logs.
//
// The emulator logs nothing. Every method of Server is safe for concurrent
// use.
package o365smtptest

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/mail"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/emulator"
)

// Server is a running emulator of Entra ID and Exchange Online. Create it
// with NewServer and stop it with Close. The exported fields describe the
// emulated tenant and are read-only.
type Server struct {
	// TenantID is the tenant's Directory (tenant) ID, a random GUID.
	TenantID string
	// TenantDomain is the tenant's verified domain,
	// "contoso.onmicrosoft.com". The token endpoint accepts it in place
	// of TenantID.
	TenantDomain string
	// ClientID is the Application (client) ID of the app registration, a
	// random GUID.
	ClientID string
	// ClientSecret is the client secret's Value that Config hands out. The
	// token endpoint accepts it until SetClientSecret installs another.
	ClientSecret string
	// AppObjectID is the object ID of the App registration. It is the
	// wrong ID for New-ServicePrincipal: RegisterServicePrincipal with it
	// makes SMTP AUTH fail with 535 5.7.3, as in Exchange Online.
	AppObjectID string
	// ServicePrincipalID is the object ID of the Enterprise application
	// (the service principal): the oid and sub of the tokens it issues,
	// and the ID Exchange knows it by.
	ServicePrincipalID string
	// Mailbox is the mailbox the app sends as, "sender@contoso.com". The
	// service principal has FullAccess on it.
	Mailbox string
	// SharedMailbox is a second mailbox, "shared@contoso.com", on which
	// Mailbox has Send As and the service principal no FullAccess: it may
	// be the sender (MAIL FROM and From) of messages submitted as Mailbox.
	SharedMailbox string
	// SMTPAddr is the address of the SMTP service, "127.0.0.1:port".
	SMTPAddr string
	// AuthorityHost is the base URL of the Entra endpoints,
	// "https://127.0.0.1:port", with no trailing slash.
	AuthorityHost string
	// Scope is the scope a token request must ask for,
	// "https://outlook.office365.com/.default".
	Scope string

	e *emulator.Server
}

// NewServer starts an emulator and returns it: the Entra endpoints over
// HTTPS on 127.0.0.1:0 and the Exchange SMTP service on 127.0.0.1:0. It
// panics if it cannot listen, like httptest.NewServer. The caller should
// call Close when finished.
func NewServer(opts ...Option) *Server {
	e := emulator.New(opts...)
	return &Server{
		TenantID:           e.TenantID,
		TenantDomain:       e.TenantDomain,
		ClientID:           e.ClientID,
		ClientSecret:       e.ClientSecret,
		AppObjectID:        e.AppObjectID,
		ServicePrincipalID: e.ServicePrincipalID,
		Mailbox:            e.Mailbox,
		SharedMailbox:      e.SharedMailbox,
		SMTPAddr:           e.SMTPAddr,
		AuthorityHost:      e.AuthorityHost,
		Scope:              e.Scope,
		e:                  e,
	}
}

// Config returns an o365smtp.Config for the emulated tenant: TenantID,
// ClientID, ClientSecret, Mailbox, the SMTP service's Host and Port,
// Security (SecurityImplicitTLS with WithImplicitTLS, else
// SecurityStartTLS), AuthorityHost, Scope, an HTTPClient and a TLSConfig
// that trust the emulator's certificate authority, and MessagesPerMinute -1
// so that tests are not paced. Each call returns a new Config; they share
// the HTTPClient, whose idle connections Close closes.
func (s *Server) Config() o365smtp.Config {
	sec := o365smtp.SecurityStartTLS
	if s.e.ImplicitTLS() {
		sec = o365smtp.SecurityImplicitTLS
	}
	return o365smtp.Config{
		TenantID:          s.TenantID,
		ClientID:          s.ClientID,
		ClientSecret:      s.ClientSecret,
		Mailbox:           s.Mailbox,
		Host:              s.e.SMTPHost,
		Port:              s.e.SMTPPort,
		Security:          sec,
		AuthorityHost:     s.AuthorityHost,
		Scope:             s.Scope,
		HTTPClient:        s.e.Client(),
		TLSConfig:         &tls.Config{RootCAs: s.e.CertPool(), ServerName: s.e.SMTPHost},
		MessagesPerMinute: -1,
		GraphURL:          s.AuthorityHost, // Graph is served on the same HTTPS server
	}
}

// Client returns the HTTP client that Config hands out: it trusts the
// emulator's certificate authority, uses no proxy, and its idle connections
// are closed by Close.
func (s *Server) Client() *http.Client { return s.e.Client() }

// CACertPEM returns the PEM encoding of the certificate authority that
// signed the emulator's SMTP and HTTPS certificates.
func (s *Server) CACertPEM() []byte { return s.e.CACertPEM() }

// CertPool returns a new pool that holds the emulator's certificate
// authority.
func (s *Server) CertPool() *x509.CertPool { return s.e.CertPool() }

// Close stops both servers, closes every connection, wakes every delayed or
// hanging fault, and blocks until all of the emulator's goroutines have
// returned. It is safe to call more than once.
func (s *Server) Close() { s.e.Close() }

// Message is a message that the SMTP service accepted.
type Message struct {
	// ID is the internal message ID, as in the reply to DATA:
	// "250 2.0.0 OK <ID@host> [Hostname=host]".
	ID string
	// Mailbox is the authenticated mailbox (XOAUTH2 user=), in lower case.
	Mailbox string
	// From is the envelope sender (MAIL FROM).
	From string
	// To lists the accepted envelope recipients (RCPT TO) since MAIL FROM.
	To []string
	// Data is the message as received (RFC 5322), with dot-stuffing removed
	// and line endings as the client sent them (CRLF from conforming clients).
	Data []byte
	// Header is Data's header, parsed by net/mail; it is empty when Data
	// has no parsable header.
	Header mail.Header
	// Size is len(Data).
	Size int
	// Received is when the message was accepted.
	Received time.Time
	// Transport is how the message came: "smtp" or "graph" (Microsoft
	// Graph sendMail).
	Transport string
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	msgs := s.e.Messages()
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		out[i] = Message{ID: m.ID, Mailbox: m.Mailbox, From: m.From, To: m.To, Data: m.Data,
			Header: m.Header, Size: len(m.Data), Received: m.Received, Transport: transportOf(m.Transport)}
	}
	return out
}

// ClearMessages forgets the messages accepted so far.
func (s *Server) ClearMessages() { s.e.ClearMessages() }

// IssuedTokens returns every access token the token endpoint has issued,
// oldest first, for example to check that none of them leaks into logs or
// errors.
func (s *Server) IssuedTokens() []string { return s.e.IssuedTokens() }

// Stats is a snapshot of a Server's counters.
type Stats struct {
	// Connections counts the SMTP connections accepted so far. A
	// connection upgraded with STARTTLS counts once.
	Connections int
	// OpenConnections is the number of SMTP connections open now.
	OpenConnections int
	// MaxConcurrentConnections is the largest number of SMTP connections
	// that were open at the same time.
	MaxConcurrentConnections int
	// AuthAttempts counts the AUTH commands the SMTP service has processed
	// after EHLO, whatever their outcome, including those refused for lack
	// of TLS.
	AuthAttempts int
	// TokenRequests counts the POST requests the token endpoint has
	// received, whatever their outcome.
	TokenRequests int
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := s.e.Stats()
	return Stats{
		Connections:              st.Connections,
		OpenConnections:          st.OpenConnections,
		MaxConcurrentConnections: st.MaxConcurrentConnections,
		AuthAttempts:             st.AuthAttempts,
		TokenRequests:            st.TokenRequests,
	}
}

// transportOf is "graph" for a message Graph's sendMail took, else "smtp".
func transportOf(t string) string {
	if t == "graph" {
		return "graph"
	}
	return "smtp"
}
