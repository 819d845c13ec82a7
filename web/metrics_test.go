package web

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/internal/stewardtest"
)

// metricValue reads one sample of a scrape, or -1 when it is missing.
func metricValue(t *testing.T, scrape, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(scrape)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v
}

// TestMetricsOfAzureAndInventory runs a sync, a write-back and a cost
// import against an emulator whose read bucket is 3 requests (+2/s), then
// reads four at once: /metrics counts the resources the sync saw and
// wrote, the run, the tag write and the cost rows, every request to Azure
// by service and the 429s among them, and shows the least quota remaining
// that Azure's headers reported.
func TestMetricsOfAzureAndInventory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e, _ := stewardtest.Emulator(t, emulator.Config{Throttling: emulator.Throttling{Reads: emulator.BucketSpec{Size: 3, RefillPerSecond: 2}}})
	path := filepath.Join(t.TempDir(), "emulator.json")
	if err := e.WriteConnectionFile(path); err != nil {
		t.Fatal(err)
	}
	am := NewAzureMetrics(nil)
	svc := stewardtest.NewServicesObserved(t, b.db, path, nil, am)
	b.svc.Inventory, b.svc.Access, b.svc.Azure = svc.Inventory, svc.Access, svc.Azure
	b.srv.deps.InventoryService, b.srv.deps.Access = svc.Inventory, svc.Access
	b.srv.WatchAzure(am)
	b.srv.WatchInventory(svc.Inventory.Counts)

	_, token := b.user(t, "olivia", steward.Grant{Role: steward.RoleOperator})
	api := func(method, path, body string, status int) string {
		t.Helper()
		resp, out := b.do(t, req{method: method, path: path, token: token, body: body})
		wantStatus(t, resp, out, status)
		return out
	}
	scrape := func() string { return api("GET", "/metrics", "", http.StatusOK) }
	before := scrape()
	for _, series := range []string{`steward_azure_throttled_total{service="arm"}`, `steward_sync_runs_total{outcome="succeeded"}`,
		`steward_tag_writes_total{outcome="conflict"}`, `steward_cost_rows_imported_total`} {
		if v := metricValue(t, before, series); v != 0 {
			t.Errorf("before any work %s = %v; want 0", series, v)
		}
	}

	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	_, reader := stewardtest.Principal(t, e, emulator.ContosoTenantName, "reader")
	raw, _ := json.Marshal(map[string]any{"tenantId": contoso.ID, "name": "Contoso",
		"read":  map[string]string{"clientId": reader.ClientID, "clientSecret": reader.ClientSecret},
		"write": map[string]string{"clientId": writer.ClientID, "clientSecret": writer.ClientSecret}})
	api("POST", "/api/v1/tenants", string(raw), http.StatusCreated)
	sub := contoso.Subscriptions[0]
	var run struct {
		ID      int64 `json:"id"`
		Seen    int   `json:"seen"`
		Written int   `json:"written"`
	}
	json.Unmarshal([]byte(api("POST", "/api/v1/subscriptions/"+sub+"/sync", "", http.StatusAccepted)), &run)
	sys := steward.NewSystemContext(t.Context())
	if err := svc.Inventory.RunSync(sys, run.ID); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(api("GET", "/api/v1/sync-runs/"+strconv.FormatInt(run.ID, 10), "", http.StatusOK)), &run)
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	json.Unmarshal([]byte(api("GET", "/api/v1/resources?subscription="+sub+"&limit=1", "", http.StatusOK)), &list)
	if len(list.Items) != 1 {
		t.Fatal("no resource synced")
	}
	api("POST", "/api/v1/tag-edits", `{"resources": ["`+list.Items[0].ID+`"], "merge": {"costcenter": "metrics"}}`, http.StatusAccepted)
	if err := svc.Inventory.ApplyTagEdits(sys, sub); err != nil {
		t.Fatal(err)
	}
	if err := svc.Inventory.IngestCosts(sys, sub); err != nil {
		t.Fatal(err)
	}
	var costRows int
	// Counted by the daily totals, which keep every day imported (each
	// resource's rows are kept for fewer days).
	if err := b.db.WriteDB().QueryRowContext(t.Context(), `SELECT SUM(n) FROM cost_daily WHERE dim = 'total' AND subscription_id = $1`, sub).Scan(&costRows); err != nil {
		t.Fatal(err)
	}

	// Four readers at once drain the 3-request bucket: Azure answers 429.
	id := stewardtest.Identity(contoso.ID, reader)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2 {
				if _, err := svc.Azure.ResourceGroups(t.Context(), id, sub); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()

	after := scrape()
	want := map[string]float64{
		`steward_sync_resources_total{action="seen"}`:    float64(run.Seen),
		`steward_sync_resources_total{action="written"}`: float64(run.Written),
		`steward_sync_runs_total{outcome="succeeded"}`:   1,
		`steward_sync_runs_total{outcome="failed"}`:      0,
		`steward_tag_writes_total{outcome="applied"}`:    1,
		`steward_tag_writes_total{outcome="failed"}`:     0,
		`steward_cost_rows_imported_total`:               float64(costRows),
	}
	for series, v := range want {
		if got := metricValue(t, after, series); got != v {
			t.Errorf("%s = %v; want %v", series, got, v)
		}
	}
	if run.Seen == 0 || costRows == 0 {
		t.Fatalf("the sync saw %d resources and the import stored %d cost rows; want some of each", run.Seen, costRows)
	}
	if v := metricValue(t, after, `steward_azure_throttled_total{service="arm"}`); v < 1 {
		t.Errorf("steward_azure_throttled_total{service=arm} = %v; want the 429s of the drained bucket", v)
	}
	if v := metricValue(t, after, `steward_azure_requests_total{service="arm",status="4xx"}`); v < 1 {
		t.Errorf("429s not counted as 4xx: %v", v)
	}
	for _, svc := range []string{"arm", "entra", "cost_management"} {
		if v := metricValue(t, after, `steward_azure_requests_total{service="`+svc+`",status="2xx"}`); v < 1 {
			t.Errorf("no successful %s request counted (%v)", svc, v)
		}
	}
	if v := metricValue(t, after, `steward_azure_quota_remaining{quota="subscription-reads",service="arm"}`); v < 0 || v > 3 {
		t.Errorf("least subscription-reads remaining = %v; want 0..3 (a bucket of 3, drained)", v)
	}
	if v := metricValue(t, after, `steward_azure_quota_remaining{quota="costmanagement-qpu",service="cost_management"}`); v < 0 {
		t.Error("no Cost Management QPU remaining shown")
	}
}

