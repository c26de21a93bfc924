package o365smtp_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// The emulator stands in for Entra ID and Exchange Online: in production the
// Config holds your tenant's values and the defaults point at Microsoft.
func Example() {
	srv := o365smtptest.NewServer()
	defer srv.Close()

	sender, err := o365smtp.New(srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer sender.Shutdown(context.Background())

	msg := mail.NewMsg()
	msg.To("alice@example.net")
	msg.Subject("Build 1234 passed")
	msg.SetBodyString(mail.TypeTextPlain, "All green.")
	if err := sender.Send(context.Background(), msg); err != nil {
		log.Fatal(err)
	}

	got := srv.Messages()[0]
	fmt.Println("from:", got.From)
	fmt.Println("to:", got.To)
	// Output:
	// from: sender@contoso.com
	// to: [alice@example.net]
}

// A production Config: four values from the app registration and the
// mailbox; everything else defaults to Exchange Online.
func ExampleNew() {
	sender, err := o365smtp.New(o365smtp.Config{
		TenantID:     "contoso.onmicrosoft.com",
		ClientID:     "11111111-2222-3333-4444-555555555555",
		ClientSecret: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", // oops: the Secret ID
		Mailbox:      "notifications@contoso.com",
	})
	var e *o365smtp.Error
	if errors.As(err, &e) {
		fmt.Println(string(e.Kind))
		fmt.Println(e.Hint[:47])
		return
	}
	defer sender.Close()
	// Output:
	// config
	// Use the secret's Value, not its Secret ID: in C
}

// Errors carry a Kind to branch on and a Hint that says what to change.
func ExampleError() {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.SetServicePrincipalRegistered(false) // New-ServicePrincipal was never run

	sender, _ := o365smtp.New(srv.Config())
	defer sender.Close()

	msg := mail.NewMsg()
	msg.To("alice@example.net")
	msg.SetBodyString(mail.TypeTextPlain, "hi")
	err := sender.Send(context.Background(), msg)

	if errors.Is(err, o365smtp.ErrAuthFailed) {
		var e *o365smtp.Error
		errors.As(err, &e)
		fmt.Println(e.Op, e.Code, e.EnhancedCode, e.Retryable())
		fmt.Println(strings.Contains(e.Hint, "New-ServicePrincipal -AppId "+srv.ClientID+" -ObjectId "+srv.ServicePrincipalID))
	}
	// Output:
	// auth 535 5.7.3 false
	// true
}

// Verify walks the setup checklist without sending anything.
func ExampleSender_Verify() {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	sender, _ := o365smtp.New(srv.Config())
	defer sender.Close()

	report, err := sender.Verify(context.Background(), "sender@contoso.com")
	fmt.Println("ok:", report.OK, err == nil)
	for _, st := range report.Steps {
		fmt.Println(st.Name, st.Status)
	}
	// Output:
	// ok: true true
	// config pass
	// credential pass
	// token pass
	// token_claims pass
	// connect pass
	// tls pass
	// auth pass
	// send_as pass
}

// A Trace reports each step of a Send, in the manner of net/http/httptrace.
func ExampleWithTrace() {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	sender, _ := o365smtp.New(srv.Config())
	defer sender.Close()

	ctx := o365smtp.WithTrace(context.Background(), &o365smtp.Trace{
		TokenAcquired: func(_ time.Time, fromCache bool) { fmt.Println("token, cached:", fromCache) },
		Authenticated: func(mailbox string) { fmt.Println("authenticated as", mailbox) },
		Accepted:      func(reply string) { fmt.Println("accepted:", reply[:12]) },
	})
	for range 2 {
		msg := mail.NewMsg()
		msg.To("alice@example.net")
		msg.SetBodyString(mail.TypeTextPlain, "hi")
		if err := sender.Send(ctx, msg); err != nil {
			log.Fatal(err)
		}
	}
	// The second message reuses the pooled, authenticated connection.

	// Output:
	// token, cached: false
	// authenticated as sender@contoso.com
	// accepted: 250 2.0.0 OK
	// accepted: 250 2.0.0 OK
}

// NewTokenSource lets several Senders, one per mailbox, share one app token.
func ExampleNewTokenSource() {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.AddMailbox("alerts@contoso.com")
	srv.SetMailboxPermission("alerts@contoso.com", true)

	cfg := srv.Config()
	shared, err := o365smtp.NewTokenSource(cfg)
	if err != nil {
		log.Fatal(err)
	}
	for _, mailbox := range []string{"sender@contoso.com", "alerts@contoso.com"} {
		c := srv.Config()
		c.ClientSecret, c.TokenSource, c.Mailbox = "", shared, mailbox
		s, _ := o365smtp.New(c)
		msg := mail.NewMsg()
		msg.To("alice@example.net")
		msg.SetBodyString(mail.TypeTextPlain, "hi")
		if err := s.Send(context.Background(), msg); err != nil {
			log.Fatal(err)
		}
		s.Close()
	}
	fmt.Println("token requests:", srv.Stats().TokenRequests)
	// Output:
	// token requests: 1
}

// TokenSourceFunc adapts another token provider, for example one that asks
// a central token broker.
func ExampleTokenSourceFunc() {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	broker, _ := o365smtp.NewTokenSource(srv.Config()) // stands in for your provider

	cfg := srv.Config()
	cfg.ClientSecret = ""
	cfg.TokenSource = o365smtp.TokenSourceFunc(func(ctx context.Context) (o365smtp.Token, error) {
		t, err := broker.Token(ctx) // e.g. call your broker's API here
		return o365smtp.Token{AccessToken: t.AccessToken, ExpiresOn: t.ExpiresOn}, err
	})
	s, _ := o365smtp.New(cfg)
	defer s.Close()
	msg := mail.NewMsg()
	msg.To("alice@example.net")
	msg.SetBodyString(mail.TypeTextPlain, "hi")
	fmt.Println(s.Send(context.Background(), msg))
	// Output:
	// <nil>
}

// Workload identity: Kubernetes mounts a federated token in the file named
// by AZURE_FEDERATED_TOKEN_FILE; ClientAssertion reads it for each token
// request, so the kubelet's rotation needs nothing more.
func ExampleConfig_clientAssertion() {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "wi")
	defer os.RemoveAll(dir)
	file := dir + "/token"
	os.WriteFile(file, []byte("federated-token-from-the-cluster\n"), 0o600)
	srv.SetFederatedAssertion("federated-token-from-the-cluster")
	os.Setenv("AZURE_FEDERATED_TOKEN_FILE", file) // set by the workload identity webhook
	defer os.Unsetenv("AZURE_FEDERATED_TOKEN_FILE")

	cfg := srv.Config()
	cfg.ClientSecret = ""
	cfg.ClientAssertion = func(ctx context.Context) (string, error) {
		b, err := os.ReadFile(os.Getenv("AZURE_FEDERATED_TOKEN_FILE"))
		return strings.TrimSpace(string(b)), err
	}
	s, err := o365smtp.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	report, _ := s.Verify(context.Background())
	fmt.Println(report.Credential, report.OK)
	// Output:
	// client_assertion true
}

