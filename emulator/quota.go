package emulator

import (
	"sync"
	"time"
)

// quotaWindows counts usage in fixed windows: a window opens at the first
// use of its key, admits Limit units until Period has passed, then starts
// over. Resource Graph ("15 queries within every 5-second window", with
// x-ms-user-quota-resets-after) and Cost Management ("12 QPU per 10 seconds,
// 60 per minute, 600 per hour") describe their quotas this way, and their
// headers report the time until the window resets, which a token bucket
// (throttle.go) has no notion of.
type quotaWindows struct {
	mu sync.Mutex
	m  map[string]*quotaWindow
}

type quotaWindow struct {
	start time.Time
	used  float64
}

// quotaDraw asks for N units from the window Key, which admits Limit units
// per Period.
type quotaDraw struct {
	Key    string
	Limit  float64
	Period time.Duration
	N      float64
}

// quotaState is a window after a take: what is left and when it resets.
type quotaState struct {
	Remaining float64
	ResetsIn  time.Duration
}

func newQuotaWindows() *quotaWindows { return &quotaWindows{m: map[string]*quotaWindow{}} }

// take takes from every window or from none. out receives, per draw, the
// window's state after the take (or now, when refused). When refused, retry
// is how long until every refusing window has reset.
func (q *quotaWindows) take(now time.Time, draws []quotaDraw, out []quotaState) (retry time.Duration, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.m) > 100_000 {
		for k, w := range q.m {
			if now.Sub(w.start) >= time.Hour {
				delete(q.m, k)
			}
		}
	}
	ws := make([]*quotaWindow, len(draws))
	ok = true
	for i, d := range draws {
		w := q.m[d.Key]
		if w == nil || now.Sub(w.start) >= d.Period || now.Before(w.start) {
			w = &quotaWindow{start: now}
			q.m[d.Key] = w
		}
		ws[i] = w
		if w.used+d.N > d.Limit {
			ok = false
			retry = max(retry, w.start.Add(d.Period).Sub(now))
		}
	}
	for i, d := range draws {
		if ok {
			ws[i].used += d.N
		}
		if i < len(out) {
			out[i] = quotaState{Remaining: max(0, d.Limit-ws[i].used), ResetsIn: ws[i].start.Add(d.Period).Sub(now)}
		}
	}
	return retry, ok
}

// hhmmss formats a duration as Resource Graph's resets-after header does,
// rounded up to whole seconds.
func hhmmss(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	s = max(s, 0)
	return twoDigits(s/3600) + ":" + twoDigits(s/60%60) + ":" + twoDigits(s%60)
}
