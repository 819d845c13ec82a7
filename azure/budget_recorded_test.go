package azure

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stewardhq/steward/internal/recorded"
)

// TestBudgetRecordedCounters reads each counter of the recorded Azure
// answers as the bucket it counts, and none of them, each well above its
// bucket's threshold, slows anything: in particular Resource Graph's
// -tenant-resource-requests (14, 11, 9: its user quota again) is not read
// as a Resource Manager counter.
func TestBudgetRecordedCounters(t *testing.T) {
	t.Parallel()
	const (
		sub    = "Sanitized.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/"
		arm    = "management.azure.com/"
		netSub = arm + "subscriptions/db1ab6f0-4769-4b27-930e-01e2ef9c123c/"
	)
	tests := []struct {
		file, method, part string
		want               []string // lane=remaining, sorted
	}{
		{"resources/TestTagsClient.json", "PUT", "/tags/default", []string{sub + "global-writes=2999", sub + "writes=199"}},
		{"resources/TestTagsClient.json", "PATCH", "/tags/default", []string{sub + "global-writes=2999", sub + "writes=199"}},
		{"resources/TestTagsClient.json", "GET", "/tags/default", []string{sub + "global-reads=3749", sub + "reads=249"}},
		{"resources/TestTagsClient.json", "DELETE", "/tags/default", []string{sub + "deletes=199", sub + "global-deletes=2999"}},
		{"resources/TestResourceGroupsClient.json", "HEAD", "/resourcegroups/go-test-rg", []string{sub + "global-reads=16499", sub + "reads=1099"}},
		// A POST Azure counts as a read.
		{"resources/TestResourceGroupsClient.json", "POST", "/exportTemplate", []string{sub + "global-reads=16499", sub + "reads=1099"}},
		// Compute's own x-ms-ratelimit-remaining-resource is not Resource Manager's.
		{"resources/TestResourcesClient.json", "PUT", "/availabilitySets/", []string{sub + "global-writes=11999", sub + "writes=799"}},
		{"resources/StartDeleteNonExistantRg[2022-09-01].json", "DELETE", "/resourcegroups/fake", []string{netSub + "deletes=14998"}},
		{"subscriptions/TestSubscriptionsClient.json", "GET", "/subscriptions/", []string{arm + "subscriptions/00000000-0000-0000-0000-000000000000/reads=11999"}},
		{"subscriptions/TestSubscriptionsClient.json", "POST", "/checkResourceName", []string{arm + "tenant/writes=1199"}},
		{"subscriptions/test_mgmt_resource_subscriptions.pyTestMgmtResourceSubscriptionstest_tenants.json", "GET", "/tenants", []string{arm + "tenant/reads=11999"}},
		{"authorization/RoleAssignmentTests.canCRUDRoleAssignment.json", "PUT", "/roleAssignments/", []string{"REDACTED/subscriptions/00000000-0000-0000-0000-000000000000/writes=1199"}},
		{"resourcegraph/ResourcesBasicQueryTableAsyncTest.json", "POST", "Microsoft.ResourceGraph", []string{"graph=14", arm + "tenant/reads=11986"}},
		{"resourcegraph/ResourcesMalformedQueryAsyncTest.json", "POST", "Microsoft.ResourceGraph", []string{"graph=11", arm + "tenant/reads=11982"}},
		{"resourcegraph/ResourcesQueryOptionsTest.json", "POST", "Microsoft.ResourceGraph", []string{"graph=9", arm + "tenant/reads=11976"}},
		// Microsoft Graph counts in x-ms-resource-unit, no ratelimit header.
		{"graph/ApplicationsTests.canCRUDApplication.json", "POST", "addPassword", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.method+" "+tt.part, func(t *testing.T) {
			e := recorded.Load(t, tt.file).Find(t, tt.method, tt.part)
			req, resp := e.Request(), e.Response()
			var got []string
			for _, c := range counters(req, resp.Header) {
				got = append(got, fmt.Sprintf("%s=%d", c.lane, c.remaining))
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("counters %q, want %q", got, tt.want)
			}
			b := newBudget(slog.New(slog.DiscardHandler))
			now := time.Now()
			b.observe(req, resp, now)
			if len(b.lanes) != 0 {
				t.Errorf("Azure's answer slows %v", slices.Collect(maps.Keys(b.lanes)))
			}
			if d, _ := b.reserve(laneKey(req), now); d != 0 {
				t.Errorf("the next request waits %v", d)
			}
		})
	}
}

// TestBudgetRecordedGraphQuota: with the recorded Resource Graph answer's
// user quota run low, Resource Graph queries are spaced over the reset
// time, and Resource Manager's tenant reads (which the same answer counts,
// far from empty) are not.
func TestBudgetRecordedGraphQuota(t *testing.T) {
	t.Parallel()
	e := recorded.Load(t, "resourcegraph/ResourcesQueryOptionsTest.json").Find(t, "POST", "Microsoft.ResourceGraph")
	req, resp := e.Request(), e.Response()
	resp.Header.Set("x-ms-user-quota-remaining", "1")
	resp.Header.Set("x-ms-ratelimit-remaining-tenant-resource-requests", "1")
	b := newBudget(slog.New(slog.DiscardHandler))
	now := time.Now()
	b.observe(req, resp, now)
	if l := b.lanes["graph"]; l == nil || l.gap != 5*time.Second/2 {
		t.Errorf("graph lane %+v, want a gap of 2.5s (00:00:05 over 2)", l)
	}
	if n := len(b.lanes); n != 1 {
		t.Errorf("%d lanes paced, want Resource Graph's alone: %v", n, slices.Collect(maps.Keys(b.lanes)))
	}
}