// The ten lines of "Embedding in five minutes": the configuration is the
// environment. Here the emulator stands in for Microsoft 365, and
// setEmulatorEnv sets the variables that `o365smtp emulate --env-file`
// writes; in production they hold your tenant's values, or a pod with AKS
// workload identity sets only O365SMTP_MAILBOX.
func ExampleConfigFromEnv() {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	defer setEmulatorEnv(srv)()

	cfg, err := o365smtp.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	sender, err := o365smtp.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer sender.Close()
	msg := mail.NewMsg()
	msg.To("someone@example.com")
	msg.Subject("Hello")
	msg.SetBodyString(mail.TypeTextPlain, "Sent with ConfigFromEnv, New and Send.")
	fmt.Println(sender.Send(context.Background(), msg), len(srv.Messages()))
	// Output:
	// <nil> 1
}

// setEmulatorEnv sets the variables ConfigFromEnv reads to srv's settings,
// and every other one to empty, as 'o365smtp emulate --env-file' would; the
// function it returns restores them.
func setEmulatorEnv(srv *o365smtptest.Server) (restore func()) {
	dir, err := os.MkdirTemp("", "o365smtp-example")
	if err != nil {
		log.Fatal(err)
	}
	ca := dir + "/ca.pem"
	if err := os.WriteFile(ca, srv.CACertPEM(), 0o644); err != nil {
		log.Fatal(err)
	}
	cfg := srv.Config()
	env := map[string]string{
		"O365SMTP_TENANT_ID": srv.TenantID, "O365SMTP_CLIENT_ID": srv.ClientID,
		"O365SMTP_CLIENT_SECRET": srv.ClientSecret, "O365SMTP_MAILBOX": srv.Mailbox,
		"O365SMTP_HOST": cfg.Host, "O365SMTP_PORT": fmt.Sprint(cfg.Port), "O365SMTP_SECURITY": cfg.Security.String(),
		"O365SMTP_AUTHORITY_HOST": cfg.AuthorityHost, "O365SMTP_SCOPE": cfg.Scope, "O365SMTP_CA_FILE": ca,
	}
	for _, k := range []string{"O365SMTP_CLIENT_SECRET_FILE", "O365SMTP_CERT_FILE", "O365SMTP_KEY_FILE",
		"O365SMTP_CLIENT_ASSERTION_FILE", "O365SMTP_MANAGED_IDENTITY", "O365SMTP_CLOUD", "O365SMTP_TRANSPORT",
		"O365SMTP_GRAPH_URL", "O365SMTP_GRAPH_SCOPE", "AZURE_TENANT_ID", "AZURE_CLIENT_ID",
		"AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST"} {
		env[k] = ""
	}
	old := map[string]*string{}
	for k, v := range env {
		if o, ok := os.LookupEnv(k); ok {
			old[k] = &o
		} else {
			old[k] = nil
		}
		os.Setenv(k, v)
	}
	return func() {
		for k, o := range old {
			if o != nil {
				os.Setenv(k, *o)
			} else {
				os.Unsetenv(k)
			}
		}
		os.RemoveAll(dir)
	}
}

