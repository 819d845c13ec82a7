package emulator

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcegraph/armresourcegraph"
)

// argAll runs a query through the SDK and follows $skipToken to the end.
func argAll(t *testing.T, cl *armresourcegraph.Client, query string, subs []string, top int32) (rows []map[string]any, pages int, total int64) {
	t.Helper()
	req := armresourcegraph.QueryRequest{Query: to.Ptr(query), Options: &armresourcegraph.QueryRequestOptions{ResultFormat: to.Ptr(armresourcegraph.ResultFormatObjectArray)}}
	for _, s := range subs {
		req.Subscriptions = append(req.Subscriptions, to.Ptr(s))
	}
	if top > 0 {
		req.Options.Top = to.Ptr(top)
	}
	for {
		resp, err := cl.Resources(context.Background(), req, nil)
		if err != nil {
			t.Fatalf("query %q: %v", query, err)
		}
		pages++
		total = *resp.TotalRecords
		data, ok := resp.Data.([]any)
		if !ok {
			t.Fatalf("data is %T", resp.Data)
		}
		if int64(len(data)) != *resp.Count {
			t.Fatalf("count %d, %d rows", *resp.Count, len(data))
		}
		for _, d := range data {
			rows = append(rows, d.(map[string]any))
		}
		if resp.SkipToken == nil {
			return rows, pages, total
		}
		req.Options.SkipToken = resp.SkipToken
	}
}

func (b *testBundle) countResources(subs ...string) int {
	b.e.w.mu.RLock()
	defer b.e.w.mu.RUnlock()
	n := 0
	for _, id := range subs {
		n += b.e.w.subscription(id).nres
	}
	return n
}

// noThrottling leaves quotas out of tests about something else.
func noThrottling(c *Config) { c.Throttling.Disabled = true }

// stewardCred is Steward's multi-tenant app in its home, the partner tenant.
func (b *testBundle) stewardCred(t *testing.T) azcore.TokenCredential {
	return b.secretCred(t, b.cf.App.TenantID, b.cf.App.ClientID, b.cf.App.ClientSecret)
}

