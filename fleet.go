package o365smtp

import (
	"context"
	"time"
)

// Fleet shares one mailbox's Exchange Online allowance between every process
// that sends as it: MaxConnections, MessagesPerMinute, the back-off after a
// throttling reply (432 4.3.2, 4.7.5xx, Graph 429 Retry-After) and the
// recipients per day. The in-process limits are one implementation of it,
// used when Config.Fleet is nil; the module
// github.com/o365smtp/o365smtp/redisfleet keeps them in Redis.
//
// A Sender asks its Fleet:
//
//   - Acquire, for a lease on one connection (ResourceSMTP, MaxConnections
//     slots) before it dials, held for the whole life of the connection,
//     idle time included, because Exchange counts open connections; and for
//     each Graph request (ResourceGraph, 4 slots).
//   - Admit, before each attempt: MessagesPerMinute in any rolling minute
//     (ResourceMessages; Config.Limiter, when set, replaces it), and with
//     Graph its 10,000 requests in any 10 minutes (ResourceGraph).
//   - BackOff, after a throttling reply: a slot held back (432 4.3.2) and
//     admission paused (Retry-After).
//   - Block and Blocked, for the fail-fast after a failure that needs a
//     person (Config.CoolOff) and after the daily recipient quota: once one
//     process has learnt that the secret expired, the others fail fast too.
//     Unblock, when Verify passes.
//
// Implementations must be safe for concurrent use, and must not store
// anything secret (a Block holds no token or secret: Error.Message and Hint
// never do). A method that returns an error (other than the end of ctx) makes
// the Sender fall back to its own in-process limits for a while: it logs
// once at Warn, counts it in Stats.FleetFallbacks, and tries the Fleet again
// about a second later. A Fleet should therefore bound each round trip (a
// short per-call deadline) rather than let a slow store stall Send; waiting
// for a slot or an admission is not a failure and may take as long as ctx
// allows.
type Fleet interface {
	// Acquire waits until one of slots slots of res is free for mailbox,
	// or ctx ends, and takes it.
	Acquire(ctx context.Context, mailbox string, res Resource, slots int) (Lease, error)
	// Admit waits until one more use of res fits n in any rolling window
	// for mailbox (a sliding log: never more than n in any window, unlike
	// a token bucket), and any pause set by BackOff has ended, or ctx ends.
	Admit(ctx context.Context, mailbox string, res Resource, n int, window time.Duration) error
	// BackOff records a throttling reply for res: one of its slots slots
	// is held back for hold (never the last one; when none is free, the
	// next one released), and Admit of res waits until pause has passed.
	// A zero duration skips that part.
	BackOff(ctx context.Context, mailbox string, res Resource, slots int, hold, pause time.Duration) error
	// Block makes Blocked report b for mailbox until b.Until.
	Block(ctx context.Context, mailbox string, b Block) error
	// Blocked returns the Block in force for mailbox, or the zero Block.
	Blocked(ctx context.Context, mailbox string) (Block, error)
	// Unblock ends the Block in force for mailbox.
	Unblock(ctx context.Context, mailbox string) error
}

// Resource names an allowance of the mailbox that a Fleet shares.
type Resource string

const (
	// ResourceSMTP is SMTP AUTH sessions: at most MaxConnections open at
	// once (Exchange Online's limit is 3 per mailbox).
	ResourceSMTP Resource = "smtp"
	// ResourceGraph is Microsoft Graph sendMail requests: 4 at once per
	// mailbox (MailboxConcurrency), 10,000 in any 10 minutes.
	ResourceGraph Resource = "graph"
	// ResourceMessages is submissions, whatever the transport:
	// MessagesPerMinute in any rolling minute.
	ResourceMessages Resource = "messages"
)

// Lease is a slot taken with Fleet.Acquire. Release gives it back; calling
// it again does nothing. A Fleet shared between processes keeps the lease
// alive while it is held, and lets it lapse when its process dies.
type Lease interface {
	// Release gives the slot back.
	Release()
	// Wanted reports whether someone is waiting for a slot of the same
	// resource, as far as the Fleet knows: a pooled connection then gives
	// its lease back instead of idling on it.
	Wanted() bool
}

// Block is a fail-fast shared through a Fleet: until Until, Send returns
// this failure at once, with no token request and no connection. It is made
// from the *Error that started it and holds nothing secret.
type Block struct {
	Kind         Kind      `json:"kind"`
	Op           string    `json:"op,omitempty"`
	Code         int       `json:"code,omitempty"`
	EnhancedCode string    `json:"enhanced_code,omitempty"`
	AADSTS       int       `json:"aadsts,omitempty"`
	Message      string    `json:"message,omitempty"`
	Hint         string    `json:"hint,omitempty"`
	Until        time.Time `json:"until"`
}

// Active reports whether b is in force at now.
func (b Block) Active(now time.Time) bool { return b.Kind != "" && !now.After(b.Until) }

// Timings of the shared limits.
const (
	// graphWindow and graphPerWindow are Graph's per-mailbox request
	// limit: 10,000 in any 10 minutes.
	graphWindow    = 10 * time.Minute
	graphPerWindow = 10000
	// quotaHold is how long every Send fails fast after Exchange reported
	// the daily recipient quota (a rolling 24 hours, whose end Exchange
	// does not say): then one send finds out whether it has cleared.
	quotaHold = 15 * time.Minute
	// fleetIdleTimeout replaces idleTimeout with a shared Fleet: an idle
	// connection holds a lease that another process may be waiting for.
	fleetIdleTimeout = 2 * time.Second
	// fleetSweep is how often, with a shared Fleet, the pool looks for
	// idle connections whose lease someone waits for (Lease.Wanted).
	fleetSweep = 100 * time.Millisecond
	// fleetRetry is how long a Sender uses its own limits after its Fleet
	// failed, before it asks the Fleet again.
	fleetRetry = time.Second
	// blockMaxText bounds the Message and Hint a Block carries.
	blockMaxText = 2048
)

// blockOf returns the Block that e starts, until until.
func blockOf(e *Error, until time.Time) Block {
	return Block{Kind: e.Kind, Op: e.Op, Code: e.Code, EnhancedCode: e.EnhancedCode, AADSTS: e.AADSTS,
		Message: truncate(e.Message, blockMaxText), Hint: truncate(e.Hint, blockMaxText), Until: until}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
