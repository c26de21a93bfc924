package o365smtp

import "github.com/wneessen/go-mail"

// StreamPlan prepares msg as Send does and reports how many of its files
// are streamed (0: the message takes the buffered path) and its size.
func StreamPlan(s *Sender, msg *mail.Msg) (files int, size int64, err error) {
	env, e := s.prepare(msg)
	if e != nil {
		return 0, 0, e
	}
	if env.skel != nil {
		files = len(env.skel.holes)
	}
	return files, env.size, nil
}

// SetBDAT makes s send each message with BDAT n LAST pipelined behind MAIL
// and RCPT where the server offers CHUNKING and PIPELINING (for the
// benchmarks; never the default).
func SetBDAT(s *Sender, on bool) { s.smtp.bdat = on }
