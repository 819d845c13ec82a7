package azure

// Unit tests of the throttling policies, inside the package because they
// drive the pipeline with a fake transport instead of the emulator.

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/stewardhq/steward"
)

func answer(status int, headers ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader("{}"))}
}

func TestBudgetObserve(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const (
		subGet   = "GET https://management.azure.com/subscriptions/s1/resources"
		tenantWr = "POST https://management.azure.com/providers/Microsoft.Resources/checkResourceName"
		graphQ   = "POST https://management.azure.com/providers/Microsoft.ResourceGraph/resources"
		costQ    = "POST https://management.azure.com/subscriptions/s1/providers/Microsoft.CostManagement/query"
		reads    = "management.azure.com/subscriptions/s1/reads"
	)
	tests := []struct {
		name    string
		req     string
		resp    *http.Response
		lane    string
		gap     time.Duration
		pauseTo time.Duration // lane.next - now
	}{
		{"PlentyLeft", subGet, answer(200, "x-ms-ratelimit-remaining-subscription-reads", "249"), reads, 0, 0},
		{"ARMLow", subGet, answer(200, "x-ms-ratelimit-remaining-subscription-reads", "5", "x-ms-ratelimit-remaining-subscription-global-reads", "3700"), reads, armMaxGap * 20 / 25, 0},
		// The global bucket is 15 times one principal's, and so is its threshold.
		{"GlobalLow", subGet, answer(200, "x-ms-ratelimit-remaining-subscription-reads", "200", "x-ms-ratelimit-remaining-subscription-global-reads", "0"),
			"management.azure.com/subscriptions/s1/global-reads", armMaxGap, 0},
		{"GlobalPlenty", subGet, answer(200, "x-ms-ratelimit-remaining-subscription-global-reads", "300"), "management.azure.com/subscriptions/s1/global-reads", armMaxGap * 75 / 375, 0},
		{"ARMEmpty", tenantWr, answer(200, "x-ms-ratelimit-remaining-tenant-writes", "0"), "management.azure.com/tenant/writes", armMaxGap, 0},
		{"GraphLow", graphQ, answer(200, "x-ms-user-quota-remaining", "3", "x-ms-user-quota-resets-after", "00:00:04"), "graph", time.Second, 0},
		{"GraphEmpty", graphQ, answer(200, "x-ms-user-quota-remaining", "0", "x-ms-user-quota-resets-after", "00:00:05"), "graph", 0, 5 * time.Second},
		// Resource Graph's -tenant-resource-requests is its user quota again, not a Resource Manager bucket.
		{"GraphResourceRequests", graphQ, answer(200, "x-ms-ratelimit-remaining-tenant-resource-requests", "3", "x-ms-user-quota-remaining", "14", "x-ms-user-quota-resets-after", "00:00:05"), "graph", 0, 0},
		// A Resource Graph query is a tenant read to Resource Manager.
		{"GraphTenantReads", graphQ, answer(200, "x-ms-ratelimit-remaining-tenant-reads", "5", "x-ms-user-quota-remaining", "14"), "management.azure.com/tenant/reads", armMaxGap * 20 / 25, 0},
		{"ComputeOwn", subGet, answer(200, "x-ms-ratelimit-remaining-resource", "Microsoft.Compute/LowCostGetSubscriptionMaximum;3"), reads, 0, 0},
		{"CostLow", costQ, answer(200, "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining", "QueryPerTenant10s:1,QueryPerTenant1m:40"), "cost", 5 * time.Second, 0},
		{"Throttled", subGet, answer(429, "Retry-After", "7", "x-ms-ratelimit-remaining-subscription-reads", "0"), reads, armMaxGap, 7 * time.Second},
		{"CostThrottled", costQ, answer(429, "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after", "12"), "cost", 0, 12 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBudget(slog.New(slog.DiscardHandler))
			b.observe(request(tt.req), tt.resp, now)
			l := b.lanes[tt.lane]
			var gap, pause time.Duration
			if l != nil {
				gap = l.gap
				if !l.next.IsZero() {
					pause = l.next.Sub(now)
				}
			}
			if gap != tt.gap || pause != tt.pauseTo {
				t.Errorf("gap %v pause %v, want %v and %v", gap, pause, tt.gap, tt.pauseTo)
			}
			if want := tt.gap != 0 || tt.pauseTo != 0; len(b.lanes) != 1 && want || len(b.lanes) != 0 && !want {
				t.Errorf("lanes %v: only %s should be paced", slices.Collect(maps.Keys(b.lanes)), tt.lane)
			}
			// A 429 always ends up with a Retry-After azcore understands.
			if tt.resp.StatusCode == 429 && tt.resp.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After on a 429")
			}
		})
	}
}

