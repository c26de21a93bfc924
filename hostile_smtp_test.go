package o365smtp_test

// Issue 12, the SMTP side: hostile and broken SMTP servers, each a raw
// listener on 127.0.0.1 speaking SMTP by hand (hsSMTP), with TLS after
// STARTTLS from a self-signed certificate trusted through
// Config.TLSConfig.RootCAs, and a fixed token from a TokenSource.

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/o365smtp/o365smtp"
)

// hsTooLong is how the Message or Hint must say that a reply was too long.
var hsTooLong = regexp.MustCompile(`(?i)too long|longer than|too large|too big|exceed`)

// hsFloodChunk is many "250-" continuation lines: an EHLO or data-end
// reply that never ends.
var hsFloodChunk = bytes.Repeat([]byte("250-"+strings.Repeat("x", 58)+"\r\n"), 1024)

// hsLongLine is 10 MB without a line end.
var hsLongLine = bytes.Repeat([]byte("a"), 10<<20)

// hsFloodCase is one of the unbounded-reply attacks. They are shared with
// the heap test.
type hsFloodCase struct {
	name string
	on   func(s *hsSess, verb, line string) bool
	kind o365smtp.Kind // the Kind the issue wants
}

var hsFloodCases = []hsFloodCase{
	{"ehlo-flood", func(s *hsSess, verb, _ string) bool {
		if verb != "EHLO" || s.tls {
			return false
		}
		s.write("250-hostile.test Hello [127.0.0.1]\r\n")
		s.flood(hsFloodChunk, 256<<20)
		s.done = true
		return true
	}, o365smtp.ErrUnexpectedReply},
	{"ehlo-flood-after-tls", func(s *hsSess, verb, _ string) bool {
		if verb != "EHLO" || !s.tls {
			return false
		}
		s.write("250-hostile.test Hello [127.0.0.1]\r\n250-AUTH LOGIN XOAUTH2\r\n")
		s.flood(hsFloodChunk, 256<<20)
		s.done = true
		return true
	}, o365smtp.ErrUnexpectedReply},
	{"after-dot-flood", func(s *hsSess, verb, _ string) bool {
		if verb != "DATAEND" {
			return false
		}
		s.flood(hsFloodChunk, 256<<20)
		s.done = true
		return true
	}, o365smtp.ErrUnknownOutcome},
	{"10MB-line-greeting", func(s *hsSess, verb, _ string) bool {
		if verb != "BANNER" {
			return false
		}
		s.write("220 ")
		s.flood(hsLongLine, int64(len(hsLongLine)))
		s.write("\r\n")
		s.done = true
		return true
	}, o365smtp.ErrUnexpectedReply},
	{"10MB-line-after-dot", func(s *hsSess, verb, _ string) bool {
		if verb != "DATAEND" {
			return false
		}
		s.write("250 2.0.0 ")
		s.flood(hsLongLine, int64(len(hsLongLine)))
		s.write("\r\n")
		s.done = true
		return true
	}, o365smtp.ErrUnknownOutcome},
}

