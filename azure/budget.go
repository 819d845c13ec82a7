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
// requests by Azure's remaining-request headers. Each bucket Azure counts
// (a subscription's reads, writes or deletes, for this principal and for
// all of them; the tenant's; Resource Graph's user quota; Cost
// Management's QPU) is a lane with a gap between requests, zero while
// plenty remains, and the time its next request may go; concurrent
// requests take turns. A request waits on its own lane and on every lane
// the last answer to a request of its kind reported short, since Azure
// counts some calls in buckets their method does not name (a Resource
// Graph POST as a tenant read, exportTemplate as a read).
type budget struct {
	log   *slog.Logger
	mu    sync.Mutex
	lanes map[string]*lane
	draws map[string][]string // request kind (laneKey) -> the short lanes its last answer reported
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
	return &budget{log: log, lanes: map[string]*lane{}, draws: map[string][]string{}}
}

// Do waits for the request's turn, sends it and learns from the answer.
func (b *budget) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	key := laneKey(raw)
	if d, on := b.reserve(key, time.Now()); d > 0 {
		if d > steward.QuotaMoment && steward.NoQuotaWait(raw.Context()) {
			return nil, steward.NewQuotaWaitError(d, laneName(on))
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
	b.observe(raw, resp, time.Now())
	return resp, nil
}

// reserve takes the next slot of every lane a request of kind key draws
// from and returns how long to wait for the latest, and its lane.
func (b *budget) reserve(key string, now time.Time) (time.Duration, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var wait time.Duration
	on := key
	take := func(name string) {
		l := b.lanes[name]
		if l == nil || l.gap == 0 && !l.next.After(now) {
			return
		}
		start := l.next
		if start.Before(now) {
			start = now
		}
		l.next = start.Add(l.gap)
		if d := start.Sub(now); d > wait {
			wait, on = d, name
		}
	}
	take(key)
	for _, name := range b.draws[key] {
		if name != key {
			take(name)
		}
	}
	return wait, on
}

// counter is one remaining-request count of an answer: the lane of the
// bucket it counts, and the gap it asks for.
type counter struct {
	lane      string
	remaining int
	gap       time.Duration
	pause     time.Duration // the bucket is empty until then (Resource Graph)
}

// counters reads the remaining-request headers of an answer to r, each as
// the bucket it counts (FACTS.md §2–4, recordings/README.md): Resource
// Manager's x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}
// (this principal), -subscription-global-* (every principal: 15 times as
// large) and -tenant-*; Resource Graph's x-ms-user-quota-remaining over
// -resets-after; Cost Management's QPU. Other x-ms-ratelimit-remaining-*
// headers are a service's own override, not Resource Manager's buckets:
// Resource Graph's -tenant-resource-requests repeats its user quota
// (recorded: 14, 11, 9, equal each time), and Compute's -resource counts
// Compute's own limits; reading them as Resource Manager's would slow
// every Resource Graph query.
func counters(r *http.Request, h http.Header) []counter {
	var out []counter
	arm := func(scope, kind string, low int, v string) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return
		}
		c := counter{lane: armLane(r, scope, kind), remaining: n}
		if n < low {
			c.gap = armMaxGap * time.Duration(low-max(n, 0)) / time.Duration(low)
		}
		out = append(out, c)
	}
	for name, vs := range h {
		ln := strings.ToLower(name)
		rest, ok := strings.CutPrefix(ln, armQuotaPrefix)
		if !ok || len(vs) == 0 {
			continue
		}
		scope, kind, _ := strings.Cut(rest, "-")
		if kind != "reads" && kind != "writes" && kind != "deletes" && kind != "global-reads" && kind != "global-writes" && kind != "global-deletes" {
			continue
		}
		low := armLow
		if strings.HasPrefix(kind, "global-") {
			low = armLow * armGlobalFactor
		}
		switch scope {
		case "subscription":
			if subscriptionIn(r) == "" {
				continue // a subscription's counter on a call above every subscription: not ours to place
			}
			arm("subscription", kind, low, vs[0])
		case "tenant":
			if !strings.HasPrefix(kind, "global-") {
				arm("tenant", kind, low, vs[0])
			}
		}
	}

	if v := h.Get("x-ms-user-quota-remaining"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			c := counter{lane: "graph", remaining: n}
			reset := parseHMS(h.Get("x-ms-user-quota-resets-after"))
			switch {
			case n <= 0:
				c.pause = reset
			case n < graphLow:
				c.gap = reset / time.Duration(n+1)
			}
			out = append(out, c)
		}
	}

	// A list of quotas: take the smallest.
	if v := h.Get("x-ms-ratelimit-microsoft.costmanagement-qpu-remaining"); v != "" {
		if n, ok := smallestCount(v); ok {
			c := counter{lane: "cost", remaining: n}
			if n < costLow {
				c.gap = costWindow / time.Duration(n+1)
			}
			out = append(out, c)
		}
	}
	return out
}

