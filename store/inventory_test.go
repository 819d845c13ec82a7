package store_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

func TestSubscriptionSync(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ta, tb := guid('a', 1), guid('b', 2)
		createTenant(t, db, tenantOpts{id: ta})
		createTenant(t, db, tenantOpts{id: tb})
		s1, s2, s3 := guid('1', 1), guid('2', 2), guid('3', 3)
		subs, err := db.SubscriptionSync(ctx, ta, []*steward.Subscription{
			{ID: strings.ToUpper(s2), DisplayName: "Beta", State: "Enabled", HomeTenantID: strings.ToUpper(ta), Tags: map[string]string{"env": "prod"}},
			{ID: s1, DisplayName: "Alpha", State: "Enabled", ManagedByTenants: []string{strings.ToUpper(tb)}},
		})
		if err != nil || len(subs) != 2 || subs[0].ID != s1 || subs[1].ID != s2 {
			t.Fatalf("SubscriptionSync = %v, %v; want Alpha, Beta with lower-case IDs", subs, err)
		}
		if s := subs[1]; s.SyncLevel != steward.SyncReadWriteTags || s.TenantID != ta || s.HomeTenantID != ta || s.Tags["env"] != "prod" || s.DiscoveredAt.IsZero() {
			t.Fatalf("new subscription = %+v", s)
		}
		if subs[0].ManagedByTenants[0] != tb {
			t.Fatalf("managed by = %v", subs[0].ManagedByTenants)
		}
		before := subs[0].UpdatedAt

		// Seen again with a new name; s2 no longer visible; tenant B sees s1
		// too but does not take it over.
		subs, err = db.SubscriptionSync(ctx, ta, []*steward.Subscription{{ID: s1, DisplayName: "Alpha 2", State: "Enabled", ManagedByTenants: []string{tb}}})
		if err != nil || len(subs) != 2 || subs[0].DisplayName != "Alpha 2" || !subs[0].MissingSince.IsZero() || subs[1].MissingSince.IsZero() {
			t.Fatalf("second sync = %+v, %v", subs, err)
		}
		if !subs[0].UpdatedAt.After(before) {
			t.Fatal("UpdatedAt did not move for a changed subscription")
		}
		subsB, err := db.SubscriptionSync(ctx, tb, []*steward.Subscription{{ID: s1, DisplayName: "Hijack"}, {ID: s3, DisplayName: "Gamma"}})
		if err != nil || len(subsB) != 1 || subsB[0].ID != s3 {
			t.Fatalf("tenant B sync = %v, %v; want only its own subscription", subsB, err)
		}
		// Back again: no longer missing.
		subs, _ = db.SubscriptionSync(ctx, ta, []*steward.Subscription{{ID: s1, DisplayName: "Alpha 2", State: "Enabled", ManagedByTenants: []string{tb}}, {ID: s2, DisplayName: "Beta"}})
		if !subs[1].MissingSince.IsZero() {
			t.Fatalf("s2 still missing: %+v", subs[1])
		}

		_, err = db.SubscriptionSync(ctx, guid('c', 9), nil)
		wantCode(t, err, steward.ENOTFOUND)
		_, err = db.SubscriptionSync(ctx, ta, []*steward.Subscription{{ID: "not-a-guid"}})
		wantCode(t, err, steward.EINVALID)

		got, err := db.SubscriptionGet(ctx, everything, strings.ToUpper(s1))
		if err != nil || got.DisplayName != "Alpha 2" {
			t.Fatalf("SubscriptionGet = %+v, %v", got, err)
		}
		_, err = db.SubscriptionGet(ctx, everything, guid('9', 9))
		wantCode(t, err, steward.ENOTFOUND)
		all, _ := db.SubscriptionList(ctx, everything, steward.SubscriptionFilter{})
		if len(all) != 3 || all[0].DisplayName != "Alpha 2" || all[2].DisplayName != "Gamma" {
			t.Fatalf("SubscriptionList = %v", all)
		}
		if l, _ := db.SubscriptionList(ctx, everything, steward.SubscriptionFilter{TenantID: strings.ToUpper(tb)}); len(l) != 1 || l[0].ID != s3 {
			t.Fatalf("by tenant = %v", l)
		}
		if l, _ := db.SubscriptionList(ctx, storetest.Scope(ta), steward.SubscriptionFilter{}); len(l) != 2 {
			t.Fatalf("scoped = %v", l)
		}
		if l, _ := db.SubscriptionList(ctx, storetest.Scope(ta), steward.SubscriptionFilter{TenantID: tb}); len(l) != 0 {
			t.Fatalf("scoped, another tenant's = %v", l)
		}
		if l, _ := db.SubscriptionList(ctx, steward.Scope{}, steward.SubscriptionFilter{}); len(l) != 0 {
			t.Fatalf("scoped to nothing = %v", l)
		}
		_, err = db.SubscriptionGet(ctx, storetest.Scope(tb), s1)
		wantCode(t, err, steward.ENOTFOUND)
		if _, err := db.SubscriptionGet(ctx, storetest.Scope(strings.ToUpper(ta)), s1); err != nil {
			t.Fatalf("a subscription within the scope: %v", err)
		}
	})
}

