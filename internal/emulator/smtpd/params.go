package smtpd

// The parsers of command lines, paths and ESMTP parameters are adapted from
// github.com/emersion/go-smtp v0.25.1 (MIT licence, see LICENSE.go-smtp),
// whose server the emulator used to run on, so that what clients may send
// stays exactly what it was.

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// cutPrefixFold is strings.CutPrefix, case-insensitive.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

// parseCmd splits a command line into its upper-case verb, always four
// letters (any line starting with STARTTLS is STARTTLS), and its argument.
func parseCmd(line string) (cmd, arg string, err error) {
	line = strings.TrimRight(line, "\r\n")
	l := len(line)
	switch {
	case strings.HasPrefix(strings.ToUpper(line), "STARTTLS"):
		return "STARTTLS", "", nil
	case l == 0:
		return "", "", nil
	case l < 4:
		return "", "", fmt.Errorf("command too short: %q", line)
	case l == 4:
		return strings.ToUpper(line), "", nil
	case l == 5:
		return "", "", fmt.Errorf("mangled command: %q", line)
	}
	if line[4] != ' ' {
		return "", "", fmt.Errorf("mangled command: %q", line)
	}
	return strings.ToUpper(line[0:4]), strings.TrimSpace(line[5:]), nil
}

// param is an ESMTP parameter of MAIL or RCPT, its keyword in upper case.
type param struct{ key, value string }

// parseArgs parses ESMTP parameters such as " BODY=8BITMIME SMTPUTF8". A
// repeated keyword keeps its first place and its last value.
func parseArgs(s string) ([]param, error) {
	var out []param
	for _, arg := range strings.Fields(s) {
		var p param
		switch m := strings.Split(arg, "="); len(m) {
		case 2:
			p = param{strings.ToUpper(m[0]), m[1]}
		case 1:
			p = param{strings.ToUpper(m[0]), ""}
		default:
			return nil, fmt.Errorf("failed to parse arg string: %q", arg)
		}
		if i := indexParam(out, p.key); i >= 0 {
			out[i].value = p.value
		} else {
			out = append(out, p)
		}
	}
	return out, nil
}

func indexParam(ps []param, key string) int {
	for i, p := range ps {
		if p.key == key {
			return i
		}
	}
	return -1
}

// parseHelloArgument returns the domain of EHLO or HELO.
func parseHelloArgument(arg string) (string, error) {
	domain, _, _ := strings.Cut(arg, " ")
	if domain == "" {
		return "", errors.New("invalid domain")
	}
	return domain, nil
}

// parser parses command arguments defined in RFC 5321 section 4.1.2.
type parser struct{ s string }

func (p *parser) peekByte() (byte, bool) {
	if len(p.s) == 0 {
		return 0, false
	}
	return p.s[0], true
}

func (p *parser) readByte() (byte, bool) {
	ch, ok := p.peekByte()
	if ok {
		p.s = p.s[1:]
	}
	return ch, ok
}

func (p *parser) acceptByte(ch byte) bool {
	got, ok := p.peekByte()
	if !ok || got != ch {
		return false
	}
	p.readByte()
	return true
}

func (p *parser) expectByte(ch byte) error {
	if !p.acceptByte(ch) {
		return fmt.Errorf("expected '%v'", string(ch))
	}
	return nil
}

func (p *parser) parseReversePath() (string, error) {
	if rest, ok := strings.CutPrefix(p.s, "<>"); ok {
		p.s = rest
		return "", nil
	}
	return p.parsePath()
}

func (p *parser) parsePath() (string, error) {
	hasBracket := p.acceptByte('<')
	if p.acceptByte('@') {
		i := strings.IndexByte(p.s, ':')
		if i < 0 {
			return "", errors.New("malformed a-d-l")
		}
		p.s = p.s[i+1:]
	}
	mbox, err := p.parseMailbox()
	if err != nil {
		return "", fmt.Errorf("in mailbox: %v", err)
	}
	if hasBracket {
		if err := p.expectByte('>'); err != nil {
			return "", err
		}
	}
	return mbox, nil
}

func (p *parser) parseMailbox() (string, error) {
	localPart, err := p.parseLocalPart()
	if err != nil {
		return "", fmt.Errorf("in local-part: %v", err)
	} else if localPart == "" {
		return "", errors.New("local-part is empty")
	}
	if err := p.expectByte('@'); err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString(localPart)
	sb.WriteByte('@')
	for {
		ch, ok := p.peekByte()
		if !ok || ch == ' ' || ch == '\t' || ch == '>' {
			break
		}
		p.readByte()
		sb.WriteByte(ch)
	}
	if strings.HasSuffix(sb.String(), "@") {
		return "", errors.New("domain is empty")
	}
	return sb.String(), nil
}

