package o365smtp

// The message as a stream: nothing holds the whole rendered message.
//
// go-mail v0.8.1 renders each part into a bytes.Buffer of its own before
// writing it (msgwriter.go, writeBody), so msg.WriteTo into the connection
// would still hold every attachment, base64-encoded, in memory. Instead,
// prepare renders the message once with go-mail while the Writer of every
// base64 attachment and embed is replaced by one that writes a random
// placeholder of placeholderLen bytes (a multiple of 57, so that its base64
// is whole 76-column lines, each ending in CRLF, as go-mail's line breaker
// writes them). That rendering, the skeleton, is small: headers, text
// parts, boundaries, and one placeholder per file. Each attempt writes the
// skeleton with every placeholder's base64 replaced by the base64 of the
// file's real content, encoded by encoding/base64 and broken into lines as
// go-mail does, straight into the DATA writer. The result is byte for byte
// what go-mail's WriteTo writes (stream_test.go checks it over a matrix of
// messages).
//
// The size (for SIZE) and the 8BITMIME decision come from a counting pass:
// each file's content is read once through a counter and a CRC-32C, and the
// size of its base64 follows from its length. Each attempt checks the
// content it streamed against that count and checksum; a file that changed
// (or an attachment Writer that cannot be repeated) fails the attempt before
// the final dot, so a message whose bytes differ from the counted ones is
// never delivered.
//
// Messages that use what the placeholder cannot reproduce fall back to
// msg.WriteTo into memory, as before: middleware (it may rewrite the
// message), S/MIME signing and DKIM (their signatures cover the content),
// a file whose placeholder is not found exactly once in the skeleton, and
// any go-mail version whose Msg does not have the fields streamable looks
// at.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"reflect"
	"slices"
	"sort"

	"github.com/wneessen/go-mail"
)

// placeholderLen is the length of a file's placeholder: two base64 lines.
const placeholderLen = 2 * 57

// b64Line is go-mail's base64 line length (mail.MaxBodyLength).
const b64Line = 76

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// skeleton is go-mail's rendering of a message with a placeholder in place
// of each streamed file's base64.
type skeleton struct {
	text  []byte
	holes []hole // in the order of at
}

// hole is one streamed file.
type hole struct {
	at, n int                            // its placeholder's base64 lines are text[at : at+n]
	name  string                         // the file's name, for errors
	write func(io.Writer) (int64, error) // the file's own Writer: its content
	raw   int64                          // bytes of content, counted
	sum   uint32                         // the content's CRC-32C
	ph    []byte                         // the placeholder's base64 lines (while rendering)
}

// sourceError is a failure of a file's content while streaming it: its
// Writer failed, or it wrote other bytes than the counting pass saw.
type sourceError struct {
	name string
	err  error
}

func (e *sourceError) Error() string {
	return "the attachment " + e.name + " cannot be streamed: " + e.err.Error()
}
func (e *sourceError) Unwrap() error { return e.err }

var errChanged = errors.New("its content changed since it was counted")

