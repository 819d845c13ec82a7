package emulator

import (
	"strings"
	"testing"
	"time"
)

type activityPage struct {
	Value    []map[string]any `json:"value"`
	NextLink string           `json:"nextLink"`
}

func TestActivityLogRecordsWrites(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sub := b.tenant(t, ContosoTenantName).Subscriptions[0]
	tagger := b.principal(t, ContosoTenantName, ContosoTaggerApp)
	taggerTok := b.appToken(t, b.spCred(t, ContosoTenantName, ContosoTaggerApp), b.e.URL()+"/.default")
	adminUPN := b.admin(t, ContosoTenantName)
	admin := string(b.userToken(t, adminUPN))
	start := b.clock.Now().Add(-time.Minute)

	// A tag write by the Tag Contributor, a group the admin creates, and a
	// group the Tag Contributor may not create.
	tagPath := "/subscriptions/" + sub + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Resources/tags/default"
	if r := b.do(t, "PATCH", tagPath+"?api-version=2021-04-01", taggerTok, map[string]any{"operation": "Merge", "properties": map[string]any{"tags": map[string]string{"a": "b"}}}, nil); r.StatusCode != 200 {
		t.Fatalf("tag write: %d", r.StatusCode)
	}
	b.clock.Advance(time.Second)
	if r := b.do(t, "PUT", "/subscriptions/"+sub+"/resourcegroups/rg-audit?api-version=2021-04-01", admin, map[string]any{"location": "westeurope"}, nil); r.StatusCode != 201 {
		t.Fatalf("create group: %d", r.StatusCode)
	}
	b.clock.Advance(time.Second)
	b.expectARMError(t, "PUT", "/subscriptions/"+sub+"/resourcegroups/rg-denied?api-version=2021-04-01", taggerTok, map[string]any{"location": "westeurope"}, 403, "AuthorizationFailed")
	// Reads are not recorded.
	b.do(t, "GET", "/subscriptions/"+sub+"/resources?api-version=2021-04-01", taggerTok, nil, nil)

	path := "/subscriptions/" + sub + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter="
	var page activityPage
	if r := b.do(t, "GET", path+q("eventTimestamp ge '"+start.Format(time.RFC3339)+"'"), admin, nil, &page); r.StatusCode != 200 {
		t.Fatalf("query: %d", r.StatusCode)
	}
	if len(page.Value) != 3 {
		t.Fatalf("events: %d", len(page.Value))
	}
	newest, oldest := page.Value[0], page.Value[2]
	if newest["caller"] != tagger.ObjectID || newest["status"].(map[string]any)["value"] != "Failed" ||
		newest["operationName"].(map[string]any)["value"] != "Microsoft.Resources/subscriptions/resourceGroups/write" || newest["level"] != "Error" {
		t.Fatalf("denied write event: %v", newest)
	}
	if page.Value[1]["caller"] != adminUPN || page.Value[1]["status"].(map[string]any)["value"] != "Succeeded" ||
		page.Value[1]["httpRequest"].(map[string]any)["method"] != "PUT" {
		t.Fatalf("group create event: %v", page.Value[1])
	}
	if oldest["operationName"].(map[string]any)["value"] != "Microsoft.Resources/tags/write" || oldest["resourceGroupName"] != "NetworkWatcherRG" ||
		!strings.HasSuffix(oldest["resourceId"].(string), "/providers/Microsoft.Resources/tags/default") ||
		oldest["claims"].(map[string]any)["appid"] != tagger.ClientID {
		t.Fatalf("tag event: %v", oldest)
	}
	for _, k := range []string{"authorization", "caller", "claims", "correlationId", "eventDataId", "eventName", "category", "id", "level", "operationId", "properties", "status", "subStatus", "eventTimestamp", "submissionTimestamp", "subscriptionId", "tenantId"} {
		if _, ok := oldest[k]; !ok {
			t.Errorf("event lacks %s", k)
		}
	}

	// Filters: by group, by time window, $select.
	var byRG activityPage
	b.do(t, "GET", path+q("eventTimestamp ge '"+start.Format(time.RFC3339)+"' and resourceGroupName eq 'networkwatcherrg'"), admin, nil, &byRG)
	if len(byRG.Value) != 1 {
		t.Fatalf("by group: %d", len(byRG.Value))
	}
	var later activityPage
	b.do(t, "GET", path+q("eventTimestamp ge '"+start.Add(time.Minute+500*time.Millisecond).Format(time.RFC3339Nano)+"'")+"&$select=caller,eventTimestamp", admin, nil, &later)
	if len(later.Value) != 2 || len(later.Value[0]) != 2 {
		t.Fatalf("window and $select: %v", later.Value)
	}
	// A timestamp without a zone is UTC, as Azure takes it (the Azure CLI sends one).
	var noZone activityPage
	if r := b.do(t, "GET", path+q("eventTimestamp ge '"+start.UTC().Format("2006-01-02T15:04:05.000000")+"'"), admin, nil, &noZone); r.StatusCode != 200 || len(noZone.Value) != 3 {
		t.Fatalf("timestamp without a zone: %d, %d events", r.StatusCode, len(noZone.Value))
	}
	// The Tag Contributor may not read the activity log.
	b.expectARMError(t, "GET", path+q("eventTimestamp ge '"+start.Format(time.RFC3339)+"'"), taggerTok, nil, 403, "AuthorizationFailed")
}
