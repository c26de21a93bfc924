package o365smtp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

func rsaCert(t *testing.T, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "o365smtp test app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestCertificateCredential(t *testing.T) {
	t.Parallel()
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cert := rsaCert(t, time.Now().Add(365*24*time.Hour))
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	srv.RegisterCertificate(leaf)

	cfg := srv.Config()
	cfg.ClientSecret, cfg.Certificate = "", &cert
	s := newSender(t, cfg)
	if err := s.Send(ctxT(t), newMsg(t)); err != nil {
		t.Fatalf("Send with certificate: %v", err)
	}
	rep, err := s.Verify(ctxT(t))
	if err != nil || rep.Credential != "certificate" || rep.Steps[1].Status != o365smtp.StatusPass {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}

	// A certificate Entra does not know.
	other := rsaCert(t, time.Now().Add(20*24*time.Hour))
	cfg.Certificate = &other
	s2 := newSender(t, cfg)
	err = s2.Send(ctxT(t), newMsg(t))
	if e := asError(t, err); e.Kind != o365smtp.ErrInvalidCertificate || e.AADSTS != 700027 {
		t.Errorf("unregistered certificate: %v (kind %s, AADSTS %d)", err, e.Kind, e.AADSTS)
	}
	rep, _ = s2.Verify(ctxT(t))
	if st := rep.Steps[1]; st.Name != "credential" || st.Status != o365smtp.StatusWarn {
		t.Errorf("credential step for a certificate expiring in 20 days = %+v; want warn", st)
	}
}

func TestClientAssertion(t *testing.T) {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.SetFederatedAssertion("federated-assertion-1")
	var mu sync.Mutex
	assertion, fail := "federated-assertion-1", error(nil)
	cfg := srv.Config()
	cfg.ClientSecret = ""
	cfg.ClientAssertion = func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		return assertion, fail
	}
	s := newSender(t, cfg)
	if err := s.Send(ctxT(t), newMsg(t)); err != nil {
		t.Fatalf("Send with assertion: %v", err)
	}
	// The callback's error is reachable with errors.Is and the assertion
	// never appears in the error.
	errNoFile := errors.New("no federated token file")
	mu.Lock()
	fail = errNoFile
	mu.Unlock()
	cfg2 := cfg
	s2 := newSender(t, cfg2)
	err := s2.Send(ctxT(t), newMsg(t))
	if !errors.Is(err, errNoFile) {
		t.Errorf("errors.Is(err, callback error) = false: %v", err)
	}
}

