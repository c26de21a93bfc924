package o365smtp

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"

	"github.com/wneessen/go-mail"
)

// How a message reaches DATA. prepare renders it once, before the first
// attempt, which fixes its Date, Message-ID and MIME boundaries (go-mail
// keeps them in the Msg). A small message keeps that rendering. A larger one
// is rendered once more, counting and hashing only; if both renderings are
// the same, the message is not kept: each attempt renders it again straight
// into the connection's fixed-size buffer, and the rendering is checked
// against the first one's size and hash before the final dot (a mismatch
// abandons the transaction: the server never gets a different message). If
// the two differ (S/MIME, DKIM or middleware that sign or stamp each
// rendering), the message is kept in memory as before.
//
// go-mail still renders each part into a buffer of its own (msgwriter.go
// writeBody), so an attachment is held once, encoded, while its part is
// written; the whole message is never held twice.

// keepLimit is the largest rendering that is kept in memory.
const keepLimit = 256 << 10

// errRenderChanged: a message rendered for an attempt differs from its
// first rendering.
var errRenderChanged = errors.New("the message rendered differently from its first rendering; it was not sent")

// probe counts, hashes and checks a rendering for 8-bit bytes, keeping at
// most keepLimit bytes of it when keep is set.
type probe struct {
	w     io.Writer // if set, the bytes go on to w
	keep  bool
	buf   []byte
	n     int64
	eight bool
	h     hash.Hash
}

func newProbe(keep bool, w io.Writer) *probe { return &probe{keep: keep, w: w, h: sha256.New()} }

func (p *probe) Write(b []byte) (int, error) {
	if p.w != nil {
		n, err := p.w.Write(b)
		b = b[:n]
		p.count(b)
		return n, err
	}
	p.count(b)
	return len(b), nil
}

func (p *probe) count(b []byte) {
	p.n += int64(len(b))
	p.h.Write(b)
	if !p.eight && !isASCII(b) {
		p.eight = true
	}
	if p.keep {
		if len(p.buf)+len(b) <= keepLimit {
			p.buf = append(p.buf, b...)
		} else {
			p.keep, p.buf = false, nil
		}
	}
}

func (p *probe) sum() (s [sha256.Size]byte) {
	p.h.Sum(s[:0])
	return s
}

// render renders msg into env: kept, or streamed on each attempt.
func (env *envelope) render(msg *mail.Msg) error {
	first := newProbe(true, nil)
	if _, err := msg.WriteTo(first); err != nil {
		return err
	}
	env.size, env.eightBit = first.n, first.eight
	if first.keep {
		env.data = first.buf
		return nil
	}
	second := newProbe(false, nil)
	if _, err := msg.WriteTo(second); err != nil {
		return err
	}
	if second.n == first.n && second.sum() == first.sum() {
		env.msg, env.sum = msg, first.sum()
		return nil
	}
	// Not repeatable: keep one rendering.
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		return err
	}
	env.data, env.size, env.eightBit = buf.Bytes(), int64(buf.Len()), !isASCII(buf.Bytes())
	return nil
}

// WriteTo writes the message (the body of DATA): the kept rendering, or a
// new one checked against the first.
func (env *envelope) WriteTo(w io.Writer) (int64, error) {
	if env.msg == nil {
		n, err := w.Write(env.data)
		return int64(n), err
	}
	p := newProbe(false, w)
	n, err := env.msg.WriteTo(p)
	if err != nil {
		return n, err
	}
	if p.n != env.size || p.sum() != env.sum {
		return n, errRenderChanged
	}
	return n, nil
}