// Item 1: an endless EHLO or data-end reply, and a 10 MB line, end in an
// *Error that says the reply is too long, returned promptly (within the
// bounds of 4096 bytes a line, 128 lines or 64 KiB a reply): Kind
// ErrUnexpectedReply before the message data, ErrUnknownOutcome after it
// (the server may have the message: a verdict it cannot finish is no
// verdict), and the message is never sent twice.
func TestHostileSMTPUnboundedReplies(t *testing.T) {
	for _, tc := range hsFloodCases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHSSMTP(t, tc.on)
			cfg := srv.config(hsJWT(t))
			cfg.MaxAttempts = 3
			cfg.RetryBackoff = time.Millisecond
			s := hsSender(t, cfg)
			ctx := hsCtx(t, 10*time.Second)
			start := time.Now()
			err := s.Send(ctx, hsMsg(t, "flood "+tc.name))
			took := time.Since(start)
			e := hsAsError(t, err)
			if e.Kind != tc.kind {
				t.Errorf("Kind = %s, want %s (%s) after %v", e.Kind, tc.kind, hsShort(err.Error()), took)
			}
			if !hsTooLong.MatchString(e.Message) && !hsTooLong.MatchString(e.Hint) {
				t.Errorf("neither Message %q nor Hint %q says the reply is too long", hsShort(e.Message), hsShort(e.Hint))
			}
			if ctx.Err() != nil {
				t.Errorf("Send returned only when the 10 s context ended (%v): not promptly", took)
			}
			if len(e.Message) > 4096 {
				t.Errorf("Message is %d bytes: the flood reached the error", len(e.Message))
			}
			if strings.HasPrefix(tc.name, "after-dot") || strings.Contains(tc.name, "after-dot") {
				// The data was sent: whatever the Kind, it is never resent.
				if n := srv.count("DATA"); n != 1 {
					t.Errorf("the server saw DATA %d times: a message whose data was sent was sent again", n)
				}
				if e.Retryable() {
					t.Errorf("Retryable() is true after the message data was sent")
				}
			}
			t.Logf("%s: %v in %v", tc.name, hsShort(err.Error()), took)
		})
	}
}

// Item 1: a data-end reply cut short ("250 2" then EOF) is ErrUnknownOutcome,
// never success, and never resent.
func TestHostileSMTPTruncatedAfterDot(t *testing.T) {
	for _, tail := range []string{"250 2", "250 2.0.0 OK <queued@hostile.test>", "250-2.0.0 OK\r\n"} {
		t.Run(strings.ReplaceAll(tail, "\r\n", "CRLF"), func(t *testing.T) {
			srv := newHSSMTP(t, func(s *hsSess, verb, _ string) bool {
				if verb != "DATAEND" {
					return false
				}
				s.write(tail)
				s.done = true
				return true
			})
			cfg := srv.config(hsJWT(t))
			cfg.MaxAttempts = 3
			cfg.RetryBackoff = time.Millisecond
			s := hsSender(t, cfg)
			err := s.Send(hsCtx(t, 10*time.Second), hsMsg(t, "truncated"))
			e := hsAsError(t, err)
			if e.Kind != o365smtp.ErrUnknownOutcome {
				t.Errorf("Kind = %s (%v), want %s", e.Kind, err, o365smtp.ErrUnknownOutcome)
			}
			if n := srv.count("DATA"); n != 1 {
				t.Errorf("the server saw DATA %d times, want 1", n)
			}
		})
	}
}

// hsEchoCase is a server that echoes the AUTH command, or part of it.
type hsEchoCase struct {
	name  string
	reply func(line, blob, token string) string
}

var hsEchoCases = []hsEchoCase{
	{"exchange-echo", func(line, _, _ string) string {
		return "500 5.3.3 Unrecognized command '" + line + "' [BN0PR04CA0123.namprd04.prod.outlook.com 2026-12-01T10:00:00.000Z 08DE2B3C4D5E6F70]"
	}},
	{"blob-only", func(_, blob, _ string) string {
		return "500 5.3.3 Unrecognized command '" + blob + "' [BN0PR04CA0123.namprd04.prod.outlook.com]"
	}},
	{"truncated-40", func(_, blob, _ string) string {
		return "500 5.3.3 Unrecognized command 'AUTH XOAUTH2 " + blob[:40] + "' [BN0PR04CA0123.namprd04.prod.outlook.com]"
	}},
	{"token-fragment-middle", func(_, _, token string) string {
		return "500 5.3.3 Unrecognized command '" + token[60:100] + "'"
	}},
	{"decoded", func(_, _, token string) string {
		return "500 5.3.3 Unrecognized command 'user=" + hsMailbox + " auth=Bearer " + token + "'"
	}},
	{"535-with-token", func(_, _, token string) string {
		return "535 5.7.3 Authentication unsuccessful: token " + token + " [BN0PR04CA0123.namprd04.prod.outlook.com]"
	}},
	{"multiline-echo", func(line, _, token string) string {
		return "500-5.3.3 Unrecognized command\r\n500-'" + line + "'\r\n500 5.3.3 Bearer " + token
	}},
}

