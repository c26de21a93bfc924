package smtpd

import (
	"encoding/base64"
	"errors"
	"strings"
)

// mechanism is the server side of a SASL mechanism. next takes the
// client's response (nil before the first one, when AUTH had no initial
// response) and returns the next challenge, or done with the verdict's
// reply ("" for success).
type mechanism interface {
	next(response []byte) (challenge []byte, done bool, reply []string)
}

// handleAuth answers AUTH: XOAUTH2 in the one-step and the two-step form,
// and LOGIN, which Exchange advertises but, with basic authentication off,
// always refuses. Over plain text no mechanism is offered.
func (ss *session) handleAuth(arg string) {
	switch {
	case ss.helo == "":
		ss.reply(replyHelloFirst)
		return
	case ss.user != "":
		ss.reply(replyAlreadyAuthed)
		return
	}
	parts := strings.Fields(arg)
	if len(parts) == 0 {
		ss.reply(replyAuthNoMechanism)
		return
	}
	var response []byte // the initial response
	if len(parts) > 1 {
		var err error
		if response, err = decodeSASLResponse(parts[1]); err != nil {
			ss.reply(replyAuthBase64)
			return
		}
	}
	ss.s.countAuth()
	var m mechanism
	if ss.isTLS {
		switch strings.ToUpper(parts[0]) {
		case "XOAUTH2":
			m = &xoauth2{ss: ss}
		case "LOGIN":
			m = &login{ss: ss}
		}
	}
	if m == nil {
		ss.refused(StageAuth, nil, false, []string{replyUnrecognizedAuth(ss.c.id)})
		ss.reply(replyUnrecognizedAuth(ss.c.id))
		return
	}
	ss.authing = true
	defer func() { ss.authing = false }()
	for {
		challenge, done, reply := m.next(response)
		if done {
			ss.refused(StageAuth, nil, false, reply)
			ss.reply(reply...)
			return
		}
		ss.reply(replyChallenge(base64.StdEncoding.EncodeToString(challenge)))
		line, err := ss.readLine()
		if err != nil {
			return // the command loop's next read fails the same way
		}
		if line == "*" {
			ss.reply(replyAuthCancelled)
			return
		}
		if response, err = decodeSASLResponse(line); err != nil {
			ss.reply(replyAuthBase64)
			return
		}
	}
}

func decodeSASLResponse(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// xoauth2 is SASL XOAUTH2: "AUTH XOAUTH2 <response>", or "AUTH XOAUTH2",
// an empty 334 challenge, then the response.
type xoauth2 struct {
	ss         *session
	challenged bool
}

func (x *xoauth2) next(response []byte) ([]byte, bool, []string) {
	if response == nil && !x.challenged {
		x.challenged = true
		return nil, false, nil
	}
	return nil, true, x.ss.authXOAUTH2(response)
}

// authXOAUTH2 is the verdict on an XOAUTH2 response.
func (ss *session) authXOAUTH2(resp []byte) []string {
	if lines, ok := ss.fault(StageAuth); !ok || lines != nil {
		return lines
	}
	user, token, err := parseXOAUTH2(resp)
	ss.token = token
	result := AuthFailed
	if err == nil {
		result = ss.s.cfg.Backend.Authenticate(strings.ToLower(user), token)
	}
	if result != AuthOK && !ss.tarpit() {
		return nil
	}
	mailbox := strings.ToLower(user)
	switch result {
	case AuthOK:
	case AuthDisabledForTenant:
		return []string{replySMTPAuthDisabled("Tenant", ss.c.id)}
	case AuthDisabledForMailbox:
		return []string{replySMTPAuthDisabled("Mailbox", ss.c.id)}
	case AuthHVEInvalidUser:
		return []string{replyHVEInvalidUser}
	case AuthHVETokenExpiring:
		return []string{replyHVETokenExpiring}
	default:
		return []string{replyAuthFailed(ss.c.id)}
	}
	ss.user = mailbox
	ss.tx.inTxn = true
	ss.c.authenticated(mailbox)
	return []string{replyAuthOK}
}

// login is SASL LOGIN: it asks for the user name (unless AUTH had it) and
// the password, forgets both and refuses.
type login struct {
	ss    *session
	state int // 0: start, 1: asked for the user name, 2: asked for the password
}

func (l *login) next(response []byte) ([]byte, bool, []string) {
	switch {
	case l.state == 0 && response == nil:
		l.state = 1
		return []byte("Username:"), false, nil
	case l.state < 2:
		l.state = 2
		return []byte("Password:"), false, nil
	}
	if lines, ok := l.ss.fault(StageAuth); !ok || lines != nil {
		return nil, true, lines
	}
	if !l.ss.tarpit() {
		return nil, true, nil
	}
	return nil, true, []string{replyBasicAuthDisabled(l.ss.c.id)}
}

var errXOAUTH2Syntax = errors.New("smtpd: malformed XOAUTH2 response")

// parseXOAUTH2 parses an XOAUTH2 client response,
// "user=" address ^A "auth=Bearer " token ^A ^A, as Exchange Online expects
// it. Other key=value fields are ignored. It never panics, whatever b holds.
func parseXOAUTH2(b []byte) (user, token string, err error) {
	body, ok := strings.CutSuffix(string(b), "\x01\x01")
	if !ok || body == "" {
		return "", "", errXOAUTH2Syntax
	}
	var haveUser, haveAuth bool
	for _, kv := range strings.Split(body, "\x01") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return "", "", errXOAUTH2Syntax
		}
		switch k {
		case "user":
			if haveUser {
				return "", "", errXOAUTH2Syntax
			}
			user, haveUser = v, true
		case "auth":
			if haveAuth {
				return "", "", errXOAUTH2Syntax
			}
			scheme, tok, ok := strings.Cut(v, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				return "", "", errXOAUTH2Syntax
			}
			token, haveAuth = tok, true
		}
	}
	if user == "" || token == "" || strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return "", "", errXOAUTH2Syntax
	}
	return user, token, nil
}