func (p *parser) parseLocalPart() (string, error) {
	var sb strings.Builder
	if p.acceptByte('"') { // quoted-string
		for {
			ch, ok := p.readByte()
			switch ch {
			case '\\':
				ch, ok = p.readByte()
			case '"':
				return sb.String(), nil
			}
			if !ok {
				return "", errors.New("malformed quoted-string")
			}
			sb.WriteByte(ch)
		}
	}
	for { // dot-string
		ch, ok := p.peekByte()
		if !ok {
			return sb.String(), nil
		}
		switch ch {
		case '@':
			return sb.String(), nil
		case '(', ')', '<', '>', '[', ']', ':', ';', '\\', ',', '"', ' ', '\t':
			return "", errors.New("malformed dot-string")
		}
		p.readByte()
		sb.WriteByte(ch)
	}
}

// hexcharRe matches RFC 4954's hexchar, relaxed so that malformed values
// such as +A are found and refused.
var hexcharRe = regexp.MustCompile(`\+[0-9A-F]?[0-9A-F]?`)

func decodeXtext(val string) (string, error) {
	if !strings.Contains(val, "+") {
		return val, nil
	}
	var replaceErr error
	decoded := hexcharRe.ReplaceAllStringFunc(val, func(match string) string {
		if len(match) != 3 {
			replaceErr = errors.New("incomplete hexchar")
			return ""
		}
		char, err := strconv.ParseInt(match, 16, 8)
		if err != nil {
			replaceErr = err
			return ""
		}
		return string(rune(char))
	})
	return decoded, replaceErr
}

// eUOrDCharRe matches RFC 6533's EmbeddedUnicodeChar, relaxed, and the
// characters QCHAR and QUCHAR disallow.
var eUOrDCharRe = regexp.MustCompile(`\\x[{][0-9A-F]+[}]|[[:cntrl:] \\+=]`)

// decodeUTF8AddrXtext decodes RFC 6533's utf-8-addr-xtext or
// utf-8-addr-unitext.
func decodeUTF8AddrXtext(val string) (string, error) {
	var replaceErr error
	decoded := eUOrDCharRe.ReplaceAllStringFunc(val, func(match string) string {
		if len(match) == 1 {
			replaceErr = errors.New("disallowed character:" + match)
			return ""
		}
		hexpoint := match[3 : len(match)-1]
		char, err := strconv.ParseUint(hexpoint, 16, 21)
		if err != nil {
			replaceErr = err
			return ""
		}
		if !validHexpoint(len(hexpoint), char) {
			replaceErr = errors.New("illegal hexpoint:" + hexpoint)
			return ""
		}
		return string(rune(char))
	})
	return decoded, replaceErr
}

// validHexpoint reports whether char, written with digits hex digits, is
// allowed in RFC 6533's EmbeddedUnicodeChar.
func validHexpoint(digits int, char uint64) bool {
	switch digits {
	case 2:
		return 0x01 <= char && char <= 0x09 || 0x10 <= char && char <= 0x19 || char == 0x20 ||
			char == 0x2B || char == 0x3D || char == 0x7F || char == 0x5C || 0x80 <= char && char <= 0xFF
	case 3:
		return 0x100 <= char && char <= 0xFFF
	case 4:
		return 0x1000 <= char && char <= 0xD7FF || 0xE000 <= char && char <= 0xFFFF
	case 5:
		return 0x1_0000 <= char && char <= 0xF_FFFF
	case 6:
		return 0x10_0000 <= char && char <= 0x10_FFFF
	}
	return false
}

// decodeTypedAddress decodes ORCPT's "type;address".
func decodeTypedAddress(val string) (string, error) {
	tv := strings.SplitN(val, ";", 2)
	if len(tv) != 2 || tv[0] == "" || tv[1] == "" {
		return "", errors.New("bad address")
	}
	aType, aAddr := strings.ToUpper(tv[0]), tv[1]
	var err error
	switch aType {
	case "RFC822":
		aAddr, err = decodeXtext(aAddr)
		if err == nil && !isPrintableASCII(aAddr) {
			err = errors.New("illegal address:" + aAddr)
		}
	case "UTF-8":
		aAddr, err = decodeUTF8AddrXtext(aAddr)
	default:
		err = errors.New("unknown address type:" + aType)
	}
	return aAddr, err
}

func isPrintableASCII(val string) bool {
	for _, ch := range val {
		if ch < ' ' || '~' < ch {
			return false
		}
	}
	return true
}

// validNotify reports whether NOTIFY's value is a valid set: NEVER alone,
// or any of DELAY, FAILURE and SUCCESS, each at most once.
func validNotify(value string) bool {
	seen := map[string]bool{}
	for _, v := range strings.Split(value, ",") {
		v = strings.ToUpper(v)
		switch v {
		case "NEVER", "DELAY", "FAILURE", "SUCCESS":
			if seen[v] {
				return false
			}
		default:
			return false
		}
		seen[v] = true
	}
	return !(seen["NEVER"] && len(seen) > 1)
}