// Item 3: a server that echoes the AUTH XOAUTH2 command, a fragment of it or
// the decoded token: the token, the base64 blob and every 16-character
// fragment of them are in none of the error's texts, its Unwrap chain, its
// fmt forms, nor the Debug log.
func TestHostileSMTPTokenEcho(t *testing.T) {
	for _, tc := range hsEchoCases {
		t.Run(tc.name, func(t *testing.T) {
			tok := hsJWT(t)
			blob := hsXOAUTH2Blob(hsMailbox, tok)
			var sawBlob string
			srv := newHSSMTP(t, func(s *hsSess, verb, line string) bool {
				if verb != "AUTH" {
					return false
				}
				if f := strings.Fields(line); len(f) == 3 {
					sawBlob = f[2]
				}
				s.write(tc.reply(line, blob, tok) + "\r\n")
				return true
			})
			cfg := srv.config(tok)
			logger, logs := hsDebugLogger()
			cfg.Logger = logger
			s := hsSender(t, cfg)
			err := s.Send(hsCtx(t, 10*time.Second), hsMsg(t, "echo"))
			e := hsAsError(t, err)
			if srv.count("AUTH") == 0 {
				t.Fatalf("the server never received AUTH (%v): the test proves nothing", err)
			}
			if sawBlob != "" && sawBlob != blob {
				t.Logf("note: the client's blob differs from the expected encoding")
				blob = sawBlob
			}
			texts := hsErrorTexts(err)
			texts["debug log"] = logs.String()
			if leak := hsFindLeak(texts, map[string]string{"access token": tok, "XOAUTH2 blob": blob}); leak != "" {
				t.Errorf("token leaked: %s", leak)
			}
			t.Logf("Kind %s: %s", e.Kind, hsShort(err.Error()))
		})
	}
}

// Item 8: 251 and 252 after the final dot are acceptances.
func TestHostileSMTPAcceptedWith25x(t *testing.T) {
	for _, reply := range []string{"251 2.1.5 ok", "252 2.1.5 ok", "251 ok"} {
		t.Run(reply, func(t *testing.T) {
			srv := newHSSMTP(t, func(s *hsSess, verb, _ string) bool {
				if verb != "DATAEND" {
					return false
				}
				s.srv.accept(s.data)
				s.reply(reply)
				return true
			})
			s := hsSender(t, srv.config(hsJWT(t)))
			if err := s.Send(hsCtx(t, 10*time.Second), hsMsg(t, "25x")); err != nil {
				t.Errorf("Send = %v, want nil: the server accepted the message with %q", err, reply)
			}
		})
	}
}

// Item 9: a server that sends two replies to the final dot. The message
// succeeds, its connection is not reused (the server sees a new one for
// the next message), and the next message succeeds too.
func TestHostileSMTPDoubleReplyNotReused(t *testing.T) {
	srv := newHSSMTP(t, func(s *hsSess, verb, _ string) bool {
		if verb == "RSET" && s.n == 1 {
			// The true reply to RSET comes late, after the extra reply
			// has been taken for it: a client that checks for unsolicited
			// data only after RSET never sees it coming.
			time.Sleep(50 * time.Millisecond)
			s.reply("250 2.0.0 Resetting")
			return true
		}
		if verb != "DATAEND" {
			return false
		}
		s.srv.accept(s.data)
		if s.n == 1 {
			// Both in one write, so they arrive together.
			s.write("250 2.0.0 OK <one@hostile.test> [Hostname=hostile.test]\r\n250 2.0.0 OK <again@hostile.test>\r\n")
		} else {
			s.reply("250 2.0.0 OK <two@hostile.test> [Hostname=hostile.test]")
		}
		return true
	})
	cfg := srv.config(hsJWT(t))
	cfg.MaxConnections = 1
	s := hsSender(t, cfg)
	ctx := hsCtx(t, 10*time.Second)
	if err := s.Send(ctx, hsMsg(t, "first")); err != nil {
		t.Fatalf("first Send = %v, want nil", err)
	}
	err2 := s.Send(ctx, hsMsg(t, "second"))
	if err2 != nil {
		t.Errorf("second Send = %v, want nil", err2)
	}
	if n := srv.connections(); n != 2 {
		t.Errorf("the server saw %d connections, want 2: the out-of-step connection was reused", n)
	}
	if got := srv.acceptedSubjects(); len(got) != 2 || got[0] != "first" || got[1] != "second" {
		t.Errorf("accepted %q, want [first second]", got)
	}
}