func TestSyncRuns(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createTenant(t, db, tenantOpts{id: guid('a', 1)})
		sub := guid('1', 1)
		createSubs(t, db, guid('a', 1), sub)
		wantCode(t, db.SyncRunCreate(ctx, &steward.SyncRun{SubscriptionID: guid('9', 9), Reason: "manual"}), steward.ENOTFOUND)

		r1 := &steward.SyncRun{SubscriptionID: sub, Reason: "manual", Method: steward.SyncARM, CreatedBy: "alice"}
		if err := db.SyncRunCreate(ctx, r1); err != nil || r1.ID == 0 || r1.Status != steward.SyncQueued || r1.Expected != 0 {
			t.Fatalf("SyncRunCreate = %+v, %v", r1, err)
		}
		r1.Status, r1.StartedAt, r1.Seen, r1.Pages, r1.Resume = steward.SyncRunning, time.Now().UTC().Truncate(time.Microsecond), 500, 1, "page-2"
		if err := db.SyncRunUpdate(ctx, r1); err != nil {
			t.Fatal(err)
		}
		if s, _ := db.SubscriptionGet(ctx, everything, sub); s.LastSyncRunID != 0 {
			t.Fatal("a running run became the last sync")
		}
		r1.Status, r1.Seen, r1.Written, r1.Deleted, r1.Resume, r1.FinishedAt = steward.SyncSucceeded, 1200, 1200, 3, "", r1.StartedAt.Add(time.Minute)
		if err := db.SyncRunUpdate(ctx, r1); err != nil {
			t.Fatal(err)
		}
		s, _ := db.SubscriptionGet(ctx, everything, sub)
		if s.LastSyncRunID != r1.ID || !s.LastSyncedAt.Equal(r1.FinishedAt) {
			t.Fatalf("last sync = %d at %v; want run %d at %v", s.LastSyncRunID, s.LastSyncedAt, r1.ID, r1.FinishedAt)
		}
		r2 := &steward.SyncRun{SubscriptionID: sub, Reason: "schedule"}
		if err := db.SyncRunCreate(ctx, r2); err != nil || r2.Expected != 1200 {
			t.Fatalf("second run expects %d, %v; want 1200 from the last success", r2.Expected, err)
		}
		got, err := db.SyncRunGet(ctx, everything, r1.ID)
		if err != nil || got.Written != 1200 || got.Deleted != 3 || !got.StartedAt.Equal(r1.StartedAt) || got.Method != steward.SyncARM || got.CreatedBy != "alice" {
			t.Fatalf("SyncRunGet = %+v, %v", got, err)
		}
		runs, _ := db.SyncRunList(ctx, everything, sub, 0)
		if len(runs) != 2 || runs[0].ID != r2.ID {
			t.Fatalf("SyncRunList = %v; want newest first", runs)
		}
		if runs, _ := db.SyncRunList(ctx, everything, sub, 1); len(runs) != 1 {
			t.Fatalf("limit 1: %d runs", len(runs))
		}
		wantCode(t, db.SyncRunUpdate(ctx, &steward.SyncRun{ID: 999, Status: steward.SyncFailed}), steward.ENOTFOUND)
		wantCode(t, db.SyncRunUpdate(ctx, &steward.SyncRun{ID: r1.ID, Status: "exploded"}), steward.EINVALID)
		_, err = db.SyncRunGet(ctx, everything, 999)
		wantCode(t, err, steward.ENOTFOUND)
	})
}

func TestResourceGroupSync(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createTenant(t, db, tenantOpts{id: guid('a', 1)})
		sub := guid('1', 1)
		createSubs(t, db, guid('a', 1), sub)
		groups := []*steward.ResourceGroup{
			{Name: "RG-1", Location: "westeurope", Tags: map[string]string{"env": "prod"}},
			{Name: "rg-2", Location: "northeurope"},
		}
		if n, err := db.ResourceGroupSync(ctx, sub, groups); err != nil || n != 2 {
			t.Fatalf("first sync wrote %d, %v; want 2", n, err)
		}
		count := changeCounter(t, db)
		if n, err := db.ResourceGroupSync(ctx, strings.ToUpper(sub), groups); err != nil || n != 0 || count() != 0 {
			t.Fatalf("unchanged sync wrote %d (%d rows), %v; want 0", n, count(), err)
		}
		groups[0].Tags["env"] = "dev"
		groups = append(groups[:1], &steward.ResourceGroup{Name: "rg-3"})
		if n, err := db.ResourceGroupSync(ctx, sub, groups); err != nil || n != 3 {
			t.Fatalf("changed sync wrote %d, %v; want 3 (one update, one insert, one delete)", n, err)
		}
		_, err := db.ResourceGroupSync(ctx, guid('9', 9), groups)
		wantCode(t, err, steward.ENOTFOUND)
	})
}