func TestResourceGraphInventory(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(noThrottling))
	contoso := b.tenant(t, ContosoTenantName)
	cl, err := armresourcegraph.NewClient(b.spCred(t, ContosoTenantName, ContosoReaderApp), b.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := b.countResources(contoso.Subscriptions...)

	// No subscriptions named: every subscription the reader can see, paged
	// by 50 with $skipToken, no duplicates, the order stable by id.
	rows, pages, total := argAll(t, cl, "Resources | project id, name, type, location, resourceGroup, subscriptionId, tags | order by id asc", nil, 50)
	if int(total) != want || len(rows) != want || pages != (want+49)/50 {
		t.Fatalf("total %d, %d rows in %d pages, want %d", total, len(rows), pages, want)
	}
	seen := map[string]bool{}
	for i, r := range rows {
		id := r["id"].(string)
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
		if i > 0 && rows[i-1]["id"].(string) > id {
			t.Fatalf("not sorted at %d", i)
		}
		if typ := r["type"].(string); typ != strings.ToLower(typ) || r["resourceGroup"].(string) != strings.ToLower(r["resourceGroup"].(string)) {
			t.Fatalf("type and resourceGroup are lower case in Resource Graph: %v", r)
		}
		if len(r) != 7 {
			t.Fatalf("projection: %v", r)
		}
	}

	// One subscription, one type: case matters for ==, not for =~.
	sub := contoso.Subscriptions[0]
	vms, _, _ := argAll(t, cl, "Resources | where type =~ 'Microsoft.Compute/virtualMachines' | project id, type", []string{sub}, 0)
	if len(vms) == 0 {
		t.Fatal("no virtual machines")
	}
	for _, r := range vms {
		if r["type"] != "microsoft.compute/virtualmachines" || !strings.Contains(r["id"].(string), sub) {
			t.Fatalf("row %v", r)
		}
	}
	if none, _, _ := argAll(t, cl, "Resources | where type == 'Microsoft.Compute/virtualMachines'", []string{sub}, 0); len(none) != 0 {
		t.Fatalf("== is case-sensitive: %d rows", len(none))
	}

	// Tags: names are case-sensitive in KQL, so messy estates need care.
	tagged, _, _ := argAll(t, cl, "Resources | where isnotempty(tags['Environment']) | project id, env = tags['Environment']", nil, 0)
	untagged, _, _ := argAll(t, cl, "Resources | where isempty(tags['Environment']) | project id", nil, 0)
	if len(tagged) == 0 || len(untagged) == 0 || len(tagged)+len(untagged) != want {
		t.Fatalf("tagged %d + untagged %d != %d", len(tagged), len(untagged), want)
	}
	if tagged[0]["env"] == nil || tagged[0]["env"] == "" {
		t.Fatalf("alias: %v", tagged[0])
	}
	prod, _, _ := argAll(t, cl, "Resources | where tags['Environment'] =~ 'production' and subscriptionId in~ ('"+strings.ToUpper(sub)+"')", nil, 0)
	for _, r := range prod {
		if !strings.EqualFold(r["tags"].(map[string]any)["Environment"].(string), "production") || r["subscriptionId"] != sub {
			t.Fatalf("row %v", r)
		}
	}

	// Default columns and counts.
	full, _, _ := argAll(t, cl, "resources | limit 1", nil, 0)
	for _, k := range []string{"id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId", "managedBy", "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"} {
		if _, ok := full[0][k]; !ok {
			t.Fatalf("no %s in %v", k, full[0])
		}
	}
	cnt, _, _ := argAll(t, cl, "Resources | count", nil, 0)
	if len(cnt) != 1 || int(cnt[0]["Count"].(float64)) != want {
		t.Fatalf("count: %v", cnt)
	}
	byType, _, _ := argAll(t, cl, "Resources | summarize count() by type", nil, 0)
	sum := 0
	for _, r := range byType {
		sum += int(r["count_"].(float64))
	}
	if sum != want || len(byType) < 5 {
		t.Fatalf("summarize: %d types, %d resources", len(byType), sum)
	}

	// Without id in the projection there is no $skipToken: the result is
	// truncated instead.
	resp, err := cl.Resources(context.Background(), armresourcegraph.QueryRequest{Query: to.Ptr("Resources | project name"), Options: &armresourcegraph.QueryRequestOptions{Top: to.Ptr[int32](10)}}, nil)
	if err != nil || resp.SkipToken != nil || *resp.ResultTruncated != armresourcegraph.ResultTruncatedTrue || *resp.Count != 10 {
		t.Fatalf("truncated: %v %+v", err, resp)
	}

	// Bad queries: 400 BadRequest with InvalidQuery in the details.
	for _, bad := range []string{"Resources | where", "Resources | frobnicate", "Resources | project name | where type == 'x'", "ResourceContainers", "Resources | where name == 'x"} {
		_, err := cl.Resources(context.Background(), armresourcegraph.QueryRequest{Query: to.Ptr(bad)}, nil)
		wantARMCode(t, err, 400, "BadRequest")
		if !strings.Contains(err.Error(), "InvalidQuery") {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

func TestResourceGraphRBAC(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(noThrottling))
	contoso := b.tenant(t, ContosoTenantName)
	var member, memberSub, nobody string
	for _, u := range contoso.Users {
		if len(u.Roles) == 0 {
			nobody = u.UserPrincipalName
		}
		for _, r := range u.Roles {
			if strings.HasPrefix(r, "Reader@/subscriptions/") && !strings.HasPrefix(u.UserPrincipalName, "admin@") {
				member, memberSub = u.UserPrincipalName, strings.TrimPrefix(r, "Reader@/subscriptions/")
			}
		}
	}
	query := func(cred azcore.TokenCredential, subs []string) int64 {
		cl, _ := armresourcegraph.NewClient(cred, b.armOptions())
		_, _, total := argAll(t, cl, "Resources | project id", subs, 0)
		return total
	}
	// A Reader through a group sees its one subscription, whatever it names.
	if got, want := query(b.userToken(t, member), nil), b.countResources(memberSub); int(got) != want {
		t.Fatalf("group reader: %d, want %d", got, want)
	}
	if got := query(b.userToken(t, member), contoso.Subscriptions); int(got) != b.countResources(memberSub) {
		t.Fatalf("group reader naming all subscriptions: %d", got)
	}
	// No role, nothing; another tenant's principal, nothing of Contoso.
	if got := query(b.userToken(t, nobody), nil); got != 0 {
		t.Fatalf("no role: %d", got)
	}
	if got := query(b.stewardCred(t), contoso.Subscriptions); got != 0 {
		t.Fatalf("partner without delegation: %d", got)
	}
}

func TestResourceGraphQuota(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.appToken(t, b.spCred(t, ContosoTenantName, ContosoReaderApp), b.e.URL()+"/.default")
	path := "/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01"
	body := map[string]any{"query": "Resources | project id | limit 1"}
	for i := 1; i <= argQuotaLimit; i++ {
		resp := b.do(t, http.MethodPost, path, tok, body, nil)
		if resp.StatusCode != 200 || resp.Header.Get("x-ms-user-quota-remaining") != itoa(argQuotaLimit-i) || resp.Header.Get("x-ms-user-quota-resets-after") != "00:00:05" {
			t.Fatalf("query %d: %d remaining %q resets %q", i, resp.StatusCode, resp.Header.Get("x-ms-user-quota-remaining"), resp.Header.Get("x-ms-user-quota-resets-after"))
		}
		if resp.Header.Get("x-ms-ratelimit-remaining-tenant-reads") != "" {
			t.Fatal("ARM throttling applied to Resource Graph")
		}
	}
	b.clock.Advance(2 * time.Second)
	e := b.expectARMError(t, http.MethodPost, path, tok, body, 429, "RateLimiting")
	resp := b.do(t, http.MethodPost, path, tok, body, nil)
	if resp.Header.Get("Retry-After") != "3" || resp.Header.Get("x-ms-user-quota-remaining") != "0" || resp.Header.Get("x-ms-user-quota-resets-after") != "00:00:03" {
		t.Fatalf("throttled headers: %v (%s)", resp.Header, e.Error.Message)
	}
	// Another caller has its own quota; the window resets after 5 s.
	other := b.appToken(t, b.spCred(t, ContosoTenantName, ContosoTaggerApp), b.e.URL()+"/.default")
	if resp := b.do(t, http.MethodPost, path, other, body, nil); resp.StatusCode != 200 {
		t.Fatalf("other caller: %d", resp.StatusCode)
	}
	b.clock.Advance(3 * time.Second)
	if resp := b.do(t, http.MethodPost, path+"&x=1", tok, body, nil); resp.StatusCode != 200 || resp.Header.Get("x-ms-user-quota-remaining") != "14" {
		t.Fatalf("after reset: %d %s", resp.StatusCode, resp.Header.Get("x-ms-user-quota-remaining"))
	}
	// api-versions of the SDK and the older ones are accepted; others not.
	for _, v := range []string{"2022-10-01", "2024-04-01"} {
		if resp := b.do(t, http.MethodPost, "/providers/Microsoft.ResourceGraph/resources?api-version="+v, other, body, nil); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", v, resp.StatusCode)
		}
	}
	b.expectARMError(t, http.MethodPost, "/providers/Microsoft.ResourceGraph/resources?api-version=2015-01-01", other, body, 400, "NoRegisteredProviderFound")
}
