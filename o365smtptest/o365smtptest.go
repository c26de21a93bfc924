// Package o365smtptest provides an in-process emulator of Microsoft Entra
// ID's token endpoint and of Exchange Online's SMTP AUTH submission service,
// for testing code that sends mail with package o365smtp without a Microsoft
// 365 tenant, in the manner of net/http/httptest.
//
// NewServer starts both halves on loopback, each with TLS from a certificate
// authority of its own: Entra (OpenID Connect discovery and the v2.0 token
// endpoint, client credentials with a secret, a certificate or a federated
// assertion) over HTTPS, and Exchange Online SMTP (EHLO, STARTTLS, AUTH
// XOAUTH2, MAIL, RCPT, DATA) with the replies, in the wording, that Exchange
// Online gives. Server.Config returns an o365smtp.Config that is ready to use
// against it:
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
// the Enterprise application's object ID, it has FullAccess on Mailbox and
// Send As on SharedMailbox, and SMTP AUTH is enabled. The tenant setup
// methods (SetServicePrincipalRegistered, SetMailboxPermission,
// SetSMTPAuthDisabledForTenant, SetClientSecretExpired, ...) break one thing
// at a time, so that the emulator answers the way a misconfigured tenant
// does; ApplyScenario applies a named, documented combination. Fail and
// FailToken inject transport faults (drops, delays, hangs, arbitrary
// replies) at a given stage of the protocol.
//
// Recipients whose local part starts with "reject" (for example
// reject-me@example.com) are refused at RCPT with
// "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP
// address lookup", so that a test can exercise partial recipient failures.
//
// Received messages are available from Messages and, on the HTTPS server at
// AuthorityHost, from a small HTTP API: GET /api/messages (a JSON array),
// GET /api/messages/{id} (the raw message, message/rfc822) and
// DELETE /api/messages.
//
// The emulator logs nothing. Every method of Server is safe for concurrent
// use.
package o365smtptest

import (
	"cmp"
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/o365smtp/o365smtp"
)

// Names and limits of the emulated service.
const (
	// frontHost is the front end named in the banner and the EHLO reply.
	frontHost = "EMU01CA0001.outlook.office365.com"
	// authHost is the host named in the brackets of AUTH failures.
	authHost = "EMU01CA0001.namprd00.prod.outlook.com"
	// storeHost is the mailbox server named at the end of DATA.
	storeHost = "EMU01CA0001.namprd17.prod.outlook.com"
	// msgIDPrefix starts the internal message IDs, like Exchange's server
	// names do.
	msgIDPrefix = "EMU01CA0001"

	defaultScope           = "https://outlook.office365.com/.default"
	defaultTenantDomain    = "contoso.onmicrosoft.com"
	defaultMailbox         = "sender@contoso.com"
	defaultSharedMailbox   = "shared@contoso.com"
	defaultMaxMessageBytes = 157286400 // Exchange Online's SIZE: 150 MiB
	defaultTokenLifetime   = 3599 * time.Second
	defaultConnectionLimit = 3 // concurrent SMTP AUTH connections per mailbox
	maxRecipients          = 500
	roleSendAsApp          = "SMTP.SendAsApp"
	handshakeTimeout       = time.Minute
	smtpIdleTimeout        = 10 * time.Minute
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
	// SharedMailbox is a second mailbox, "shared@contoso.com", on which the
	// service principal has Send As but not FullAccess: it may be the
	// sender (MAIL FROM and From) of messages submitted as Mailbox.
	SharedMailbox string
	// SMTPAddr is the address of the SMTP service, "127.0.0.1:port". A
	// service listening on all interfaces is reached on 127.0.0.1.
	SMTPAddr string
	// AuthorityHost is the base URL of the Entra endpoints and of the HTTP
	// API, "https://127.0.0.1:port", with no trailing slash.
	AuthorityHost string
	// Scope is the scope a token request must ask for,
	// "https://outlook.office365.com/.default".
	Scope string

	opts     options
	resource string // Scope without "/.default": the tokens' aud

	caPEM    []byte
	pool     *x509.CertPool
	smtpTLS  *tls.Config
	keyOnce  sync.Once
	keyReady atomic.Bool
	signKey  *rsa.PrivateKey // see signingKey
	keyID    string
	smtpHost string
	smtpPort int

	httpSrv       *httptest.Server
	httpTransport *http.Transport
	httpClient    *http.Client

	smtpSrv *smtp.Server
	smtpLn  *listener
	handoff *handoffListener

	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	done      <-chan struct{} // closed by Close
	closeOnce sync.Once
	serveWG   sync.WaitGroup // the SMTP accept loops
	connWG    sync.WaitGroup // SMTP connections not yet finished

	mu            sync.Mutex
	closed        bool
	tenant        tenantState
	faults        map[Stage][]*faultEntry
	tokenFaults   []*tokenFaultEntry
	messages      []Message
	conns         map[*connInfo]struct{}
	authed        map[string][]*connInfo // mailbox -> connections authenticated as it, oldest first
	issued        []string
	tokenRequests int
	connections   int
	openConns     int
	maxConns      int
	authAttempts  int
}

