package smtpd

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Stage is a point in an SMTP session where a fault can be injected. The
// package o365smtptest documents each stage.
type Stage int

// The stages, in the order of a session.
const (
	StageConnect Stage = iota
	StageBanner
	StageEHLO
	StageSTARTTLS
	StageAuth
	StageMail
	StageRcpt
	StageData
	StageDataEnd
)

var stageNames = [...]string{"connect", "banner", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "data_end"}

// String returns the stage's name in lower case, such as "data_end".
func (st Stage) String() string {
	if st >= 0 && int(st) < len(stageNames) {
		return stageNames[st]
	}
	return "Stage(" + strconv.Itoa(int(st)) + ")"
}

// Fault is what the service does at a stage: Delay first, then Hang, Drop
// or Reply, the first that is set (see o365smtptest.Fault).
type Fault struct {
	Drop  bool          // close the connection without a reply
	Reply string        // the reply instead of the normal one
	Delay time.Duration // before anything else
	Hang  bool          // never answer
	Times int           // occurrences it applies to; 0 means all
}

// replyLines renders a reply written by a person, such as
// "451 4.7.500 Server busy" or several lines separated by "\n", as the lines
// to send: "code-text" for every line but the last, "code x.y.z text" for
// the last. A reply that does not start with a three-digit code is sent as
// a 451 with that text.
func replyLines(reply string) []string {
	code, ec, lines := parseReply(reply)
	out := make([]string, len(lines))
	for i, l := range lines {
		switch {
		case i < len(lines)-1:
			out[i] = fmt.Sprintf("%d-%s", code, l)
		case ec == "":
			out[i] = strings.TrimRight(fmt.Sprintf("%d %s", code, l), " ")
		default:
			out[i] = fmt.Sprintf("%d %s %s", code, ec, l)
		}
	}
	return out
}

// parseReply splits reply into its code, its enhanced status code ("" if
// none) and its lines of text.
func parseReply(reply string) (code int, ec string, lines []string) {
	reply = strings.ReplaceAll(strings.TrimRight(reply, "\r\n"), "\r\n", "\n")
	lines = strings.Split(reply, "\n")
	first := lines[0]
	code, err := strconv.Atoi(first[:min(3, len(first))])
	if err != nil || len(first) < 3 || code < 200 || code > 599 || (len(first) > 3 && first[3] != ' ' && first[3] != '-') {
		return 451, "", lines
	}
	// Strip the code (and "-" continuation markers) from every line.
	for i, l := range lines {
		if len(l) >= 4 && l[:3] == first[:3] && (l[3] == ' ' || l[3] == '-') {
			lines[i] = l[4:]
		} else if l == first[:3] {
			lines[i] = ""
		}
	}
	last := len(lines) - 1
	if e, rest, ok := cutEnhancedCode(lines[last], code); ok {
		ec, lines[last] = e, rest
	} else if e, rest, ok := cutEnhancedCode(lines[0], code); ok {
		ec, lines[0] = e, rest
	}
	return code, ec, lines
}

// cutEnhancedCode parses a leading RFC 3463 status code such as "4.7.500"
// of the same class as code, and returns it normalised ("4.7.500" for
// "4.07.500").
func cutEnhancedCode(s string, code int) (string, string, bool) {
	word, rest, _ := strings.Cut(s, " ")
	parts := strings.Split(word, ".")
	if len(parts) != 3 {
		return "", s, false
	}
	var ec [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 || len(p) > 3 || p == "" || p[0] == '+' {
			return "", s, false
		}
		ec[i] = n
	}
	if ec[0] < 2 || ec[0] > 5 || ec[0] != code/100 {
		return "", s, false
	}
	return fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2]), rest, true
}

// applyFault runs f's Delay, Hang and Drop. It reports false when the
// connection is gone.
func (ss *session) applyFault(f Fault) bool {
	if !ss.s.sleep(f.Delay) {
		ss.drop()
		return false
	}
	if f.Hang {
		ss.hang()
		return false
	}
	if f.Drop {
		ss.drop()
		return false
	}
	return true
}

// fault applies stage's fault, if any. It returns the fault's reply lines
// to send instead of the normal reply (nil to proceed), and false when the
// connection is gone.
func (ss *session) fault(stage Stage) ([]string, bool) {
	f, ok := ss.s.cfg.Backend.Fault(stage)
	if !ok {
		return nil, true
	}
	if !ss.applyFault(f) {
		return nil, false
	}
	if f.Reply != "" {
		return replyLines(f.Reply), true
	}
	return nil, true
}

// hang discards the client's input until it closes the connection, the
// idle timeout passes or the server closes, then drops the connection.
func (ss *session) hang() {
	buf := make([]byte, 512)
	for {
		if _, err := ss.c.raw.Read(buf); err != nil {
			break
		}
	}
	ss.drop()
}
