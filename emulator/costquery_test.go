package emulator

import (
	"context"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/costmanagement/armcostmanagement/v3"
)

type costQueryOpts struct {
	from, to    time.Time
	granularity string // Daily or "" for None
	groups      [][2]string
	agg         string
}

func costDefinition(o costQueryOpts) armcostmanagement.QueryDefinition {
	ds := &armcostmanagement.QueryDataset{
		Aggregation: map[string]*armcostmanagement.QueryAggregation{"totalCost": {Name: to.Ptr(o.agg), Function: to.Ptr(armcostmanagement.FunctionTypeSum)}},
	}
	if o.granularity != "" {
		ds.Granularity = to.Ptr(armcostmanagement.GranularityType(o.granularity))
	}
	for _, g := range o.groups {
		ds.Grouping = append(ds.Grouping, &armcostmanagement.QueryGrouping{Type: to.Ptr(armcostmanagement.QueryColumnType(g[0])), Name: to.Ptr(g[1])})
	}
	return armcostmanagement.QueryDefinition{
		Type: to.Ptr(armcostmanagement.ExportTypeActualCost), Timeframe: to.Ptr(armcostmanagement.TimeframeTypeCustom),
		TimePeriod: &armcostmanagement.QueryTimePeriod{From: to.Ptr(o.from), To: to.Ptr(o.to)}, Dataset: ds,
	}
}

func columnNames(p *armcostmanagement.QueryProperties) string {
	var out []string
	for _, c := range p.Columns {
		out = append(out, *c.Name+":"+*c.Type)
	}
	return strings.Join(out, ",")
}

func TestCostQuery(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(noThrottling))
	ctx := context.Background()
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	qc, err := armcostmanagement.NewQueryClient(b.spCred(t, ContosoTenantName, ContosoReaderApp), b.armOptions())
	if err != nil {
		t.Fatal(err)
	}
	today := b.clock.Now().UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -30)
	daily := costOpts(from, today, "Daily", "Cost", [2]string{"Dimension", "ResourceGroupName"})
	r1, err := qc.Usage(ctx, "subscriptions/"+sub, costDefinition(daily), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := r1.Properties
	if got := columnNames(p); got != "Cost:Number,ResourceGroupName:String,UsageDate:Number,Currency:String" {
		t.Fatalf("columns %s", got)
	}
	if len(p.Rows) == 0 || p.NextLink != nil || !strings.HasPrefix(*r1.ID, "/subscriptions/"+sub+"/providers/Microsoft.CostManagement/Query/") {
		t.Fatalf("%d rows, nextLink %v, id %s", len(p.Rows), p.NextLink, *r1.ID)
	}
	first, last := from.Year()*10000+int(from.Month())*100+from.Day(), 0
	yesterday := today.AddDate(0, 0, -1)
	last = yesterday.Year()*10000 + int(yesterday.Month())*100 + yesterday.Day()
	days := map[int]bool{}
	sum := 0.0
	for _, row := range p.Rows {
		d := int(row[2].(float64))
		if d < first || d > last || row[0].(float64) <= 0 || row[3] != row[3].(string) || row[1].(string) != strings.ToLower(row[1].(string)) {
			t.Fatalf("row %v (days %d..%d)", row, first, last)
		}
		days[d] = true
		sum += row[0].(float64)
	}
	if len(days) != 30 {
		t.Fatalf("%d days with costs, want 30 (through yesterday)", len(days))
	}

	// Deterministic: the same query gives the same numbers.
	r2, err := qc.Usage(ctx, "/subscriptions/"+sub, costDefinition(daily), nil)
	if err != nil || !reflect.DeepEqual(r1.Properties.Rows, r2.Properties.Rows) {
		t.Fatalf("second run differs: %v", err)
	}
	// Granularity None totals the same.
	total := costOpts(from, today, "", "Cost")
	rt, err := qc.Usage(ctx, "subscriptions/"+sub, costDefinition(total), nil)
	if err != nil || columnNames(rt.Properties) != "Cost:Number,Currency:String" || len(rt.Properties.Rows) != 1 {
		t.Fatalf("total: %v %s", err, columnNames(rt.Properties))
	}
	if got := rt.Properties.Rows[0][0].(float64); math.Abs(got-sum) > 1e-6*sum {
		t.Fatalf("total %f, daily rows sum to %f", got, sum)
	}

	// Tag grouping: TagKey and TagValue, null for untagged cost.
	tags, err := qc.Usage(ctx, "subscriptions/"+sub, costDefinition(costOpts(from, today, "", "PreTaxCost", [2]string{"TagKey", "Environment"})), nil)
	if err != nil || columnNames(tags.Properties) != "PreTaxCost:Number,TagKey:String,TagValue:String,Currency:String" {
		t.Fatalf("tags: %v %s", err, columnNames(tags.Properties))
	}
	var null, tagged bool
	for _, row := range tags.Properties.Rows {
		switch {
		case row[2] == nil:
			null = true
		case row[1] == "Environment":
			tagged = true
		}
	}
	if !null || !tagged {
		t.Fatalf("tag rows: %v", tags.Properties.Rows)
	}

	// A resource group scope holds only its resources; ResourceId values
	// are lower case.
	var rg string
	for _, row := range p.Rows {
		rg = row[1].(string)
	}
	byRes, err := qc.Usage(ctx, "subscriptions/"+sub+"/resourceGroups/"+rg, costDefinition(costOpts(from, today, "", "Cost", [2]string{"Dimension", "ResourceId"}, [2]string{"Dimension", "ServiceName"})), nil)
	if err != nil || len(byRes.Properties.Rows) == 0 {
		t.Fatalf("resource group: %v", err)
	}
	for _, row := range byRes.Properties.Rows {
		if id := row[1].(string); id != strings.ToLower(id) || !strings.Contains(id, "/resourcegroups/"+rg+"/") || row[2] == "" {
			t.Fatalf("row %v", row)
		}
	}

	// Bad definitions: 400 BadRequest.
	bad := costDefinition(daily)
	bad.Dataset.Grouping = append(bad.Dataset.Grouping, bad.Dataset.Grouping[0], bad.Dataset.Grouping[0])
	_, err = qc.Usage(ctx, "subscriptions/"+sub, bad, nil)
	wantARMCode(t, err, 400, "BadRequest")
	bad = costDefinition(daily)
	bad.TimePeriod.From = to.Ptr(today.AddDate(-2, 0, 0))
	_, err = qc.Usage(ctx, "subscriptions/"+sub, bad, nil)
	wantARMCode(t, err, 400, "BadRequest")
}