// Item 10: TLS edges. A 454 to STARTTLS, plaintext sent along with the 220
// of STARTTLS, and a server that offers no AUTH XOAUTH2 after TLS: each a
// typed error, at once, and the server never receives an AUTH line.
func TestHostileSMTPTLSEdges(t *testing.T) {
	cases := []struct {
		name string
		on   func(s *hsSess, verb, line string) bool
		kind o365smtp.Kind // "" : any Kind
	}{
		{"454-tls-not-available", func(s *hsSess, verb, _ string) bool {
			if verb != "STARTTLS" {
				return false
			}
			s.reply("454 4.7.0 TLS not available due to temporary reason")
			return true
		}, o365smtp.ErrTLS},
		{"plaintext-with-220", func(s *hsSess, verb, _ string) bool {
			if verb != "STARTTLS" {
				return false
			}
			s.write("220 2.0.0 Ready\r\n250 fake\r\n")
			// Then wait for a TLS handshake that a safe client never
			// starts; the session ends when the client hangs up.
			buf := make([]byte, 1024)
			for {
				if _, err := s.conn.Read(buf); err != nil {
					break
				}
			}
			s.done = true
			return true
		}, o365smtp.ErrTLS},
		{"no-starttls-offered", func(s *hsSess, verb, _ string) bool {
			if verb != "EHLO" || s.tls {
				return false
			}
			s.write("250-hostile.test Hello [127.0.0.1]\r\n250-AUTH LOGIN XOAUTH2\r\n250 SIZE 157286400\r\n")
			return true
		}, o365smtp.ErrTLS},
		{"no-xoauth2-after-tls", func(s *hsSess, verb, _ string) bool {
			if verb != "EHLO" || !s.tls {
				return false
			}
			s.write("250-hostile.test Hello [127.0.0.1]\r\n250-AUTH LOGIN PLAIN\r\n250 SIZE 157286400\r\n")
			return true
		}, ""},
		{"no-auth-after-tls", func(s *hsSess, verb, _ string) bool {
			if verb != "EHLO" || !s.tls {
				return false
			}
			s.write("250-hostile.test Hello [127.0.0.1]\r\n250 SIZE 157286400\r\n")
			return true
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHSSMTP(t, tc.on)
			cfg := srv.config(hsJWT(t))
			cfg.MaxAttempts = 3
			cfg.RetryBackoff = time.Millisecond
			s := hsSender(t, cfg)
			ctx := hsCtx(t, 10*time.Second)
			start := time.Now()
			err := s.Send(ctx, hsMsg(t, "tls edge"))
			took := time.Since(start)
			e := hsAsError(t, err)
			if tc.kind != "" && e.Kind != tc.kind {
				t.Errorf("Kind = %s (%v), want %s", e.Kind, err, tc.kind)
			}
			if e.Kind == o365smtp.ErrCanceled || errors.Is(err, o365smtp.ErrCanceled) || ctx.Err() != nil {
				t.Errorf("Send returned %v after %v, when the context ended: not at once", err, took)
			}
			if n := srv.count("AUTH"); n != 0 {
				t.Errorf("the server received %d AUTH lines: the token was sent", n)
			}
			if n := srv.count("MAIL"); n != 0 {
				t.Errorf("the server received MAIL")
			}
			t.Logf("%s: %s %v in %v", tc.name, e.Kind, hsShort(err.Error()), took)
		})
	}
}