// TestResourceUpsertWritesOnlyChanges is the sync contract: a re-sync with
// nothing changed writes no row at all, and one with 1% changed writes
// exactly those resources and their tag rows, history and counts.
func TestResourceUpsertWritesOnlyChanges(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createTenant(t, db, tenantOpts{id: guid('a', 1)})
		sub := guid('1', 1)
		createSubs(t, db, guid('a', 1), sub)
		tags := func(i int) map[string]string {
			return map[string]string{"env": []string{"prod", "dev"}[i%2], "Owner": fmt.Sprintf("team-%d", i%7)}
		}
		rs := makeResources(sub, 1000, tags)
		if n := upsert(t, db, sub, rs, true); n != 1000 {
			t.Fatalf("first sync wrote %d, want 1000", n)
		}
		pks := map[string]int64{}
		for _, r := range rs {
			if r.PK == 0 {
				t.Fatalf("resource %s has no PK", r.ID)
			}
			pks[r.ID] = r.PK
		}
		t0 := time.Now()

		// Nothing changed: zero rows, same PKs (a fresh copy, as a new
		// listing would give).
		count := changeCounter(t, db)
		again := makeResources(sub, 1000, tags)
		if n := upsert(t, db, sub, again, true); n != 0 {
			t.Fatalf("unchanged re-sync wrote %d resources, want 0", n)
		}
		if n := count(); n != 0 {
			t.Fatalf("unchanged re-sync wrote %d rows, want 0", n)
		}
		for _, r := range again {
			if r.PK != pks[r.ID] {
				t.Fatalf("re-sync PK of %s = %d, want %d", r.ID, r.PK, pks[r.ID])
			}
		}

		// 1% changed: 5 change a tag value, 3 gain a tag, 2 move.
		changed := makeResources(sub, 1000, tags)
		for i := 0; i < 5; i++ {
			changed[i*100].Tags["env"] = "staging"
		}
		for i := 5; i < 8; i++ {
			changed[i*100].Tags["CostCenter"] = "cc-1"
		}
		for i := 8; i < 10; i++ {
			changed[i*100].Location = "northeurope"
		}
		count = changeCounter(t, db)
		if n := upsert(t, db, sub, changed, true); n != 10 {
			t.Fatalf("1%% re-sync wrote %d resources, want 10", n)
		}
		// 10 resources + 8 tag rows + 8 history rows + 1 new tag count.
		if n := count(); n != 27 {
			t.Fatalf("1%% re-sync wrote %d rows, want 27", n)
		}
		var moved int
		if err := db.WriteDB().QueryRow(`SELECT count(*) FROM resources WHERE synced_at >= $1`, t0.UnixMicro()).Scan(&moved); err != nil || moved != 10 {
			t.Fatalf("%d resources with a new synced_at, %v; want 10", moved, err)
		}
		hist, err := db.TagHistory(ctx, everything, changed[0].PK, 0)
		if err != nil || len(hist) != 1 || hist[0].Key != "env" || *hist[0].Old != "prod" || *hist[0].New != "staging" || hist[0].Source != "sync" {
			t.Fatalf("history of a changed tag = %+v, %v", hist, err)
		}
		if hist, _ := db.TagHistory(ctx, everything, changed[500].PK, 0); len(hist) != 1 || hist[0].Old != nil || *hist[0].New != "cc-1" {
			t.Fatalf("history of an added tag = %+v", hist)
		}
		if hist, _ := db.TagHistory(ctx, everything, changed[800].PK, 0); len(hist) != 0 {
			t.Fatalf("a move made tag history: %+v", hist)
		}
		got, err := db.ResourceGet(ctx, everything, strings.ToUpper(changed[800].ID))
		if err != nil || got.Location != "northeurope" || got.PK != changed[800].PK || got.Tags["Owner"] != "team-2" || got.ResourceGroup != "RG-2" {
			t.Fatalf("ResourceGet = %+v, %v", got, err)
		}
		_, err = db.ResourceGet(ctx, everything, "/subscriptions/x/nope")
		wantCode(t, err, steward.ENOTFOUND)
		if n, _ := db.ResourceCount(ctx, everything, steward.ResourceFilter{Tags: []steward.TagMatch{{Key: "ENV", Value: "staging"}}}); n != 5 {
			t.Fatalf("%d resources tagged env=staging, want 5", n)
		}

		// A removed tag: the resource, its tag row, a history row and the
		// tag's count.
		changed[0].Tags = map[string]string{"Owner": "team-0"}
		count = changeCounter(t, db)
		if n := upsert(t, db, sub, changed[:1], true); n != 1 || count() != 4 {
			t.Fatalf("tag removal wrote %d resources and %d rows; want 1 and 4", n, count())
		}

		// Bad input.
		_, err = db.ResourceUpsertMany(ctx, sub, []*steward.Resource{{Name: "no id"}}, true)
		wantCode(t, err, steward.EINVALID)
		_, err = db.ResourceUpsertMany(ctx, sub, makeResources(guid('2', 2), 1, nil), true)
		wantCode(t, err, steward.EINVALID)
		_, err = db.ResourceUpsertMany(ctx, guid('2', 2), makeResources(guid('2', 2), 1, nil), true)
		wantCode(t, err, steward.ENOTFOUND)
	})
}