// Option configures a Server made by NewServer.
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
}

// WithImplicitTLS makes the SMTP service speak TLS from the first byte
// ("SSL/TLS", as on port 465) instead of offering STARTTLS. Exchange Online
// itself does not offer implicit TLS. Config then sets
// o365smtp.SecurityImplicitTLS.
func WithImplicitTLS() Option { return func(o *options) { o.implicitTLS = true } }

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

// WithTokenLifetime sets the lifetime of the access tokens the token
// endpoint issues (expires_in, rounded down to seconds). The default is
// 3599 s, like Entra's. Note that MSAL does not cache tokens that expire in
// less than 5 minutes.
func WithTokenLifetime(d time.Duration) Option { return func(o *options) { o.tokenLifetime = d } }

// WithMaxMessageSize sets the SIZE the SMTP service advertises and enforces
// (552 5.3.4 beyond it). The default is Exchange Online's, 157286400 bytes.
func WithMaxMessageSize(n int64) Option { return func(o *options) { o.maxMessageBytes = n } }

// WithScope sets the scope the token endpoint serves, for example a national
// cloud's "https://outlook.office365.us/.default"; the tokens' aud is its
// resource. The default is the worldwide "https://outlook.office365.com/.default".
func WithScope(scope string) Option { return func(o *options) { o.scope = scope } }

// NewServer starts an emulator and returns it: the Entra endpoints and the
// HTTP API over HTTPS on 127.0.0.1:0 and the Exchange SMTP service on
// 127.0.0.1:0, unless options say otherwise. It panics if it cannot listen,
// like httptest.NewServer. The caller should call Close when finished.
func NewServer(opts ...Option) *Server {
	o := options{
		hosts:           []string{"127.0.0.1", "::1", "localhost"},
		smtpAddr:        "127.0.0.1:0",
		httpAddr:        "127.0.0.1:0",
		tokenLifetime:   defaultTokenLifetime,
		maxMessageBytes: defaultMaxMessageBytes,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.maxMessageBytes <= 0 {
		o.maxMessageBytes = defaultMaxMessageBytes
	}
	if o.implicitTLS {
		o.noSTARTTLS = false
	}

	s := &Server{
		TenantID:           newGUID(),
		TenantDomain:       defaultTenantDomain,
		ClientID:           newGUID(),
		ClientSecret:       newSecret(),
		AppObjectID:        newGUID(),
		ServicePrincipalID: newGUID(),
		Mailbox:            defaultMailbox,
		SharedMailbox:      defaultSharedMailbox,
		Scope:              cmp.Or(o.scope, defaultScope),
		opts:               o,
		faults:             make(map[Stage][]*faultEntry),
		conns:              make(map[*connInfo]struct{}),
		authed:             make(map[string][]*connInfo),
	}
	s.resource = resourceOf(s.Scope)
	s.tenant = s.defaultTenant()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.done = s.ctx.Done()

	creds, err := newCredentials(o.hosts)
	if err != nil {
		panic("o365smtptest: " + err.Error())
	}
	s.caPEM = creds.caPEM
	s.pool = creds.pool
	s.smtpTLS = &tls.Config{Certificates: []tls.Certificate{creds.leaf}, MinVersion: tls.VersionTLS12}
	if o.maxTLS != 0 {
		s.smtpTLS.MaxVersion = o.maxTLS
		if o.maxTLS < tls.VersionTLS12 {
			s.smtpTLS.MinVersion = tls.VersionTLS10
		}
	}

	// SMTP listener first: it is the one most likely to fail (a fixed
	// address in use), and it holds no goroutine yet.
	ln, err := net.Listen("tcp", o.smtpAddr)
	if err != nil {
		panic(fmt.Sprintf("o365smtptest: failed to listen on %s: %v", o.smtpAddr, err))
	}
	s.SMTPAddr = dialAddr(ln.Addr())
	host, port, _ := net.SplitHostPort(s.SMTPAddr)
	s.smtpHost = host
	s.smtpPort, _ = strconv.Atoi(port)

	// Entra and the HTTP API.
	hs := httptest.NewUnstartedServer(s.httpHandler())
	if o.httpAddr != "127.0.0.1:0" {
		hl, err := net.Listen("tcp", o.httpAddr)
		if err != nil {
			ln.Close()
			hs.Listener.Close()
			panic(fmt.Sprintf("o365smtptest: failed to listen on %s: %v", o.httpAddr, err))
		}
		hs.Listener.Close()
		hs.Listener = hl
	}
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{creds.leaf}, MinVersion: tls.VersionTLS12}
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.Config.ReadHeaderTimeout = time.Minute
	hs.StartTLS()
	s.httpSrv = hs
	s.AuthorityHost = "https://" + dialAddr(hs.Listener.Addr())
	s.httpTransport = &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 30 * time.Second,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	s.httpClient = &http.Client{Transport: s.httpTransport}

	// Exchange.
	s.smtpSrv = s.newSMTPServer()
	s.smtpLn = &listener{Listener: ln, s: s}
	s.handoff = newHandoffListener(ln.Addr())
	s.serveWG.Add(2)
	go func() {
		defer s.serveWG.Done()
		s.smtpSrv.Serve(s.smtpLn)
	}()
	go func() {
		defer s.serveWG.Done()
		s.smtpSrv.Serve(s.handoff)
	}()
	return s
}

