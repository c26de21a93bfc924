package redisfleet

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/o365smtp/o365smtp"
)

// The test binary re-executed as a process of the fleet: REDISFLEET_CHILD
// says what it does, REDISFLEET_ADDR and REDISFLEET_PREFIX where.
const childEnv = "REDISFLEET_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(child(role))
	}
	os.Exit(m.Run())
}

// child holds slots ("hold N": takes N and prints "held", then waits to be
// killed) or waits for one ("wait": prints "got" once it has it).
func child(role string) int {
	ttl, _ := time.ParseDuration(os.Getenv("REDISFLEET_TTL"))
	f := New(redis.NewClient(&redis.Options{Addr: os.Getenv("REDISFLEET_ADDR")}), WithPrefix(os.Getenv("REDISFLEET_PREFIX")), WithLeaseTTL(ttl))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch role {
	case "hold":
		for range 3 {
			if _, err := f.Acquire(ctx, mailbox, o365smtp.ResourceSMTP, 3); err != nil {
				fmt.Println("error", err)
				return 1
			}
		}
		fmt.Println("held")
		<-ctx.Done() // renewing, until SIGKILL
		return 1
	case "wait":
		l, err := f.Acquire(ctx, mailbox, o365smtp.ResourceSMTP, 3)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("got")
		l.Release()
		return 0
	}
	return 2
}

func spawn(t *testing.T, r *testRedis, prefix string, ttl time.Duration, role string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "REDISFLEET_ADDR="+r.addr, "REDISFLEET_PREFIX="+prefix, "REDISFLEET_TTL="+ttl.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

// TestKilledProcessFreesSlots: one process holds all 3 slots (renewing its
// leases), two others wait; SIGKILL the holder, and the waiters get the
// slots once its leases lapse, within the TTL.
func TestKilledProcessFreesSlots(t *testing.T) {
	// With miniredis the other processes reach it over loopback TCP too;
	// leases lapse by their score (Redis's TIME), not by key expiry.
	r := startRedis(t)
	prefix := newPrefix(t)
	const ttl = time.Second
	holder, hout := spawn(t, r, prefix, ttl, "hold")
	readLine(t, hout, "held")
	var waiters []*bufio.Scanner
	var procs []*exec.Cmd
	for range 2 {
		cmd, out := spawn(t, r, prefix, ttl, "wait")
		waiters = append(waiters, out)
		procs = append(procs, cmd)
	}
	c := r.client(t)
	k := New(c, WithPrefix(prefix)).keys(mailbox, o365smtp.ResourceSMTP)
	ctx := ctxT(t)
	eventually(t, "both waiters are queued", func() bool { return c.ZCard(ctx, k.queue).Val() == 2 })
	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for _, w := range waiters {
		readLine(t, w, "got")
	}
	t.Logf("SIGKILL of the holder of 3 slots (lease TTL %v): both waiters had a slot %v later", ttl, time.Since(killed).Round(time.Millisecond))
	_ = holder.Wait()
	for _, p := range procs {
		if err := p.Wait(); err != nil {
			t.Errorf("waiter: %v", err)
		}
	}
	if n := c.ZCard(ctx, k.leases).Val(); n != 0 {
		t.Errorf("%d leases left; want 0", n)
	}
}
