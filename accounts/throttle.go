package accounts

import (
	"strings"
	"sync"
	"time"
)

// throttle limits sign-ins with token buckets: per account (5, then one
// more every 3 minutes) and per client address (20, then one every 30
// seconds). Each attempt reserves a token from both buckets before its
// password is checked, so attempts in flight count against the limits as
// much as failed ones: thirty guesses sent together get five checks, as
// thirty sent one after another do. Buckets live in memory: each replica
// throttles on its own.
type throttle struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

type bucketRule struct {
	size  float64
	every time.Duration // one token back per this much time
}

func ruleFor(key string) bucketRule {
	if strings.HasPrefix(key, "ip:") {
		return bucketRule{size: 20, every: 30 * time.Second}
	}
	return bucketRule{size: 5, every: 3 * time.Minute}
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, buckets: map[string]*bucket{}}
}

// level refills a bucket to now and returns it. The caller holds mu.
func (t *throttle) level(key string, now time.Time) *bucket {
	rule := ruleFor(key)
	b, ok := t.buckets[key]
	if !ok {
		b = &bucket{tokens: rule.size, at: now}
		t.buckets[key] = b
	}
	b.tokens = min(rule.size, b.tokens+float64(now.Sub(b.at))/float64(rule.every))
	b.at = now
	return b
}

// reserve takes a token from every key's bucket, all or none, under one
// lock. When a bucket is empty it takes nothing and returns how long until
// every bucket has a token again.
func (t *throttle) reserve(keys ...string) (*reservation, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var longest time.Duration
	for _, k := range keys {
		if b := t.level(k, now); b.tokens < 1 {
			longest = max(longest, time.Duration((1-b.tokens)*float64(ruleFor(k).every)))
		}
	}
	if longest > 0 {
		return nil, max(longest, time.Nanosecond)
	}
	for _, k := range keys {
		t.buckets[k].tokens--
	}
	t.sweep(now)
	return &reservation{t: t, keys: keys}, 0
}

// reservation is one attempt's place in its buckets, until the attempt
// settles it: fail keeps it taken, succeed and cancel give it back. Only
// the first settlement counts, so cancel can be deferred.
type reservation struct {
	t       *throttle
	keys    []string
	settled bool
}

// fail keeps the tokens: a failed attempt counts against the limits.
func (r *reservation) fail() {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	r.settled = true
}

// cancel gives the tokens back: the attempt was never decided.
func (r *reservation) cancel() {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	if r.settled {
		return
	}
	r.settled = true
	r.t.refund(r.keys)
}

// succeed gives the tokens back and forgets the account's earlier
// failures: its owner knew the password. The address's failures stay.
func (r *reservation) succeed() {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	if r.settled {
		return
	}
	r.settled = true
	r.t.refund(r.keys)
	for _, k := range r.keys {
		if !strings.HasPrefix(k, "ip:") {
			delete(r.t.buckets, k)
		}
	}
}

// refund puts a token back in each key's bucket. The caller holds mu.
func (t *throttle) refund(keys []string) {
	now := t.now()
	for _, k := range keys {
		b := t.level(k, now)
		b.tokens = min(ruleFor(k).size, b.tokens+1)
	}
}

// sweep drops full buckets now and then, so memory stays bounded by the
// number of recent attempts. The caller holds mu.
func (t *throttle) sweep(now time.Time) {
	if now.Sub(t.swept) < time.Minute {
		return
	}
	t.swept = now
	for k := range t.buckets {
		if t.level(k, now).tokens >= ruleFor(k).size {
			delete(t.buckets, k)
		}
	}
}
