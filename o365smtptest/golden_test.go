package o365smtptest_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp/internal/emulator"
	"github.com/o365smtp/o365smtp/o365smtptest"
)

// The golden transcripts pin every byte the SMTP service sends, for a matrix
// of raw sessions over loopback TCP and TLS: the proof that a change of the
// SMTP engine leaves what clients see unchanged. Run with -update to
// rewrite testdata/transcripts after an intended change.
var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/transcripts")

// step is one client action of a scripted session.
type step struct {
	send    string // bytes to write, as is
	replies int    // replies to read after writing
	tls     bool   // do the client's TLS handshake (after a 220 to STARTTLS)
	eof     bool   // read until the server closes the connection
	half    bool   // close the client's write side
}

// cmd sends line with CRLF and reads one reply.
func cmd(line string) step { return step{send: line + "\r\n", replies: 1} }

// pipe sends lines in one write and reads one reply per line.
func pipe(lines ...string) step {
	return step{send: strings.Join(lines, "\r\n") + "\r\n", replies: len(lines)}
}

// sendRaw writes b and reads n replies.
func sendRaw(b string, n int) step { return step{send: b, replies: n} }

var (
	startTLS  = []step{cmd("STARTTLS"), {tls: true}}
	eof       = step{eof: true}
	quit      = []step{cmd("QUIT"), eof}
	halfClose = step{half: true}
)

// goldenCase is one scripted session against a fresh emulator.
type goldenCase struct {
	name  string
	opts  []o365smtptest.Option
	setup func(s *o365smtptest.Server) // before the token is issued
	after func(s *o365smtptest.Server) // after the token is issued
	// others is the number of connections that authenticate as the
	// mailbox before the recorded one, and stay open.
	others   int
	implicit bool
	// minTLS is the client's lowest TLS version; 0 is Go's default, 1.2.
	minTLS uint16
	script func(tok string) []step
}

// auth is AUTH XOAUTH2 as user with tok, in the one-step form.
func auth(user, tok string) step {
	return cmd("AUTH XOAUTH2 " + b64("user="+user+"\x01auth=Bearer "+tok+"\x01\x01"))
}

// bdat sends data as one BDAT chunk and reads the reply.
func bdat(data string, last bool) step {
	c := "BDAT " + strconv.Itoa(len(data))
	if last {
		c += " LAST"
	}
	return sendRaw(c+"\r\n"+data, 1)
}

func join(parts ...any) []step {
	var out []step
	for _, p := range parts {
		switch p := p.(type) {
		case step:
			out = append(out, p)
		case []step:
			out = append(out, p...)
		default:
			panic(fmt.Sprintf("join: %T", p))
		}
	}
	return out
}

const (
	mbx     = "sender@contoso.com"
	shared  = "shared@contoso.com"
	goodMsg = "From: sender@contoso.com\r\nTo: a@example.com\r\nSubject: hi\r\n\r\nHello.\r\n..dot-stuffed\r\n.leading dot\r\n\r\n.\r\n"
)

// session is EHLO, STARTTLS, EHLO and AUTH as the mailbox.
func session(tok string) []step {
	return join(cmd("EHLO client.example"), startTLS, cmd("EHLO client.example"), auth(mbx, tok))
}

func submit(from, to, data string) []step {
	return join(cmd("MAIL FROM:<"+from+">"), cmd("RCPT TO:<"+to+">"), cmd("DATA"), sendRaw(data, 1))
}

// scenario is a setup that applies the named scenario.
func scenario(name string) func(s *o365smtptest.Server) {
	return func(s *o365smtptest.Server) {
		if err := o365smtptest.Engine(s).ApplyScenario(name); err != nil {
			panic(err)
		}
	}
}