// TestResourceNoTags checks that at level no-tags tags are neither stored
// nor compared, and that going back to reading tags records no history for
// tags that were simply not read before.
func TestResourceNoTags(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createTenant(t, db, tenantOpts{id: guid('a', 1)})
		sub := guid('1', 1)
		createSubs(t, db, guid('a', 1), sub)
		tags := func(i int) map[string]string { return map[string]string{"env": fmt.Sprint(i)} }
		rs := makeResources(sub, 20, tags)
		upsert(t, db, sub, rs, false)
		var tagRows int
		db.WriteDB().QueryRow(`SELECT count(*) FROM resource_tags`).Scan(&tagRows)
		if tagRows != 0 {
			t.Fatalf("%d tag rows stored at no-tags", tagRows)
		}
		if got, _ := db.ResourceGet(ctx, everything, rs[3].ID); len(got.Tags) != 0 {
			t.Fatalf("tags stored at no-tags: %v", got.Tags)
		}
		// Changed tags are not compared: nothing is written.
		changed := makeResources(sub, 20, func(i int) map[string]string { return map[string]string{"env": "other"} })
		if n := upsert(t, db, sub, changed, false); n != 0 {
			t.Fatalf("a tag change at no-tags wrote %d resources", n)
		}
		if keys, _ := db.TagKeys(ctx, everything, steward.ResourceFilter{}, 0); len(keys) != 0 {
			t.Fatalf("tag keys at no-tags: %v", keys)
		}
		// Reading tags again: every resource is written once, no history.
		if n := upsert(t, db, sub, makeResources(sub, 20, tags), true); n != 20 {
			t.Fatalf("first sync reading tags wrote %d, want 20", n)
		}
		if h, _ := db.TagHistory(ctx, everything, rs[3].PK, 0); len(h) != 0 {
			t.Fatalf("history after level change: %+v", h)
		}
		if n, _ := db.ResourceCount(ctx, everything, steward.ResourceFilter{Tags: []steward.TagMatch{{Key: "env", AnyValue: true}}}); n != 20 {
			t.Fatalf("%d resources tagged env after reading tags, want 20", n)
		}
		// Back to no-tags: stored tags go with the next sync, no history.
		if n := upsert(t, db, sub, makeResources(sub, 20, tags), false); n != 20 {
			t.Fatalf("first sync at no-tags wrote %d, want 20", n)
		}
		db.WriteDB().QueryRow(`SELECT count(*) FROM resource_tags`).Scan(&tagRows)
		if h, _ := db.TagHistory(ctx, everything, rs[3].PK, 0); tagRows != 0 || len(h) != 0 {
			t.Fatalf("after no-tags sync: %d tag rows, history %v", tagRows, h)
		}
	})
}

func TestResourceDeleteExcept(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		db.SetDeleteBatch(7)
		createTenant(t, db, tenantOpts{id: guid('a', 1)})
		sub, other := guid('1', 1), guid('2', 2)
		createSubs(t, db, guid('a', 1), sub, other)
		rs := makeResources(sub, 50, func(i int) map[string]string { return map[string]string{"env": "prod"} })
		upsert(t, db, sub, rs, true)
		upsert(t, db, other, makeResources(other, 5, nil), true)
		var keep []int64
		for i, r := range rs {
			if i%3 != 0 {
				keep = append(keep, r.PK)
			}
		}
		keep = append(keep, 999999) // unknown PKs are ignored
		slices.Reverse(keep)        // and order is not trusted
		n, err := db.ResourceDeleteExcept(ctx, sub, keep)
		if err != nil || n != 17 {
			t.Fatalf("ResourceDeleteExcept = %d, %v; want 17", n, err)
		}
		if left, _ := db.ResourceCount(ctx, everything, steward.ResourceFilter{SubscriptionID: sub}); left != 33 {
			t.Fatalf("%d resources left, want 33", left)
		}
		if left, _ := db.ResourceCount(ctx, everything, steward.ResourceFilter{SubscriptionID: other}); left != 5 {
			t.Fatalf("other subscription lost resources: %d left", left)
		}
		keys, _ := db.TagKeys(ctx, everything, steward.ResourceFilter{SubscriptionID: sub}, 0)
		if len(keys) != 1 || keys[0].Resources != 33 {
			t.Fatalf("tag keys after deletion = %+v; want env on 33", keys)
		}
		if n, err := db.ResourceDeleteExcept(ctx, sub, nil); err != nil || n != 33 {
			t.Fatalf("deleting the rest = %d, %v", n, err)
		}
		if keys, _ := db.TagKeys(ctx, everything, steward.ResourceFilter{SubscriptionID: sub}, 0); len(keys) != 0 {
			t.Fatalf("tag keys of an empty subscription = %+v", keys)
		}
	})
}

func TestTagKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ta, tb := guid('a', 1), guid('b', 2)
		createTenant(t, db, tenantOpts{id: ta})
		createTenant(t, db, tenantOpts{id: tb})
		s1, s2 := guid('1', 1), guid('2', 2)
		createSubs(t, db, ta, s1)
		createSubs(t, db, tb, s2)
		upsert(t, db, s1, makeResources(s1, 10, func(i int) map[string]string {
			m := map[string]string{"owner": "x"}
			if i < 6 {
				m["Env"] = "prod"
			} else {
				m["env"] = "dev"
			}
			return m
		}), true)
		upsert(t, db, s2, makeResources(s2, 4, func(i int) map[string]string { return map[string]string{"ENV": "prod"} }), true)
		keys, err := db.TagKeys(ctx, everything, steward.ResourceFilter{}, 0)
		if err != nil || len(keys) != 2 {
			t.Fatalf("TagKeys = %v, %v", keys, err)
		}
		if k := keys[0]; k.Key != "env" || k.Resources != 14 || !slices.Equal(k.Spellings, []string{"Env", "ENV", "env"}) {
			t.Fatalf("env = %+v; want 14 resources, spellings by use", k)
		}
		if keys[1].Key != "owner" || keys[1].Resources != 10 {
			t.Fatalf("owner = %+v", keys[1])
		}
		if keys, _ := db.TagKeys(ctx, everything, steward.ResourceFilter{TenantID: tb}, 0); len(keys) != 1 || keys[0].Resources != 4 {
			t.Fatalf("tenant B keys = %+v", keys)
		}
		if keys, _ := db.TagKeys(ctx, storetest.Scope(ta), steward.ResourceFilter{}, 1); len(keys) != 1 || keys[0].Resources != 10 {
			t.Fatalf("scoped keys with limit 1 = %+v", keys)
		}
		if keys, _ := db.TagKeys(ctx, steward.Scope{}, steward.ResourceFilter{}, 0); len(keys) != 0 {
			t.Fatalf("scoped to nothing = %+v", keys)
		}
	})
}

