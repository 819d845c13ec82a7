package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// Fixtures for the inventory tests.

// guid makes a tenant or subscription ID from a prefix letter and a number.
func guid(prefix byte, n int) string {
	return fmt.Sprintf("%c%07x-0000-4000-8000-%012x", prefix, n, n)
}

type tenantOpts struct {
	id       string
	name     string
	noWrite  bool
	revoked  bool
	creds    []*steward.Credential
	connKind steward.ConnectionKind
}

func createTenant(t testing.TB, db *store.DB, o tenantOpts) *steward.Tenant {
	t.Helper()
	ten := &steward.Tenant{ID: o.id, Name: o.name, Connection: o.connKind, WriteEnabled: !o.noWrite}
	if ten.Name == "" {
		ten.Name = "Tenant " + o.id[:8]
	}
	if ten.Connection == "" {
		ten.Connection = steward.ConnectServicePrincipal
	}
	if o.revoked {
		ten.Status = steward.TenantRevoked
	}
	ctx := ctxFor("test")
	if err := db.TenantCreate(ctx, ten, o.creds, steward.NewAuditEvent(ctx, "tenant.create", ten.Name).WithTenant(ten.ID)); err != nil {
		t.Fatalf("creating tenant %s: %v", o.id, err)
	}
	return ten
}

// createSubs records subscriptions seen by a tenant (all of the tenant's
// subscriptions: others are marked missing).
func createSubs(t testing.TB, db *store.DB, tenantID string, ids ...string) []*steward.Subscription {
	t.Helper()
	seen := make([]*steward.Subscription, len(ids))
	for i, id := range ids {
		seen[i] = &steward.Subscription{ID: id, DisplayName: "Sub " + id[:8], State: "Enabled"}
	}
	subs, err := db.SubscriptionSync(context.Background(), tenantID, seen)
	if err != nil {
		t.Fatalf("syncing subscriptions of %s: %v", tenantID, err)
	}
	return subs
}

// armID makes an ARM ID.
func armID(sub, rg, typ, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/" + typ + "/" + name
}

// makeResources makes n resources in sub; tags(i) gives each one's tags.
func makeResources(sub string, n int, tags func(i int) map[string]string) []*steward.Resource {
	out := make([]*steward.Resource, n)
	types := []string{"Microsoft.Compute/virtualMachines", "Microsoft.Storage/storageAccounts", "Microsoft.Network/virtualNetworks"}
	for i := range out {
		rg := fmt.Sprintf("RG-%d", i%3)
		typ := types[i%len(types)]
		name := fmt.Sprintf("res-%s-%04d", sub[:4], i)
		var tg map[string]string
		if tags != nil {
			tg = tags(i)
		}
		out[i] = &steward.Resource{ID: armID(sub, rg, typ, name), SubscriptionID: sub, ResourceGroup: rg, Name: name, Type: typ, Location: "westeurope", Tags: tg}
	}
	return out
}

func upsert(t testing.TB, db *store.DB, sub string, rs []*steward.Resource, readTags bool) int {
	t.Helper()
	n, err := db.ResourceUpsertMany(context.Background(), sub, rs, readTags)
	if err != nil {
		t.Fatalf("upserting %d resources: %v", len(rs), err)
	}
	return n
}

// listAll pages through a listing with a small page size and returns the
// resources and the number of pages.
func listAll(t *testing.T, db *store.DB, scope steward.Scope, f steward.ResourceFilter) []*steward.Resource {
	t.Helper()
	var out []*steward.Resource
	for pages := 0; ; pages++ {
		rs, next, err := db.ResourceList(context.Background(), scope, f)
		if err != nil {
			t.Fatalf("listing %+v: %v", f, err)
		}
		out = append(out, rs...)
		if next == "" {
			return out
		}
		if pages > 10000 {
			t.Fatal("listing does not end")
		}
		fmt.Sscan(next, &f.After)
	}
}

// changeCounter returns a function that tells how many rows were written
// (inserted, updated or deleted) since it was made: SQLite counts changes
// on its one writer connection; PostgreSQL rows of the inventory tables
// whose version (xmin) is newer than a transaction taken now, plus rows
// that disappeared.
func changeCounter(t *testing.T, db *store.DB) func() int {
	t.Helper()
	q := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.WriteDB().QueryRow(query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	if db.Engine() == store.SQLite {
		n0 := q(`SELECT total_changes()`)
		return func() int { return q(`SELECT total_changes()`) - n0 }
	}
	tables := []string{"resources", "resource_tags", "tag_history", "tag_key_counts", "resource_groups", "cost_rows", "cost_daily"}
	counts := map[string]int{}
	for _, tb := range tables {
		counts[tb] = q(`SELECT count(*) FROM ` + tb)
	}
	x := q(`SELECT (txid_current() % 4294967296)::bigint`)
	return func() int {
		n := 0
		for _, tb := range tables {
			n += q(`SELECT count(*) FROM `+tb+` WHERE xmin::text::bigint > $1`, x)
			if c := q(`SELECT count(*) FROM ` + tb); c < counts[tb] {
				n += counts[tb] - c
			}
		}
		return n
	}
}

func ptr(s string) *string { return &s }

// everything is the scope of Steward's own jobs: tests of the store's own
// behaviour read through it, and the scope tests narrow it.
var everything = steward.SystemActor.Scope(steward.PermInventoryRead)
