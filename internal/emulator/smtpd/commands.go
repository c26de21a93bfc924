package smtpd

import (
	"strconv"
	"strings"
)

// handle runs one command; cmd is upper case, line the whole command line.
func (ss *session) handle(cmd, arg, line string) {
	switch {
	case cmd == "":
		ss.protocolError(replyBadSyntax)
	case notImplemented[cmd]:
		ss.reply(replyNotImplemented(cmd))
	case cmd == "HELO", cmd == "EHLO":
		ss.handleHello(cmd == "EHLO", arg)
	case cmd == "LHLO":
		ss.reply(replyNotLMTP)
	case cmd == "MAIL":
		ss.noteRefusal, ss.noteStage = true, StageMail
		ss.handleMail(arg)
		ss.noteRefusal = false
	case cmd == "RCPT":
		ss.noteRefusal, ss.noteStage = true, StageRcpt
		ss.handleRcpt(arg)
		ss.noteRefusal = false
	case cmd == "VRFY":
		ss.reply(replyVRFY)
	case cmd == "NOOP":
		ss.reply(replyOK)
	case cmd == "RSET":
		ss.reset()
		ss.reply(replyReset)
	case cmd == "BDAT":
		ss.handleBDAT(arg)
	case cmd == "DATA":
		ss.handleData(arg)
	case cmd == "QUIT":
		ss.reply(replyBye)
		ss.end()
	case cmd == "AUTH":
		ss.handleAuth(arg)
	case cmd == "STARTTLS":
		ss.reply(replyNoTLS) // not offered here, or already TLS
	default:
		ss.unrecognized(line)
	}
}

// handleHello answers EHLO (extended) or HELO. A later one resets the
// transaction, as RSET does; it also does when the EHLO fault replies.
func (ss *session) handleHello(extended bool, arg string) {
	domain, err := parseHelloArgument(arg)
	if err != nil {
		ss.reply(replyHelloArg)
		return
	}
	if ss.helo != "" {
		ss.reset()
	}
	ss.helo = domain
	if lines, ok := ss.fault(StageEHLO); !ok || lines != nil {
		ss.reply(lines...)
		return
	}
	if !extended {
		ss.reply("250 " + hello(ss.c.remoteIP))
		return
	}
	ss.reply(multiline("250", append([]string{hello(ss.c.remoteIP)}, ss.capabilities()...)...)...)
}

// handleMail answers MAIL FROM and its parameters (SIZE, BODY, SMTPUTF8,
// and DSN's RET and ENVID, and AUTH).
func (ss *session) handleMail(arg string) {
	switch {
	case ss.helo == "":
		ss.reply(replyHelloFirst)
		return
	case ss.bdat != nil:
		ss.reply(replyMailDuringBDAT)
		return
	}
	from, rest, ok := parseAddressArg(arg, "FROM:", true)
	if !ok {
		ss.reply(replyMailSyntax)
		return
	}
	params, err := parseArgs(rest)
	if err != nil {
		ss.reply(replyMailParams)
		return
	}
	ss.binaryMIME = false
	if r := checkParams(params, ss.mailParam); r != "" {
		ss.reply(r)
		return
	}
	if lines, ok := ss.fault(StageMail); !ok || lines != nil {
		ss.reply(lines...)
		return
	}
	switch {
	case ss.canSTARTTLS:
		// Plain text on a service that offers STARTTLS.
		ss.reply(replySTARTTLSRequired(ss.c.id))
	case ss.user == "":
		ss.reply(replyNotAuthenticated(ss.c.id))
	case ss.s.cfg.SendAsAtMail && !ss.s.cfg.Backend.MaySendAs(ss.user, from):
		ss.reply(replySendAsDenied)
	default:
		// Another sender is accepted here and refused after the final dot
		// (see deliver).
		ss.from, ss.to, ss.fromReceived = from, nil, true
		ss.reply(replySenderOK)
	}
}

