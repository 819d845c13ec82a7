package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/storetest"
)

// TestTenantsSearchAndPages: with 105 tenants, the API pages through
// them by cursor, finds them by part of the name or ID and by state
// (revoked; a subscription's sync failed or queued), refuses an unknown
// state, and the page shows 100 with a link to the rest; a viewer of two
// tenants finds only those, whatever they search for — on every engine,
// with the same answers.
func TestTenantsSearchAndPages(t *testing.T) {
	t.Parallel()
	answers := map[string]map[string][]string{}
	t.Run("engines", func(t *testing.T) {
		for _, engine := range storetest.Engines() {
			t.Run(string(engine), func(t *testing.T) {
				got := tenantsSearchAndPages(t, setupEngine(t, engine))
				answers[string(engine)] = got
			})
		}
	})
	if a, b := answers["sqlite"], answers["postgres"]; a != nil && b != nil {
		for q, want := range a {
			if !slices.Equal(b[q], want) {
				t.Errorf("%s: SQLite answered %v, PostgreSQL %v", q, want, b[q])
			}
		}
	}
}

func tenantsSearchAndPages(t *testing.T, b *testBundle) map[string][]string {
	ctx := steward.NewSystemContext(t.Context())
	id := func(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", 0xa0000000+i, i) }
	for i := range 105 {
		ten := &steward.Tenant{ID: id(i), Name: fmt.Sprintf("Customer %03d", i), Connection: steward.ConnectConsent}
		if i%10 == 7 {
			ten.Status = steward.TenantRevoked
		}
		if err := b.db.TenantCreate(ctx, ten, nil, steward.NewAuditEvent(ctx, "tenant.connect", ten.Name).WithTenant(ten.ID)); err != nil {
			t.Fatal(err)
		}
	}
	// Customer 003's sync failed; Customer 004's is queued.
	for i, status := range map[int]steward.SyncRunStatus{3: steward.SyncFailed, 4: steward.SyncQueued} {
		sub := fmt.Sprintf("%08x-1111-4000-8000-%012x", i, i)
		if _, err := b.db.SubscriptionSync(ctx, id(i), []*steward.Subscription{{ID: sub, DisplayName: "Sub", State: "Enabled"}}); err != nil {
			t.Fatal(err)
		}
		r := &steward.SyncRun{SubscriptionID: sub, Reason: "test", Method: steward.SyncARM}
		if err := b.db.SyncRunCreate(ctx, r); err != nil {
			t.Fatal(err)
		}
		if status != steward.SyncQueued {
			r.Status, r.FinishedAt = status, b.clock.Now()
			if err := b.db.SyncRunUpdate(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, token := b.user(t, "olivia", steward.Grant{Role: steward.RoleOperator})
	vera, veraToken := b.user(t, "vera", steward.Grant{Role: steward.RoleViewer, Tenants: []string{id(3), id(50)}})
	got := map[string][]string{}
	type page struct {
		Items []struct{ ID, Name, Status string } `json:"items"`
		Next  string                              `json:"next"`
	}
	list := func(tok, query string) page {
		t.Helper()
		resp, body := b.do(t, req{method: "GET", path: "/api/v1/tenants" + query, token: tok})
		wantStatus(t, resp, body, http.StatusOK)
		var p page
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range p.Items {
			names = append(names, x.Name)
		}
		got[tok[:4]+" "+query] = append(names, "next="+p.Next)
		return p
	}
	names := func(p page) []string {
		var out []string
		for _, x := range p.Items {
			out = append(out, x.Name)
		}
		return out
	}

	all := list(token, "")
	if len(all.Items) != 105 || all.Next != "" || all.Items[0].Name != "Customer 000" || all.Items[104].Name != "Customer 104" {
		t.Fatalf("all tenants: %d, next %q", len(all.Items), all.Next)
	}
	var paged []string
	for cursor := ""; ; {
		p := list(token, "?limit=40"+cursor)
		paged = append(paged, names(p)...)
		if p.Next == "" {
			break
		}
		cursor = "&cursor=" + p.Next
	}
	if !slices.Equal(paged, names(all)) {
		t.Fatalf("pages of 40 gave %d tenants, not the %d listed at once in order", len(paged), len(all.Items))
	}
	check := func(what string, p page, want ...string) {
		t.Helper()
		if n := names(p); !slices.Equal(n, want) {
			t.Errorf("%s: %v; want %v", what, n, want)
		}
	}
	check("by name", list(token, "?q=customer+09"), "Customer 090", "Customer 091", "Customer 092", "Customer 093", "Customer 094",
		"Customer 095", "Customer 096", "Customer 097", "Customer 098", "Customer 099")
	check("by ID", list(token, "?q="+strings.ToUpper(id(42)[:8])), "Customer 042")
	revoked := list(token, "?state=revoked&limit=3")
	check("revoked, first 3", revoked, "Customer 007", "Customer 017", "Customer 027")
	if revoked.Next == "" {
		t.Error("revoked: no next page after 3 of 10")
	}
	check("revoked, searched", list(token, "?state=revoked&q=97"), "Customer 097")
	if n := len(list(token, "?state=active").Items); n != 105-10 {
		t.Errorf("active: %d tenants; want %d", n, 105-10)
	}
	check("failed", list(token, "?state=failed"), "Customer 003")
	check("queued", list(token, "?state=queued"), "Customer 004")
	check("stale", list(token, "?state=stale")) // just synced or never: none two hours old
	resp, body := b.do(t, req{method: "GET", path: "/api/v1/tenants?state=sick", token: token})
	wantAPIError(t, resp, body, http.StatusBadRequest, steward.EINVALID, "sick")
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/tenants?limit=1001", token: token})
	wantAPIError(t, resp, body, http.StatusBadRequest, steward.EINVALID, "limit")

	// Subscriptions by sync health, through the API.
	resp, body = b.do(t, req{method: "GET", path: "/api/v1/subscriptions?state=queued", token: token})
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "00000004-1111") || strings.Contains(body, "00000003-1111") {
		t.Errorf("queued subscriptions: %s", body)
	}

	// A viewer of two tenants finds only those.
	check("scoped, all", list(veraToken, ""), "Customer 003", "Customer 050")
	check("scoped, search", list(veraToken, "?q=customer+0"), "Customer 003", "Customer 050")
	check("scoped, another's ID", list(veraToken, "?q="+id(42)))
	check("scoped, queued", list(veraToken, "?state=queued"))
	check("scoped, failed", list(veraToken, "?state=failed"), "Customer 003")

	// The page: 100 rows, then a link to the rest.
	resp, body = b.do(t, req{method: "GET", path: "/tenants", cookie: b.session(t, 1)})
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Customer 099") || strings.Contains(body, "Customer 100") || !strings.Contains(body, "cursor=100") {
		t.Fatalf("the first page of tenants: %.300s", body)
	}
	resp, body = b.do(t, req{method: "GET", path: "/tenants?cursor=100", cookie: b.session(t, 1)})
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Customer 104") || strings.Contains(body, "Customer 099") || strings.Contains(body, "Next page") {
		t.Fatalf("the second page of tenants: %.300s", body)
	}
	resp, body = b.do(t, req{method: "GET", path: "/tenants?state=failed&q=customer", cookie: b.session(t, vera.ID)})
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, "Customer 003") || strings.Contains(body, "Customer 050") || strings.Contains(body, "Customer 004") {
		t.Fatalf("the page filtered by failed: %.300s", body)
	}
	return got
}