// dialAddr returns the address a client dials to reach a listener on addr:
// an unspecified address (":0", "0.0.0.0:0") is reached on 127.0.0.1.
func dialAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
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
	if s.opts.implicitTLS {
		sec = o365smtp.SecurityImplicitTLS
	}
	return o365smtp.Config{
		TenantID:          s.TenantID,
		ClientID:          s.ClientID,
		ClientSecret:      s.ClientSecret,
		Mailbox:           s.Mailbox,
		Host:              s.smtpHost,
		Port:              s.smtpPort,
		Security:          sec,
		AuthorityHost:     s.AuthorityHost,
		Scope:             s.Scope,
		HTTPClient:        s.httpClient,
		TLSConfig:         &tls.Config{RootCAs: s.pool.Clone(), ServerName: s.smtpHost},
		MessagesPerMinute: -1,
	}
}

// Client returns the HTTP client that Config hands out: it trusts the
// emulator's certificate authority, uses no proxy, and its idle connections
// are closed by Close.
func (s *Server) Client() *http.Client { return s.httpClient }

// CACertPEM returns the PEM encoding of the certificate authority that
// signed the emulator's SMTP and HTTPS certificates.
func (s *Server) CACertPEM() []byte { return slices.Clone(s.caPEM) }

// CertPool returns a new pool that holds the emulator's certificate
// authority.
func (s *Server) CertPool() *x509.CertPool { return s.pool.Clone() }

// Close stops both servers, closes every connection, wakes every delayed or
// hanging fault, and blocks until all of the emulator's goroutines have
// returned. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.smtpLn.Close()
		s.handoff.Close()
		s.mu.Lock()
		s.closed = true
		open := make([]*connInfo, 0, len(s.conns))
		for ci := range s.conns {
			open = append(open, ci)
		}
		s.mu.Unlock()
		for _, ci := range open {
			ci.raw.Close()
		}
		s.serveWG.Wait()
		s.smtpSrv.Shutdown(context.Background()) // waits for go-smtp's connection goroutines
		s.connWG.Wait()
		s.httpSrv.Close()
		s.httpTransport.CloseIdleConnections()
	})
}

// Message is a message that the SMTP service accepted.
type Message struct {
	// ID is the internal message ID, as in the reply to DATA:
	// "250 2.0.0 OK <ID@host> [Hostname=host]". It also names the message
	// in the HTTP API.
	ID string
	// Mailbox is the authenticated mailbox (XOAUTH2 user=).
	Mailbox string
	// From is the envelope sender (MAIL FROM).
	From string
	// To lists the accepted envelope recipients (RCPT TO).
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
}

func (m Message) clone() Message {
	m.To = slices.Clone(m.To)
	m.Data = slices.Clone(m.Data)
	h := make(mail.Header, len(m.Header))
	for k, v := range m.Header {
		h[k] = slices.Clone(v)
	}
	m.Header = h
	return m
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		out[i] = m.clone()
	}
	return out
}

// ClearMessages forgets the messages accepted so far.
func (s *Server) ClearMessages() {
	s.mu.Lock()
	s.messages = nil
	s.mu.Unlock()
}

func (s *Server) message(id string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.ID == id {
			return m.clone(), true
		}
	}
	return Message{}, false
}

// TokenRequests returns the number of POST requests the token endpoint has
// received, whatever their outcome.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// IssuedTokens returns every access token the token endpoint has issued,
// oldest first, for example to check that none of them leaks into logs or
// errors.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// Connections returns the number of SMTP connections accepted so far. A
// connection upgraded with STARTTLS counts once.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// OpenConnections returns the number of SMTP connections open now.
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.openConns
}

// MaxConcurrentConnections returns the largest number of SMTP connections
// that were open at the same time.
func (s *Server) MaxConcurrentConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxConns
}

// AuthAttempts returns the number of AUTH commands the SMTP service has
// processed after EHLO, whatever their outcome, including those refused for
// lack of TLS.
func (s *Server) AuthAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authAttempts
}