// listCase is a resource filter and the Go predicate it must agree with.
type listCase struct {
	name string
	f    steward.ResourceFilter
	// scoped limits the listing to a viewer of tenants.
	scoped  bool
	tenants []string
}

func (c listCase) scope() steward.Scope {
	if !c.scoped {
		return everything
	}
	return storetest.Scope(c.tenants...)
}

// TestResourceList checks every filter, alone and combined, against the
// same filter applied in Go to all resources, paging with small pages, on
// both the per-subscription (arms) and the global plans.
func TestResourceList(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(1, 2))
		// Tenant A has 3 subscriptions (listed per subscription), tenant B
		// 35 (more than the plan lists one by one), tenant C one.
		ta, tb, tc := guid('a', 1), guid('b', 2), guid('c', 3)
		subsOf := map[string][]string{}
		for _, tn := range []struct {
			id string
			n  int
		}{{ta, 3}, {tb, 35}, {tc, 1}} {
			createTenant(t, db, tenantOpts{id: tn.id})
			for i := range tn.n {
				subsOf[tn.id] = append(subsOf[tn.id], guid(tn.id[0], 100+i))
			}
			createSubs(t, db, tn.id, subsOf[tn.id]...)
		}
		tenantOf := map[string]string{}
		var all []*steward.Resource
		for _, tn := range []string{ta, tb, tc, ta} { // tenant A twice: its PKs are not contiguous
			for _, sub := range subsOf[tn] {
				tenantOf[sub] = tn
				n := 3 + rng.IntN(12)
				if tn != tb {
					n = 40 + rng.IntN(20)
				}
				rs := makeResources(sub, n, nil)
				for _, r := range rs {
					r.ID += fmt.Sprintf("-%d", len(all)) // unique across the two passes
					r.Name += fmt.Sprintf("-%d", len(all))
					r.Tags = map[string]string{}
					if rng.IntN(10) < 8 {
						r.Tags[[]string{"env", "Env", "ENV"}[rng.IntN(3)]] = []string{"prod", "dev", "Prod"}[rng.IntN(3)]
					}
					if rng.IntN(2) == 0 {
						r.Tags["owner"] = fmt.Sprintf("team-%d", rng.IntN(4))
					}
					if rng.IntN(20) == 0 {
						r.Tags["rare"] = "yes"
					}
					all = append(all, r)
				}
				upsert(t, db, sub, rs, true)
			}
		}
		// Two resources with an edit item in conflict, one with a pending item.
		ctxA := ctxFor("alice")
		var items []*steward.TagEditItem
		for _, r := range []*steward.Resource{all[5], all[70], all[71]} {
			items = append(items, &steward.TagEditItem{ResourcePK: r.PK, ResourceID: r.ID, SubscriptionID: r.SubscriptionID, Merge: map[string]string{"x": "y"}})
		}
		edit := &steward.TagEdit{CreatedBy: "alice", Request: "{}"}
		if err := db.TagEditCreate(ctxA, edit, items, nil); err != nil {
			t.Fatal(err)
		}
		for _, it := range items[:2] {
			it.Status, it.Conflicts = steward.EditConflict, []steward.TagConflict{{Key: "x"}}
			if err := db.TagEditItemFinish(ctxA, it, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		inConflict := map[int64]bool{all[5].PK: true, all[70].PK: true}

		match := func(tc listCase, r *steward.Resource) bool {
			f := tc.f
			lookup := func(k string) (string, bool) {
				for tk, v := range r.Tags {
					if strings.EqualFold(tk, k) {
						return v, true
					}
				}
				return "", false
			}
			switch {
			case f.TenantID != "" && tenantOf[r.SubscriptionID] != f.TenantID,
				f.SubscriptionID != "" && r.SubscriptionID != f.SubscriptionID,
				f.ResourceGroup != "" && !strings.EqualFold(r.ResourceGroup, f.ResourceGroup),
				f.Type != "" && !strings.EqualFold(r.Type, f.Type),
				f.NameContains != "" && !strings.Contains(strings.ToLower(r.Name), strings.ToLower(f.NameContains)),
				f.InConflict && !inConflict[r.PK],
				tc.scoped && !slices.Contains(tc.tenants, tenantOf[r.SubscriptionID]):
				return false
			}
			if f.Untagged != "" {
				if _, ok := lookup(f.Untagged); ok {
					return false
				}
			}
			for _, m := range f.Tags {
				v, ok := lookup(m.Key)
				if !ok || (!m.AnyValue && v != m.Value) {
					return false
				}
			}
			return true
		}
		envProd := steward.TagMatch{Key: "ENV", Value: "prod"}
		anyOwner := steward.TagMatch{Key: "Owner", AnyValue: true}
		cases := []listCase{
			{name: "all", f: steward.ResourceFilter{}},
			{name: "tag", f: steward.ResourceFilter{Tags: []steward.TagMatch{envProd}}},
			{name: "tag value is exact", f: steward.ResourceFilter{Tags: []steward.TagMatch{{Key: "env", Value: "Prod"}}}},
			{name: "any value", f: steward.ResourceFilter{Tags: []steward.TagMatch{anyOwner}}},
			{name: "two tags", f: steward.ResourceFilter{Tags: []steward.TagMatch{envProd, {Key: "owner", Value: "team-1"}}}},
			{name: "tag and any", f: steward.ResourceFilter{Tags: []steward.TagMatch{anyOwner, envProd}}},
			{name: "common tag and rare tag", f: steward.ResourceFilter{Tags: []steward.TagMatch{envProd, {Key: "rare", Value: "yes"}}}},
			{name: "three tags", f: steward.ResourceFilter{Tags: []steward.TagMatch{{Key: "owner", Value: "team-2"}, envProd, {Key: "RARE", Value: "yes"}}}},
			{name: "two tags none", f: steward.ResourceFilter{Tags: []steward.TagMatch{envProd, {Key: "rare", Value: "no"}}}},
			{name: "untagged", f: steward.ResourceFilter{Untagged: "Env"}},
			{name: "untagged and tag", f: steward.ResourceFilter{Untagged: "owner", Tags: []steward.TagMatch{envProd}}},
			{name: "type", f: steward.ResourceFilter{Type: "microsoft.storage/storageaccounts"}},
			{name: "group", f: steward.ResourceFilter{SubscriptionID: subsOf[ta][1], ResourceGroup: "rg-1"}},
			{name: "group everywhere", f: steward.ResourceFilter{ResourceGroup: "RG-2"}},
			{name: "name", f: steward.ResourceFilter{NameContains: "-1"}},
			{name: "name with wildcard characters", f: steward.ResourceFilter{NameContains: "%"}},
			{name: "conflict", f: steward.ResourceFilter{InConflict: true}},
			{name: "conflict in tenant", f: steward.ResourceFilter{InConflict: true, TenantID: ta}},
			{name: "rare", f: steward.ResourceFilter{Tags: []steward.TagMatch{{Key: "rare", Value: "yes"}}}},
			{name: "subscription", f: steward.ResourceFilter{SubscriptionID: subsOf[ta][0]}},
			{name: "subscription and tag", f: steward.ResourceFilter{SubscriptionID: subsOf[ta][0], Tags: []steward.TagMatch{envProd}}},
			{name: "subscription and any", f: steward.ResourceFilter{SubscriptionID: subsOf[ta][2], Tags: []steward.TagMatch{anyOwner}, Type: "Microsoft.Compute/virtualMachines"}},
			{name: "subscription of another tenant", f: steward.ResourceFilter{SubscriptionID: subsOf[ta][0], TenantID: tb}},
			{name: "tenant (arms)", f: steward.ResourceFilter{TenantID: ta}},
			{name: "tenant (arms) and tag", f: steward.ResourceFilter{TenantID: ta, Tags: []steward.TagMatch{envProd}}},
			{name: "tenant (arms) and any", f: steward.ResourceFilter{TenantID: ta, Tags: []steward.TagMatch{anyOwner}}},
			{name: "tenant (arms) untagged type", f: steward.ResourceFilter{TenantID: ta, Untagged: "owner", Type: "Microsoft.Network/virtualNetworks"}},
			{name: "tenant (global)", f: steward.ResourceFilter{TenantID: tb}},
			{name: "tenant (global) and tag", f: steward.ResourceFilter{TenantID: tb, Tags: []steward.TagMatch{envProd}}},
			{name: "tenant (global) and any", f: steward.ResourceFilter{TenantID: tb, Tags: []steward.TagMatch{anyOwner}}},
			{name: "tenant (global) and two tags", f: steward.ResourceFilter{TenantID: tb, Tags: []steward.TagMatch{envProd, {Key: "owner", Value: "team-3"}}}},
			{name: "tenant (arms) and two tags", f: steward.ResourceFilter{TenantID: ta, Tags: []steward.TagMatch{envProd, {Key: "rare", Value: "yes"}}, Untagged: "nothing"}},
			{name: "single-subscription tenant", f: steward.ResourceFilter{TenantID: tc, Tags: []steward.TagMatch{envProd}}},
			{name: "scoped", f: steward.ResourceFilter{}, scoped: true, tenants: []string{ta, tc}},
			{name: "scoped tag", f: steward.ResourceFilter{Tags: []steward.TagMatch{envProd}}, scoped: true, tenants: []string{tc, tb}},
			{name: "scoped and tenant", f: steward.ResourceFilter{TenantID: ta, Untagged: "env"}, scoped: true, tenants: []string{ta}},
			{name: "scoped out", f: steward.ResourceFilter{TenantID: ta}, scoped: true, tenants: []string{tc}},
			{name: "scoped to nothing", f: steward.ResourceFilter{}, scoped: true, tenants: nil},
			{name: "scoped subscription", f: steward.ResourceFilter{SubscriptionID: subsOf[ta][0]}, scoped: true, tenants: []string{ta}},
		}
		// Every case twice: the second time the planner has statistics.
		var analyzed []listCase
		for _, tc := range cases {
			tc.name += " (analyzed)"
			analyzed = append(analyzed, tc)
		}
		for i, tc := range append(cases, analyzed...) {
			if i == len(cases) {
				if err := db.ResourceAnalyze(ctx); err != nil {
					t.Fatal(err)
				}
			}
			var want []int64
			for _, r := range all {
				if match(tc, r) {
					want = append(want, r.PK)
				}
			}
			slices.Sort(want)
			for _, limit := range []int{7, 1000} {
				f := tc.f
				f.Limit = limit
				var got []int64
				for _, r := range listAll(t, db, tc.scope(), f) {
					got = append(got, r.PK)
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s (limit %d): listed %d resources, want %d\n got %v\nwant %v", tc.name, limit, len(got), len(want), got, want)
				}
			}
			if n, err := db.ResourceCount(ctx, tc.scope(), tc.f); err != nil || n != len(want) {
				t.Errorf("%s: ResourceCount = %d, %v; want %d", tc.name, n, err, len(want))
			}
		}
		if len(all) < 400 {
			t.Fatalf("only %d resources; the test needs several pages per plan", len(all))
		}

		// A page's resources are whole, and the cursor is the last PK.
		rs, next, err := db.ResourceList(ctx, everything, steward.ResourceFilter{Limit: 3, TenantID: ta})
		if err != nil || len(rs) != 3 || next != fmt.Sprint(rs[2].PK) || rs[0].Tags == nil && len(all[0].Tags) > 0 || rs[0].Name == "" {
			t.Fatalf("first page = %+v, %q, %v", rs, next, err)
		}
		want := map[string]*steward.Resource{}
		for _, r := range all {
			want[r.ID] = r
		}
		for _, r := range rs {
			w := want[r.ID]
			if r.PK != w.PK || r.Name != w.Name || r.Type != w.Type || r.ResourceGroup != w.ResourceGroup || !maps.Equal(r.Tags, w.Tags) || r.FirstSeenAt.IsZero() {
				t.Fatalf("listed %+v, stored %+v", r, w)
			}
		}
		for _, bad := range []steward.ResourceFilter{{Limit: 1001}, {Limit: -1}, {After: -5}, {Tags: []steward.TagMatch{{Key: " "}}}} {
			_, _, err := db.ResourceList(ctx, everything, bad)
			wantCode(t, err, steward.EINVALID)
		}
	})
}