// TestAzureQuotaWindow: the quota gauge is the least count of this minute
// and the last, and a quota not reported for two minutes is left out.
func TestAzureQuotaWindow(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)}
	m := NewAzureMetrics(clock.Now)
	seen := func(n int) {
		m.ObserveAzure(steward.AzureExchange{Service: steward.AzureARM, Status: 200, Quotas: []steward.AzureQuota{{Name: "subscription-reads", Remaining: n}}})
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	gauge := func() (float64, bool) {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "steward_azure_quota_remaining" && len(mf.GetMetric()) == 1 {
				return mf.GetMetric()[0].GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	seen(240)
	seen(12)
	seen(200)
	if v, ok := gauge(); !ok || v != 12 {
		t.Fatalf("gauge = %v, %v; want the least, 12", v, ok)
	}
	clock.Add(time.Minute)
	seen(249)
	if v, _ := gauge(); v != 12 {
		t.Fatalf("a minute on, gauge = %v; want last minute's 12 still", v)
	}
	clock.Add(time.Minute)
	if v, _ := gauge(); v != 249 {
		t.Fatalf("two minutes on, gauge = %v; want 249", v)
	}
	clock.Add(2 * time.Minute)
	if v, ok := gauge(); ok {
		t.Fatalf("quota unreported for two minutes still shown: %v", v)
	}
}