// writeSecret replaces the secret file in place.
func writeSecret(t *testing.T, path, value string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("  "+value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// swapSecret rotates a Kubernetes-style secret volume: path -> ..data/secret,
// ..data -> a timestamped directory, swapped atomically by renaming a new
// ..data symlink over the old one.
func swapSecret(t *testing.T, dir, value, version string) {
	t.Helper()
	vdir := filepath.Join(dir, version)
	if err := os.Mkdir(vdir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeSecret(t, filepath.Join(vdir, "secret"), value)
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

func TestClientSecretFileRotation(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"in place", "symlink swap"} {
		t.Run(mode, func(t *testing.T) {
			srv := o365smtptest.NewServer()
			defer srv.Close()
			dir := t.TempDir()
			path := filepath.Join(dir, "secret")
			rotate := func(v, version string) { writeSecret(t, path, v) }
			if mode == "symlink swap" {
				swapSecret(t, dir, srv.ClientSecret, "..2026_11_26_01")
				if err := os.Symlink(filepath.Join("..data", "secret"), path); err != nil {
					t.Fatal(err)
				}
				rotate = func(v, version string) { swapSecret(t, dir, v, version) }
			} else {
				writeSecret(t, path, srv.ClientSecret)
			}
			cfg := srv.Config()
			cfg.ClientSecret, cfg.ClientSecretFile = "", path
			s, clk := newFakeClockSender(t, cfg)
			if err := s.Send(ctxT(t), newMsg(t)); err != nil {
				t.Fatal(err)
			}
			// The tenant rotates the secret; the file follows while the
			// Sender runs. Once the cached token is due for refresh, the
			// next token request uses the new value.
			srv.SetClientSecret("rotated~secret~value~2")
			rotate("rotated~secret~value~2", "..2026_11_26_02")
			// Two hours on: the pool (on the same clock) retires the
			// connection, and the next send dials with a new token.
			clk.Advance(2 * time.Hour)
			if err := s.Send(ctxT(t), newMsg(t)); err != nil {
				t.Fatalf("Send after rotation: %v", err)
			}
			if n := srv.Stats().TokenRequests; n != 2 {
				t.Errorf("token requests = %d; want 2", n)
			}
		})
	}
}

// MSAL reads MSAL_FORCE_REGION and would then send the token request to a
// regional Microsoft host; the Sender neutralises it, so the emulator (or
// the configured AuthorityHost) is still the one asked.
func TestMSALForceRegionIgnored(t *testing.T) {
	t.Setenv("MSAL_FORCE_REGION", "westus2")
	srv := o365smtptest.NewServer()
	defer srv.Close()
	s := newSender(t, srv.Config())
	if err := s.Send(ctxT(t), newMsg(t)); err != nil {
		t.Fatalf("Send with MSAL_FORCE_REGION set: %v", err)
	}
	if srv.Stats().TokenRequests != 1 {
		t.Errorf("token requests at the emulator = %d; want 1", srv.Stats().TokenRequests)
	}
}

// Each cloud preset's scope reaches the token endpoint and its token is
// accepted; the emulator stands in for the cloud's hosts, which an explicit
// Host and AuthorityHost override (as they would a private endpoint).
func TestCloudPresetsEndToEnd(t *testing.T) {
	t.Parallel()
	cert := rsaCert(t, time.Now().Add(365*24*time.Hour))
	for _, tc := range []struct {
		cloud o365smtp.Cloud
		scope string
	}{
		{o365smtp.CloudGlobal, "https://outlook.office365.com/.default"},
		{o365smtp.CloudUSGovGCCHigh, "https://outlook.office365.us/.default"},
		{o365smtp.CloudUSGovDoD, "https://outlook-dod.office365.us/.default"},
		{o365smtp.CloudChina, "https://partner.outlook.cn/.default"},
	} {
		t.Run(tc.cloud.String(), func(t *testing.T) {
			srv := o365smtptest.NewServer(o365smtptest.WithScope(tc.scope))
			defer srv.Close()
			cfg := srv.Config()
			cfg.Cloud, cfg.Scope = tc.cloud, "" // the preset's scope
			s := newSender(t, cfg)
			rep, err := s.Verify(ctxT(t))
			if err != nil || rep.Scope != tc.scope || rep.Host != "127.0.0.1" {
				t.Fatalf("Verify: %v; scope %q host %q", err, rep.Scope, rep.Host)
			}
			if err := s.Send(ctxT(t), newMsg(t)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			s.Shutdown(ctxT(t)) // Exchange counts sessions per mailbox, across Senders
			// Every credential type in this cloud.
			leaf, _ := x509.ParseCertificate(cert.Certificate[0])
			srv.RegisterCertificate(leaf)
			srv.SetFederatedAssertion("federated-" + tc.cloud.String())
			file := filepath.Join(t.TempDir(), "secret")
			writeSecret(t, file, srv.ClientSecret)
			shared, err := o365smtp.NewTokenSource(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for name, set := range map[string]func(*o365smtp.Config){
				"client_secret_file": func(c *o365smtp.Config) { c.ClientSecretFile = file },
				"certificate":        func(c *o365smtp.Config) { c.Certificate = &cert },
				"client_assertion": func(c *o365smtp.Config) {
					c.ClientAssertion = func(context.Context) (string, error) { return "federated-" + tc.cloud.String(), nil }
				},
				"token_source": func(c *o365smtp.Config) { c.TokenSource = shared },
			} {
				c := cfg
				c.ClientSecret = ""
				set(&c)
				s := newSender(t, c)
				if rep, err := s.Verify(ctxT(t)); err != nil || rep.Credential != name {
					t.Errorf("%s: Verify %v, credential %q", name, err, rep.Credential)
				}
				if err := s.Send(ctxT(t), newMsg(t)); err != nil {
					t.Errorf("%s: Send: %v", name, err)
				}
				s.Shutdown(ctxT(t))
			}
			// The wrong cloud's scope is refused by this cloud's Entra.
			cfg.Cloud = (tc.cloud + 1) % 4
			e := asError(t, newSender(t, cfg).Send(ctxT(t), newMsg(t)))
			if e.Op != "token" || e.AADSTS == 0 {
				t.Errorf("the wrong cloud's scope: %v (AADSTS %d); want a token error", e, e.AADSTS)
			}
		})
	}
}
