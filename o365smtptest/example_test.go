package o365smtptest_test

import (
	"fmt"
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
	fmt.Println(cfg.Mailbox, resp.Status, srv.TokenRequests())
	// Output: sender@contoso.com 200 OK 1
}

func ExampleServer_ApplyScenario() {
	srv := o365smtptest.NewServer()
	defer srv.Close()

	// AUTH will fail with 535 5.7.3, as when New-ServicePrincipal was run
	// with the App registration's object ID.
	if err := srv.ApplyScenario("wrong-object-id"); err != nil {
		panic(err)
	}
	for _, sc := range o365smtptest.Scenarios()[:3] {
		fmt.Println(sc.Name)
	}
	// Output:
	// ok
	// sp-not-registered
	// wrong-object-id
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
	// Output: data-end
}