func costOpts(from, to time.Time, gran, agg string, groups ...[2]string) costQueryOpts {
	return costQueryOpts{from: from, to: to, granularity: gran, agg: agg, groups: groups}
}

func TestCostQueryPagingAndRBAC(t *testing.T) {
	t.Parallel()
	b := setup(t, withConfig(noThrottling))
	contoso := b.tenant(t, ContosoTenantName)
	sub := contoso.Subscriptions[0]
	tok := b.appToken(t, b.spCred(t, ContosoTenantName, ContosoReaderApp), b.e.URL()+"/.default")
	today := b.clock.Now().UTC().Truncate(24 * time.Hour)
	def := costDefinition(costOpts(today.AddDate(0, 0, -90), today, "Daily", "Cost", [2]string{"Dimension", "ResourceId"}))

	// 90 days by resource: more than a page; nextLink is the same URL with
	// $skiptoken, POSTed the same body.
	b.e.w.mu.RLock()
	chargeable := 0
	for _, g := range b.e.w.subscription(sub).groups {
		for _, r := range g.resources {
			if newResCost(b.e.w.seed, r).chargable {
				chargeable++
			}
		}
	}
	b.e.w.mu.RUnlock()
	url := "/subscriptions/" + sub + "/providers/Microsoft.CostManagement/query?api-version=2023-03-01"
	seen := map[string]bool{}
	pages := 0
	for url != "" {
		var res armcostmanagement.QueryResult
		resp := b.do(t, http.MethodPost, url, tok, def, &res)
		if resp.StatusCode != 200 {
			t.Fatalf("page %d: %d", pages, resp.StatusCode)
		}
		pages++
		if len(res.Properties.Rows) > costPageRows {
			t.Fatalf("page of %d rows", len(res.Properties.Rows))
		}
		for _, row := range res.Properties.Rows {
			k := row[1].(string) + "@" + itoa(int(row[2].(float64)))
			if seen[k] {
				t.Fatalf("duplicate row %s", k)
			}
			seen[k] = true
		}
		url = ""
		if res.Properties.NextLink != nil {
			url = *res.Properties.NextLink
			if !strings.Contains(url, "skiptoken=") || !strings.Contains(url, "api-version=2023-03-01") {
				t.Fatalf("nextLink %s", url)
			}
		}
	}
	if want := chargeable * 90; len(seen) != want || pages != (want+costPageRows-1)/costPageRows {
		t.Fatalf("%d rows in %d pages, want %d", len(seen), pages, want)
	}

	// RBAC: Tag Contributor has no cost access; a Reader of one
	// subscription has none on another. Cost Management answers 401.
	for _, cred := range []azcore.TokenCredential{b.spCred(t, ContosoTenantName, ContosoTaggerApp)} {
		qc, _ := armcostmanagement.NewQueryClient(cred, b.armOptions())
		_, err := qc.Usage(context.Background(), "subscriptions/"+sub, def, nil)
		wantARMCode(t, err, 401, "RBACAccessDenied")
	}
	var member, memberSub string
	for _, u := range contoso.Users {
		for _, r := range u.Roles {
			if strings.HasPrefix(r, "Reader@/subscriptions/") && !strings.HasPrefix(u.UserPrincipalName, "admin@") {
				member, memberSub = u.UserPrincipalName, strings.TrimPrefix(r, "Reader@/subscriptions/")
			}
		}
	}
	qc, _ := armcostmanagement.NewQueryClient(b.userToken(t, member), b.armOptions())
	if _, err := qc.Usage(context.Background(), "subscriptions/"+memberSub, def, nil); err != nil {
		t.Fatalf("group reader: %v", err)
	}
	for _, other := range contoso.Subscriptions {
		if other != memberSub {
			_, err := qc.Usage(context.Background(), "subscriptions/"+other, def, nil)
			wantARMCode(t, err, 401, "RBACAccessDenied")
		}
	}
}

