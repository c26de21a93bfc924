// Package redisfleet keeps an o365smtp.Fleet in Redis, so that every process
// sending as one mailbox shares Exchange Online's per-mailbox limits:
// connections, messages per minute, the back-off after throttling, and the
// day's recipients. It is its own module, so that the o365smtp module does
// not depend on a Redis client.
//
// This release only names the API: o365smtp.New refuses a Config whose
// Fleet is set, with ErrConfig, until the implementation lands.
package redisfleet

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/o365smtp/o365smtp"
)

// DefaultLeaseTTL is how long a connection slot of a process that died stays
// taken, unless WithLeaseTTL says otherwise.
const DefaultLeaseTTL = 30 * time.Second

// Fleet is an o365smtp.Fleet whose state lives in Redis. It is safe for
// concurrent use.
type Fleet struct {
	rdb  redis.UniversalClient
	opts options
}

var _ o365smtp.Fleet = (*Fleet)(nil)

// Option configures a Fleet made by New.
type Option func(*options)

type options struct {
	leaseTTL time.Duration
}

// WithLeaseTTL sets how long a connection slot taken by a process that then
// dies stays taken; live processes renew their slots. Zero or less means
// DefaultLeaseTTL.
func WithLeaseTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.leaseTTL = d
		}
	}
}

// New returns a Fleet whose state lives in Redis under keys derived from the
// mailbox. rdb may be a single node, Sentinel or Cluster client.
func New(rdb redis.UniversalClient, opts ...Option) *Fleet {
	f := &Fleet{rdb: rdb, opts: options{leaseTTL: DefaultLeaseTTL}}
	for _, o := range opts {
		o(&f.opts)
	}
	return f
}