// On SQLite concurrent syncs' pages share a transaction. A page that fails
// (here: its subscription is unknown) must fail alone, and the group's
// other pages must be written as if each had its own transaction.
func TestResourceUpsertGroupedPages(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	createTenant(t, db, tenantOpts{id: guid('a', 1)})
	s1, s2, unknown := guid('1', 1), guid('2', 2), guid('9', 9)
	createSubs(t, db, guid('a', 1), s1, s2)
	tags := func(i int) map[string]string { return map[string]string{"env": []string{"prod", "dev"}[i%2]} }
	pages := [][]*steward.Resource{makeResources(s1, 300, tags), makeResources(unknown, 10, tags), makeResources(s2, 200, tags)}
	written, errs := db.WriteGroup(ctx, []string{s1, unknown, s2}, pages)
	if errs[0] != nil || errs[2] != nil || written[0] != 300 || written[2] != 200 {
		t.Fatalf("good pages: written %v, errors %v", written, errs)
	}
	if steward.ErrorCode(errs[1]) != steward.ENOTFOUND {
		t.Fatalf("page of an unknown subscription: %v, want not found", errs[1])
	}
	seen := map[int64]bool{}
	for _, p := range [][]*steward.Resource{pages[0], pages[2]} {
		for _, r := range p {
			got, err := db.ResourceGet(ctx, everything, r.ID)
			if err != nil || got.PK != r.PK || seen[r.PK] || got.Tags["env"] != r.Tags["env"] {
				t.Fatalf("%s: stored %+v (%v), PK given %d", r.ID, got, err, r.PK)
			}
			seen[r.PK] = true
		}
	}
	for sub, want := range map[string]int{s1: 150, s2: 100} {
		n, err := db.ResourceCount(ctx, everything, steward.ResourceFilter{SubscriptionID: sub, Tags: []steward.TagMatch{{Key: "env", Value: "prod"}}})
		if err != nil || n != want {
			t.Fatalf("%s env=prod: %d (%v), want %d", sub, n, err, want)
		}
	}
	// The same group again writes nothing.
	written, errs = db.WriteGroup(ctx, []string{s1, s2}, [][]*steward.Resource{makeResources(s1, 300, tags), makeResources(s2, 200, tags)})
	if written[0] != 0 || written[1] != 0 || errs[0] != nil || errs[1] != nil {
		t.Fatalf("unchanged group: written %v, errors %v", written, errs)
	}
}

