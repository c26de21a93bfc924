package o365smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"syscall"

	"github.com/o365smtp/o365smtp/internal/catalog"
	"github.com/o365smtp/o365smtp/internal/smtpclient"
)

// This file builds every *Error of the SMTP path from the structure of the
// failure: the step that failed, and either the server's reply (classified
// by the catalogue) or the local error (network, TLS, a refusal of the
// client's own).

// smtpOp is the Error.Op of each step.
var smtpOp = map[smtpclient.Step]string{
	smtpclient.StepGreeting:  "connect",
	smtpclient.StepEHLO:      "connect",
	smtpclient.StepStartTLS:  "tls",
	smtpclient.StepHandshake: "tls",
	smtpclient.StepAuth:      "auth",
	smtpclient.StepMail:      "mail",
	smtpclient.StepRcpt:      "rcpt",
	smtpclient.StepData:      "data",
	smtpclient.StepDataEnd:   "data",
	smtpclient.StepReset:     "mail",
	smtpclient.StepQuit:      "connect",
}

// smtpStage is the catalogue's stage of each step that has replies.
var smtpStage = map[smtpclient.Step]string{
	smtpclient.StepGreeting: catalog.StageConnect,
	smtpclient.StepEHLO:     catalog.StageEHLO,
	smtpclient.StepStartTLS: catalog.StageStartTLS,
	smtpclient.StepAuth:     catalog.StageAuth,
	smtpclient.StepMail:     catalog.StageMail,
	smtpclient.StepRcpt:     catalog.StageRcpt,
	smtpclient.StepData:     catalog.StageData,
	smtpclient.StepDataEnd:  catalog.StageDataEnd,
	smtpclient.StepReset:    catalog.StageMail,
}

// inTransaction reports whether step is part of a message transaction
// (after AUTH): a broken connection there is worth a retry on a new one.
func inTransaction(step smtpclient.Step) bool {
	switch step {
	case smtpclient.StepMail, smtpclient.StepRcpt, smtpclient.StepData, smtpclient.StepReset:
		return true
	}
	return false
}

// sessionError classifies a failed step of an SMTP session. refused lists
// the refused recipients of an "rcpt" failure; from is the message's From,
// for the Hints that name it.
func (s *Sender) sessionError(ctx context.Context, err error, refused []string, from string) *Error {
	var re *smtpclient.ReplyError
	if errors.As(err, &re) {
		return s.replyError(re.Step, re.Reply, refused, from)
	}
	step := smtpclient.StepGreeting
	var se *smtpclient.Error
	if errors.As(err, &se) {
		step, err = se.Step, se.Err
	}
	op := smtpOp[step]
	addr := s.addr()
	if step == smtpclient.StepDataEnd {
		return &Error{Kind: ErrUnknownOutcome, Op: op, Message: "the connection ended after the message data was sent, before the server's reply: " + err.Error(),
			Hint: "The message may have been delivered. It was not resent, to avoid a duplicate: check the recipient or the mailbox's Sent Items before sending it again.",
			Err:  err, retry: retryNever}
	}
	if cerr := ctxEnded(ctx); cerr != nil {
		return canceledError(op, cerr)
	}
	if e := refusalError(op, addr, err); e != nil {
		return e
	}
	if e := tlsError(addr, err); e != nil {
		return e
	}
	var pe *smtpclient.ProtocolError
	if errors.As(err, &pe) || errors.Is(err, smtpclient.ErrLineTooLong) || errors.Is(err, smtpclient.ErrReplyTooLong) {
		e := &Error{Kind: ErrUnexpectedReply, Op: op, Message: catalog.Sanitize(err.Error()),
			Hint: fmt.Sprintf("%s does not speak SMTP as Exchange Online does: check Host and Port (Exchange Online: smtp.office365.com, port 587).", addr),
			Err:  err, retry: retryNever}
		if inTransaction(step) {
			e.Hint = "The server broke the SMTP protocol; the message was not sent. It is retried on a new connection if attempts remain."
			e.retry = retryTransient
		}
		return e
	}
	var ne net.Error
	if step == smtpclient.StepGreeting && errors.As(err, &ne) && ne.Timeout() {
		return &Error{Kind: ErrConnection, Op: op, Message: fmt.Sprintf("no SMTP greeting from %s within %s", addr, greetingTimeout),
			Hint: fmt.Sprintf("Exchange Online greets at once. A silent server is usually not SMTP on that port: port 465 expects implicit TLS (set Security to \"tls\", or use port 587 with STARTTLS), 443 is HTTPS. Check Host and Port (%s).", addr),
			Err:  err, retry: retryNever}
	}
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
		hint := fmt.Sprintf("Check that %s is reachable from here (DNS, firewall, egress proxy). Many networks block outbound SMTP ports; Exchange Online submission uses 587.", addr)
		if inTransaction(step) {
			hint = "The connection broke before the message was sent; it is retried on a new connection."
		}
		return &Error{Kind: ErrConnection, Op: op, Message: "the connection failed: " + err.Error(), Hint: hint, Err: err, retry: retryTransient}
	}
	return &Error{Kind: ErrConnection, Op: op, Message: "the SMTP session failed: " + catalog.Sanitize(err.Error()),
		Hint: "Check Host, Port and Security.", Err: err, retry: retryNever}
}