func goldenCases() []goldenCase {
	fault := func(stage o365smtptest.Stage, f o365smtptest.Fault) func(s *o365smtptest.Server) {
		return func(s *o365smtptest.Server) { s.Fail(stage, f) }
	}
	busy := o365smtptest.Fault{Reply: "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (AS761)"}
	drop := o365smtptest.Fault{Drop: true}
	ok := func(tok string) []step { return join(session(tok), submit(mbx, "a@example.com", goodMsg), quit) }
	many := make([]string, 0, 501)
	for i := range 501 {
		many = append(many, "RCPT TO:<r"+strconv.Itoa(i)+"@example.com>")
	}
	// A line one byte over the limit, without its CRLF: the server reads
	// every byte sent before it closes the connection, so no TCP reset can
	// discard its reply.
	long := strings.Repeat("A", 65536)
	return []goldenCase{
		{name: "ok", script: ok},
		{name: "ok-implicit-tls", opts: []o365smtptest.Option{o365smtptest.WithImplicitTLS()}, implicit: true, script: func(tok string) []step {
			return join(cmd("EHLO client.example"), cmd("STARTTLS"), auth(mbx, tok), submit(mbx, "a@example.com", goodMsg), quit)
		}},
		{name: "no-starttls", opts: []o365smtptest.Option{emulator.WithoutSTARTTLS()}, script: func(tok string) []step {
			return join(cmd("EHLO client.example"), cmd("STARTTLS"), auth(mbx, tok), cmd("MAIL FROM:<"+mbx+">"), quit)
		}},
		{name: "helo", script: func(tok string) []step {
			return join(cmd("HELO client.example"), startTLS, cmd("HELO client.example"), auth(mbx, tok), cmd("EHLO again.example"), cmd("AUTH XOAUTH2 x"), quit)
		}},
		{name: "auth-two-step", script: func(tok string) []step {
			return join(cmd("EHLO c"), startTLS, cmd("EHLO c"), cmd("AUTH XOAUTH2"),
				cmd(b64("user="+mbx+"\x01auth=Bearer "+tok+"\x01\x01")), auth(mbx, tok), quit)
		}},
		{name: "auth-variants", script: func(tok string) []step {
			return join(cmd("AUTH XOAUTH2 "+b64("x")), cmd("EHLO c"), cmd("AUTH XOAUTH2 "+b64("x")), startTLS,
				cmd("AUTH XOAUTH2"), cmd("EHLO c"), cmd("AUTH"), cmd("AUTH PLAIN "+b64("\x00u\x00p")), cmd("AUTH CRAM-MD5"),
				cmd("AUTH XOAUTH2 !!!"), cmd("AUTH XOAUTH2 ="), cmd("AUTH XOAUTH2"), cmd("*"), cmd("AUTH XOAUTH2"), cmd("!!!"),
				cmd("AUTH XOAUTH2"), cmd(""), cmd("AUTH xoauth2 "+b64("user="+mbx+"\x01auth=Bearer bad\x01\x01")),
				cmd("AUTH LOGIN"), cmd(b64("user")), cmd(b64("pass")), cmd("AUTH LOGIN "+b64("user")), cmd(b64("pass")),
				cmd("AUTH LOGIN ="), cmd("*"),
				cmd("AUTH XOAUTH2 "+b64("user=nobody@contoso.com\x01auth=Bearer "+tok+"\x01\x01")),
				cmd("MAIL FROM:<"+mbx+">"), auth(strings.ToUpper(mbx), tok), auth(mbx, tok), quit)
		}},
		{name: "sp-not-registered", setup: func(s *o365smtptest.Server) { s.SetServicePrincipalRegistered(false) }, script: func(tok string) []step { return join(session(tok), quit) }},
		{name: "wrong-object-id", setup: func(s *o365smtptest.Server) { s.RegisterServicePrincipal(s.AppObjectID) }, script: func(tok string) []step { return join(session(tok), quit) }},
		{name: "no-mailbox-permission", setup: func(s *o365smtptest.Server) { s.SetMailboxPermission(s.Mailbox, false) }, script: func(tok string) []step { return join(session(tok), quit) }},
		{name: "smtp-auth-disabled-tenant", setup: func(s *o365smtptest.Server) { s.SetSMTPAuthDisabledForTenant(true) }, script: func(tok string) []step {
			return join(session(tok), auth("other@contoso.com", tok), quit)
		}},
		{name: "smtp-auth-disabled-mailbox", setup: func(s *o365smtptest.Server) { s.SetSMTPAuthDisabledForMailbox(s.Mailbox, true) }, script: func(tok string) []step { return join(session(tok), quit) }},
		{name: "smtp-auth-enabled-mailbox", setup: func(s *o365smtptest.Server) {
			s.SetSMTPAuthDisabledForTenant(true)
			s.SetSMTPAuthDisabledForMailbox(s.Mailbox, false)
		}, script: ok},
		{name: "no-smtp-role", setup: func(s *o365smtptest.Server) { s.SetRoles(nil) }, script: func(tok string) []step { return join(session(tok), quit) }},
		{name: "expired-token", setup: func(s *o365smtptest.Server) { s.SetTokenLifetime(-time.Hour) }, script: func(tok string) []step { return join(session(tok), quit) }},
		{name: "send-as", setup: func(s *o365smtptest.Server) {
			s.AddMailbox("full@contoso.com")
			s.SetMailboxPermission("full@contoso.com", true)
		}, script: func(tok string) []step {
			// Another MAIL FROM is accepted and the message refused after
			// the final dot; FullAccess gives no Send As.
			return join(session(tok), submit("other@contoso.com", "a@example.com", "Subject: s\r\n\r\nx\r\n.\r\n"),
				submit("", "a@example.com", "Subject: null sender\r\n\r\nx\r\n.\r\n"),
				submit("FULL@contoso.com", "a@example.com", "Subject: s\r\n\r\nx\r\n.\r\n"),
				submit(shared, "a@example.com", "From: Shared <shared@contoso.com>\r\nSubject: s\r\n\r\nx\r\n.\r\n"),
				submit(mbx, "a@example.com", "From: other@contoso.com\r\nSubject: s\r\n\r\nx\r\n.\r\n"),
				submit(mbx, "a@example.com", "From: a@contoso.com, sender@contoso.com\r\n\r\nx\r\n.\r\n"),
				submit(mbx, "a@example.com", "no header at all\r\n.\r\n"),
				quit)
		}},
		{name: "send-as-revoked", setup: func(s *o365smtptest.Server) { s.SetSendAs(s.SharedMailbox, false) }, script: func(tok string) []step {
			return join(session(tok), submit(shared, "a@example.com", "Subject: s\r\n\r\nx\r\n.\r\n"), quit)
		}},
		{name: "send-as-at-mail", opts: []o365smtptest.Option{emulator.WithSendAsRefusedAtMail()}, script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<other@contoso.com>"), cmd("MAIL FROM:<>"), cmd("MAIL FROM:<"+shared+">"), quit)
		}},
		{name: "smtputf8-accepted", opts: []o365smtptest.Option{emulator.WithSMTPUTF8Accepted()}, script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+"> BODY=8BITMIME SMTPUTF8"), quit)
		}},
		{name: "max-send-size", opts: []o365smtptest.Option{o365smtptest.WithMaxSendSize(100)}, script: func(tok string) []step {
			m100 := "Subject: x\r\n\r\n" + strings.Repeat("y", 100-16) + "\r\n"
			return join(session(tok), cmd("MAIL FROM:<"+mbx+"> SIZE=5000"), cmd("RSET"),
				submit(mbx, "a@example.com", m100+".\r\n"),
				submit(mbx, "a@example.com", strings.Repeat("z", 5000)+"\r\n.\r\n"), quit)
		}},
		{name: "scenario-transient-data-end", setup: scenario("transient-data-end"), script: func(tok string) []step {
			msg := "Subject: s\r\n\r\nx\r\n.\r\n"
			return join(session(tok), submit(mbx, "a@example.com", msg), submit(mbx, "a@example.com", msg),
				submit(mbx, "a@example.com", msg), submit(mbx, "a@example.com", msg), quit)
		}},
		{name: "scenario-quota-exceeded", setup: scenario("quota-exceeded"), script: func(tok string) []step {
			return join(session(tok), submit(mbx, "a@example.com", "Subject: s\r\n\r\nx\r\n.\r\n"), quit)
		}},
		{name: "scenario-suspended-send-as", setup: scenario("suspended-send-as"), script: func(tok string) []step {
			return join(session(tok), submit(mbx, "a@example.com", "Subject: s\r\n\r\nx\r\n.\r\n"), quit)
		}},
		{name: "scenario-fullaccess-not-propagated", setup: scenario("fullaccess-not-propagated"), script: func(tok string) []step {
			return join(session(tok), submit(mbx, "a@example.com", "Subject: s\r\n\r\nx\r\n.\r\n"), quit)
		}},
		{name: "scenario-hve", setup: scenario("hve"), opts: []o365smtptest.Option{o365smtptest.WithTokenLifetime(5 * time.Minute)}, script: func(tok string) []step {
			return join(cmd("EHLO c"), startTLS, cmd("EHLO c"), auth("nobody@contoso.com", tok), auth(mbx, tok), quit)
		}},
		{name: "plain-text-mail", script: func(tok string) []step {
			return join(cmd("EHLO c"), cmd("MAIL FROM:<"+mbx+">"), cmd("GET / HTTP/1.1"), cmd("Host: x"), cmd("\x16\x03\x01"), quit)
		}},
		{name: "tls-1.1-refused", minTLS: tls.VersionTLS10, opts: []o365smtptest.Option{emulator.WithMaxTLSVersion(tls.VersionTLS11)}, script: func(tok string) []step {
			return join(cmd("EHLO c"), startTLS, cmd("EHLO c"), eof)
		}},
		{name: "tls-1.1-refused-implicit", implicit: true, minTLS: tls.VersionTLS10,
			opts: []o365smtptest.Option{emulator.WithMaxTLSVersion(tls.VersionTLS11), o365smtptest.WithImplicitTLS()}, script: func(tok string) []step {
				return join(eof)
			}},
		{name: "not-authenticated", script: func(tok string) []step {
			return join(cmd("EHLO c"), startTLS, cmd("EHLO c"), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), quit)
		}},
		{name: "recipients", script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<reject-me@example.com>"), cmd(`RCPT TO:<"Reject.x"@example.com>`),
				cmd("RCPT TO:<rejected>"), cmd("RCPT TO:<a@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@example.com"),
				cmd("RCPT TO:<b@example.com> NOTIFY=NEVER,SUCCESS"), cmd("RCPT TO:<b@example.com> ORCPT=bad"), cmd("RCPT TO:<b@example.com> RRVS=x"),
				cmd("RCPT TO:<b@example.com> BY=120;R"), cmd("RCPT TO:<b@example.com> MT-PRIORITY=3"), cmd("RCPT TO:<b@example.com> FOO=1"),
				cmd("RCPT TO:b@example.com"), cmd("RCPT TO:<>"), cmd("RCPT <b@example.com>"), cmd("RCPT TO:<@relay.example:c@example.com>"),
				cmd("rcpt to: <d@example.com>"), cmd("DATA"), sendRaw("Subject: r\r\n\r\nx\r\n.\r\n", 1), quit)
		}},
		{name: "too-many-recipients", script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), pipe(many...), cmd("DATA"), sendRaw(".\r\n", 1), quit)
		}},
		{name: "mail-parameters", script: func(tok string) []step {
			return join(session(tok),
				cmd("MAIL FROM:<"+mbx+"> SIZE=100 BODY=8BITMIME SMTPUTF8"), cmd("RSET"),
				cmd("MAIL FROM:<"+mbx+"> BODY=7BIT RET=HDRS ENVID=abc+2Bd AUTH=<>"), cmd("RSET"),
				cmd("MAIL FROM:<"+mbx+"> AUTH="+mbx), cmd("RSET"),
				cmd("MAIL FROM:<"+mbx+"> SIZE=x"), cmd("MAIL FROM:<"+mbx+"> SIZE=999999999999"), cmd("MAIL FROM:<"+mbx+"> SIZE=157286401"),
				cmd("MAIL FROM:<"+mbx+"> BODY=FOO"), cmd("MAIL FROM:<"+mbx+"> RET=X"), cmd("MAIL FROM:<"+mbx+"> ENVID=+4"),
				cmd("MAIL FROM:<"+mbx+"> AUTH=+"), cmd("MAIL FROM:<"+mbx+"> AUTH=bad"), cmd("MAIL FROM:<"+mbx+"> REQUIRETLS"),
				cmd("MAIL FROM:<"+mbx+"> FOO=1"), cmd("MAIL FROM:<"+mbx+"> A=B=C"), cmd("MAIL FROM:"+mbx), cmd("MAIL "+mbx),
				cmd("MAIL FROM:<a b@c>"), cmd("MAIL FROM:<\"quoted\\\"x\"@contoso.com>"),
				cmd("MAIL FROM:<"+mbx+"> BODY=BINARYMIME"), cmd("RCPT TO:<a@example.com>"), cmd("DATA"),
				bdat("Subject: b\r\n\r\n", true), cmd("NOOP"),
				quit)
		}},
		{name: "bdat", script: func(tok string) []step {
			return join(session(tok), bdat("abc", false), cmd("BDAT"), cmd("BDAT 1 2 3"), cmd("BDAT 1 FIRST"), cmd("BDAT -1"),
				cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"),
				bdat("Subject: b\r\n\r\n", false), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<b@example.com>"), cmd("DATA"),
				sendRaw("BDAT 6 last\r\nbody\r\n", 1),
				cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), bdat("ab", false), cmd("RSET"), cmd("BDAT 0 LAST"),
				cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("BDAT 0 LAST"),
				quit)
		}},
		{name: "oversize", opts: []o365smtptest.Option{o365smtptest.WithMaxMessageSize(100)}, script: func(tok string) []step {
			m99 := "Subject: x\r\n\r\n" + strings.Repeat("y", 99-16) + "\r\n"
			m100 := "Subject: x\r\n\r\n" + strings.Repeat("y", 100-16) + "\r\n"
			return join(session(tok), cmd("MAIL FROM:<"+mbx+"> SIZE=101"), cmd("MAIL FROM:<"+mbx+"> SIZE=100"),
				cmd("RCPT TO:<a@example.com>"), cmd("DATA"), sendRaw(m100+".\r\n", 1),
				submit(mbx, "a@example.com", m99+".\r\n"),
				submit(mbx, "a@example.com", strings.Repeat("z", 5000)+"\r\n.\r\n"),
				cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), sendRaw("BDAT 60\r\n"+strings.Repeat("b", 60), 1),
				sendRaw("BDAT 41 LAST\r\n"+strings.Repeat("b", 41), 1), cmd("RCPT TO:<a@example.com>"),
				cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), sendRaw("BDAT 100 LAST\r\n"+strings.Repeat("b", 100), 1),
				quit)
		}},
		{name: "commands", script: func(tok string) []step {
			return join(cmd("NOOP"), cmd("RSET"), cmd("VRFY a@example.com"), cmd("HELP"), cmd("EXPN list"), cmd("TURN"),
				cmd("LHLO c"), cmd("EHLO"), cmd("HELO"), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("DATA"),
				cmd("noop"), cmd("STARTTLS now"), cmd("RSET extra"), cmd("ABCD x"), cmd("XYZZY"), cmd("FOO"), cmd(""), eof)
		}},
		{name: "out-of-order", script: func(tok string) []step {
			return join(session(tok), cmd("RCPT TO:<a@example.com>"), cmd("DATA"), cmd("MAIL FROM:<"+mbx+">"), cmd("DATA"),
				cmd("DATA now"), cmd("RCPT TO:<a@example.com>"), cmd("RSET"), cmd("RCPT TO:<a@example.com>"),
				cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("EHLO c"), cmd("DATA"), cmd("STARTTLS"), cmd("EHLO c"),
				cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("MAIL FROM:<"+shared+">"), cmd("DATA"),
				sendRaw("Subject: twice\r\n\r\n.\r\n", 1), quit)
		}},
		{name: "starttls-then-hello", script: func(tok string) []step {
			return join(startTLS, cmd("MAIL FROM:<"+mbx+">"), cmd("AUTH XOAUTH2 x"), cmd("EHLO c"), cmd(" STARTTLS"), quit)
		}},
		{name: "starttls-resets", script: func(tok string) []step {
			return join(cmd("EHLO c"), cmd("FOO"), cmd("FOO"), cmd("FOO"), cmd(" starttls "), step{tls: true}, cmd("FOO"), cmd("FOO"), cmd("FOO"), cmd("FOO"), eof)
		}},
		{name: "pipelining", script: func(tok string) []step {
			return join(cmd("EHLO c"), startTLS, pipe("EHLO c", "AUTH XOAUTH2 "+b64("user="+mbx+"\x01auth=Bearer "+tok+"\x01\x01"),
				"MAIL FROM:<"+mbx+">", "RCPT TO:<a@example.com>", "RCPT TO:<reject@example.com>", "RCPT TO:<b@example.com>", "DATA"),
				sendRaw("Subject: p\r\n\r\nbody\r\n.\r\nMAIL FROM:<"+mbx+">\r\nRCPT TO:<c@example.com>\r\nDATA\r\n", 4),
				sendRaw("Subject: q\r\n\r\n.\r\nQUIT\r\n", 2), eof)
		}},
		{name: "data-content", script: func(tok string) []step {
			return join(session(tok), submit(mbx, "a@example.com", "Subject: c\r\n\r\nbare\nlf\n.not-unstuffed\r\n.\rX\r\n..\r\nend\r\n.\r\n"), quit)
		}},
		{name: "data-eof", script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("DATA"), sendRaw("Subject: x\r\n\r\nunfinished", 0), halfClose, eof)
		}},
		{name: "long-line", script: func(tok string) []step {
			return join(cmd("EHLO c"), sendRaw(long, 0), eof)
		}},
		{name: "long-line-data", script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("DATA"), sendRaw(long, 0), eof)
		}},
		{name: "long-line-auth", script: func(tok string) []step {
			return join(cmd("EHLO c"), startTLS, cmd("EHLO c"), cmd("AUTH XOAUTH2"), sendRaw(long, 0), eof)
		}},
		{name: "connection-limit", others: 3, script: func(tok string) []step {
			return join(session(tok), submit(mbx, "a@example.com", goodMsg), quit)
		}},
		{name: "connection-limit-off", others: 3, setup: func(s *o365smtptest.Server) { s.SetConnectionLimit(0) }, script: ok},
		{name: "misc", script: func(tok string) []step {
			return join(session(tok), cmd("NOOP x"), cmd("VRFY"), cmd("ehlo  c"), cmd("AUTH LOGIN"), cmd("MAIL FROM:<"+mbx+">"),
				cmd("RCPT TO:<a@example.com>"), bdat("ab", false), cmd("RSET"), bdat("x", true), cmd("MAIL FROM:<"+mbx+">"),
				cmd("HELO c"), cmd("DATA"), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("BDAT 0"), cmd("EHLO c"),
				cmd("BDAT 0 LAST"), quit)
		}},
		{name: "tls-too-old", opts: []o365smtptest.Option{emulator.WithMaxTLSVersion(tls.VersionTLS11)}, script: func(tok string) []step {
			return join(cmd("EHLO c"), startTLS, eof)
		}},
		// Faults.
		{name: "fault-banner-implicit", opts: []o365smtptest.Option{o365smtptest.WithImplicitTLS()}, implicit: true, setup: func(s *o365smtptest.Server) {
			s.Fail(o365smtptest.StageConnect, o365smtptest.Fault{Delay: time.Millisecond})
			s.Fail(o365smtptest.StageBanner, o365smtptest.Fault{Reply: "220-custom\n220 banner"})
		}, script: func(tok string) []step { return join(cmd("EHLO c"), auth(mbx, tok), quit) }},
		{name: "fault-ehlo-2xx", setup: fault(o365smtptest.StageEHLO, o365smtptest.Fault{Reply: "250 only this", Times: 1}), script: func(tok string) []step {
			return join(cmd("EHLO c"), startTLS, cmd("EHLO c"), auth(mbx, tok), quit)
		}},
		{name: "fault-connect-reply", setup: fault(o365smtptest.StageConnect, o365smtptest.Fault{Reply: "421 4.3.2 Service not available"}), script: func(string) []step { return []step{eof} }},
		{name: "fault-connect-reply-tls", opts: []o365smtptest.Option{o365smtptest.WithImplicitTLS()}, setup: fault(o365smtptest.StageConnect, o365smtptest.Fault{Reply: "554 5.7.1 go away\nsecond line"}), script: func(string) []step { return []step{eof} }},
		{name: "fault-connect-drop", setup: fault(o365smtptest.StageConnect, drop), script: func(string) []step { return []step{eof} }},
		{name: "fault-connect-delay", setup: fault(o365smtptest.StageConnect, o365smtptest.Fault{Delay: time.Millisecond}), script: func(string) []step { return quit }},
		{name: "fault-banner-reply", setup: fault(o365smtptest.StageBanner, o365smtptest.Fault{Reply: "554 5.3.2 Service unavailable"}), script: func(string) []step { return []step{eof} }},
		{name: "fault-banner-2xx", setup: fault(o365smtptest.StageBanner, o365smtptest.Fault{Reply: "220 welcome"}), script: func(string) []step { return quit }},
		{name: "fault-banner-drop", setup: fault(o365smtptest.StageBanner, drop), script: func(string) []step { return []step{eof} }},
		{name: "fault-ehlo-reply", setup: fault(o365smtptest.StageEHLO, o365smtptest.Fault{Reply: "451-first line\n451 4.7.0 second line", Times: 2}), script: func(tok string) []step {
			return join(cmd("EHLO c"), cmd("HELO c"), cmd("EHLO c"), startTLS, cmd("MAIL FROM:<"+mbx+">"), cmd("EHLO c"), quit)
		}},
		{name: "fault-ehlo-drop", setup: fault(o365smtptest.StageEHLO, drop), script: func(string) []step { return join(cmd("EHLO c"), eof) }},
		{name: "fault-ehlo-421", setup: fault(o365smtptest.StageEHLO, o365smtptest.Fault{Reply: "421 4.3.2 Service not available"}), script: func(string) []step { return join(cmd("EHLO c"), eof) }},
		{name: "fault-starttls-reply", setup: fault(o365smtptest.StageSTARTTLS, o365smtptest.Fault{Reply: "454 4.7.0 TLS not available", Times: 1}), script: func(tok string) []step {
			return join(cmd("EHLO c"), cmd("STARTTLS"), cmd("EHLO c"), auth(mbx, tok), startTLS, cmd("EHLO c"), quit)
		}},
		{name: "fault-starttls-drop", setup: fault(o365smtptest.StageSTARTTLS, drop), script: func(string) []step { return join(cmd("EHLO c"), cmd("STARTTLS"), eof) }},
		{name: "fault-auth-reply", setup: fault(o365smtptest.StageAuth, o365smtptest.Fault{Reply: "454 4.7.0 Temporary authentication failure", Times: 3}), script: func(tok string) []step {
			return join(cmd("EHLO c"), startTLS, cmd("EHLO c"), auth(mbx, tok), cmd("AUTH XOAUTH2"), cmd(b64("x")),
				cmd("AUTH LOGIN"), cmd(b64("u")), cmd(b64("p")), auth(mbx, tok), quit)
		}},
		{name: "fault-auth-drop", setup: fault(o365smtptest.StageAuth, drop), script: func(tok string) []step { return join(session(tok), eof) }},
		{name: "fault-mail-reply", setup: fault(o365smtptest.StageMail, o365smtptest.Fault{Reply: "452 4.3.1 Insufficient system resources", Times: 1}), script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("MAIL FROM:<"+mbx+">"), quit)
		}},
		{name: "fault-mail-421", setup: fault(o365smtptest.StageMail, o365smtptest.Fault{Reply: "421 4.4.2 Connection dropped"}), script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), eof)
		}},
		{name: "fault-mail-drop", setup: fault(o365smtptest.StageMail, drop), script: func(tok string) []step { return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), eof) }},
		{name: "fault-mail-text", setup: fault(o365smtptest.StageMail, o365smtptest.Fault{Reply: "server busy", Times: 1}), script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), quit)
		}},
		{name: "fault-rcpt-reply", setup: fault(o365smtptest.StageRcpt, o365smtptest.Fault{Reply: "550 5.4.1 Recipient address rejected: Access denied", Times: 1}), script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("RCPT TO:<b@example.com>"), cmd("DATA"), sendRaw("Subject: f\r\n\r\n.\r\n", 1), quit)
		}},
		{name: "fault-rcpt-drop", setup: fault(o365smtptest.StageRcpt, drop), script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), eof)
		}},
		{name: "fault-data-reply", setup: fault(o365smtptest.StageData, o365smtptest.Fault{Reply: "451 4.3.0 Temporary failure", Times: 1}), script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("DATA"), cmd("RCPT TO:<a@example.com>"),
				submit(mbx, "a@example.com", goodMsg), quit)
		}},
		{name: "fault-data-bdat", setup: fault(o365smtptest.StageData, o365smtptest.Fault{Reply: "451 4.3.0 Temporary failure"}), script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), bdat("Subject: b\r\n\r\n", true), quit)
		}},
		{name: "fault-data-drop", setup: fault(o365smtptest.StageData, drop), script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("DATA"), eof)
		}},
		{name: "fault-data-end-reply", setup: fault(o365smtptest.StageDataEnd, o365smtptest.Fault{Reply: "432 4.3.2 Concurrent connections limit exceeded.", Times: 2}), script: func(tok string) []step {
			return join(session(tok), submit(mbx, "a@example.com", goodMsg), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"),
				bdat("Subject: b\r\n\r\n", true), submit(mbx, "a@example.com", goodMsg), quit)
		}},
		{name: "fault-data-end-drop", setup: fault(o365smtptest.StageDataEnd, drop), script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("DATA"), sendRaw(goodMsg, 1))
		}},
		{name: "fault-delay", setup: func(s *o365smtptest.Server) {
			for st := o365smtptest.StageConnect; st <= o365smtptest.StageDataEnd; st++ {
				s.Fail(st, o365smtptest.Fault{Delay: time.Millisecond})
			}
		}, script: ok},
		{name: "fault-times", setup: func(s *o365smtptest.Server) {
			s.Fail(o365smtptest.StageRcpt, busy)
		}, after: func(s *o365smtptest.Server) {
			s.ClearFaults()
			s.Fail(o365smtptest.StageRcpt, o365smtptest.Fault{Reply: "450 4.2.0 first", Times: 1})
			s.Fail(o365smtptest.StageRcpt, busy)
		}, script: func(tok string) []step {
			return join(session(tok), cmd("MAIL FROM:<"+mbx+">"), cmd("RCPT TO:<a@example.com>"), cmd("RCPT TO:<a@example.com>"), cmd("RCPT TO:<a@example.com>"), quit)
		}},
	}
}