// request builds a request from "METHOD URL".
func request(s string) *http.Request {
	method, u, _ := strings.Cut(s, " ")
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	return r
}

func TestBudgetReserve(t *testing.T) {
	t.Parallel()
	b := newBudget(slog.New(slog.DiscardHandler))
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	put := request("PUT https://management.azure.com/subscriptions/s1/resourceGroups/g")
	key := laneKey(put)
	if d, _ := b.reserve(key, now); d != 0 {
		t.Fatalf("an unknown lane waits %v", d)
	}
	b.observe(put, answer(200, "x-ms-ratelimit-remaining-subscription-writes", "0"), now)
	// Concurrent requests take turns, a gap apart.
	for i, want := range []time.Duration{0, armMaxGap, 2 * armMaxGap} {
		if d, _ := b.reserve(key, now); d != want {
			t.Errorf("request %d waits %v, want %v", i, d, want)
		}
	}
	// Reads of the same subscription are another bucket.
	if d, _ := b.reserve(laneKey(request("GET https://management.azure.com/subscriptions/s1/resources")), now); d != 0 {
		t.Errorf("a read waits %v on the writes' bucket", d)
	}
	// Plenty left again: the lane is forgotten once its slots have passed.
	later := now.Add(time.Second)
	b.observe(put, answer(200, "x-ms-ratelimit-remaining-subscription-writes", "150"), later)
	if d, _ := b.reserve(key, later); d != 0 || len(b.lanes) != 0 {
		t.Errorf("waits %v with %d lanes", d, len(b.lanes))
	}
}

// TestBudgetCountedElsewhere: a request Azure counts in a bucket its
// method does not name waits on that bucket. Recorded: exportTemplate, a
// POST, answers with -subscription-reads; a Resource Graph query with
// -tenant-reads.
func TestBudgetCountedElsewhere(t *testing.T) {
	t.Parallel()
	b := newBudget(slog.New(slog.DiscardHandler))
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	export := request("POST https://management.azure.com/subscriptions/s1/resourcegroups/g/exportTemplate")
	b.observe(export, answer(200, "x-ms-ratelimit-remaining-subscription-reads", "0"), now)
	if d, on := b.reserve(laneKey(export), now); d != 0 || on != laneKey(export) {
		t.Fatalf("first export waits %v on %s", d, on)
	}
	get := laneKey(request("GET https://management.azure.com/subscriptions/s1/resources"))
	if d, on := b.reserve(laneKey(export), now); d != armMaxGap || on != get {
		t.Errorf("second export waits %v on %s, want %v on %s", d, on, armMaxGap, get)
	}
	graph := request("POST https://management.azure.com/providers/Microsoft.ResourceGraph/resources")
	b.observe(graph, answer(200, "x-ms-ratelimit-remaining-tenant-reads", "0", "x-ms-user-quota-remaining", "14"), now)
	tenantGet := laneKey(request("GET https://management.azure.com/tenants"))
	b.reserve("graph", now)
	if d, on := b.reserve("graph", now); d != armMaxGap || on != tenantGet {
		t.Errorf("a Resource Graph query waits %v on %s, want %v on %s", d, on, armMaxGap, tenantGet)
	}
	// The tenant's reads are short for every tenant-level read too.
	if d, _ := b.reserve(tenantGet, now); d != 2*armMaxGap {
		t.Errorf("listing tenants waits %v, want %v", d, 2*armMaxGap)
	}
}

func TestLaneKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ method, url, want string }{
		{"GET", "https://management.azure.com/subscriptions/S1/resourceGroups?api-version=x", "management.azure.com/subscriptions/s1/reads"},
		{"PATCH", "https://management.azure.com/subscriptions/s1/resourceGroups/g/providers/Microsoft.Resources/tags/default", "management.azure.com/subscriptions/s1/writes"},
		{"DELETE", "https://management.azure.com/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/x", "management.azure.com/subscriptions/s1/deletes"},
		{"GET", "https://management.azure.com/subscriptions?api-version=x", "management.azure.com/tenant/reads"}, // listing subscriptions is a tenant-level read
		{"GET", "https://management.azure.com/providers/Microsoft.ManagementPartner/partners", "management.azure.com/tenant/reads"},
		{"POST", "https://management.azure.com/providers/Microsoft.ResourceGraph/resources", "graph"},
		{"POST", "https://management.azure.com/subscriptions/s1/providers/Microsoft.CostManagement/query", "cost"},
	} {
		r, _ := http.NewRequest(tt.method, tt.url, nil)
		if got := laneKey(r); got != tt.want {
			t.Errorf("%s %s: %s, want %s", tt.method, tt.url, got, tt.want)
		}
	}
}

// fakeTransport answers from a function.
type fakeTransport func(*http.Request) (*http.Response, error)

func (f fakeTransport) Do(r *http.Request) (*http.Response, error) { return f(r) }

// TestPatience checks that a 429 never fails a call while the context
// lives: fourteen 429s in a row outlast azcore's eight retries, and the
// patience policy carries on until the answer comes; a POST body is sent
// whole every time.
func TestPatience(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	tr := fakeTransport(func(r *http.Request) (*http.Response, error) {
		body, _ := io.ReadAll(r.Body)
		if string(body) != `{"q":1}` {
			t.Errorf("try %d sent body %q", calls.Load(), body)
		}
		if calls.Add(1) <= 14 {
			return answer(http.StatusTooManyRequests, "Retry-After-Ms", "2"), nil
		}
		return answer(http.StatusOK), nil
	})
	c := &Connector{log: slog.New(slog.DiscardHandler)}
	b := newBudget(c.log)
	opts := c.clientOptions(b)
	opts.Transport = tr
	pl := runtime.NewPipeline(moduleName, moduleVersion, runtime.PipelineOptions{}, &opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := runtime.NewRequest(ctx, http.MethodPost, "https://management.example/subscriptions/s/providers/Microsoft.CostManagement/query")
	if err := runtime.MarshalAsJSON(req, map[string]int{"q": 1}); err != nil {
		t.Fatal(err)
	}
	resp, err := pl.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %v, err %v", resp, err)
	}
	if n := calls.Load(); n != 15 {
		t.Errorf("%d tries, want 15", n)
	}
	if got := b.stats.Throttled.Load(); got != 14 {
		t.Errorf("budget saw %d 429s, want 14", got)
	}

	// When the context ends, the 429 is returned (and maps to ETHROTTLED).
	calls.Store(-1000)
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	req, _ = runtime.NewRequest(short, http.MethodPost, "https://management.example/subscriptions/s/resourceGroups")
	_ = runtime.MarshalAsJSON(req, map[string]int{"q": 1})
	if _, err := pl.Do(req); err == nil {
		t.Error("a call throttled past its deadline succeeded")
	}
}