// refusalError classifies the client's own refusals, or returns nil.
func refusalError(op, addr string, err error) *Error {
	switch {
	case errors.Is(err, smtpclient.ErrNotEncrypted):
		return &Error{Kind: ErrTLS, Op: "tls", Message: err.Error(),
			Hint: "Exchange Online requires STARTTLS on port 587. Check Host, Port and Security.", Err: err, retry: retryNever}
	case errors.Is(err, smtpclient.ErrNoSTARTTLS):
		return &Error{Kind: ErrTLS, Op: "tls", Message: "the server did not offer STARTTLS",
			Hint: fmt.Sprintf("%s did not offer STARTTLS, so the token was not sent. Exchange Online offers it on port 587: check Host and Port.", addr),
			Err:  err, retry: retryNever}
	case errors.Is(err, smtpclient.ErrInjected):
		return &Error{Kind: ErrTLS, Op: "tls", Message: err.Error(),
			Hint: fmt.Sprintf("%s sent data after its STARTTLS reply, which a genuine server never does (it is how STARTTLS command injection works). Nothing was sent. Check for an intercepting proxy on the path to %s.", addr, addr),
			Err:  err, retry: retryNever}
	case errors.Is(err, smtpclient.ErrNoXOAUTH2):
		return &Error{Kind: ErrUnexpectedReply, Op: "auth", Message: err.Error(),
			Hint: fmt.Sprintf("%s does not offer AUTH XOAUTH2 after TLS, so the token was not sent. Exchange Online does on smtp.office365.com:587; a server that does not is not Exchange Online's SMTP AUTH endpoint (check Host), or a front end that does not allow SMTP AUTH.", addr),
			Err:  err, retry: retryNever}
	case errors.Is(err, smtpclient.ErrInvalidAddress):
		return &Error{Kind: ErrInvalidMessage, Op: op, Message: err.Error(),
			Hint: "An address contains characters SMTP cannot carry (such as a line break).", Err: err, retry: retryNever}
	}
	return nil
}

// tlsError classifies a failed TLS handshake, or returns nil.
func tlsError(addr string, err error) *Error {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var rhe tls.RecordHeaderError
	var ae tls.AlertError
	var oe *net.OpError
	switch {
	case errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne):
		return &Error{Kind: ErrTLS, Op: "tls", Message: "the server's certificate cannot be verified: " + err.Error(),
			Hint: fmt.Sprintf("Connect to %s by the DNS name on its certificate (smtp.office365.com, never an IP address). Behind a TLS-inspecting proxy, set CAFile to its CA certificate.", addr),
			Err:  err, retry: retryNever}
	case errors.As(err, &rhe) || errors.As(err, &ae):
		return &Error{Kind: ErrTLS, Op: "tls", Message: "the TLS handshake failed: " + err.Error(),
			Hint: "Exchange Online requires TLS 1.2 or newer. Check that Host and Port point at the SMTP submission service and that nothing intercepts TLS.",
			Err:  err, retry: retryNever}
	case errors.As(err, &oe) && oe.Op == "remote error":
		// A TLS alert from the server, e.g. "protocol version not supported".
		return &Error{Kind: ErrTLS, Op: "tls", Message: "the server refused the TLS handshake: " + err.Error(),
			Hint: "Exchange Online requires TLS 1.2 or newer; this server refused the versions and ciphers offered. Check that Host and Port point at the SMTP submission service.",
			Err:  err, retry: retryNever}
	}
	return nil
}

// connectError classifies a failed TCP connect.
func (s *Sender) connectError(ctx context.Context, err error, addr string) *Error {
	if cerr := ctxEnded(ctx); cerr != nil {
		return canceledError("connect", cerr)
	}
	return &Error{Kind: ErrConnection, Op: "connect", Message: "the connection failed: " + err.Error(),
		Hint: fmt.Sprintf("Check that %s is reachable from here (DNS, firewall, egress proxy). Many networks block outbound SMTP ports; Exchange Online submission uses 587.", addr),
		Err:  err, retry: retryTransient}
}

// replyError builds an *Error from an SMTP reply at step. from is the
// message's From address, if known, for the Hints that name it.
func (s *Sender) replyError(step smtpclient.Step, reply smtpclient.Reply, recipients []string, from string) *Error {
	cr := catalog.ClassifyReply(smtpStage[step], reply.Code, reply.Text())
	v := s.hintValuesFrom(from)
	return &Error{Kind: Kind(cr.Kind), Op: smtpOp[step], Code: cr.Code, EnhancedCode: cr.Enhanced, Message: cr.Text,
		Recipients: recipients, Hint: cr.Hint(v), Err: replyCause(cr), retry: retryOf(cr.Retry)}
}

// replyCause is the Err of a reply's *Error: the reply as net/textproto
// represents one, with the sanitized text.
func replyCause(cr catalog.Reply) *textproto.Error {
	msg := cr.Text
	if cr.Enhanced != "" {
		msg = cr.Enhanced + " " + msg
	}
	return &textproto.Error{Code: cr.Code, Msg: msg}
}

// addr is the SMTP endpoint, host:port.
func (s *Sender) addr() string { return net.JoinHostPort(s.r.host, strconv.Itoa(s.r.port)) }
