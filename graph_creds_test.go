package o365smtp_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// TestGraphCredentials: a certificate, a federated client assertion and
// both kinds of managed identity each get a Graph token from the emulator
// (aud Graph's, the app's roles) and send over TransportGraph; Verify over
// Graph passes.
func TestGraphCredentials(t *testing.T) {
	srv := o365smtptest.NewServer(o365smtptest.WithManagedIdentity())
	defer srv.Close()
	cert := rsaCert(t, time.Now().Add(365*24*time.Hour))
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	srv.RegisterCertificate(leaf)
	srv.SetFederatedAssertion("federated-assertion-graph")
	user := srv.AddUserAssignedIdentity()
	for _, tc := range []struct {
		name, credential string
		cfg              func(t *testing.T) o365smtp.Config
	}{
		{"certificate", "certificate", func(*testing.T) o365smtp.Config {
			c := srv.Config()
			c.ClientSecret, c.Certificate = "", &cert
			return c
		}},
		{"assertion", "client_assertion", func(*testing.T) o365smtp.Config {
			c := srv.Config()
			c.ClientSecret = ""
			c.ClientAssertion = func(context.Context) (string, error) { return "federated-assertion-graph", nil }
			return c
		}},
		{"system identity", "managed_identity", func(t *testing.T) o365smtp.Config { return srv.ManagedIdentityConfig(t, "system") }},
		{"user identity", "managed_identity", func(t *testing.T) o365smtp.Config { return srv.ManagedIdentityConfig(t, user.ClientID) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg(t)
			cfg.Transport, cfg.MaxAttempts, cfg.CoolOff = o365smtp.TransportGraph, 1, -1
			s, err := o365smtp.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			before := len(srv.Messages())
			if err := s.Send(context.Background(), graphMsg(t, "a@example.com")); err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := srv.Messages()
			if len(msgs) != before+1 || msgs[len(msgs)-1].Transport != "graph" {
				t.Fatalf("%d messages", len(msgs))
			}
			rep, err := s.Verify(context.Background())
			if err != nil || rep.Transport != "graph" || rep.Credential != tc.credential {
				t.Fatalf("Verify %v: %+v", err, rep)
			}
		})
	}
}

// TestGraphTokenErrors: a credential that Entra refuses fails the Graph
// transport as it fails SMTP, with the same Kind, before any Graph request
// or SMTP connection, and with no secret in the error.
func TestGraphTokenErrors(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	other := rsaCert(t, time.Now().Add(365*24*time.Hour))
	for _, tc := range []struct {
		name  string
		setup func()
		edit  func(*o365smtp.Config)
		kind  o365smtp.Kind
	}{
		{"secret expired", func() { srv.SetClientSecretExpired(true) }, func(*o365smtp.Config) {}, o365smtp.ErrClientSecretExpired},
		{"wrong secret", func() { srv.SetClientSecretExpired(false) }, func(c *o365smtp.Config) { c.ClientSecret = "not-the-secret" }, o365smtp.ErrInvalidClientSecret},
		{"unregistered certificate", func() {}, func(c *o365smtp.Config) { c.ClientSecret, c.Certificate = "", &other }, o365smtp.ErrInvalidCertificate},
		{"assertion refused", func() {}, func(c *o365smtp.Config) {
			c.ClientSecret = ""
			c.ClientAssertion = func(context.Context) (string, error) { return "an-assertion-entra-does-not-know", nil }
		}, ""}, // AADSTS50027: no row of its own; whatever SMTP gets
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			var kinds []o365smtp.Kind
			for _, tr := range []o365smtp.Transport{o365smtp.TransportSMTP, o365smtp.TransportGraph} {
				graphBefore, connsBefore := srv.GraphRequests(), srv.Stats().Connections
				s := graphSender(t, srv, tr, tc.edit)
				err := s.Send(context.Background(), graphMsg(t, "a@example.com"))
				var e *o365smtp.Error
				if !errors.As(err, &e) || e.Op != "token" {
					t.Fatalf("%v: err %v, want a token failure", tr, err)
				}
				kinds = append(kinds, e.Kind)
				if srv.GraphRequests() != graphBefore || srv.Stats().Connections != connsBefore {
					t.Errorf("%v: a Graph request or a connection without a token", tr)
				}
				if strings.Contains(err.Error(), "not-the-secret") || strings.Contains(err.Error(), "an-assertion-entra-does-not-know") {
					t.Errorf("%v: a secret leaked: %v", tr, err)
				}
			}
			if kinds[0] != kinds[1] || tc.kind != "" && kinds[1] != tc.kind {
				t.Errorf("kinds %v, want %s for both", kinds, tc.kind)
			}
		})
	}
}
