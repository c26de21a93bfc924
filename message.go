package o365smtp

import "io"

// WriteTo writes the rendered message (the body of DATA).
func (env *envelope) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(env.data)
	return int64(n), err
}
