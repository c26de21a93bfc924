package o365smtptest_test

import (
	"fmt"
	"net/smtp"
	"net/url"

	"github.com/o365smtp/o365smtp/o365smtptest"
)

func ExampleNewServer() {
	srv := o365smtptest.NewServer()
	defer srv.Close()

	// srv.Config() is ready for o365smtp.New; here, its token endpoint is
	// used by hand.
	cfg := srv.Config()
	resp, err := cfg.HTTPClient.PostForm(cfg.AuthorityHost+"/"+cfg.TenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {cfg.ClientID},
		"client_secret": {cfg.ClientSecret},
		"scope":         {cfg.Scope},
	})
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(cfg.Mailbox, resp.Status, srv.Stats().TokenRequests)
	// Output: sender@contoso.com 200 OK 1
}

func ExampleServer_Stats() {
	srv := o365smtptest.NewServer()
	defer srv.Close()

	// A client that connects and leaves.
	c, err := smtp.Dial(srv.SMTPAddr)
	if err != nil {
		panic(err)
	}
	if err := c.Hello("client.example"); err != nil {
		panic(err)
	}
	c.Quit()
	st := srv.Stats()
	fmt.Println(st.Connections, st.AuthAttempts, st.TokenRequests)
	// Output: 1 0 0
}

func ExampleWithRecipientHook() {
	// Exchange refuses one address as the tenant's transport rules would;
	// the others are accepted, "reject..." ones included.
	srv := o365smtptest.NewServer(o365smtptest.WithRecipientHook(func(addr string) (string, bool) {
		if addr == "blocked@example.com" {
			return "550 5.7.1 Delivery not authorized, message refused", false
		}
		return "", true
	}))
	defer srv.Close()
	fmt.Println(srv.Mailbox)
	// Output: sender@contoso.com
}

func ExampleServer_Fail() {
	srv := o365smtptest.NewServer()
	defer srv.Close()

	// The next two messages are refused after DATA with Exchange's
	// throttling reply; the third goes through.
	srv.Fail(o365smtptest.StageDataEnd, o365smtptest.Fault{
		Reply: "432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.",
		Times: 2,
	})
	fmt.Println(o365smtptest.StageDataEnd)
	// Output: data_end
}
