package smtpd

// capabilities returns the EHLO reply's lines after the greeting, in
// Exchange's order: AUTH only over TLS, STARTTLS only on a plain connection
// that offers it.
func (ss *session) capabilities() []string {
	caps := []string{sizeCap(ss.s.cfg.MaxMessageBytes), "PIPELINING", "DSN", "ENHANCEDSTATUSCODES"}
	switch {
	case ss.isTLS:
		caps = append(caps, "AUTH LOGIN XOAUTH2")
	case ss.canSTARTTLS:
		caps = append(caps, "STARTTLS")
	}
	return append(caps, "8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8")
}
