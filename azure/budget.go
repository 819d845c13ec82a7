package azure

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/stewardhq/steward"
)

// Pacing thresholds. Azure's buckets (FACTS.md §2–4): Resource Manager 250
// reads (+25/s) and 200 writes or deletes (+10/s) per principal and
// subscription; Resource Graph about 15 queries per 5 seconds per user;
// Cost Management 12 QPU per 10 seconds per tenant.
const (
	armLow     = 25                     // remaining requests under which Resource Manager calls are spaced
	armMaxGap  = 250 * time.Millisecond // spacing at zero remaining: slower than any bucket refills
	graphLow   = 5                      // remaining Resource Graph queries under which queries are spaced
	costLow    = 3                      // remaining QPU under which cost queries are spaced
	costWindow = 10 * time.Second       // Cost Management's shortest QPU window
	maxPause   = 5 * time.Minute        // longest pause the budget imposes on its own
)

// Cost Management's retry-after headers, in seconds (only the first is
// documented; the others are seen in the wild).
var costRetryHeaders = []string{
	"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
	"x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
	"x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
	"x-ms-ratelimit-microsoft.costmanagement-client-retry-after",
	"x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after",
}

// budget is the per-try pipeline policy that paces one principal's
// requests by Azure's remaining-request headers. Each bucket (a
// subscription and operation kind, the tenant, Resource Graph, Cost
// Management) has a gap between requests, zero while plenty remains, and
// the time its next request may go; concurrent requests take turns.
type budget struct {
	log   *slog.Logger
	mu    sync.Mutex
	lanes map[string]*lane
	stats budgetStats
}

type lane struct {
	gap  time.Duration // spacing between requests
	next time.Time     // earliest start of the next request
}

// budgetStats counts what the budget did, for tests and logs.
type budgetStats struct {
	Paced     atomic.Int64 // requests delayed by pacing
	PacedFor  atomic.Int64 // total delay, nanoseconds
	Throttled atomic.Int64 // 429 answers seen
}

func newBudget(log *slog.Logger) *budget {
	return &budget{log: log, lanes: map[string]*lane{}}
}

// Do waits for the request's turn, sends it and learns from the answer.
func (b *budget) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	key := laneKey(raw)
	if d := b.reserve(key, time.Now()); d > 0 {
		if d > steward.QuotaMoment && steward.NoQuotaWait(raw.Context()) {
			return nil, steward.NewQuotaWaitError(d, laneName(key))
		}
		b.stats.Paced.Add(1)
		b.stats.PacedFor.Add(int64(d))
		if err := sleep(raw.Context(), d); err != nil {
			return nil, err
		}
	}
	resp, err := req.Next()
	if err != nil {
		return resp, err
	}
	b.observe(key, resp, time.Now())
	return resp, nil
}

// reserve takes the next slot of a lane and returns how long to wait for it.
func (b *budget) reserve(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.lanes[key]
	if l == nil || l.gap == 0 && !l.next.After(now) {
		return 0
	}
	start := l.next
	if start.Before(now) {
		start = now
	}
	l.next = start.Add(l.gap)
	return start.Sub(now)
}

// observe reads the remaining-request headers of an answer and sets the
// lane's gap; a 429 pauses the lane until its Retry-After.
func (b *budget) observe(key string, resp *http.Response, now time.Time) {
	h := resp.Header
	gap, pause, remaining, seen := time.Duration(0), time.Duration(0), -1, false

	// Resource Manager: x-ms-ratelimit-remaining-{subscription,tenant}-*.
	for name, vs := range h {
		ln := strings.ToLower(name)
		if !strings.HasPrefix(ln, "x-ms-ratelimit-remaining-subscription-") && !strings.HasPrefix(ln, "x-ms-ratelimit-remaining-tenant-") || len(vs) == 0 {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(vs[0]))
		if err != nil {
			continue
		}
		seen = true
		if remaining < 0 || n < remaining {
			remaining = n
		}
	}
	if seen && remaining < armLow {
		gap = armMaxGap * time.Duration(armLow-remaining) / armLow
	}

	// Resource Graph: x-ms-user-quota-remaining over x-ms-user-quota-resets-after.
	if v := h.Get("x-ms-user-quota-remaining"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			seen, remaining = true, n
			reset := parseHMS(h.Get("x-ms-user-quota-resets-after"))
			switch {
			case n <= 0:
				pause = reset
			case n < graphLow:
				gap = max(gap, reset/time.Duration(n+1))
			}
		}
	}

	// Cost Management: QPU remaining (a list of quotas: take the smallest).
	if v := h.Get("x-ms-ratelimit-microsoft.costmanagement-qpu-remaining"); v != "" {
		if n, ok := smallestCount(v); ok {
			seen, remaining = true, n
			if n < costLow {
				gap = max(gap, costWindow/time.Duration(n+1))
			}
		}
	}
	costWait := costRetryAfter(h)
	pause = max(pause, costWait)

	if resp.StatusCode == http.StatusTooManyRequests {
		b.stats.Throttled.Add(1)
		ra := retryAfter(resp)
		if ra <= 0 && costWait > 0 {
			// Let azcore's retry policy honour Cost Management's header.
			h.Set("Retry-After", strconv.Itoa(int((costWait+time.Second-1)/time.Second)))
			ra = costWait
		}
		pause = max(pause, ra)
		b.log.Info("azure throttled the request", slog.String("bucket", key), slog.Duration("retry_after", ra))
	}
	pause = min(pause, maxPause)
	if !seen && pause == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.lanes[key]
	if l == nil {
		if gap == 0 && pause == 0 {
			return
		}
		l = &lane{}
		b.lanes[key] = l
	}
	if gap > 0 && l.gap == 0 {
		b.log.Debug("slowing down before azure throttles", slog.String("bucket", key), slog.Int("remaining", remaining), slog.Duration("gap", gap))
	}
	l.gap = gap
	if until := now.Add(pause); pause > 0 && until.After(l.next) {
		l.next = until
	}
	if l.gap == 0 && !l.next.After(now) {
		delete(b.lanes, key)
	}
}

