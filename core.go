package o365smtp

import (
	"net"
	"strconv"

	"github.com/o365smtp/o365smtp/internal/catalog"
)

// core is what the Sender's policy and its transports share: the resolved
// Config and the token source. Neither points back at the Sender.
type core struct {
	r      *resolved
	tokens *cachedSource
	// graphTokens is the Graph transport's source (GraphScope); nil with
	// TransportSMTP, and the same as tokens with TransportGraph.
	graphTokens *cachedSource
	// fleet shares the mailbox's limits: Config.Fleet, or the in-process
	// one (and that one while Config.Fleet fails).
	fleet *fleetGuard
}

// hintValues returns the values Hints are filled with.
func (c *core) hintValues() catalog.Values { return c.hintValuesFrom("") }

func (c *core) hintValuesFrom(from string) catalog.Values {
	v := c.tokens.hints
	v.Mailbox = c.r.cfg.Mailbox
	v.From = from
	if ct := c.tokens.cur.Load(); ct != nil {
		v.ObjectID = tokenClaims(ct.tok.AccessToken).OID
	}
	return v
}

// addr is the SMTP endpoint, host:port.
func (c *core) addr() string { return net.JoinHostPort(c.r.host, strconv.Itoa(c.r.port)) }
