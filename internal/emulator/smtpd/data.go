package smtpd

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
)

// handleData answers DATA, reads the message and answers it. After the
// DATA fault's reply the client is not expected to send the message; the
// transaction is reset either way.
func (ss *session) handleData(arg string) {
	switch {
	case arg != "":
		ss.reply(replyDataArgs)
		return
	case ss.bdat != nil:
		ss.reply(replyDataDuringBDAT)
		return
	case ss.binaryMIME:
		ss.reply(replyDataBinaryMIME)
		return
	case !ss.fromReceived || ss.rcpts == 0:
		ss.reply(replyNeedRcpt)
		return
	}
	defer ss.reset()
	if lines, ok := ss.fault(StageData); !ok || lines != nil {
		ss.refused(StageData, nil, true, lines)
		ss.reply(lines...)
		return
	}
	ss.reply(replyStartData)
	r := newDataReader(ss.br, ss.s.cfg.MaxMessageBytes)
	data, err := io.ReadAll(r)
	ss.tx.add(true, "<the message: "+strconv.Itoa(len(data))+" bytes, then .>")
	var verdict []string
	switch {
	case err == errTooLarge:
		verdict = []string{replyTooLarge}
	case errors.Is(err, errTooLongLine):
		verdict = []string{replyBadData}
	case err != nil:
		verdict = []string{replyTransactionFailed + err.Error()}
	default:
		verdict = ss.deliver(data)
	}
	r.limited = false
	io.Copy(io.Discard, r) // up to the end of the message
	ss.refused(StageDataEnd, data, true, verdict)
	ss.reply(verdict...)
}

// handleBDAT answers BDAT (RFC 3030): a chunk of the message, the last one
// with LAST. The chunk follows the command even when it is refused.
func (ss *session) handleBDAT(arg string) {
	args := strings.Fields(arg)
	switch {
	case len(args) == 0:
		ss.reply(replyBDATNoSize)
		return
	case len(args) > 2:
		ss.reply(replyBDATTooManyArgs)
		return
	case len(args) == 2 && !strings.EqualFold(args[1], "LAST"):
		ss.reply(replyBDATBadArg)
		return
	}
	last := len(args) == 2
	size, err := strconv.ParseUint(args[0], 10, 32)
	if err != nil {
		ss.reply(replyBDATBadSize)
		return
	}
	if !ss.fromReceived || ss.rcpts == 0 {
		ss.reply(replyNeedRcpt)
		ss.discard(int64(size))
		return
	}
	if ss.bdatBytes+int64(size) > ss.s.cfg.MaxMessageBytes {
		ss.refused(StageDataEnd, nil, true, []string{replyTooLarge})
		ss.reply(replyTooLarge)
		ss.discard(int64(size))
		ss.reset()
		return
	}
	if ss.bdat == nil {
		ss.bdat = new(bytes.Buffer)
	}
	ss.lim.limit = 0 // a chunk is bytes, not lines
	_, err = io.CopyN(ss.bdat, ss.br, int64(size))
	ss.lim.limit = MaxLineLength
	if err != nil {
		return // the connection is broken: the command loop's next read fails
	}
	ss.bdatBytes += int64(size)
	if !last {
		ss.reply(replyBDATContinue)
		return
	}
	verdict := ss.deliver(ss.bdat.Bytes())
	ss.refused(StageDataEnd, ss.bdat.Bytes(), true, verdict)
	ss.reset()
	ss.reply(verdict...)
}

// discard reads and forgets n bytes of a refused chunk.
func (ss *session) discard(n int64) {
	ss.lim.limit = 0
	io.CopyN(io.Discard, ss.br, n)
	ss.lim.limit = MaxLineLength
}

// deliver decides on a whole message, after the data-end fault, and
// records it if it is accepted. It returns the reply, nil when the
// connection is gone.
func (ss *session) deliver(data []byte) []string {
	if lines, ok := ss.fault(StageDataEnd); !ok || lines != nil {
		return lines
	}
	if ss.c.overLimit() {
		return []string{replyConcurrent}
	}
	header := mail.Header{}
	if m, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		header = m.Header
	}
	if r := ss.submitVerdict(data, header); r != "" {
		if strings.HasPrefix(r, "5") && !ss.tarpit() {
			return nil
		}
		return replyLines(r)
	}
	msg := Message{
		ID:        msgIDPrefix + randHex(13),
		Mailbox:   ss.user,
		From:      ss.from,
		To:        slices.Clone(ss.to),
		Data:      slices.Clone(data),
		Header:    header,
		Received:  time.Now(),
		Transport: ss.transport(),
		Token:     ss.token,
	}
	reply := []string{replyQueued(msg.ID)}
	msg.Transcript = ss.tx.take(true, reply)
	ss.tx.delivered++
	ss.s.cfg.Backend.Deliver(msg)
	return reply
}

// submitVerdict is the store's refusal of a whole message, or "": its size
// against MaxSendSize, then Send As for MAIL FROM and every From header
// address, then the backend's own.
func (ss *session) submitVerdict(data []byte, header mail.Header) string {
	if max := ss.s.cfg.MaxSendBytes; max > 0 && int64(len(data)) > max {
		return replyMaxSubmission
	}
	be := ss.s.cfg.Backend
	senders := []string{ss.from}
	if from, err := mail.ParseAddressList(header.Get("From")); err == nil {
		for _, a := range from {
			senders = append(senders, a.Address)
		}
	}
	for _, addr := range senders {
		if addr != "" && !be.MaySendAs(ss.user, addr) {
			return replySendAsDeniedData(ss.user, addr)
		}
	}
	if r, ok := be.Submit(ss.user, slices.Clone(ss.to)); !ok {
		return r
	}
	return ""
}

// randHex returns 2n upper-case hex digits.
func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return strings.ToUpper(hex.EncodeToString(b))
}
