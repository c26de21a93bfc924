// Package redisfleet keeps an o365smtp.Fleet in Redis, so that every process
// sending as one mailbox shares Exchange Online's per-mailbox limits:
// connections, messages per minute, the back-off after throttling, the
// fail-fast after a setup error and after the day's recipient quota. It is
// its own module, so that the o365smtp module does not depend on a Redis
// client.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"})
//	cfg.Fleet = redisfleet.New(rdb)
//	sender, err := o365smtp.New(cfg)
//
// Every key of a mailbox starts with the hash tag {prefix:mailbox}, so that
// a script touches one hash slot (Redis Cluster), and every key carries an
// expiry: nothing outlives its use by more than the lease TTL or the window.
// Time is Redis's own (the TIME command inside each script), so the
// processes' clocks need not agree. Nothing secret is stored: lease IDs,
// admission times, and a Block's Kind, reply codes, server text and Hint.
//
// Each Redis call is bounded by WithCallTimeout. When Redis fails (down,
// slow, a key of the wrong type, a corrupt value) the Fleet's methods
// return an error and the o365smtp Sender falls back to its own in-process
// limits until Redis answers again; see docs/fleet.md.
package redisfleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/clock"
)

// Defaults of the Options.
const (
	// DefaultLeaseTTL is how long a connection slot of a process that
	// died stays taken, unless WithLeaseTTL says otherwise.
	DefaultLeaseTTL = 30 * time.Second
	// DefaultPrefix starts every key, unless WithPrefix says otherwise.
	DefaultPrefix = "o365smtp"
	// DefaultCallTimeout bounds each Redis call, unless WithCallTimeout
	// says otherwise.
	DefaultCallTimeout = 500 * time.Millisecond
)

const (
	// pollInterval is how often a waiter for a slot asks again (a
	// release in the same process wakes it at once).
	pollInterval = 20 * time.Millisecond
	// queueTTL drops a waiter from the queue when it has not asked for
	// this long (its process died, or its context ended).
	queueTTL = time.Second
	// maxRenew caps the interval between renewals of a lease, which also
	// tell the holder whether anyone waits: how soon a process that holds
	// slots hears that another one wants one.
	maxRenew = 200 * time.Millisecond
	// maxBlockData bounds the Block read back from Redis.
	maxBlockData = 16 << 10
)

// Fleet is an o365smtp.Fleet whose state lives in Redis. It is safe for
// concurrent use. The zero value is not usable; use New.
type Fleet struct {
	rdb  redis.UniversalClient
	opts options
	id   string // this Fleet's part of lease and admission IDs
	seq  atomic.Uint64

	mu   sync.Mutex
	wake chan struct{} // closed when a lease of this Fleet is released
}

var _ o365smtp.Fleet = (*Fleet)(nil)

// Option configures a Fleet made by New.
type Option func(*options)

type options struct {
	leaseTTL    time.Duration
	prefix      string
	callTimeout time.Duration
	// clock, when set (tests), replaces Redis's TIME and the real timers.
	clock clock.Clock
}

// WithLeaseTTL sets how long a connection slot taken by a process that then
// dies stays taken; live processes renew their slots (every third of it, at
// least every 200 ms). Zero or less means DefaultLeaseTTL.
func WithLeaseTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.leaseTTL = d
		}
	}
}

// WithPrefix sets the first part of every key's hash tag, {prefix:mailbox},
// so that several applications can share one Redis. Empty means
// DefaultPrefix.
func WithPrefix(p string) Option {
	return func(o *options) {
		if p != "" {
			o.prefix = p
		}
	}
}

// WithCallTimeout bounds each Redis call: one that takes longer counts as
// Redis failing, and the Sender uses its own limits meanwhile. Zero or less
// means DefaultCallTimeout.
func WithCallTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.callTimeout = d
		}
	}
}

