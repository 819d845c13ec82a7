package azure_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/internal/recorded"
)

// Replay tests: the connector's real code paths against Azure's own
// answers, recorded by the Azure SDK teams (internal/recorded). Each test
// checks what the connector made of the answers and every exchange as
// the metrics saw it (service, status, remaining counts), so a recorded
// status or header changed fails it.

// seen records every exchange as the metrics hook is told of it.
type seen struct {
	mu  sync.Mutex
	log []string
}

func (s *seen) ObserveAzure(ex steward.AzureExchange) {
	var qs []string
	for _, q := range ex.Quotas {
		qs = append(qs, fmt.Sprintf("%s=%d", q.Name, q.Remaining))
	}
	slices.Sort(qs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, strings.TrimSpace(fmt.Sprintf("%s %d %s", ex.Service, ex.Status, strings.Join(qs, " "))))
}

func (s *seen) check(t *testing.T, want ...string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Equal(s.log, want) {
		t.Errorf("exchanges:\n  %s\nwant:\n  %s", strings.Join(s.log, "\n  "), strings.Join(want, "\n  "))
	}
}

type replayBundle struct {
	rp  *recorded.Replay
	az  *azure.Connector
	id  steward.AzureIdentity
	obs *seen
}

// recordedSignIn are the recorded Entra ID answers: the OpenID
// configuration of tenant fake-tenant and a token.
var recordedSignIn = []string{"entra 200", "entra 200"}