// recorder drives one connection and records the transcript.
type recorder struct {
	t      *testing.T
	s      *o365smtptest.Server
	minTLS uint16
	conn   net.Conn
	br     *bufio.Reader
	out    strings.Builder
	dead   bool
}

func (r *recorder) dial(implicit bool) {
	conn, err := net.DialTimeout("tcp", r.s.SMTPAddr, 5*time.Second)
	if err != nil {
		r.t.Fatalf("dial: %v", err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a guard, not a synchronisation
	r.conn = conn
	if implicit {
		r.upgrade()
	}
	r.br = bufio.NewReader(r.conn)
	r.out.WriteString("# connected\n")
	r.readReplies(1) // the banner (or what replaces it)
}

func (r *recorder) upgrade() {
	tc := tls.Client(r.conn, &tls.Config{RootCAs: r.s.CertPool(), ServerName: "127.0.0.1", MinVersion: r.minTLS})
	if err := tc.Handshake(); err != nil {
		r.out.WriteString("# TLS handshake failed\n")
		r.dead = true
		return
	}
	r.conn = tc
	r.br = bufio.NewReader(tc)
	r.out.WriteString("# TLS\n")
}

// readReplies reads n complete replies, recording each line.
func (r *recorder) readReplies(n int) {
	for i := 0; i < n && !r.dead; {
		line, err := r.br.ReadString('\n')
		if line != "" {
			r.record(line)
		}
		if err != nil {
			r.closed(err)
			return
		}
		if len(line) < 4 || line[3] != '-' {
			i++
		}
	}
}

func (r *recorder) record(line string) {
	if text, ok := strings.CutSuffix(line, "\r\n"); ok && !strings.ContainsAny(text, "\r\n") {
		r.out.WriteString("S: " + text + "\n")
		return
	}
	r.out.WriteString("S! " + strconv.Quote(line) + "\n")
}

func (r *recorder) closed(err error) {
	r.dead = true
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), isReset(err):
		r.out.WriteString("# closed by the server\n")
	default:
		r.out.WriteString("# read error: " + err.Error() + "\n")
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset by peer")
}

func (r *recorder) run(st step) {
	if r.dead {
		return
	}
	switch {
	case st.tls:
		r.upgrade()
	case st.eof:
		rest, err := io.ReadAll(r.br)
		for _, l := range strings.SplitAfter(string(rest), "\n") {
			if l != "" {
				r.record(l)
			}
		}
		if err == nil {
			err = io.EOF
		}
		r.closed(err)
	case st.half:
		if cw, ok := r.conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		r.out.WriteString("# client closed its side\n")
	default:
		for _, l := range strings.SplitAfter(st.send, "\r\n") {
			if l == "" {
				continue
			}
			if len(l) > 200 {
				l = fmt.Sprintf("%s... (%d bytes)", l[:40], len(l))
			}
			r.out.WriteString("C: " + strings.TrimSuffix(l, "\r\n") + "\n")
		}
		if _, err := io.WriteString(r.conn, st.send); err != nil {
			r.out.WriteString("# write failed\n")
			r.dead = true
			return
		}
		r.readReplies(st.replies)
	}
}

var (
	bannerTime = regexp.MustCompile(`ready at [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000 \[([0-9A-F]+)\]`)
	authStamp  = regexp.MustCompile(`\[(EMU01CA0001\.namprd00\.prod\.outlook\.com) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ([0-9A-F]+)\]`)
	messageID  = regexp.MustCompile(`EMU01CA0001[0-9A-F]{26}`)
)

// normalise replaces what is random in a transcript: timestamps, session
// IDs (numbered in order of appearance, so that a banner's and an AUTH
// failure's can be told apart) and message IDs.
func normalise(s string) string {
	ids := map[string]string{}
	id := func(h string) string {
		if _, ok := ids[h]; !ok {
			ids[h] = "<SESSION" + strconv.Itoa(len(ids)+1) + ">"
		}
		return ids[h]
	}
	s = bannerTime.ReplaceAllStringFunc(s, func(m string) string {
		return "ready at <TIME> [" + id(bannerTime.FindStringSubmatch(m)[1]) + "]"
	})
	s = authStamp.ReplaceAllStringFunc(s, func(m string) string {
		sm := authStamp.FindStringSubmatch(m)
		return "[" + sm[1] + " <TIME> " + id(sm[2]) + "]"
	})
	return messageID.ReplaceAllString(s, "<MSGID>")
}

func TestGoldenTranscripts(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.opts...)
			if tc.setup != nil {
				tc.setup(s)
			}
			tok := accessToken(t, s)
			if tc.after != nil {
				tc.after(s)
			}
			for range tc.others {
				mustLogin(t, s)
			}
			r := &recorder{t: t, s: s, minTLS: tc.minTLS}
			r.dial(tc.implicit)
			for _, st := range tc.script(tok) {
				r.run(st)
			}
			if !r.dead {
				r.conn.Close()
			}
			if r.conn != nil {
				r.conn.Close()
			}
			for _, m := range s.Messages() {
				fmt.Fprintf(&r.out, "M: mailbox=%s from=%s to=%q size=%d data=%q\n", m.Mailbox, m.From, m.To, m.Size, m.Data)
			}
			got := normalise(r.out.String())
			file := filepath.Join("testdata", "transcripts", tc.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("transcript differs from %s:\n%s", file, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows the first line where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	return fmt.Sprintf("first difference at line %d:\n  want %q\n  got  %q", i+1, lineAt(w, i), lineAt(g, i))
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(the end)"
}
