package emulator

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
)

// recorder is a transport that remembers what each attempt got.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	got  []string // status code, or "error"
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.got = append(r.got, "error")
		return nil, err
	}
	r.got = append(r.got, strconv.Itoa(resp.StatusCode))
	return resp, nil
}

func (r *recorder) statuses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func TestThrottlingBuckets(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(func(c *Config) { c.Throttling = Throttling{Reads: BucketSpec{Size: 3, RefillPerSecond: 1}} }))
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	tok := b.appToken(t, b.spCred(t, ContosoTenantName, ContosoReaderApp), b.e.URL()+"/.default")
	path := "/subscriptions/" + sub + "/resourcegroups?api-version=2021-04-01"
	for want := 2; want >= 0; want-- {
		r := b.do(t, "GET", path, tok, nil, nil)
		if r.StatusCode != 200 || r.Header.Get("x-ms-ratelimit-remaining-subscription-reads") != strconv.Itoa(want) {
			t.Fatalf("read %d: %d remaining %q", 3-want, r.StatusCode, r.Header.Get("x-ms-ratelimit-remaining-subscription-reads"))
		}
		if r.Header.Get("x-ms-ratelimit-remaining-subscription-global-reads") == "" {
			t.Fatal("no global bucket header")
		}
	}
	e := b.expectARMError(t, "GET", path, tok, nil, 429, "SubscriptionRequestsThrottled")
	r := b.do(t, "GET", path, tok, nil, nil)
	if r.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q (%s)", r.Header.Get("Retry-After"), e.Error.Message)
	}
	// Another principal has its own bucket.
	other := b.appToken(t, b.spCred(t, ContosoTenantName, ContosoTaggerApp), b.e.URL()+"/.default")
	if r := b.do(t, "GET", path, other, nil, nil); r.StatusCode != 200 {
		t.Fatalf("other principal: %d", r.StatusCode)
	}
	b.clock.Advance(time.Second)
	if r := b.do(t, "GET", path, tok, nil, nil); r.StatusCode != 200 {
		t.Fatalf("after refill: %d", r.StatusCode)
	}
	// Writes count against the write bucket, tenant-level reads against the tenant's.
	r = b.do(t, "PATCH", "/subscriptions/"+sub+"/providers/Microsoft.Resources/tags/default?api-version=2021-04-01", other,
		map[string]any{"operation": "Merge", "properties": map[string]any{"tags": map[string]string{"a": "b"}}}, nil)
	if r.StatusCode != 200 || r.Header.Get("x-ms-ratelimit-remaining-subscription-writes") != "199" {
		t.Fatalf("write: %d %q", r.StatusCode, r.Header.Get("x-ms-ratelimit-remaining-subscription-writes"))
	}
	if r := b.do(t, "GET", "/subscriptions?api-version=2022-12-01", other, nil, nil); r.Header.Get("x-ms-ratelimit-remaining-tenant-reads") == "" {
		t.Fatal("tenant-level read without tenant header")
	}
}

func TestThrottlingSDKHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) {
		o.realClock = true
		o.cfg.Throttling = Throttling{Reads: BucketSpec{Size: 1, RefillPerSecond: 1}}
	})
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	rec := &recorder{next: b.client.Transport}
	opts := &arm.ClientOptions{ClientOptions: b.clientOptions()}
	opts.Transport = rec
	opts.Retry = policy.RetryOptions{MaxRetries: 2, MaxRetryDelay: 5 * time.Second}
	gc, _ := armresources.NewResourceGroupsClient(sub, b.spCred(t, ContosoTenantName, ContosoReaderApp), opts)
	ctx := context.Background()
	if _, err := gc.Get(ctx, "NetworkWatcherRG", nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := gc.Get(ctx, "NetworkWatcherRG", nil); err != nil {
		t.Fatalf("SDK did not ride out the 429: %v", err)
	}
	got := rec.statuses()
	if len(got) < 2 || got[len(got)-2] != "429" || got[len(got)-1] != "200" {
		t.Fatalf("attempts %v", got)
	}
	if el := time.Since(start); el < 500*time.Millisecond {
		t.Fatalf("the SDK retried after %v, before Retry-After", el)
	}
}

func TestFaultsAndRetries(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.realClock = true })
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	rec := &recorder{next: b.client.Transport}
	opts := &arm.ClientOptions{ClientOptions: b.clientOptions()}
	opts.Transport = rec
	opts.Retry = policy.RetryOptions{MaxRetries: 6, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond}
	cred := b.spCred(t, ContosoTenantName, ContosoReaderApp)
	rc, _ := armresources.NewClient(sub, cred, opts)
	want, _ := listAll(t, rc, nil) // also fetches the token, which faults leave alone
	ctx := context.Background()

	if err := b.e.SetFaults(Faults{Script: []FaultKind{Fault503, Fault500, FaultReset, FaultTruncate, FaultSlow}, SlowChunkDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	before := len(rec.statuses())
	got, _ := listAll(t, rc, nil)
	if len(got) != len(want) {
		t.Fatalf("after faults: %d resources, want %d", len(got), len(want))
	}
	attempts := rec.statuses()[before:]
	if len(attempts) != 5 || attempts[0] != "503" || attempts[1] != "500" || attempts[2] != "error" || attempts[4] != "200" {
		t.Fatalf("attempts %v", attempts)
	}

	// Faults switched on mid-listing: the pager resumes where it was.
	pager := rc.NewListPager(&armresources.ClientListOptions{Top: to.Ptr[int32](10)})
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Value)
		if n == 10 {
			_ = b.e.SetFaults(Faults{Rate503: 0.3, RateReset: 0.1, Seed: 7})
		}
	}
	_ = b.e.SetFaults(Faults{})
	if n != len(want) {
		t.Fatalf("faulty paging: %d resources, want %d", n, len(want))
	}

	// Latency is added, and ends with the request's context.
	_ = b.e.SetFaults(Faults{Latency: 40 * time.Millisecond})
	start := time.Now()
	if _, err := rc.NewListPager(nil).NextPage(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Fatalf("latency not applied: %v", el)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_ = b.e.SetFaults(Faults{Latency: time.Hour})
	if _, err := rc.NewListPager(nil).NextPage(short); err == nil {
		t.Fatal("hour-long latency did not time out")
	}
	_ = b.e.SetFaults(Faults{})
	if err := b.e.SetFaults(Faults{Rate500: 0.8, Rate503: 0.8}); err == nil {
		t.Fatal("rates over 1 accepted")
	}
}
