package redisfleet

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// testRedis is the Redis a test runs against: REDIS_URL if set (an address
// in 127.0.0.0/8), else a
// redis-server of its own on a free loopback port when one is installed,
// else miniredis in the test process. Stop and Start simulate an outage
// (with REDIS_URL they skip the test).
type testRedis struct {
	kind string // "url", "redis-server" or "miniredis"
	addr string
	url  *redis.Options
	mini *miniredis.Miniredis
	t    testing.TB

	mu   sync.Mutex
	cmd  *exec.Cmd
	port int
}

var prefixSeq atomic.Int64

// newPrefix returns a key prefix of its own for a test, so that tests
// sharing a REDIS_URL do not see each other's keys.
func newPrefix(t testing.TB) string {
	return fmt.Sprintf("t%d-%d-%s", os.Getpid(), prefixSeq.Add(1), strings.ReplaceAll(t.Name(), "/", "."))
}

func startRedis(t testing.TB) *testRedis {
	t.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			t.Fatalf("REDIS_URL: %v", err)
		}
		h, _, _ := net.SplitHostPort(opt.Addr)
		if ip := net.ParseIP(h); ip == nil || ip.To4() == nil || !ip.IsLoopback() {
			t.Fatalf("REDIS_URL must point to an address in 127.0.0.0/8, not %q", h)
		}
		return &testRedis{kind: "url", addr: opt.Addr, url: opt, t: t}
	}
	if path, err := exec.LookPath("redis-server"); err == nil {
		r := &testRedis{kind: "redis-server", t: t, port: freePort(t)}
		r.addr = "127.0.0.1:" + strconv.Itoa(r.port)
		r.startServer(path)
		t.Cleanup(r.Stop)
		return r
	}
	m := miniredis.RunT(t)
	return &testRedis{kind: "miniredis", addr: m.Addr(), mini: m, t: t}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer starts redis-server and waits until it answers PING (an
// external process: polled, with a deadline).
func (r *testRedis) startServer(path string) {
	r.t.Helper()
	cmd := exec.Command(path, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s did not answer within 10 s", r.addr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// client returns a new client of its own.
func (r *testRedis) client(t testing.TB) *redis.Client {
	opt := &redis.Options{Addr: r.addr}
	if r.url != nil {
		o := *r.url
		opt = &o
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// Stop stops the server (an outage).
func (r *testRedis) Stop() {
	switch r.kind {
	case "miniredis":
		r.mini.Close()
	case "redis-server":
		r.mu.Lock()
		cmd := r.cmd
		r.cmd = nil
		r.mu.Unlock()
		if cmd != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	default:
		r.t.Skip("cannot stop the Redis of REDIS_URL")
	}
}

// Start starts it again on the same address, empty (redis-server keeps
// nothing without persistence; miniredis keeps its data).
func (r *testRedis) Start() {
	switch r.kind {
	case "miniredis":
		if err := r.mini.Restart(); err != nil {
			r.t.Fatal(err)
		}
	case "redis-server":
		path, _ := exec.LookPath("redis-server")
		r.startServer(path)
	}
}

// keys returns the keys that start with the hash tag of prefix.
func (r *testRedis) keys(t testing.TB, c *redis.Client, prefix string) []string {
	t.Helper()
	ks, err := c.Keys(context.Background(), "{"+prefix+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// checkExpiry checks that every key of prefix has an expiry.
func (r *testRedis) checkExpiry(t testing.TB, c *redis.Client, prefix string) int {
	t.Helper()
	ks := r.keys(t, c, prefix)
	for _, k := range ks {
		d, err := c.PTTL(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if d == -1 {
			t.Errorf("key %s has no expiry", k)
		}
	}
	return len(ks)
}

// readLine reads lines from sc until one equals want.
func readLine(t testing.TB, sc *bufio.Scanner, want string) {
	t.Helper()
	for sc.Scan() {
		if sc.Text() == want {
			return
		}
	}
	t.Fatalf("no %q line: %v", want, sc.Err())
}
