package accounts

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(0, 0)}
	th := newThrottle(c.now)

	// Five places per account, whether the attempts are settled or not.
	var held []*reservation
	for i := range 5 {
		r, wait := th.reserve("user:bob", "ip:a")
		if r == nil || wait != 0 {
			t.Fatalf("attempt %d refused (wait %v)", i, wait)
		}
		held = append(held, r)
	}
	if r, wait := th.reserve("user:bob", "ip:b"); r != nil || wait <= 0 || wait > 3*time.Minute {
		t.Fatalf("sixth attempt in flight: %v, wait %v; want refused for at most 3 minutes", r, wait)
	}
	// A refusal takes nothing from the other bucket.
	if r, _ := th.reserve("user:carol", "ip:a"); r == nil {
		t.Fatal("another account from the same address is refused")
	} else {
		r.cancel()
	}
	// Cancelled attempts give their place back; failed ones keep it.
	held[0].cancel()
	held[0].fail() // too late: the first settlement counts
	held[1].fail()
	held[1].cancel()
	r, _ := th.reserve("user:bob", "ip:a")
	if r == nil {
		t.Fatal("a cancelled attempt's place was not given back")
	}
	if r2, _ := th.reserve("user:bob", "ip:a"); r2 != nil {
		t.Fatal("a failed attempt's place was given back")
	}
	// A success forgets the account's failures.
	r.succeed()
	for i := range 5 {
		if r, _ := th.reserve("user:bob", "ip:c"); r == nil {
			t.Fatalf("attempt %d after a success refused", i)
		} else {
			r.fail()
		}
	}
	// One place comes back every 3 minutes.
	c.add(3 * time.Minute)
	if r, _ := th.reserve("user:bob", "ip:c"); r == nil {
		t.Fatal("no place back after 3 minutes")
	}
}

func TestThrottlePerAddress(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(0, 0)}
	th := newThrottle(c.now)
	for i := range 20 {
		r, _ := th.reserve(fmt.Sprint("user:u", i), "ip:192.0.2.1")
		if r == nil {
			t.Fatalf("attempt %d refused", i)
		}
		r.fail()
	}
	if r, wait := th.reserve("user:fresh", "ip:192.0.2.1"); r != nil || wait <= 0 || wait > 30*time.Second {
		t.Fatalf("an address that failed 20 times: %v, wait %v", r, wait)
	}
	if r, _ := th.reserve("user:fresh", "ip:192.0.2.2"); r == nil {
		t.Fatal("another address is throttled")
	}
	// Full buckets are swept away after a while.
	c.add(time.Hour)
	th.reserve("user:x", "ip:192.0.2.3")
	th.mu.Lock()
	defer th.mu.Unlock()
	if len(th.buckets) != 2 {
		t.Fatalf("%d buckets after the sweep, want the 2 just used", len(th.buckets))
	}
}