// observe reads the remaining-request counters of the answer to r and sets
// the gap of each bucket they count; a 429 pauses the request's own lane
// until its Retry-After.
func (b *budget) observe(r *http.Request, resp *http.Response, now time.Time) {
	h := resp.Header
	key := laneKey(r)
	cs := counters(r, h)
	pause := costRetryAfter(h)
	if resp.StatusCode == http.StatusTooManyRequests {
		b.stats.Throttled.Add(1)
		ra := retryAfter(resp)
		if ra <= 0 && pause > 0 {
			// Let azcore's retry policy honour Cost Management's header.
			h.Set("Retry-After", strconv.Itoa(int((pause+time.Second-1)/time.Second)))
			ra = pause
		}
		pause = max(pause, ra)
		b.log.Info("azure throttled the request", slog.String("bucket", key), slog.Duration("retry_after", ra))
	}
	if len(cs) == 0 && pause == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var short []string
	set := func(name string, gap, pause time.Duration, remaining int, counted bool) {
		pause = min(pause, maxPause)
		l := b.lanes[name]
		if l == nil {
			if gap == 0 && pause == 0 {
				return
			}
			l = &lane{}
			b.lanes[name] = l
		}
		if gap > 0 && l.gap == 0 {
			b.log.Debug("slowing down before azure throttles", slog.String("bucket", name), slog.Int("remaining", remaining), slog.Duration("gap", gap))
		}
		if counted || gap > l.gap {
			l.gap = gap
		}
		if until := now.Add(pause); pause > 0 && until.After(l.next) {
			l.next = until
		}
		if l.gap == 0 && !l.next.After(now) {
			delete(b.lanes, name)
			return
		}
		if name != key {
			short = append(short, name)
		}
	}
	own := false
	for _, c := range cs {
		own = own || c.lane == key
		set(c.lane, c.gap, c.pause, c.remaining, true)
	}
	if pause > 0 || !own {
		// A 429's wait is the request's own; a lane no counter named keeps its gap.
		set(key, 0, pause, -1, false)
	}
	if len(short) > 0 {
		b.draws[key] = short
	} else {
		delete(b.draws, key)
	}
}

// armGlobalFactor is how much larger a subscription's global bucket (all
// principals) is than one principal's (FACTS.md §2; recorded: global =
// 15 × (per-principal + 1) − 1).
const armGlobalFactor = 15

// laneKey names the kind of a request: the bucket its method and scope
// say it draws from.
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
	if subscriptionIn(r) != "" {
		return armLane(r, "subscription", kind)
	}
	return armLane(r, "tenant", kind)
}

// armLane names a Resource Manager bucket: a subscription's (or the
// tenant's) reads, writes or deletes, or a subscription's global-*.
func armLane(r *http.Request, scope, kind string) string {
	if scope == "subscription" {
		return r.URL.Host + "/subscriptions/" + subscriptionIn(r) + "/" + kind
	}
	return r.URL.Host + "/tenant/" + kind
}

// subscriptionIn is the subscription a request's path is under, lower
// case, or "".
func subscriptionIn(r *http.Request) string {
	p := strings.ToLower(r.URL.Path)
	if !strings.HasPrefix(p, "/subscriptions/") {
		return ""
	}
	sub, _, _ := strings.Cut(p[len("/subscriptions/"):], "/")
	return sub
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