// Listings remember how they planned (which tag is rarest, whether a tag's
// index beats the scope) for a while; what they list must still follow
// the data: here a rare tag becomes common, and new resources land past
// the PKs the first listings saw.
func TestResourceListPlanMemoFollowsData(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ta := guid('a', 1)
		createTenant(t, db, tenantOpts{id: ta})
		s1, s2 := guid('1', 1), guid('2', 2)
		createSubs(t, db, ta, s1, s2)
		tags := func(i int) map[string]string {
			t := map[string]string{"env": "prod"}
			if i%50 == 0 {
				t["rare"] = "yes"
			}
			return t
		}
		upsert(t, db, s1, makeResources(s1, 200, tags), true)
		filters := []steward.ResourceFilter{
			{TenantID: ta, Tags: []steward.TagMatch{{Key: "rare", Value: "yes"}}},
			{Tags: []steward.TagMatch{{Key: "env", Value: "prod"}, {Key: "rare", Value: "yes"}}},
			{SubscriptionID: s2, Tags: []steward.TagMatch{{Key: "rare", Value: "yes"}, {Key: "env", Value: "prod"}}},
		}
		count := func() []int {
			var n []int
			for _, f := range filters {
				f.Limit = 1000
				n = append(n, len(listAll(t, db, everything, f)))
			}
			return n
		}
		if got := count(); !slices.Equal(got, []int{4, 4, 0}) {
			t.Fatalf("before: %v, want [4 4 0]", got)
		}
		all := func(int) map[string]string { return map[string]string{"env": "prod", "rare": "yes"} }
		upsert(t, db, s2, makeResources(s2, 300, all), true)
		if got := count(); !slices.Equal(got, []int{304, 304, 300}) {
			t.Fatalf("after the rare tag became common: %v, want [304 304 300]", got)
		}
	})
}

