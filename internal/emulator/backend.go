package emulator

import (
	"slices"
	"strings"
	"time"

	"github.com/o365smtp/o365smtp/internal/emulator/smtpd"
)

// backend is the tenant's side of the SMTP service: it answers smtpd's
// questions from the tenant's setup, the faults and the options.
type backend struct{ s *Server }

var _ smtpd.Backend = backend{}

// Fault consumes stage's next fault.
func (b backend) Fault(stage smtpd.Stage) (smtpd.Fault, bool) { return b.s.takeFault(stage) }

// Authenticate decides whether token lets the client authenticate as
// mailbox, in Exchange Online's order as far as it can be observed.
func (b backend) Authenticate(mailbox, token string) smtpd.AuthResult {
	s := b.s
	claims, ok := s.verifyAccessToken(token)
	if !ok {
		return smtpd.AuthFailed
	}
	s.mu.Lock()
	t := &s.tenant
	exists := t.mailboxes[mailbox]
	disabled, byMailbox := t.smtpAuthDisabledFor(mailbox)
	registered := t.spRegistered && strings.EqualFold(t.spObjectID, claims.oid)
	fullAccess := t.fullAccess[mailbox] || t.fullAccessLag
	identity := s.identityMaySubmit(claims, mailbox)
	hve := t.hve
	s.mu.Unlock()
	switch {
	case hve && !exists:
		return smtpd.AuthHVEInvalidUser
	case hve && time.Until(claims.exp) < hveExpiryMargin:
		return smtpd.AuthHVETokenExpiring
	case !exists:
		return smtpd.AuthFailed
	case disabled && byMailbox:
		return smtpd.AuthDisabledForMailbox
	case disabled:
		return smtpd.AuthDisabledForTenant
	case !slices.Contains(claims.roles, roleSendAsApp):
		return smtpd.AuthFailed
	case !identity && (!strings.EqualFold(claims.appid, s.ClientID) || !registered || !fullAccess):
		return smtpd.AuthFailed
	}
	return smtpd.AuthOK
}

// MaySendAs applies the tenant's Send As rules.
func (b backend) MaySendAs(mailbox, addr string) bool {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return b.s.tenant.maySendAs(mailbox, addr)
}

// Recipient asks the recipient hook.
func (b backend) Recipient(addr string) (string, bool) { return b.s.opts.recipient(addr) }

// ConnectionLimit is the tenant's (SetConnectionLimit).
func (b backend) ConnectionLimit() int {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return b.s.tenant.connLimit
}

// hveExpiryMargin is how long before its exp High Volume Email starts
// refusing a token with 501 5.5.127 (tarickb/sasl-xoauth2#98 saw it about
// 8.5 minutes before; the reporter's guess was 10).
const hveExpiryMargin = 10 * time.Minute

// Submit applies what a busy or unhealthy tenant refuses after the final
// dot, in this order: the continuous-error suspension, FullAccess not yet
// propagated, the daily recipient quota, and the transient replies.
func (b backend) Submit(mailbox string, rcpts []string) (string, bool) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	t := &b.s.tenant
	switch {
	case t.throttled != "":
		return t.throttled, false
	case t.fullAccessLag && !t.fullAccess[mailbox]:
		return replyLogonFailed, false
	case t.recipientLimit > 0 && t.recipientsSent[mailbox]+len(rcpts) > t.recipientLimit:
		return replyQuotaExceeded, false
	case len(t.dataEndReplies) > 0:
		r := t.dataEndReplies[t.dataEndNext%len(t.dataEndReplies)]
		t.dataEndNext++
		if r != "" {
			return r, false
		}
	}
	return "", true
}

// Deliver records m and counts its recipients against the daily quota.
func (b backend) Deliver(m smtpd.Message) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	b.s.messages = append(b.s.messages, m)
	b.s.delivered(m)
	b.s.tenant.recipientsSent[m.Mailbox] += len(m.To)
}

// RejectPrefixed is the default recipient hook: it refuses, as an unknown
// address, every recipient whose local part (unquoted, in any case) starts
// with "reject", and accepts the others.
func RejectPrefixed(addr string) (reply string, ok bool) {
	local := addr
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local = addr[:i]
	}
	if strings.HasPrefix(strings.ToLower(strings.Trim(local, `"`)), "reject") {
		return smtpd.ReplyRecipientNotFound, false
	}
	return "", true
}