// New returns a Fleet whose state lives in Redis under keys derived from the
// mailbox. rdb may be a single node, Sentinel or Cluster client.
func New(rdb redis.UniversalClient, opts ...Option) *Fleet {
	f := &Fleet{rdb: rdb, opts: options{leaseTTL: DefaultLeaseTTL, prefix: DefaultPrefix, callTimeout: DefaultCallTimeout},
		wake: make(chan struct{})}
	for _, o := range opts {
		o(&f.opts)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	f.id = hex.EncodeToString(b[:])
	return f
}

// keys of one mailbox and resource.
type keys struct {
	leases, holds, queue, seen, pause, log string
}

func (f *Fleet) tag(mailbox string) string {
	return "{" + f.opts.prefix + ":" + strings.ToLower(mailbox) + "}"
}

func (f *Fleet) keys(mailbox string, res o365smtp.Resource) keys {
	p := f.tag(mailbox) + ":" + string(res) + ":"
	return keys{leases: p + "leases", holds: p + "holds", queue: p + "queue", seen: p + "seen", pause: p + "pause", log: p + "log"}
}

func (f *Fleet) blockKey(mailbox string) string { return f.tag(mailbox) + ":block" }

func (f *Fleet) newID() string { return f.id + "-" + strconv.FormatUint(f.seq.Add(1), 36) }

// now is the time the scripts use, in ms: 0 means Redis's TIME.
func (f *Fleet) now() int64 {
	if f.opts.clock != nil {
		return f.opts.clock.Now().UnixMilli()
	}
	return 0
}

func (f *Fleet) timers() clock.Clock {
	if f.opts.clock != nil {
		return f.opts.clock
	}
	return clock.Real{}
}

// call runs fn with the per-call deadline.
func (f *Fleet) call(ctx context.Context, fn func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, f.opts.callTimeout)
	defer cancel()
	err := fn(cctx)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// run runs script and returns its reply of want integers.
func (f *Fleet) run(ctx context.Context, s *redis.Script, ks []string, want int, args ...any) ([]int64, error) {
	var out []int64
	err := f.call(ctx, func(ctx context.Context) error {
		v, err := s.Run(ctx, f.rdb, ks, args...).Result()
		if err != nil {
			return err
		}
		out, err = ints(v, want)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("redisfleet: %w", err)
	}
	return out, nil
}

// ints reads a script's reply of n integers.
func ints(v any, n int) ([]int64, error) {
	list, ok := v.([]any)
	if !ok || len(list) != n {
		return nil, fmt.Errorf("unexpected script reply %T", v)
	}
	out := make([]int64, n)
	for i, x := range list {
		y, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("unexpected script reply element %T", x)
		}
		out[i] = y
	}
	return out, nil
}

// luaNow is the scripts' preamble: now, in ms, from ARGV[1] or Redis.
// (Lua formats numbers with 14 digits: milliseconds since 1970 fit.)
const luaNow = `
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// acquireScript grants a slot when fewer than ARGV[2] leases and holds are
// live and the caller is among the first waiters for what is free;
// otherwise it queues the caller (first come, first served).
// KEYS: leases, holds, queue, seen. ARGV: now, slots, ttl, id, queueTTL.
// Reply: {1, 0} granted, {0, waiters} not.
var acquireScript = redis.NewScript(luaNow + `
local slots, ttl, id, qttl = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local stale = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - qttl)
for _, m in ipairs(stale) do
  redis.call('ZREM', KEYS[3], m)
  redis.call('ZREM', KEYS[4], m)
end
local free = slots - redis.call('ZCARD', KEYS[1]) - redis.call('ZCARD', KEYS[2])
local rank = redis.call('ZRANK', KEYS[3], id)
local ahead = rank
if not rank then ahead = redis.call('ZCARD', KEYS[3]) end
if free > ahead then
  redis.call('ZADD', KEYS[1], now + ttl, id)
  redis.call('PEXPIRE', KEYS[1], ttl + 1000)
  if rank then
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[4], id)
  end
  return {1, 0}