// mailParam checks one parameter of MAIL FROM; it returns the refusal, or
// "".
func (ss *session) mailParam(pa param) string {
	switch pa.key {
	case "SIZE":
		size, err := strconv.ParseUint(pa.value, 10, 32)
		if err != nil {
			return replySizeSyntax
		}
		if int64(size) > ss.s.cfg.MaxMessageBytes {
			return replyTooLarge
		}
	case "SMTPUTF8":
		if !ss.s.cfg.AcceptSMTPUTF8 {
			return replySMTPUTF8
		}
	case "REQUIRETLS":
		return replyRequireTLS
	case "BODY":
		switch strings.ToUpper(pa.value) {
		case "BINARYMIME":
			ss.binaryMIME = true
		case "7BIT", "8BITMIME":
		default:
			return replyBodySyntax
		}
	case "RET":
		switch strings.ToUpper(pa.value) {
		case "FULL", "HDRS":
		default:
			return replyRetSyntax
		}
	case "ENVID":
		v, err := decodeXtext(pa.value)
		if err != nil || v == "" || !isPrintableASCII(v) {
			return replyEnvIDSyntax
		}
	case "AUTH":
		v, err := decodeXtext(pa.value)
		if err != nil || v == "" {
			return replyAuthParamSyntax
		}
		if v != "<>" {
			p := parser{s: v}
			if _, err := p.parseMailbox(); err != nil || p.s != "" {
				return replyAuthParamMailbox
			}
		}
	default:
		return replyUnknownMailParam
	}
	return ""
}

// handleRcpt answers RCPT TO and its parameters (DSN's NOTIFY and ORCPT).
func (ss *session) handleRcpt(arg string) {
	switch {
	case !ss.fromReceived:
		ss.reply(replyNeedMail)
		return
	case ss.bdat != nil:
		ss.reply(replyRcptDuringBDAT)
		return
	}
	rcpt, rest, ok := parseAddressArg(arg, "TO:", false)
	if !ok {
		ss.reply(replyRcptSyntax)
		return
	}
	if ss.rcpts >= MaxRecipients {
		ss.reply(replyTooManyRecipients)
		return
	}
	params, err := parseArgs(rest)
	if err != nil {
		ss.reply(replyRcptParams)
		return
	}
	if r := checkParams(params, rcptParam); r != "" {
		ss.reply(r)
		return
	}
	if lines, ok := ss.fault(StageRcpt); !ok || lines != nil {
		ss.reply(lines...)
		return
	}
	if r, ok := ss.s.cfg.Backend.Recipient(rcpt); !ok {
		ss.reply(replyLines(r)...)
		return
	}
	ss.to = append(ss.to, rcpt)
	ss.rcpts++
	ss.reply(replyRecipientOK)
}

// parseAddressArg parses the argument of MAIL (prefix "FROM:", where
// reverse allows the null path "<>") or RCPT ("TO:"): the address, and the
// parameters after it.
func parseAddressArg(arg, prefix string, reverse bool) (addr, rest string, ok bool) {
	arg, ok = cutPrefixFold(arg, prefix)
	if !ok {
		return "", "", false
	}
	p := parser{s: strings.TrimSpace(arg)}
	var err error
	if reverse {
		addr, err = p.parseReversePath()
	} else {
		addr, err = p.parsePath()
	}
	return addr, p.s, err == nil
}

// checkParams returns check's refusal of the first parameter it refuses,
// or "".
func checkParams(params []param, check func(param) string) string {
	for _, pa := range params {
		if r := check(pa); r != "" {
			return r
		}
	}
	return ""
}

// rcptParam checks one parameter of RCPT TO; it returns the refusal, or "".
func rcptParam(pa param) string {
	switch pa.key {
	case "NOTIFY":
		if !validNotify(pa.value) {
			return replyNotifySyntax
		}
	case "ORCPT":
		if addr, err := decodeTypedAddress(pa.value); err != nil || addr == "" {
			return replyOrcptSyntax
		}
	case "RRVS":
		return replyRRVS
	case "BY":
		return replyDeliverBy
	case "MT-PRIORITY":
		return replyMTPriority
	default:
		return replyUnknownRcptParam
	}
	return ""
}
