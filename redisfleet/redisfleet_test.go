package redisfleet

import (
	"testing"
	"time"
)

func TestWithLeaseTTL(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
		want time.Duration
	}{
		{"default", nil, DefaultLeaseTTL},
		{"set", []Option{WithLeaseTTL(5 * time.Second)}, 5 * time.Second},
		{"zero keeps the default", []Option{WithLeaseTTL(0)}, DefaultLeaseTTL},
		{"last wins", []Option{WithLeaseTTL(time.Second), WithLeaseTTL(2 * time.Second)}, 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := New(nil, c.opts...).opts.leaseTTL; got != c.want {
				t.Errorf("lease TTL = %v, want %v", got, c.want)
			}
		})
	}
}