end
if not rank then redis.call('ZADD', KEYS[3], now, id) end
redis.call('ZADD', KEYS[4], now, id)
redis.call('PEXPIRE', KEYS[3], qttl + 1000)
redis.call('PEXPIRE', KEYS[4], qttl + 1000)
return {0, redis.call('ZCARD', KEYS[3])}
`)

// renewScript extends a lease. KEYS: leases, queue. ARGV: now, ttl, id.
// Reply: {1 held or 0 lost, waiters}.
var renewScript = redis.NewScript(luaNow + `
local ttl, id = tonumber(ARGV[2]), ARGV[3]
local waiters = redis.call('ZCARD', KEYS[2])
if not redis.call('ZSCORE', KEYS[1], id) then return {0, waiters} end
redis.call('ZADD', KEYS[1], now + ttl, id)
redis.call('PEXPIRE', KEYS[1], ttl + 1000)
return {1, waiters}
`)

// backOffScript holds a slot back and pauses admissions.
// KEYS: holds, pause. ARGV: now, slots, hold, id, pause. Reply: {1}.
var backOffScript = redis.NewScript(luaNow + `
local slots, hold, id, pause = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
if hold > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) < slots - 1 then
    redis.call('ZADD', KEYS[1], now + hold, id)
    if redis.call('PTTL', KEYS[1]) < hold + 1000 then redis.call('PEXPIRE', KEYS[1], hold + 1000) end
  end
end
if pause > 0 and redis.call('PTTL', KEYS[2]) < pause then
  redis.call('SET', KEYS[2], '1', 'PX', pause)