// With TransportGraph the same message goes through Microsoft Graph's
// sendMail, for tenants where SMTP AUTH is off (the app needs Mail.Send).
func ExampleConfig_transportGraph() {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	cfg := srv.Config() // GraphURL points at the emulator; GraphScope stays Graph's
	cfg.Transport = o365smtp.TransportGraph
	sender, err := o365smtp.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer sender.Close()

	msg := mail.NewMsg()
	msg.To("alice@example.net")
	msg.Subject("Build 1234 passed")
	msg.SetBodyString(mail.TypeTextPlain, "All green.")
	if err := sender.Send(context.Background(), msg); err != nil {
		log.Fatal(err)
	}
	fmt.Println("delivered over", srv.Messages()[0].Transport)
	// Output: delivered over graph
}

// TransportAuto sends over SMTP until Exchange answers that SMTP AUTH is
// disabled (535 5.7.139), then over Graph from that message on.
func ExampleConfig_transportAuto() {
	srv := o365smtptest.NewServer()
	defer srv.Close()
	srv.SetSMTPAuthDisabledForTenant(true)
	cfg := srv.Config()
	cfg.Transport = o365smtp.TransportAuto
	sender, err := o365smtp.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer sender.Close()

	for _, subject := range []string{"first", "second"} {
		msg := mail.NewMsg()
		msg.To("alice@example.net")
		msg.Subject(subject)
		msg.SetBodyString(mail.TypeTextPlain, "All green.")
		if err := sender.Send(context.Background(), msg); err != nil {
			log.Fatal(err)
		}
	}
	for _, m := range srv.Messages() {
		fmt.Println(m.Header.Get("Subject"), "over", m.Transport)
	}
	fmt.Println("now:", sender.Stats().Transport)
	// Output:
	// first over graph
	// second over graph
	// now: graph
}
