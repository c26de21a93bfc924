package o365smtp_test

import (
	"context"
	"crypto/x509"
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