end
return {1}
`)

// admitScript is the sliding log: admit when fewer than ARGV[2] entries
// are younger than the window, and no pause lasts.
// KEYS: log, pause. ARGV: now, n, window, member.
// Reply: {1, now} admitted, {0, ms to wait} not.
var admitScript = redis.NewScript(luaNow + `
local n, window, member = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local p = redis.call('PTTL', KEYS[2])
if p > 0 then return {0, p} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < n then
  redis.call('ZADD', KEYS[1], now, member)
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return {1, now}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, math.max(tonumber(oldest[2]) + window - now, 1)}
`)

func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// Acquire waits until one of slots slots of res is free for mailbox, in
// the order the processes asked, and takes it as a lease of the lease TTL,
// renewed until Release.
func (f *Fleet) Acquire(ctx context.Context, mailbox string, res o365smtp.Resource, slots int) (o365smtp.Lease, error) {
	k := f.keys(mailbox, res)
	id := f.newID()
	ks := []string{k.leases, k.holds, k.queue, k.seen}
	for {
		f.mu.Lock()
		wake := f.wake
		f.mu.Unlock()
		r, err := f.run(ctx, acquireScript, ks, 2, f.now(), slots, ms(f.opts.leaseTTL), id, ms(queueTTL))
		if err != nil {
			f.leave(k, id)
			return nil, err
		}
		if r[0] == 1 {
			return f.newLease(k, id), nil
		}
		t := f.timers().NewTimer(pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			f.leave(k, id)
			return nil, ctx.Err()
		case <-wake:
			t.Stop()
		case <-t.C():
		}
	}
}

// leave takes a waiter out of the queue, best effort.
func (f *Fleet) leave(k keys, id string) {
	_ = f.call(context.Background(), func(ctx context.Context) error {
		_, err := f.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZRem(ctx, k.queue, id)
			p.ZRem(ctx, k.seen, id)
			return nil
		})
		return err
	})
}

// Admit waits until one more use of res fits n in any rolling window for
// mailbox, and any pause has passed.
func (f *Fleet) Admit(ctx context.Context, mailbox string, res o365smtp.Resource, n int, window time.Duration) error {
	_, err := f.admit(ctx, mailbox, res, n, window)
	return err
}

// admit is Admit that returns the admission time, in ms of the scripts'
// clock.
func (f *Fleet) admit(ctx context.Context, mailbox string, res o365smtp.Resource, n int, window time.Duration) (int64, error) {
	k := f.keys(mailbox, res)
	member := f.newID()
	for {
		r, err := f.run(ctx, admitScript, []string{k.log, k.pause}, 2, f.now(), n, ms(window), member)
		if err != nil {
			return 0, err
		}
		if r[0] == 1 {
			return r[1], nil
		}
		if err := clock.Sleep(ctx, f.timers(), time.Duration(r[1])*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// BackOff holds a slot of res back for hold and pauses its admissions for
// pause.
func (f *Fleet) BackOff(ctx context.Context, mailbox string, res o365smtp.Resource, slots int, hold, pause time.Duration) error {
	k := f.keys(mailbox, res)
	var h, p int64
	if hold > 0 {
		h = ms(hold)
	}
	if pause > 0 {
		p = ms(pause)
	}
	_, err := f.run(ctx, backOffScript, []string{k.holds, k.pause}, 1, f.now(), slots, h, f.newID(), p)
	return err
}

// Block stores b for mailbox until b.Until.
func (f *Fleet) Block(ctx context.Context, mailbox string, b o365smtp.Block) error {
	now := time.Now()
	if f.opts.clock != nil {
		now = f.opts.clock.Now()
	}
	d := b.Until.Sub(now)
	if d <= 0 {
		return nil
	}
	data, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("redisfleet: %w", err)
	}
	err = f.call(ctx, func(ctx context.Context) error { return f.rdb.Set(ctx, f.blockKey(mailbox), data, d).Err() })
	if err != nil {
		return fmt.Errorf("redisfleet: %w", err)
	}
	return nil
}

// errCorrupt is a value in Redis that is not what this package stores.
var errCorrupt = errors.New("redisfleet: the block key holds data that is not a Block")

// Blocked returns the Block stored for mailbox, or the zero Block. It reads
// at most maxBlockData bytes of it (GETRANGE): a larger value is corrupt.
func (f *Fleet) Blocked(ctx context.Context, mailbox string) (o365smtp.Block, error) {
	var data string
	err := f.call(ctx, func(ctx context.Context) error {
		var err error
		data, err = f.rdb.GetRange(ctx, f.blockKey(mailbox), 0, maxBlockData).Result()
		return err
	})
	switch {
	case err != nil:
		return o365smtp.Block{}, fmt.Errorf("redisfleet: %w", err)
	case data == "":
		return o365smtp.Block{}, nil
	case len(data) > maxBlockData:
		return o365smtp.Block{}, errCorrupt
	}
	var b o365smtp.Block
	if err := json.Unmarshal([]byte(data), &b); err != nil || b.Kind == "" {
		return o365smtp.Block{}, errCorrupt
	}
	return b, nil
}

// Unblock deletes the Block of mailbox.
func (f *Fleet) Unblock(ctx context.Context, mailbox string) error {
	err := f.call(ctx, func(ctx context.Context) error { return f.rdb.Del(ctx, f.blockKey(mailbox)).Err() })
	if err != nil {
		return fmt.Errorf("redisfleet: %w", err)
	}
	return nil
}

// lease is a slot held in Redis, renewed by a goroutine of its own until
// Release.
type lease struct {
	f      *Fleet
	k      keys
	id     string
	wanted atomic.Bool
	once   sync.Once
	stop   chan struct{}
}

func (f *Fleet) newLease(k keys, id string) *lease {
	l := &lease{f: f, k: k, id: id, stop: make(chan struct{})}
	go l.renew()
	return l
}

func (l *lease) renew() {
	every := min(l.f.opts.leaseTTL/3, maxRenew)
	for {
		t := l.f.timers().NewTimer(every)
		select {
		case <-l.stop:
			t.Stop()
			return
		case <-t.C():
		}
		r, err := l.f.run(context.Background(), renewScript, []string{l.k.leases, l.k.queue}, 2, l.f.now(), ms(l.f.opts.leaseTTL), l.id)
		switch {
		case err != nil:
			// Redis fails: the lease lapses there after its TTL. The
			// connection goes on; the holder hears of waiters again
			// once Redis answers.
		case r[0] == 0:
			// Lost (expired during an outage, or Redis restarted
			// empty): let the connection go at its next turn.
			l.wanted.Store(true)
		default:
			l.wanted.Store(r[1] > 0)
		}
	}
}

// Release gives the slot back and wakes this process's waiters.
func (l *lease) Release() {
	l.once.Do(func() {
		close(l.stop)
		_ = l.f.call(context.Background(), func(ctx context.Context) error { return l.f.rdb.ZRem(ctx, l.k.leases, l.id).Err() })
		l.f.mu.Lock()
		close(l.f.wake)
		l.f.wake = make(chan struct{})
		l.f.mu.Unlock()
	})
}

// Wanted reports whether another holder waited for a slot at the last
// renewal.
func (l *lease) Wanted() bool { return l.wanted.Load() }