// laneKey names the throttling bucket a request draws from.
func laneKey(r *http.Request) string {
	p := strings.ToLower(r.URL.Path)
	switch {
	case strings.Contains(p, "/providers/microsoft.resourcegraph/"):
		return "graph"
	case strings.Contains(p, "/providers/microsoft.costmanagement/"):
		return "cost"
	}
	kind := "writes"
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		kind = "reads"
	case http.MethodDelete:
		kind = "deletes"
	}
	host := r.URL.Host
	if strings.HasPrefix(p, "/subscriptions/") {
		sub, _, _ := strings.Cut(p[len("/subscriptions/"):], "/")
		return host + "/subscriptions/" + sub + "/" + kind
	}
	return host + "/tenant/" + kind
}

// laneName says which quota a lane is, in words.
func laneName(key string) string {
	switch {
	case key == "cost":
		return "Cost Management"
	case key == "graph":
		return "Resource Graph"
	}
	return "Resource Manager"
}

// parseHMS reads Resource Graph's hh:mm:ss.
func parseHMS(s string) time.Duration {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) != 3 {
		return 0
	}
	var d time.Duration
	for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
		f, err := strconv.ParseFloat(parts[i], 64)
		if err != nil || f < 0 {
			return 0
		}
		d += time.Duration(f * float64(unit))
	}
	return d
}

// smallestCount reads the smallest count of a quota list such as
// "QueriesPerTenant10s:11,QueriesPerTenant1m:59" or a bare number.
func smallestCount(v string) (int, bool) {
	best, ok := 0, false
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
		part = strings.TrimSpace(part)
		if i := strings.LastIndexAny(part, ":="); i >= 0 {
			part = strings.TrimSpace(part[i+1:])
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			continue
		}
		if !ok || n < best {
			best, ok = n, true
		}
	}
	return best, ok
}

// costRetryAfter is the longest of Cost Management's retry-after headers.
func costRetryAfter(h http.Header) time.Duration {
	var d time.Duration
	for _, name := range costRetryHeaders {
		if v := h.Get(name); v != "" {
			if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && n > 0 {
				d = max(d, time.Duration(n*float64(time.Second)))
			}
		}
	}
	return d
}

// retryAfter reads Retry-After (seconds or an HTTP date) and its
// millisecond variants.
func retryAfter(resp *http.Response) time.Duration {
	h := resp.Header
	for _, name := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if v := h.Get(name); v != "" {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				return time.Duration(n) * time.Millisecond
			}
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// patience is the per-call policy that outlasts throttling: when azcore's
// retry policy gives up on a 429 (too many tries, or a Retry-After beyond
// its cap), it waits the Retry-After and sends the request again, for as
// long as the context lives.
type patience struct{ b *budget }

// patienceDefault is the wait when a 429 names none.
const patienceDefault = 5 * time.Second

func (p *patience) Do(req *policy.Request) (*http.Response, error) {
	for {
		resp, err := req.Next()
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		ctx := req.Raw().Context()
		if ctx.Err() != nil {
			return resp, nil
		}
		wait := retryAfter(resp)
		if wait <= 0 {
			wait = patienceDefault
		}
		if wait > steward.QuotaMoment && steward.NoQuotaWait(ctx) {
			runtime.Drain(resp)
			return nil, steward.NewQuotaWaitError(wait, laneName(laneKey(req.Raw())))
		}
		p.b.log.Info("azure still throttling after retries; waiting", slog.Duration("retry_after", wait))
		runtime.Drain(resp)
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