func TestAzError(t *testing.T) {
	t.Parallel()
	armErr := func(status int, code, msg string) error {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"error":{"code":"` + code + `","message":"` + msg + `"}}`))}
		resp.Request, _ = http.NewRequest(http.MethodGet, "https://management.example/subscriptions/s", nil)
		return runtime.NewResponseError(resp)
	}
	for _, tt := range []struct {
		err      error
		code     string
		contains string
	}{
		{armErr(401, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time."), steward.EUNAUTHORIZED, "ExpiredAuthenticationToken"},
		{armErr(403, "AuthorizationFailed", "The client 'x' with object id 'y' does not have authorization to perform action 'Microsoft.Resources/tags/write' over scope '/subscriptions/s' or the scope is invalid."), steward.EFORBIDDEN, "Microsoft.Resources/tags/write over /subscriptions/s"},
		{armErr(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."), steward.EFORBIDDEN, "Insufficient privileges"},
		{armErr(404, "ResourceGroupNotFound", "Resource group 'g' could not be found."), steward.ENOTFOUND, "Resource group 'g' could not be found (ResourceGroupNotFound)"},
		{armErr(400, "InvalidTagNameCharacters", "The tag names 'a<b' have reserved characters."), steward.EINVALID, "reserved characters"},
		{armErr(409, "RoleAssignmentExists", "The role assignment already exists."), steward.ECONFLICT, "already exists"},
		{armErr(429, "SubscriptionRequestsThrottled", "Number of 'read' requests exceeded."), steward.ETHROTTLED, "throttled"},
		{armErr(503, "ServiceUnavailable", "Try later."), steward.EUNAVAILABLE, "HTTP 503"},
		{context.DeadlineExceeded, steward.EUNAVAILABLE, "in time"},
		{io.ErrUnexpectedEOF, steward.EUNAVAILABLE, "Cannot reach Azure"},
	} {
		err := azError(tt.err, "doing it")
		if got := steward.ErrorCode(err); got != tt.code || !strings.Contains(steward.ErrorMessage(err), tt.contains) {
			t.Errorf("%v: %s %q, want %s containing %q", tt.err, got, steward.ErrorMessage(err), tt.code, tt.contains)
		}
	}
}

// TestQuotaWaitGivesTheWorkerBack: work that asks not to wait on Azure's
// quota (a cost import run as a job) gets a QuotaWaitError naming the wait
// when Cost Management's hourly quota is spent, instead of sleeping on it;
// the next request on that quota is not even sent.
func TestQuotaWaitGivesTheWorkerBack(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	tr := fakeTransport(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return answer(http.StatusTooManyRequests, "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after", "1800"), nil
	})
	c := &Connector{log: slog.New(slog.DiscardHandler)}
	b := newBudget(c.log)
	opts := c.clientOptions(b)
	opts.Transport = tr
	pl := runtime.NewPipeline(moduleName, moduleVersion, runtime.PipelineOptions{}, &opts)
	ctx, cancel := context.WithTimeout(steward.NewContextNoQuotaWait(context.Background()), time.Minute)
	defer cancel()
	for try := range 2 {
		req, _ := runtime.NewRequest(ctx, http.MethodPost, "https://management.example/subscriptions/s/providers/Microsoft.CostManagement/query")
		_ = runtime.MarshalAsJSON(req, map[string]int{"q": 1})
		_, err := pl.Do(req)
		// The first names Azure's wait; the second the lane's pause, which
		// the budget caps at maxPause.
		want := 30 * time.Minute
		if try == 1 {
			want = maxPause
		}
		if wait := steward.QuotaWait(err); wait < want-time.Minute || wait > want || steward.ErrorCode(err) != steward.ETHROTTLED {
			t.Fatalf("try %d: %v (wait %s)", try, err, wait)
		}
		if !strings.Contains(steward.ErrorMessage(err), "Cost Management") {
			t.Errorf("message %q does not name the quota", steward.ErrorMessage(err))
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d requests sent, want 1: the second waits on the paused quota", n)
	}
}
