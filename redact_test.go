package o365smtp

import (
	"context"
	"crypto/tls"
	"fmt"
	"go/ast"
	"go/parser"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestConfigGoString(t *testing.T) {
	const secret = "s3cr3t~Value~never~shown"
	full := Config{
		TenantID: "contoso.onmicrosoft.com", ClientID: "11111111-2222-3333-4444-555555555555", Mailbox: "alerts@contoso.com",
		ClientSecret: secret, ClientSecretFile: "/run/secret", Certificate: &tls.Certificate{},
		ClientAssertion: func(context.Context) (string, error) { return "", nil },
		TokenSource:     TokenSourceFunc(func(context.Context) (Token, error) { return Token{}, nil }),
		Cloud:           CloudUSGovGCCHigh, Host: "smtp.office365.us", Port: 587, Security: SecurityStartTLS,
		AuthorityHost: "https://login.microsoftonline.us", Scope: "https://outlook.office365.us/.default",
		HTTPClient: &http.Client{}, TLSConfig: &tls.Config{}, Logger: slog.Default(),
		MaxConnections: 2, MessagesPerMinute: -1, MaxAttempts: 1,
		RetryBackoff: 1500 * time.Millisecond, CoolOff: time.Duration(1), Transport: TransportAuto,
		GraphURL: "https://graph.microsoft.us", CAFile: "/etc/ca.pem",
	}
	for _, c := range []struct {
		name string
		cfg  Config
		want string // "" to check only that it parses and redacts
	}{
		{"empty", Config{}, `o365smtp.Config{Cloud:o365smtp.CloudGlobal, Security:o365smtp.SecurityAuto}`},
		{"secret", Config{TenantID: "t", ClientID: "c", Mailbox: "m@x.example", ClientSecret: secret},
			`o365smtp.Config{TenantID:"t", ClientID:"c", Mailbox:"m@x.example", ClientSecret:"[REDACTED]", Cloud:o365smtp.CloudGlobal, Security:o365smtp.SecurityAuto}`},
		{"quotes", Config{Mailbox: `a"b\c`, Cloud: Cloud(9), RetryBackoff: 2 * time.Minute},
			`o365smtp.Config{Mailbox:"a\"b\\c", Cloud:o365smtp.Cloud(9), Security:o365smtp.SecurityAuto, RetryBackoff:2*time.Minute}`},
		{"full", full, ""},
	} {
		got := fmt.Sprintf("%#v", c.cfg)
		if got != c.cfg.GoString() {
			t.Errorf("%s: %%#v = %s; GoString() = %s", c.name, got, c.cfg.GoString())
		}
		if c.want != "" && got != c.want {
			t.Errorf("%s: %%#v =\n%s\nwant\n%s", c.name, got, c.want)
		}
		if strings.Contains(got, secret) {
			t.Errorf("%s: %%#v shows the secret: %s", c.name, got)
		}
		e, err := parser.ParseExpr(got)
		if err != nil {
			t.Errorf("%s: %%#v = %s is not Go syntax: %v", c.name, got, err)
			continue
		}
		if _, ok := e.(*ast.CompositeLit); !ok {
			t.Errorf("%s: %%#v = %s is a %T, not a composite literal", c.name, got, e)
		}
	}
	got := full.GoString()
	for _, want := range []string{`ClientSecret:"[REDACTED]"`, "Cloud:o365smtp.CloudUSGovGCCHigh", "Port:587",
		"Security:o365smtp.SecurityStartTLS", "MessagesPerMinute:-1", "RetryBackoff:1500*time.Millisecond",
		"CoolOff:time.Duration(1)", "Transport:o365smtp.TransportAuto",
		"/* set: Certificate, ClientAssertion, TokenSource, HTTPClient, TLSConfig, Logger */}"} {
		if !strings.Contains(got, want) {
			t.Errorf("GoString of a full Config lacks %s:\n%s", want, got)
		}
	}
	if s := full.String(); strings.Contains(s, secret) || !strings.Contains(s, "ClientSecret:[REDACTED]") || !strings.Contains(s, "Certificate:<set>") {
		t.Errorf("String = %s; want the secret redacted and set pointers marked", s)
	}
}
