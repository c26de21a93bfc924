// Package redact removes secrets from text a peer sent back: the access
// token, the XOAUTH2 payload that carries it, the client secret. A server
// may echo them whole, cut short, base64-encoded or decoded, so whole
// values are not enough: any run of token characters that shares a
// fragment of Min bytes with a secret is replaced.
package redact

import "strings"

// Min is the shortest fragment of a secret that is redacted. Shorter
// matches are too likely to be chance (a host name, a session ID).
const Min = 16

// Mark is what a redacted run becomes.
const Mark = "[REDACTED]"

// Set is a set of secrets. The zero value redacts nothing. A Set is
// immutable once built and safe for concurrent use.
type Set struct {
	grams map[string]struct{}
	whole []string
}

// New returns the Set of the given secrets; values shorter than Min are
// only redacted whole (and only if at least 4 bytes long).
func New(secrets ...string) *Set {
	s := &Set{grams: make(map[string]struct{})}
	for _, x := range secrets {
		if len(x) < 4 {
			continue
		}
		s.whole = append(s.whole, x)
		for i := 0; i+Min <= len(x); i++ {
			s.grams[x[i:i+Min]] = struct{}{}
		}
	}
	return s
}

// Empty reports whether the Set redacts nothing.
func (s *Set) Empty() bool { return s == nil || len(s.whole) == 0 }

// String returns text with every whole secret, and every run of token
// characters (letters, digits, + / = - _ . ~ %) that contains a Min-byte
// fragment of a secret, replaced by Mark.
func (s *Set) String(text string) string {
	if s.Empty() || text == "" {
		return text
	}
	for _, x := range s.whole {
		if strings.Contains(text, x) {
			text = strings.ReplaceAll(text, x, Mark)
		}
	}
	if len(s.grams) == 0 || len(text) < Min {
		return text
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(text); {
		if !tokenChar(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && tokenChar(text[j]) {
			j++
		}
		if s.holds(text[i:j]) {
			b.WriteString(text[last:i])
			b.WriteString(Mark)
			last = j
		}
		i = j
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// holds reports whether run contains a Min-byte fragment of a secret.
func (s *Set) holds(run string) bool {
	for i := 0; i+Min <= len(run); i++ {
		if _, ok := s.grams[run[i:i+Min]]; ok {
			return true
		}
	}
	return false
}

func tokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("+/=-_.~%", c) >= 0
}
