package emulator

import (
	"math"
	"sync"
	"time"
)

// limiter is a set of token buckets addressed by string keys. It knows
// nothing of ARM: ARM's per-principal and global buckets use it here, and the
// Resource Graph quota and Cost Management QPU windows can use it too (a
// fixed window of N per T is a bucket of size N refilled at N/T).
//
// Buckets are created full on first use and refill continuously.
type limiter struct {
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
	spec   BucketSpec
}

// draw asks for N tokens from the bucket Key, which has the given Spec.
type draw struct {
	Key  string
	Spec BucketSpec
	N    float64
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, buckets: map[string]*bucket{}}
}

// take takes from every bucket or from none: the request is allowed only
// when each bucket has enough. remaining receives, per draw, the whole
// tokens left after the take (or, when refused, what is left now). When
// refused, retry is how long until every bucket would have enough.
func (l *limiter) take(draws []draw, remaining []int) (retry time.Duration, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > 200_000 {
		l.pruneLocked(now)
	}
	bs := make([]*bucket, len(draws))
	ok = true
	for i, d := range draws {
		b := l.buckets[d.Key]
		if b == nil {
			b = &bucket{tokens: d.Spec.Size, last: now, spec: d.Spec}
			l.buckets[d.Key] = b
		}
		b.refill(now)
		bs[i] = b
		if b.tokens < d.N {
			ok = false
			wait := time.Duration(math.Ceil((d.N - b.tokens) / b.spec.RefillPerSecond * float64(time.Second)))
			retry = max(retry, wait)
		}
	}
	for i, d := range draws {
		if ok {
			bs[i].tokens -= d.N
		}
		if i < len(remaining) {
			remaining[i] = int(math.Floor(bs[i].tokens))
		}
	}
	return retry, ok
}

func (b *bucket) refill(now time.Time) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(b.spec.Size, b.tokens+el.Seconds()*b.spec.RefillPerSecond)
		b.last = now
	}
}

// pruneLocked forgets buckets that have refilled completely: a new bucket
// starts full, so nothing is lost.
func (l *limiter) pruneLocked(now time.Time) {
	for k, b := range l.buckets {
		b.refill(now)
		if b.tokens >= b.spec.Size {
			delete(l.buckets, k)
		}
	}
}

// retryAfterSeconds rounds a wait up to whole seconds, at least one, as the
// Retry-After header carries seconds.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}