func TestCostQueryQPU(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	tok := b.appToken(t, b.spCred(t, ContosoTenantName, ContosoReaderApp), b.e.URL()+"/.default")
	today := b.clock.Now().UTC().Truncate(24 * time.Hour)
	// Three calendar months: 3 QPU a query, so four fit in 12 per 10 s.
	from := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -3, 0)
	def := costDefinition(costOpts(from, from.AddDate(0, 3, -1), "", "Cost"))
	path := "/subscriptions/" + sub + "/providers/Microsoft.CostManagement/query?api-version=2023-03-01"
	for i := 1; i <= 4; i++ {
		resp := b.do(t, http.MethodPost, path, tok, def, nil)
		want := "QueriesPerTenSeconds:" + itoa(12-3*i) + ";QueriesPerMinute:" + itoa(60-3*i) + ";QueriesPerHour:" + itoa(600-3*i)
		if resp.StatusCode != 200 || resp.Header.Get(qpuHeader+"consumed") != "3" || resp.Header.Get(qpuHeader+"remaining") != want {
			t.Fatalf("query %d: %d consumed %q remaining %q", i, resp.StatusCode, resp.Header.Get(qpuHeader+"consumed"), resp.Header.Get(qpuHeader+"remaining"))
		}
		if resp.Header.Get("x-ms-ratelimit-remaining-subscription-reads") != "" {
			t.Fatal("ARM throttling applied to Cost Management")
		}
	}
	b.clock.Advance(4 * time.Second)
	b.expectARMError(t, http.MethodPost, path, tok, def, 429, "429")
	resp := b.do(t, http.MethodPost, path, tok, def, nil)
	if resp.Header.Get(qpuHeader+"retry-after") != "6" || resp.Header.Get("Retry-After") != "6" {
		t.Fatalf("throttled headers: %v", resp.Header)
	}
	b.clock.Advance(6 * time.Second)
	if resp := b.do(t, http.MethodPost, path, tok, def, nil); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get(qpuHeader+"remaining"), "QueriesPerTenSeconds:9;QueriesPerMinute:45;") {
		t.Fatalf("after the window: %d %s", resp.StatusCode, resp.Header.Get(qpuHeader+"remaining"))
	}
}
