package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/internal/stewardtest"
	"github.com/stewardhq/steward/store/storetest"
)

// TestInventoryAPI drives the inventory API as a script would: sync a
// subscription, list resources, limit a subscription, preview and submit a
// tag edit, follow it, read spend — and bad input is refused with nothing
// stored.
func TestInventoryAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	e, _ := stewardtest.Emulator(t, emulator.Config{})
	b.useEmulator(t, e)
	_, token := b.user(t, "olivia", steward.Grant{Role: steward.RoleOperator})
	api := func(method, path, body string, status int) string {
		t.Helper()
		resp, out := b.do(t, req{method: method, path: path, token: token, body: body})
		wantStatus(t, resp, out, status)
		return out
	}
	contoso, writer := stewardtest.Principal(t, e, emulator.ContosoTenantName, "tag")
	_, reader := stewardtest.Principal(t, e, emulator.ContosoTenantName, "reader")
	raw, _ := json.Marshal(map[string]any{"tenantId": contoso.ID, "name": "Contoso",
		"read":  map[string]string{"clientId": reader.ClientID, "clientSecret": reader.ClientSecret},
		"write": map[string]string{"clientId": writer.ClientID, "clientSecret": writer.ClientSecret}})
	api("POST", "/api/v1/tenants", string(raw), http.StatusCreated)

	// Sync: 202 with the run; the job runs it (here, the test does).
	sub := contoso.Subscriptions[0]
	var run struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		Seen   int    `json:"seen"`
	}
	json.Unmarshal([]byte(api("POST", "/api/v1/subscriptions/"+sub+"/sync", "", http.StatusAccepted)), &run)
	if run.ID == 0 {
		t.Fatal("no run")
	}
	if err := b.svc.Inventory.RunSync(steward.NewSystemContext(t.Context()), run.ID); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(api("GET", "/api/v1/sync-runs/"+strconv.FormatInt(run.ID, 10), "", http.StatusOK)), &run)
	if run.Status != "succeeded" || run.Seen == 0 {
		t.Fatalf("run %+v", run)
	}
	var list struct {
		Items []struct {
			ID   string            `json:"id"`
			Tags map[string]string `json:"tags"`
		} `json:"items"`
	}
	json.Unmarshal([]byte(api("GET", "/api/v1/resources?subscription="+sub+"&limit=5", "", http.StatusOK)), &list)
	if len(list.Items) != 5 {
		t.Fatalf("resources: %+v", list)
	}
	target := list.Items[0].ID
	edit := func(extra string) string {
		return `{"resources": ["` + target + `"], "merge": {"costcenter": "api-test"}` + extra + `}`
	}

	// Read Tags Only refuses the edit and says why; nothing is stored.
	api("PUT", "/api/v1/subscriptions/"+sub+"/sync-level", `{"level": "read-tags"}`, http.StatusOK)
	resp, out := b.do(t, req{method: "POST", path: "/api/v1/tag-edits", token: token, body: edit("")})
	wantAPIError(t, resp, out, http.StatusForbidden, steward.EFORBIDDEN, "Read Tags Only")
	api("PUT", "/api/v1/subscriptions/"+sub+"/sync-level", `{"level": "read-write-tags"}`, http.StatusOK)
	resp, out = b.do(t, req{method: "PUT", path: "/api/v1/subscriptions/" + sub + "/sync-level", token: token, body: `{"level": "everything"}`})
	wantAPIError(t, resp, out, http.StatusBadRequest, steward.EINVALID, "")

	// Bad tags and unknown resources: a clear 4xx.
	resp, out = b.do(t, req{method: "POST", path: "/api/v1/tag-edits", token: token, body: `{"resources": ["` + target + `"], "merge": {"a/b": "x"}}`})
	wantAPIError(t, resp, out, http.StatusUnprocessableEntity, steward.EUNPROCESSABLE, `"a/b"`)
	resp, out = b.do(t, req{method: "POST", path: "/api/v1/tag-edits", token: token, body: `{"resources": ["/subscriptions/` + sub + `/resourceGroups/x/providers/Microsoft.Web/sites/nope"], "merge": {"a": "b"}}`})
	wantAPIError(t, resp, out, http.StatusNotFound, steward.ENOTFOUND, "nope")
	if strings.Contains(api("GET", "/api/v1/tag-edits", "", http.StatusOK), `"id":`) {
		t.Fatal("a refused edit was stored")
	}

	// Dry run shows the change; the real one is queued and written back.
	preview := api("POST", "/api/v1/tag-edits", edit(`, "dryRun": true`), http.StatusOK)
	if !strings.Contains(preview, "api-test") || !strings.Contains(preview, `"dryRun":true`) {
		t.Fatalf("preview: %s", preview)
	}
	var created struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	json.Unmarshal([]byte(api("POST", "/api/v1/tag-edits", edit(""), http.StatusAccepted)), &created)
	if err := b.svc.Inventory.ApplyTagEdits(steward.NewSystemContext(t.Context()), sub); err != nil {
		t.Fatal(err)
	}
	got := api("GET", "/api/v1/tag-edits/"+strconv.FormatInt(created.ID, 10), "", http.StatusOK)
	if !strings.Contains(got, `"applied":1`) {
		t.Fatalf("edit after write-back: %s", got)
	}
	tags, err := b.svc.Azure.TagsGet(t.Context(), stewardtest.Identity(contoso.ID, writer), target)
	if err != nil || tags["costcenter"] != "api-test" {
		t.Fatalf("Azure has %v, %v", tags, err)
	}

	// Spend by tag, as JSON and as CSV; before, Spend says how far costs
	// are imported.
	importOf := func() apiCostImport {
		t.Helper()
		var list listResponse[apiCostImport]
		json.Unmarshal([]byte(api("GET", "/api/v1/cost-imports", "", http.StatusOK)), &list)
		for _, ci := range list.Items {
			if ci.SubscriptionID == sub {
				return ci
			}
		}
		t.Fatalf("no cost import of %s in %+v", sub, list)
		return apiCostImport{}
	}
	if ci := importOf(); ci.Current || ci.DaysStored != 0 || ci.Days != 90 {
		t.Fatalf("before the import: %+v", ci)
	}
	if _, page := b.do(t, req{method: "GET", path: "/costs", token: token}); !strings.Contains(page, "Importing costs:") {
		t.Errorf("Spend shows no import under way")
	}
	if err := b.svc.Inventory.IngestCosts(steward.NewSystemContext(t.Context()), sub); err != nil {
		t.Fatal(err)
	}
	if ci := importOf(); !ci.Current || ci.DaysStored != 90 || ci.StoredTo == nil {
		t.Fatalf("after the import: %+v", ci)
	}
	costs := api("GET", "/api/v1/costs?groupBy=tag:environment", "", http.StatusOK)
	if !strings.Contains(costs, `"cost":`) {
		t.Fatalf("costs: %s", costs)
	}
	resp, out = b.do(t, req{method: "GET", path: "/api/v1/costs?groupBy=service&format=csv", token: token})
	wantStatus(t, resp, out, http.StatusOK)
	if !strings.HasPrefix(out, "group,day,cost,currency\n") || strings.Count(out, "\n") < 2 {
		t.Fatalf("costs CSV: %.300s", out)
	}
}

