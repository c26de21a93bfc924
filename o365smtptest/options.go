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
// while reading the message (552 5.3.4 Message size exceeds fixed maximum
// message size beyond it, and at MAIL FROM for a larger SIZE parameter).
// The default is Exchange Online's, 157286400 bytes. The smaller limit of
// the mailbox, WithMaxSendSize, applies too.
func WithMaxMessageSize(n int64) Option { return emulator.WithMaxMessageSize(n) }

// WithMaxSendSize sets the largest message the mailbox may send (its
// MaxSendSize), which Exchange Online enforces only after the final dot,
// with "552 5.3.4 MapiExceptionMaxSubmissionExceeded; Message size exceeds
// maximum size limit.; ...", although EHLO advertises the larger SIZE. The
// default is Exchange Online's, 35 MB (36700160 bytes); a negative n
// leaves only WithMaxMessageSize's limit.
func WithMaxSendSize(n int64) Option { return emulator.WithMaxSendSize(n) }

// WithTarpit makes the SMTP service wait d before it answers a failed AUTH,
// an unrecognized command or a permanent refusal after the final dot, as
// Exchange Online makes failing clients wait (4 to 8 seconds in public
// logs), so that a test can check the client's timeouts. The default is no
// delay, which keeps tests fast; the standalone emulator (o365smtp
// emulate) waits 5 s unless told otherwise.
func WithTarpit(d time.Duration) Option { return emulator.WithTarpit(d) }

// WithIdleTimeout sets how long the SMTP service waits for a command before
// it answers "451 4.7.0 Timeout waiting for client input" and closes the
// connection. The default is 5 minutes, like Exchange Online's front ends.
func WithIdleTimeout(d time.Duration) Option { return emulator.WithIdleTimeout(d) }

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

// WithLatency makes the SMTP service answer each command d after it
// arrived, as a server d away (one round trip) would: a client that waits
// for every reply pays d per command, one that pipelines (RFC 2920) pays d
// per batch. The default is no delay.
func WithLatency(d time.Duration) Option { return emulator.WithReplyLatency(d) }

// WithManagedIdentity serves an Azure App Service-style managed identity
// endpoint over plain HTTP on 127.0.0.1, with a system-assigned identity
// turned on (SystemAssignedIdentity); AddUserAssignedIdentity adds more.
// ManagedIdentityConfig returns a Config that uses it.
func WithManagedIdentity() Option { return emulator.WithManagedIdentity() }
