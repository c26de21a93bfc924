// Package emulator is the machine behind package o365smtptest: an
// in-process emulator of Microsoft Entra ID's token endpoint and of
// Exchange Online's SMTP AUTH submission service. It holds the emulated
// tenant (tenant.go), the Entra endpoints (entra.go, token.go), the
// certificates (certs.go), the faults (faults.go), the named scenarios of
// the standalone emulator (scenarios.go), the received messages and their
// HTTP API (messages.go, api.go), and the tenant's side of the SMTP service
// (backend.go); the SMTP state machine is package smtpd.
//
// o365smtptest is its small public facade; the repository's own tests and
// command use the options and methods here that a user's test does not
// need.
package emulator

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
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/o365smtp/o365smtp/internal/emulator/smtpd"
)

// Names and defaults of the emulated tenant.
const (
	defaultScope           = "https://outlook.office365.com/.default"
	defaultTenantDomain    = "contoso.onmicrosoft.com"
	defaultMailbox         = "sender@contoso.com"
	defaultSharedMailbox   = "shared@contoso.com"
	defaultMaxMessageBytes = 157286400 // Exchange Online's SIZE: 150 MiB
	// defaultMaxSendBytes is a mailbox's default MaxSendSize, 35 MB, which
	// the store enforces after the final dot although EHLO says SIZE
	// 157286400 (MicrosoftDocs/OfficeDocs-O365ServiceDescriptions#264).
	defaultMaxSendBytes    = 35 << 20
	defaultTokenLifetime   = 3599 * time.Second
	defaultConnectionLimit = 3 // concurrent SMTP AUTH connections per mailbox
	roleSendAsApp          = "SMTP.SendAsApp"
)

// Server is a running emulator. The exported fields describe the emulated
// tenant and are read-only; o365smtptest.Server documents them.
type Server struct {
	TenantID           string // the Directory (tenant) ID, a random GUID
	TenantDomain       string // "contoso.onmicrosoft.com"
	ClientID           string // the Application (client) ID, a random GUID
	ClientSecret       string // the client secret's Value
	AppObjectID        string // the App registration's object ID (the wrong one for Exchange)
	ServicePrincipalID string // the Enterprise application's object ID (the tokens' oid)
	Mailbox            string // "sender@contoso.com"
	SharedMailbox      string // "shared@contoso.com", with Send As but not FullAccess
	SMTPAddr           string // "127.0.0.1:port"
	SMTPHost           string // SMTPAddr's host
	SMTPPort           int    // SMTPAddr's port
	AuthorityHost      string // "https://127.0.0.1:port"
	Scope              string // the scope the token endpoint serves

	opts     options
	resource string // Scope without "/.default": the tokens' aud

	caPEM    []byte
	pool     *x509.CertPool
	keyOnce  sync.Once
	keyReady atomic.Bool
	signKey  *rsa.PrivateKey // see signingKey
	keyID    string

	httpSrv        *httptest.Server
	identitySrv    *httptest.Server // WithManagedIdentity (identity.go)
	identityHeader string
	httpTransport  *http.Transport
	httpClient     *http.Client
	smtp           *smtpd.Server

	ctx       context.Context // canceled by Close: the HTTP requests' base
	cancel    context.CancelFunc
	closeOnce sync.Once

	mu            sync.Mutex
	tenant        tenantState
	faults        map[smtpd.Stage]queue[Fault]
	tokenFaults   queue[TokenFault]
	identities    []*identity // [0] the system-assigned one (identity.go)
	messages      []Message
	inbox         inboxState // refused attempts, scenarios, changes: for the web inbox
	issued        []string
	tokenRequests int

	graph graphState // the Graph side (graph.go); its own lock
}

// New starts an emulator: the Entra endpoints over HTTPS and the Exchange
// SMTP service, each on 127.0.0.1:0 unless options say otherwise. It
// panics if it cannot listen, like httptest.NewServer. The caller should
// call Close when finished.
func New(opts ...Option) *Server {
	o := options{
		hosts:           []string{"127.0.0.1", "::1", "localhost"},
		smtpAddr:        "127.0.0.1:0",
		httpAddr:        "127.0.0.1:0",
		tokenLifetime:   defaultTokenLifetime,
		maxMessageBytes: defaultMaxMessageBytes,
		recipient:       RejectPrefixed,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.maxMessageBytes <= 0 {
		o.maxMessageBytes = defaultMaxMessageBytes
	}
	if o.maxSendBytes == 0 {
		o.maxSendBytes = defaultMaxSendBytes
	}
	if o.implicitTLS {
		o.noSTARTTLS = false
	}
	if o.recipient == nil {
		o.recipient = RejectPrefixed
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
		faults:             make(map[smtpd.Stage]queue[Fault]),
	}
	s.resource = resourceOf(s.Scope)
	s.tenant = s.defaultTenant()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if o.scenario != "" {
		if err := s.ApplyScenario(o.scenario); err != nil {
			panic(err.Error())
		}
	}

	creds, err := newCredentials(o.hosts)
	if err != nil {
		panic("o365smtptest: " + err.Error())
	}
	s.caPEM = creds.caPEM
	s.pool = creds.pool
	smtpTLS := &tls.Config{Certificates: []tls.Certificate{creds.leaf}, MinVersion: tls.VersionTLS12}
	if o.maxTLS != 0 {
		smtpTLS.MaxVersion = o.maxTLS
		if o.maxTLS < tls.VersionTLS12 {
			smtpTLS.MinVersion = tls.VersionTLS10
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
	s.SMTPHost = host
	s.SMTPPort, _ = strconv.Atoi(port)

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
	hs.Config.BaseContext = func(net.Listener) context.Context { return s.ctx }
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

	if o.managedIdentity {
		s.startIdentity()
	}

	// Exchange.
	s.smtp = smtpd.Serve(ln, smtpd.Config{
		TLS:             smtpTLS,
		ImplicitTLS:     o.implicitTLS,
		NoSTARTTLS:      o.noSTARTTLS,
		MaxMessageBytes: o.maxMessageBytes,
		MaxSendBytes:    o.maxSendBytes,
		AcceptSMTPUTF8:  o.acceptSMTPUTF8,
		SendAsAtMail:    o.sendAsAtMail,
		IdleTimeout:     o.idleTimeout,
		Tarpit:          o.tarpit,
		ReplyLatency:    o.replyLatency,
		Backend:         backend{s},
	})
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

// ImplicitTLS reports whether the SMTP service speaks TLS from the first
// byte (WithImplicitTLS).
func (s *Server) ImplicitTLS() bool { return s.opts.implicitTLS }

// Client returns the HTTP client that trusts the emulator's certificate
// authority, uses no proxy, and whose idle connections Close closes.
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
		s.smtp.Close()
		s.httpSrv.Close()
		if s.identitySrv != nil {
			s.identitySrv.Close()
		}
		s.httpTransport.CloseIdleConnections()
		if s.keyReady.Load() {
			giveBackKey(s.signKey)
		}
	})
}

// Stats are the emulator's counters.
type Stats struct {
	smtpd.Stats
	TokenRequests int // POST requests to the token endpoint, whatever their outcome
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{Stats: s.smtp.Stats()}
	s.mu.Lock()
	st.TokenRequests = s.tokenRequests
	s.mu.Unlock()
	return st
}

// IssuedTokens returns every access token the token endpoint has issued,
// oldest first.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}