// streamable reports whether msg can take the streaming path: it has no
// middleware, no S/MIME and no DKIM signer. go-mail v0.8.1 does not export
// them; their fields are read with reflect (read-only), and a Msg without
// them (another go-mail version) is not streamed.
func streamable(msg *mail.Msg) bool {
	v := reflect.ValueOf(msg).Elem()
	for _, name := range []string{"middlewares", "sMIME", "dkim"} {
		f := v.FieldByName(name)
		if !f.IsValid() {
			return false
		}
		switch f.Kind() {
		case reflect.Slice:
			if f.Len() > 0 {
				return false
			}
		case reflect.Pointer, reflect.Interface:
			if !f.IsNil() {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// b64File reports whether go-mail writes f's content in base64 (the
// default; WithFileEncoding can choose otherwise).
func b64File(f *mail.File) bool {
	return f != nil && f.Writer != nil && (f.Enc == "" || f.Enc == mail.EncodingB64)
}

// renderSkeleton renders msg with placeholders and counts each file's
// content. ok is false when msg must take the buffered path instead. The
// attachment and embed lists of msg are replaced for the rendering by
// copies of the File values whose Writer writes the placeholder, and put
// back before it returns; the caller's File values are not changed, except
// for the headers go-mail's own rendering sets on them.
func renderSkeleton(msg *mail.Msg) (sk *skeleton, ok bool, err error) {
	atts, embeds := msg.GetAttachments(), msg.GetEmbeds()
	if !slices.ContainsFunc(atts, b64File) && !slices.ContainsFunc(embeds, b64File) || !streamable(msg) {
		return nil, false, nil // nothing to stream, or it cannot be streamed
	}
	var holes []hole
	swap := func(files []*mail.File) ([]*mail.File, error) {
		out := make([]*mail.File, len(files))
		for i, f := range files {
			if !b64File(f) {
				out[i] = f
				continue
			}
			ph := make([]byte, placeholderLen)
			if _, err := rand.Read(ph); err != nil {
				return nil, err
			}
			c := *f
			c.Writer = func(w io.Writer) (int64, error) {
				n, err := w.Write(ph)
				return int64(n), err
			}
			out[i] = &c
			var enc bytes.Buffer
			lw := &lineWriter{out: &enc}
			e := base64.NewEncoder(base64.StdEncoding, lw)
			e.Write(ph)
			e.Close()
			lw.Close()
			holes = append(holes, hole{name: f.Name, write: f.Writer, ph: enc.Bytes()})
		}
		return out, nil
	}
	a, err := swap(atts)
	if err != nil {
		return nil, false, err
	}
	e, err := swap(embeds)
	if err != nil {
		return nil, false, err
	}
	var text bytes.Buffer
	func() {
		msg.SetAttachments(a)
		msg.SetEmbeds(e)
		defer func() {
			msg.SetAttachments(atts)
			msg.SetEmbeds(embeds)
		}()
		_, err = msg.WriteTo(&text)
	}()
	if err != nil {
		return nil, false, err
	}
	sk = &skeleton{text: text.Bytes()}
	for _, h := range holes {
		i := bytes.Index(sk.text, h.ph)
		if i < 0 || bytes.Contains(sk.text[i+1:], h.ph) {
			return nil, false, nil // not rendered as expected: buffer instead
		}
		h.at, h.n, h.ph = i, len(h.ph), nil
		sk.holes = append(sk.holes, h)
	}
	sort.Slice(sk.holes, func(i, j int) bool { return sk.holes[i].at < sk.holes[j].at })
	for i := range sk.holes {
		h := &sk.holes[i]
		cw := &sumWriter{crc: crc32.New(castagnoli)}
		if _, err := h.write(cw); err != nil {
			return nil, false, &sourceError{name: h.name, err: err}
		}
		h.raw, h.sum = cw.n, cw.crc.Sum32()
	}
	return sk, true, nil
}

// size is the length of the streamed message.
func (sk *skeleton) size() int64 {
	n := int64(len(sk.text))
	for _, h := range sk.holes {
		n += b64Len(h.raw) - int64(h.n)
	}
	return n
}

// b64Len is the length of n bytes in base64, in lines of b64Line
// characters each followed by CRLF.
func b64Len(n int64) int64 {
	b := (n + 2) / 3 * 4
	return b + (b+b64Line-1)/b64Line*2
}

// writeTo writes the message: the skeleton, each file's content in base64
// in place of its placeholder. A failure of a file's content is a
// *sourceError; a failure of w is returned as it is.
func (sk *skeleton) writeTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	prev := 0
	for _, h := range sk.holes {
		if _, err := cw.Write(sk.text[prev:h.at]); err != nil {
			return cw.n, err
		}
		lw := &lineWriter{out: cw}
		enc := base64.NewEncoder(base64.StdEncoding, lw)
		sw := &sumWriter{w: enc, crc: crc32.New(castagnoli)}
		_, err := h.write(sw)
		if err == nil {
			err = enc.Close()
		}
		if err == nil {
			err = lw.Close()
		}
		switch {
		case cw.err != nil:
			return cw.n, cw.err // the connection's failure
		case err != nil:
			return cw.n, &sourceError{name: h.name, err: err}
		case sw.n != h.raw || sw.crc.Sum32() != h.sum:
			return cw.n, &sourceError{name: h.name, err: errChanged}
		}
		prev = h.at + h.n
	}
	_, err := cw.Write(sk.text[prev:])
	return cw.n, err
}

// lineWriter breaks base64 into lines of b64Line characters, each ending
// in CRLF, the last one too (go-mail's base64LineBreaker does the same).
type lineWriter struct {
	line [b64Line + 2]byte
	used int
	out  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := copy(l.line[l.used:b64Line], p)
		l.used += k
		n += k
		p = p[k:]
		if l.used == b64Line {
			if err := l.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (l *lineWriter) flush() error {
	l.line[l.used], l.line[l.used+1] = '\r', '\n'
	_, err := l.out.Write(l.line[:l.used+2])
	l.used = 0
	return err
}

// Close ends the last, partial line.
func (l *lineWriter) Close() error {
	if l.used == 0 {
		return nil
	}
	return l.flush()
}

// sumWriter counts and checksums what passes through it to w (nil: only
// counts).
type sumWriter struct {
	w   io.Writer
	n   int64
	crc hash.Hash32
}

func (s *sumWriter) Write(p []byte) (int, error) {
	if s.w != nil {
		k, err := s.w.Write(p)
		s.n += int64(k)
		s.crc.Write(p[:k])
		return k, err
	}
	s.n += int64(len(p))
	s.crc.Write(p)
	return len(p), nil
}

// countWriter counts what it writes to w and keeps w's first error.
type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	k, err := c.w.Write(p)
	c.n += int64(k)
	c.err = err
	return k, err
}