// replay serves Entra ID's recorded discovery and token answers and the
// given entries, with a connector pointed at them.
func replay(t *testing.T, entries ...recorded.Entry) *replayBundle {
	t.Helper()
	id := recorded.Load(t, "identity/TestClientAssertionCredential_Live/instance_discovery_disabled.json")
	rp := recorded.Serve(t, append(id.Entries, entries...)...)
	obs := &seen{}
	az, err := azure.NewFromConnection(rp.Connection(), azure.Config{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(az.Close)
	return &replayBundle{rp: rp, az: az, obs: obs,
		id: steward.AzureIdentity{TenantID: "fake-tenant", ClientID: "00000000-0000-0000-0000-0000000000aa", Secret: "replayed"}}
}

// sent is the JSON body of the i-th request the replay answered.
func (rb *replayBundle) sent(t *testing.T, i int) map[string]any {
	t.Helper()
	ex := rb.rp.Served()
	if i >= len(ex) {
		t.Fatalf("only %d requests served", len(ex))
	}
	var m map[string]any
	if err := json.Unmarshal(ex[i].Body, &m); err != nil {
		t.Fatalf("request %d (%s %s): %v", i, ex[i].Method, ex[i].URL, err)
	}
	return m
}

// recordedScope is the resource group of TestTagsClient.json, as sanitized.
const recordedScope = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/Sanitized"

func TestReplayTags(t *testing.T) {
	t.Parallel()
	tags := recorded.Load(t, "resources/TestTagsClient.json")
	rb := replay(t, tags.Find(t, "GET", "/tags/default"), tags.Find(t, "PATCH", "/tags/default"))
	ctx := testContext(t)

	got, err := rb.az.TagsGet(ctx, rb.id, recordedScope)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"tagKey1": "tagValue1", "tagKey2": "tagValue2"}
	if !maps.Equal(got, want) {
		t.Errorf("tags %v, want %v", got, want)
	}
	// The recorded Delete named a value that does not match: Azure
	// answered 200 with the tags unchanged, and the connector says so.
	after, err := rb.az.TagsDelete(ctx, rb.id, recordedScope, map[string]string{"tagKey1": "tagKey1"})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(after, want) {
		t.Errorf("after the Delete %v, want %v", after, want)
	}
	// What the connector sent is what the recorded client sent.
	var asked map[string]any
	if err := json.Unmarshal(tags.Find(t, "PATCH", "/tags/default").RequestBody, &asked); err != nil {
		t.Fatal(err)
	}
	if got := rb.sent(t, 3); !reflect.DeepEqual(got, asked) {
		t.Errorf("sent %v, recorded %v", got, asked)
	}
	rb.obs.check(t, append(recordedSignIn,
		"arm 200 subscription-global-reads=3749 subscription-reads=249",
		"arm 200 subscription-global-writes=2999 subscription-writes=199")...)
}

// TestReplayResourceGraph: a page of Resource Graph asked with a
// $skipToken, answered with the next one; a query answered in table format
// (recorded for a client that asked for it); and a query Azure refused.
// The user quota (9, 14, 11) stays above the budget's threshold, so no
// query waits, -tenant-resource-requests alongside notwithstanding.
func TestReplayResourceGraph(t *testing.T) {
	t.Parallel()
	page := recorded.Load(t, "resourcegraph/ResourcesQueryOptionsTest.json").Find(t, "POST", "Microsoft.ResourceGraph")
	table := recorded.Load(t, "resourcegraph/ResourcesBasicQueryTableAsyncTest.json").Find(t, "POST", "Microsoft.ResourceGraph")
	bad := recorded.Load(t, "resourcegraph/ResourcesMalformedQueryAsyncTest.json").Find(t, "POST", "Microsoft.ResourceGraph")
	rb := replay(t, page, table, bad)
	ctx := testContext(t)
	const sub = "db1ab6f0-4769-4b27-930e-01e2ef9c123c"
	var asked, next struct {
		Options struct {
			SkipToken string `json:"$skipToken"`
		} `json:"options"`
		SkipToken string `json:"$skipToken"`
	}
	if err := json.Unmarshal(page.RequestBody, &asked); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(page.ResponseBody, &next); err != nil {
		t.Fatal(err)
	}

	var pages []*steward.ResourcePage
	for p, err := range rb.az.ResourcesGraph(ctx, rb.id, []string{sub}, asked.Options.SkipToken) {
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
		break // the next page was not recorded
	}
	if len(pages) != 1 || pages[0].Next != next.SkipToken || len(pages[0].Resources) != 6 {
		t.Fatalf("pages %+v, want one of 6 resources continuing at the recorded $skipToken", pages)
	}
	r := pages[0].Resources[2]
	if r.ID != "/subscriptions/"+sub+"/resourceGroups/AutoRestResources2/providers/Microsoft.Network/networkInterfaces/test-vm-rg796" ||
		r.SubscriptionID != sub || r.ResourceGroup != "AutoRestResources2" {
		t.Errorf("resource %+v", r)
	}
	opts, _ := rb.sent(t, 2)["options"].(map[string]any)
	if opts["$skipToken"] != asked.Options.SkipToken || opts["resultFormat"] != "objectArray" {
		t.Errorf("sent options %v, want the recorded $skipToken and objectArray", opts)
	}

	// Steward asks for objectArray; a table answer holds no rows it reads.
	for p, err := range rb.az.ResourcesGraph(ctx, rb.id, []string{sub}, "") {
		if err != nil || len(p.Resources) != 0 || p.Next != "" {
			t.Errorf("table answer read as %+v, %v", p, err)
		}
	}
	for _, err := range rb.az.ResourcesGraph(ctx, rb.id, []string{sub}, "") {
		requireCode(t, err, steward.EINVALID)
		if !strings.Contains(steward.ErrorMessage(err), "BadRequest") {
			t.Errorf("message %q", steward.ErrorMessage(err))
		}
	}
	if paced, _, _ := rb.az.BudgetStats(rb.id); paced != 0 {
		t.Errorf("%d queries paced with 9 or more queries of the user quota left", paced)
	}
	rb.obs.check(t, append(recordedSignIn,
		"resource_graph 200 tenant-reads=11976 user-quota=9",
		"resource_graph 200 tenant-reads=11986 user-quota=14",
		"resource_graph 400 tenant-reads=11982 user-quota=11")...)
}

// TestReplayRoleAssignments lists a principal's role assignments at a
// subscription; the recorded answer's assignment is at another
// subscription (the recorder sanitized the path, not the body).
func TestReplayRoleAssignments(t *testing.T) {
	t.Parallel()
	ra := recorded.Load(t, "authorization/RoleAssignmentTests.canCRUDRoleAssignment.json")
	rb := replay(t, ra.Find(t, "GET", "/roleAssignments?"))
	ctx := testContext(t)
	const principal = "5449c3c8-63b4-4145-9379-34f8ccd123fa"
	got, err := rb.az.RoleAssignments(ctx, rb.id, "/subscriptions/00000000-0000-0000-0000-000000000000", principal)
	if err != nil {
		t.Fatal(err)
	}
	want := steward.AzureRoleAssignment{
		ID:               "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/providers/Microsoft.Authorization/roleAssignments/4a02a430-d6a7-4ddb-a77e-a081b0d9d4c6",
		Scope:            "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590",
		RoleDefinitionID: "b24988ac-6180-42a0-ab88-20f7382dd24c", PrincipalID: principal, PrincipalType: "ServicePrincipal",
	}
	if len(got) != 1 || *got[0] != want {
		t.Errorf("assignments %+v, want %+v", got, want)
	}
	if q := rb.rp.Served()[2].URL.Query().Get("$filter"); q != "atScope() and principalId eq '"+principal+"'" {
		t.Errorf("sent $filter %q", q)
	}
	rb.obs.check(t, append(recordedSignIn, "arm 200 subscription-reads=11997")...)
}
