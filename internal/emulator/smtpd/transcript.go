package smtpd

import (
	"bytes"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TranscriptLine is one line of a session's protocol transcript: a command
// the client sent or a reply line the service wrote.
type TranscriptLine struct {
	Client bool   `json:"client"` // sent by the client; otherwise a reply
	Text   string `json:"text"`
}

// Refusal is a refused attempt: a command or message that got a 4xx or 5xx
// reply (AUTH, MAIL, RCPT, DATA or the verdict after the final dot).
type Refusal struct {
	Stage      Stage
	Reply      []string // the reply's lines
	Mailbox    string   // the authenticated mailbox, "" before AUTH
	From       string   // MAIL FROM, if any
	To         []string // the accepted RCPT TO, if any
	Size       int      // the message's size, for a refused message
	Header     mail.Header
	Transcript []TranscriptLine
	Transport  string
	Token      string // the bearer token of the last AUTH XOAUTH2, if any
	Time       time.Time
}

// RefusalRecorder is what a Backend implements to hear of refused
// attempts.
type RefusalRecorder interface {
	Refused(r Refusal)
}

// Bounds of a transcript: the lines of each segment, and a line's bytes.
const (
	maxTranscriptLines = 100
	maxTranscriptLine  = 512
)

// transcript records a session's lines in two segments: up to AUTH's
// success (the greeting, EHLO, STARTTLS, AUTH), and the current mail
// transaction, which a delivery ends. The XOAUTH2 payload and every AUTH
// response are redacted as they are recorded.
type transcript struct {
	pre, txn  []TranscriptLine
	inTxn     bool
	delivered int // messages delivered on this connection
	skip      int // reply lines already recorded by take
	cut       int // lines left out for the bounds
}

func (t *transcript) add(client bool, text string) {
	if !client && t.skip > 0 {
		t.skip--
		return
	}
	if len(text) > maxTranscriptLine {
		text = strings.ToValidUTF8(text[:maxTranscriptLine], "") + "…"
	} else if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	seg := &t.pre
	if t.inTxn {
		seg = &t.txn
	}
	if len(*seg) >= maxTranscriptLines {
		t.cut++
		return
	}
	*seg = append(*seg, TranscriptLine{Client: client, Text: text})
}

// take returns the transcript so far followed by the reply lines about to
// be written (which are then not recorded again). With end, the mail
// transaction ends: its lines are forgotten.
func (t *transcript) take(end bool, reply []string) []TranscriptLine {
	out := make([]TranscriptLine, 0, len(t.pre)+len(t.txn)+len(reply)+2)
	out = append(out, t.pre...)
	if t.delivered > 0 {
		out = append(out, TranscriptLine{Text: "… " + strconv.Itoa(t.delivered) + " earlier message(s) on this connection …"})
	}
	out = append(out, t.txn...)
	for _, l := range reply {
		out = append(out, TranscriptLine{Text: l})
	}
	if t.cut > 0 {
		out = append(out, TranscriptLine{Text: "… " + strconv.Itoa(t.cut) + " line(s) left out …"})
	}
	if end {
		t.txn, t.skip = nil, len(reply)
	}
	return out
}

// redactCommand returns a command line as the transcript records it:
// AUTH's initial response becomes "<redacted>".
func redactCommand(line string) string {
	f := strings.Fields(line)
	if len(f) > 2 && strings.EqualFold(f[0], "AUTH") {
		return f[0] + " " + f[1] + " <redacted>"
	}
	return line
}

// transport names the session's transport.
func (ss *session) transport() string {
	switch {
	case ss.s.cfg.ImplicitTLS:
		return "SMTP, implicit TLS"
	case ss.isTLS:
		return "SMTP, STARTTLS"
	}
	return "SMTP, plain text"
}

// refused reports a refusal to a Backend that records them, unless reply
// is no refusal (2xx or 3xx, or nothing). data is the refused message, if
// any; end says the mail transaction is over.
func (ss *session) refused(stage Stage, data []byte, end bool, reply []string) {
	if len(reply) == 0 || reply[0] == "" || reply[0][0] == '2' || reply[0][0] == '3' {
		return
	}
	rec, ok := ss.s.cfg.Backend.(RefusalRecorder)
	if !ok {
		return
	}
	r := Refusal{
		Stage: stage, Reply: append([]string(nil), reply...), Mailbox: ss.user, From: ss.from,
		To: append([]string(nil), ss.to...), Size: len(data), Header: mail.Header{},
		Transcript: ss.tx.take(end, reply), Transport: ss.transport(), Token: ss.token, Time: time.Now(),
	}
	if data != nil {
		if m, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
			r.Header = m.Header
		}
	}
	rec.Refused(r)
}
