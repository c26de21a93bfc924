package o365smtp

import (
	"bytes"
	"io"
)

// WriteTo writes the rendered message (the body of DATA): streamed from
// the skeleton (stream.go), or the whole rendering kept in memory.
func (env *envelope) WriteTo(w io.Writer) (int64, error) {
	if env.skel != nil {
		return env.skel.writeTo(w)
	}
	n, err := w.Write(env.data)
	return int64(n), err
}

// head returns the message's header section, up to and including the
// empty line that ends it.
func (env *envelope) head() []byte {
	b := env.data
	if env.skel != nil {
		b = env.skel.text
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return b[:i+4]
	}
	return b
}

// render returns prefix followed by the whole message in memory, or false
// when that would be more than limit bytes; nothing is rendered then.
func (env *envelope) render(prefix []byte, limit int64) ([]byte, bool, error) {
	n := int64(len(prefix)) + env.size
	if n > limit {
		return nil, false, nil
	}
	buf := bytes.NewBuffer(make([]byte, 0, n))
	buf.Write(prefix)
	if _, err := env.WriteTo(buf); err != nil {
		return nil, true, err
	}
	return buf.Bytes(), true, nil
}