// TestSubscriptionsSearchAndPages: the list finds subscriptions by part of
// their name or ID, in any case, and pages through them with a cursor.
func TestSubscriptionsSearchAndPages(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			subscriptionsSearchAndPages(t, setupEngine(t, engine))
		})
	}
}

func subscriptionsSearchAndPages(t *testing.T, b *testBundle) {
	e, _ := stewardtest.Emulator(t, emulator.Config{Throttling: emulator.Throttling{Disabled: true}})
	b.useEmulator(t, e)
	contoso, reader := stewardtest.Principal(t, e, emulator.ContosoTenantName, "reader")
	if _, _, err := b.svc.Access.ConnectServicePrincipal(stewardtest.Admin(t.Context()), steward.ServicePrincipalInput{TenantID: contoso.ID, Name: "Contoso", Read: stewardtest.Credential(reader)}); err != nil {
		t.Fatal(err)
	}
	vera, token := b.user(t, "vera", steward.Grant{Role: steward.RoleViewer})
	type page struct {
		Items []struct{ ID, DisplayName string } `json:"items"`
		Next  string                             `json:"next"`
	}
	get := func(path string) page {
		t.Helper()
		resp, body := b.do(t, req{method: "GET", path: path, token: token})
		wantStatus(t, resp, body, http.StatusOK)
		var p page
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	all := get("/api/v1/subscriptions")
	if len(all.Items) != len(contoso.Subscriptions) || all.Next != "" || len(all.Items) < 3 {
		t.Fatalf("all: %+v", all)
	}
	var paged []string
	for cursor := ""; ; {
		p := get("/api/v1/subscriptions?limit=2" + cursor)
		for _, s := range p.Items {
			paged = append(paged, s.ID)
		}
		if p.Next == "" {
			break
		}
		cursor = "&cursor=" + p.Next
	}
	for i, s := range all.Items {
		if i >= len(paged) || paged[i] != s.ID {
			t.Fatalf("pages of 2 gave %v, all at once %+v", paged, all.Items)
		}
	}
	want := all.Items[1]
	byName := get("/api/v1/subscriptions?q=" + url.QueryEscape(strings.ToUpper(want.DisplayName[2:7])))
	if !slices.ContainsFunc(byName.Items, func(s struct{ ID, DisplayName string }) bool { return s.ID == want.ID }) {
		t.Fatalf("by part of the name: %+v", byName.Items)
	}
	if byID := get("/api/v1/subscriptions?q=" + want.ID[:8]); len(byID.Items) != 1 || byID.Items[0].ID != want.ID {
		t.Fatalf("by part of the ID: %+v", byID.Items)
	}
	resp, body := b.do(t, req{method: "GET", path: "/subscriptions?q=" + url.QueryEscape(want.ID), cookie: b.session(t, vera.ID)})
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(body, want.ID) || strings.Contains(body, all.Items[0].ID) {
		t.Fatalf("the page searched for %s: %.500s", want.ID, body)
	}
}

// TestPreviewIsSummarised: the preview of an edit over many resources sums
// its changes up and lists only the first resources and refusals.
func TestPreviewIsSummarised(t *testing.T) {
	t.Parallel()
	p := &steward.TagEditPreview{Resources: 50_000}
	for i := range 49_000 {
		old := []string{"prod", "Prod", "PROD"}[i%3]
		p.Changed = append(p.Changed, &steward.TagPlan{Resource: &steward.Resource{ID: fmt.Sprintf("/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/r%d", i)},
			Changes: []steward.TagChange{{Key: "env", Old: &old, New: ptrTo("production")}, {Key: "owner " + strconv.Itoa(i), Old: ptrTo("x")}}})
	}
	for i := range 1_000 {
		p.Refused = append(p.Refused, steward.TagRefusal{ResourceID: fmt.Sprint("refused", i), Reason: "hidden-related", Code: steward.EUNPROCESSABLE})
	}
	out := toAPIPreview(p, true)
	if out.Changed != 49_000 || out.RefusedCount != 1_000 || len(out.Changes) != previewRows || len(out.Refused) != previewRows {
		t.Fatalf("%d changed, %d refused; listed %d and %d", out.Changed, out.RefusedCount, len(out.Changes), len(out.Refused))
	}
	// The three spellings of env, commonest first, then one line per owner
	// tag up to the limit, and the rest counted.
	if len(out.Summary) != previewRows || out.MoreChanges != 3+49_000-previewRows {
		t.Fatalf("summary of %d lines, %d more", len(out.Summary), out.MoreChanges)
	}
	for _, s := range out.Summary[:3] {
		if s.Key != "env" || s.Resources != 49_000/3+1 && s.Resources != 49_000/3 || *s.New != "production" {
			t.Fatalf("env changes: %+v", out.Summary[:3])
		}
	}
	j, _ := json.Marshal(out)
	t.Logf("the preview of 50,000 resources is %d bytes", len(j))
	if len(j) > 100_000 {
		t.Fatalf("the preview of 50,000 resources is %d bytes", len(j))
	}
}

func ptrTo(s string) *string { return &s }