// TestSyncRunClaim checks that at most one run of a subscription runs, that
// a run abandoned by a dead process (no heartbeat for a lease) is taken
// over, and that the process that lost it learns so at its next update.
func TestSyncRunClaim(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createTenant(t, db, tenantOpts{id: guid('a', 1)})
		sub := guid('1', 1)
		createSubs(t, db, guid('a', 1), sub)
		newRun := func() *steward.SyncRun {
			t.Helper()
			r := &steward.SyncRun{SubscriptionID: sub, Reason: "manual", Method: steward.SyncARM}
			if err := db.SyncRunCreate(ctx, r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		claim := func(r *steward.SyncRun, staleBefore time.Time) *steward.SyncRun {
			t.Helper()
			got, err := db.SyncRunClaim(ctx, r.ID, staleBefore)
			if err != nil {
				t.Fatalf("claim of run %d: %v", r.ID, err)
			}
			return got
		}
		fresh := time.Now().Add(-2 * time.Minute) // heartbeats since then are alive
		wantCode(t, func() error { _, err := db.SyncRunClaim(ctx, 999999, fresh); return err }(), steward.ENOTFOUND)

		a := newRun()
		got := claim(a, fresh)
		if got.Status != steward.SyncRunning || got.HeartbeatAt.IsZero() || got.StartedAt.IsZero() {
			t.Fatalf("claimed run: %+v", got)
		}
		// The same run again, while its process lives: refused.
		_, err := db.SyncRunClaim(ctx, a.ID, fresh)
		wantCode(t, err, steward.ECONFLICT)

		// A second run while the first lives gives way.
		b := newRun()
		if got := claim(b, fresh); got.Status != steward.SyncCanceled || !strings.Contains(got.Error, fmt.Sprintf("Run %d", a.ID)) {
			t.Fatalf("second run: %+v", got)
		}

		// The first run's process dies: a lease later its heartbeat is old.
		later := time.Now().Add(time.Minute)
		c := newRun()
		if got := claim(c, later); got.Status != steward.SyncRunning {
			t.Fatalf("run taking over: %+v", got)
		}
		if old, _ := db.SyncRunGet(ctx, everything, a.ID); old.Status != steward.SyncCanceled || !strings.Contains(old.Error, fmt.Sprintf("run %d took its place", c.ID)) {
			t.Fatalf("abandoned run: %+v", old)
		}
		// Had it only stalled, its process learns at its next update, and
		// the run stays canceled.
		got.Seen = 10
		wantCode(t, db.SyncRunUpdate(ctx, got), steward.ECONFLICT)
		if old, _ := db.SyncRunGet(ctx, everything, a.ID); old.Status != steward.SyncCanceled || old.Seen != 0 {
			t.Fatalf("a canceled run was updated: %+v", old)
		}

		// The heartbeat renews running runs only.
		before, _ := db.SyncRunGet(ctx, everything, c.ID)
		time.Sleep(2 * time.Millisecond)
		if err := db.SyncRunHeartbeat(ctx, []int64{a.ID, c.ID}); err != nil {
			t.Fatal(err)
		}
		after, _ := db.SyncRunGet(ctx, everything, c.ID)
		if !after.HeartbeatAt.After(before.HeartbeatAt) {
			t.Fatalf("heartbeat %v, then %v", before.HeartbeatAt, after.HeartbeatAt)
		}
		if old, _ := db.SyncRunGet(ctx, everything, a.ID); !old.HeartbeatAt.Equal(got.HeartbeatAt) {
			t.Fatal("a canceled run's heartbeat was renewed")
		}

		// A run with a newer run behind it gives way to it, even when
		// nothing runs (a failed run's retry after a new run was asked).
		after.Status, after.FinishedAt = steward.SyncFailed, time.Now()
		if err := db.SyncRunUpdate(ctx, after); err != nil {
			t.Fatal(err)
		}
		d := newRun()
		if got := claim(c, fresh); got.Status != steward.SyncCanceled || !strings.Contains(got.Error, fmt.Sprintf("Run %d", d.ID)) {
			t.Fatalf("superseded run: %+v", got)
		}
		if got := claim(d, fresh); got.Status != steward.SyncRunning {
			t.Fatalf("newest run: %+v", got)
		}
		// Done runs are returned as they are.
		if got := claim(b, fresh); got.Status != steward.SyncCanceled {
			t.Fatalf("canceled run claimed: %+v", got)
		}

		// Two workers given the same run at once: one runs it.
		d.Status, d.FinishedAt = steward.SyncSucceeded, time.Now()
		if err := db.SyncRunUpdate(ctx, d); err != nil {
			t.Fatal(err)
		}
		e := newRun()
		var won atomic.Int32
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				got, err := db.SyncRunClaim(ctx, e.ID, fresh)
				switch {
				case err == nil && got.Status == steward.SyncRunning:
					won.Add(1)
				case steward.ErrorCode(err) != steward.ECONFLICT:
					t.Errorf("claim: %+v, %v", got, err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d workers ran the run", won.Load())
		}
	})
}
