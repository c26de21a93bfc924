package o365smtp

import "fmt"

// Transport selects how a message reaches Exchange Online.
type Transport int

const (
	// TransportSMTP submits over SMTP AUTH with XOAUTH2 (the app needs the
	// SMTP.SendAsApp permission, and SMTP AUTH must be enabled for the
	// mailbox). It is the default.
	TransportSMTP Transport = iota
	// TransportGraph sends with Microsoft Graph, POST
	// /v1.0/users/{Mailbox}/sendMail (the app needs the Mail.Send
	// application permission).
	TransportGraph
	// TransportAuto sends over SMTP until Exchange answers that SMTP AUTH
	// is disabled (535 5.7.139), and from then on over Graph, if the app
	// holds Mail.Send.
	TransportAuto
)

var transportNames = []string{"smtp", "graph", "auto"}

// String returns "smtp", "graph" or "auto".
func (t Transport) String() string {
	if t >= 0 && int(t) < len(transportNames) {
		return transportNames[t]
	}
	return fmt.Sprintf("Transport(%d)", int(t))
}

// MarshalText implements encoding.TextMarshaler.
func (t Transport) MarshalText() ([]byte, error) {
	if t < 0 || int(t) >= len(transportNames) {
		return nil, fmt.Errorf("o365smtp: invalid Transport %d", int(t))
	}
	return []byte(transportNames[t]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts "smtp",
// "graph" and "auto" in any case; the empty string is TransportSMTP.
func (t *Transport) UnmarshalText(b []byte) error {
	v, ok := lookupName(transportNames, string(b))
	if !ok {
		return fmt.Errorf("o365smtp: unknown transport %q (want smtp, graph or auto)", b)
	}
	*t = Transport(v)
	return nil
}
