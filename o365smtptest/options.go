package o365smtptest

import (
	"time"

	"github.com/o365smtp/o365smtp/internal/emulator"
)

// Option configures a Server made by NewServer. (The repository's own
// tests and command also use options of an internal package.)
type Option = emulator.Option

// WithImplicitTLS makes the SMTP service speak TLS from the first byte
// ("SSL/TLS", as on port 465) instead of offering STARTTLS. Exchange Online
// itself does not offer implicit TLS. Config then sets
// o365smtp.SecurityImplicitTLS.
func WithImplicitTLS() Option { return emulator.WithImplicitTLS() }

// WithTokenLifetime sets the lifetime of the access tokens the token
// endpoint issues (expires_in, rounded down to seconds). The default is
// 3599 s, like Entra's. Note that MSAL does not cache tokens that expire in
// less than 5 minutes.
func WithTokenLifetime(d time.Duration) Option { return emulator.WithTokenLifetime(d) }

// WithMaxMessageSize sets the SIZE the SMTP service advertises and enforces
// (552 5.3.4 beyond it). The default is Exchange Online's, 157286400 bytes.
func WithMaxMessageSize(n int64) Option { return emulator.WithMaxMessageSize(n) }

// WithScope sets the scope the token endpoint serves, for example a national
// cloud's "https://outlook.office365.us/.default"; the tokens' aud is its
// resource. The default is the worldwide "https://outlook.office365.com/.default".
func WithScope(scope string) Option { return emulator.WithScope(scope) }

// WithRecipientHook makes f decide the reply to each RCPT TO, after any
// fault of StageRcpt. f gets the address of RCPT TO without its angle
// brackets, source route or local-part quotes ("a@example.com"), and
// returns ok to accept it ("250 2.1.5 Recipient OK"), or else the reply
// that refuses it, in the format of Fault.Reply
// (for example "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not
// found by SMTP address lookup"; a 421 closes the connection). f is called
// concurrently from every connection. The default refuses, with that
// 5.1.10 reply, the addresses whose local part starts with "reject" (in
// any case), and accepts the others; a nil f restores it.
func WithRecipientHook(f func(addr string) (reply string, ok bool)) Option {
	return emulator.WithRecipientHook(f)
}
