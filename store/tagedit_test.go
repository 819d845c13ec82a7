package store_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

func TestTagEditOutbox(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := ctxFor("alice")
		ta, tb := guid('a', 1), guid('b', 2)
		createTenant(t, db, tenantOpts{id: ta})
		tenantB := createTenant(t, db, tenantOpts{id: tb, noWrite: true})
		a1, a2, b1 := guid('1', 1), guid('2', 2), guid('3', 3)
		createSubs(t, db, ta, a1, a2)
		createSubs(t, db, tb, b1)
		if _, err := db.SubscriptionSetLevel(ctx, a2, steward.SyncReadTags, nil); err != nil {
			t.Fatal(err)
		}
		tags := func(int) map[string]string { return map[string]string{"env": "dev", "Owner": "x"} }
		ra, r2, rb := makeResources(a1, 3, tags), makeResources(a2, 1, tags), makeResources(b1, 1, tags)
		upsert(t, db, a1, ra, true)
		upsert(t, db, a2, r2, true)
		upsert(t, db, b1, rb, true)
		item := func(r *steward.Resource) *steward.TagEditItem {
			return &steward.TagEditItem{ResourcePK: r.PK, ResourceID: r.ID, SubscriptionID: r.SubscriptionID, Merge: map[string]string{"env": "prod"},
				Delete: []string{"Owner"}, Expected: map[string]*string{"env": ptr("dev"), "owner": ptr("x")}}
		}
		items := []*steward.TagEditItem{item(ra[0]), item(ra[1]), item(r2[0]), item(rb[0])}
		edit := &steward.TagEdit{CreatedBy: "alice", Request: `{"merge":{"env":"prod"}}`}
		if err := db.TagEditCreate(ctx, edit, items, steward.NewAuditEvent(ctx, "tags.edit", "4 resources")); err != nil {
			t.Fatal(err)
		}
		// Written: a1 at read-write-tags in a tenant that writes; held: a2
		// (read-tags) and b1 (write access off).
		for i, want := range []steward.TagEditStatus{steward.EditPending, steward.EditPending, steward.EditHeld, steward.EditHeld} {
			if items[i].Status != want || items[i].ID == 0 || items[i].EditID != edit.ID {
				t.Fatalf("item %d = %+v; want %s", i, items[i], want)
			}
		}
		if items[3].TenantID != tb || edit.Status != steward.EditPending || edit.ItemCount != 4 {
			t.Fatalf("edit = %+v, item tenant %q", edit, items[3].TenantID)
		}
		evs, _, _ := db.AuditList(ctx, everything, steward.AuditFilter{Action: "tags.edit"})
		if len(evs) != 1 {
			t.Fatalf("%d tags.edit events, want 1", len(evs))
		}
		wantCode(t, db.TagEditCreate(ctx, &steward.TagEdit{CreatedBy: "alice"}, nil, nil), steward.EINVALID)
		wantCode(t, db.TagEditCreate(ctx, &steward.TagEdit{CreatedBy: "alice"}, []*steward.TagEditItem{{ResourceID: "/x", SubscriptionID: guid('9', 9), Merge: map[string]string{"a": "b"}}},
			steward.NewAuditEvent(ctx, "tags.edit", "x")), steward.EINVALID)
		if edits, _ := db.TagEditList(ctx, everything, 0); len(edits) != 1 {
			t.Fatalf("a refused edit was stored: %d edits", len(edits))
		}

		due, err := db.TagEditSubscriptionsDue(ctx)
		if err != nil || !slices.Equal(due, []string{a1}) {
			t.Fatalf("TagEditSubscriptionsDue = %v, %v", due, err)
		}

		// Claims lease items: a second claim finds nothing until the lease passes.
		now := time.Now().UTC().Truncate(time.Microsecond)
		claimed, err := db.TagEditItemsClaim(ctx, a1, now, 2*time.Minute, 10)
		if err != nil || len(claimed) != 2 || claimed[0].ID != items[0].ID || claimed[0].Attempts != 1 || !claimed[0].NextAttemptAt.Equal(now.Add(2*time.Minute)) {
			t.Fatalf("claim = %+v, %v", claimed, err)
		}
		if c := claimed[0]; c.Merge["env"] != "prod" || !slices.Equal(c.Delete, []string{"Owner"}) || *c.Expected["owner"] != "x" || c.ResourcePK != ra[0].PK {
			t.Fatalf("claimed item lost its plan: %+v", c)
		}
		if again, _ := db.TagEditItemsClaim(ctx, a1, now.Add(time.Minute), 2*time.Minute, 10); len(again) != 0 {
			t.Fatalf("leased items claimed again: %v", again)
		}
		again, _ := db.TagEditItemsClaim(ctx, a1, now.Add(3*time.Minute), 2*time.Minute, 1)
		if len(again) != 1 || again[0].ID != claimed[0].ID || again[0].Attempts != 2 || again[0].Claim != claimed[0].Claim+1 {
			t.Fatalf("claim after the lease = %+v; want item %d with the next claim number", again, claimed[0].ID)
		}

		// Fenced: the first claim of that item has passed. Its worker can
		// neither renew it nor record a result, event included; the
		// second claim renews it, and the first claim of the other item
		// still holds.
		stale := *claimed[0]
		stale.Status, stale.AppliedAt = steward.EditApplied, now
		if err := db.TagEditItemFinish(ctx, &stale, map[string]string{"env": "stale"}, steward.NewAuditEvent(ctx, "tags.write", stale.ResourceID)); err != steward.ErrClaimPassed {
			t.Fatalf("finish under a claim that passed = %v; want ErrClaimPassed", err)
		}
		if got, _ := db.TagEditItemGet(ctx, everything, stale.ID); got.Status != steward.EditPending || got.Claim != again[0].Claim {
			t.Fatalf("after a fenced finish the item is %+v", got)
		}
		if evs, _, _ := db.AuditList(ctx, everything, steward.AuditFilter{Action: "tags.write"}); len(evs) != 0 {
			t.Fatalf("a fenced finish recorded %d events", len(evs))
		}
		later := now.Add(10 * time.Minute)
		if held, err := db.TagEditItemsRenew(ctx, []*steward.TagEditItem{claimed[0], claimed[1]}, later); err != nil || !slices.Equal(held, []int64{claimed[1].ID}) {
			t.Fatalf("renew under the first claims = %v, %v; want only item %d", held, err, claimed[1].ID)
		}
		if held, err := db.TagEditItemsRenew(ctx, again, later); err != nil || !slices.Equal(held, []int64{again[0].ID}) {
			t.Fatalf("renew under the second claim = %v, %v", held, err)
		}
		if held, _ := db.TagEditItemsRenew(ctx, again, now); len(held) != 1 {
			t.Fatal("a renewal to an earlier time let go of the claim")
		}
		if got, _ := db.TagEditItemGet(ctx, everything, again[0].ID); !got.NextAttemptAt.Equal(later) {
			t.Fatalf("renewed lease ends %v, want %v (never shortened)", got.NextAttemptAt, later)
		}
		if n, err := db.TagEditItemsRelease(ctx, []*steward.TagEditItem{claimed[0]}, now); err != nil || n != 0 {
			t.Fatalf("release under a claim that passed = %d, %v", n, err)
		}
		if again, _ := db.TagEditItemsClaim(ctx, a1, later.Add(-time.Second), 2*time.Minute, 10); len(again) != 0 {
			t.Fatalf("renewed items claimed again: %v", again)
		}
		// Released, the item is due at once, its attempt not counted.
		if n, err := db.TagEditItemsRelease(ctx, again, now); err != nil || n != 1 {
			t.Fatalf("release = %d, %v", n, err)
		}
		if got, _ := db.TagEditItemGet(ctx, everything, again[0].ID); got.Attempts != 1 || !got.NextAttemptAt.Equal(now) {
			t.Fatalf("released item = %+v", got)
		}
		again, _ = db.TagEditItemsClaim(ctx, a1, now, 2*time.Minute, 1)
		if len(again) != 1 || again[0].ID != claimed[0].ID || again[0].Claim != claimed[0].Claim+2 {
			t.Fatalf("claim after the release = %+v", again)
		}

		// Applied with Azure's tags: the resource's stored tags, rows,
		// counts, hash and history follow, once.
		azure := map[string]string{"env": "prod", "extra": "from-azure"}
		done := again[0]
		done.Status, done.AppliedAt = steward.EditApplied, now
		for range 2 {
			if err := db.TagEditItemFinish(ctx, done, azure, steward.NewAuditEvent(ctx, "tags.write", done.ResourceID)); err != nil {
				t.Fatal(err)
			}
		}
		e, _ := db.TagEditGet(ctx, everything, edit.ID)
		if e.AppliedCount != 1 || e.Status != steward.EditPending {
			t.Fatalf("edit after applying one item twice = %+v; want 1 applied, still pending", e)
		}
		res, _ := db.ResourceGet(ctx, everything, ra[0].ID)
		if !maps.Equal(res.Tags, azure) {
			t.Fatalf("resource tags = %v, want %v", res.Tags, azure)
		}
		hist, _ := db.TagHistory(ctx, everything, ra[0].PK, 0)
		if len(hist) != 3 {
			t.Fatalf("history = %+v; want Owner removed, env changed, extra added", hist)
		}
		for _, h := range hist {
			if h.Source != "steward" || h.Actor != "alice" || h.EditID != edit.ID {
				t.Fatalf("history entry = %+v", h)
			}
		}
		if n, _ := db.ResourceCount(ctx, everything, steward.ResourceFilter{Tags: []steward.TagMatch{{Key: "env", Value: "prod"}}}); n != 1 {
			t.Fatalf("%d resources env=prod after the write, want 1", n)
		}
		keys, _ := db.TagKeys(ctx, everything, steward.ResourceFilter{SubscriptionID: a1}, 0)
		if len(keys) != 3 || keys[0].Key != "env" || keys[0].Resources != 3 || keys[1].Key != "owner" || keys[1].Resources != 2 {
			t.Fatalf("tag keys after the write = %+v", keys)
		}
		// The next sync finds Azure as Steward stored it: nothing to write.
		resync := makeResources(a1, 3, tags)
		resync[0].Tags = azure
		if n := upsert(t, db, a1, resync, true); n != 0 {
			t.Fatalf("sync after a write-back wrote %d resources, want 0", n)
		}

		// A conflict is stored with its details and shows in listings.
		conf := claimed[1]
		conf.Status, conf.LastError = steward.EditConflict, "Azure changed env"
		conf.Conflicts = []steward.TagConflict{{Key: "env", Seen: ptr("dev"), Azure: ptr("test"), Wanted: ptr("prod")}}
		if err := db.TagEditItemFinish(ctx, conf, nil, steward.NewAuditEvent(ctx, "tags.conflict", conf.ResourceID)); err != nil {
			t.Fatal(err)
		}
		got, _ := db.TagEditItemGet(ctx, everything, conf.ID)
		if got.Status != steward.EditConflict || len(got.Conflicts) != 1 || *got.Conflicts[0].Azure != "test" || got.LastError == "" {
			t.Fatalf("conflict item = %+v", got)
		}
		e, _ = db.TagEditGet(ctx, everything, edit.ID)
		if e.ConflictCount != 1 || e.Status != steward.EditConflict {
			t.Fatalf("edit = %+v; want conflict (nothing pending, one conflict)", e)
		}
		if rs, _, _ := db.ResourceList(ctx, everything, steward.ResourceFilter{InConflict: true}); len(rs) != 1 || rs[0].PK != ra[1].PK {
			t.Fatalf("in conflict = %v", rs)
		}
		if cs, _ := db.TagEditItems(ctx, everything, 0, steward.EditConflict, 0, 10); len(cs) != 1 || cs[0].ID != conf.ID {
			t.Fatalf("items in conflict = %v", cs)
		}
		// Resolved by applying over Azure's value: pending again.
		got.Status, got.Conflicts, got.Attempts, got.NextAttemptAt = steward.EditPending, nil, 0, now
		got.Expected["env"] = ptr("test")
		if err := db.TagEditItemFinish(ctx, got, nil, steward.NewAuditEvent(ctx, "tags.conflict_resolved", got.ResourceID)); err != nil {
			t.Fatal(err)
		}
		if e, _ := db.TagEditGet(ctx, everything, edit.ID); e.ConflictCount != 0 || e.Status != steward.EditPending {
			t.Fatalf("edit after resolving = %+v", e)
		}
		if it, _ := db.TagEditItemGet(ctx, everything, got.ID); *it.Expected["env"] != "test" || len(it.Conflicts) != 0 {
			t.Fatalf("resolved item = %+v", it)
		}

		// Releasing needs the level and the write switch.
		if n, _ := db.TagEditHold(ctx, ta, "", false); n != 0 {
			t.Fatalf("released %d items of a read-tags subscription", n)
		}
		if n, _ := db.TagEditHold(ctx, tb, "", false); n != 0 {
			t.Fatalf("released %d items of a tenant with write access off", n)
		}
		tenantB.WriteEnabled = true
		if err := db.TenantUpdate(ctx, tenantB, nil); err != nil {
			t.Fatal(err)
		}
		if n, _ := db.TagEditHold(ctx, tb, "", false); n != 1 {
			t.Fatalf("released %d items after write access went on, want 1", n)
		}
		if _, err := db.SubscriptionSetLevel(ctx, a2, steward.SyncReadWriteTags, nil); err != nil {
			t.Fatal(err)
		}
		if n, _ := db.TagEditHold(ctx, "", a2, false); n != 1 {
			t.Fatalf("released %d items after the level went up, want 1", n)
		}
		// Holding: a level that does not write, or a tenant's switch.
		if _, err := db.SubscriptionSetLevel(ctx, a1, steward.SyncReadTags, nil); err != nil {
			t.Fatal(err)
		}
		if it, _ := db.TagEditItemGet(ctx, everything, got.ID); it.Status != steward.EditHeld {
			t.Fatalf("item of a subscription set to read-tags is %s, want held", it.Status)
		}
		tenantB.WriteEnabled = false
		if err := db.TenantUpdate(ctx, tenantB, nil); err != nil {
			t.Fatal(err)
		}
		if it, _ := db.TagEditItemGet(ctx, everything, items[3].ID); it.Status != steward.EditHeld {
			t.Fatalf("item of a tenant with write access off is %s, want held", it.Status)
		}
		if n, _ := db.TagEditHold(ctx, ta, "", true); n != 1 {
			t.Fatalf("held %d more items of tenant A, want 1 (a2's)", n)
		}
		e, _ = db.TagEditGet(ctx, everything, edit.ID)
		if e.Status != steward.EditHeld {
			t.Fatalf("edit with every open item held = %+v", e)
		}
		_, err = db.TagEditHold(ctx, "", "", true)
		wantCode(t, err, steward.EINVALID)

		// Everything settles: the edit is done. A late failure from a
		// worker whose lease had passed does not undo an applied item.
		for _, id := range []int64{items[1].ID, items[2].ID, items[3].ID} {
			it, _ := db.TagEditItemGet(ctx, everything, id)
			it.Status = map[bool]steward.TagEditStatus{true: steward.EditCanceled, false: steward.EditFailed}[id == items[1].ID]
			if err := db.TagEditItemFinish(ctx, it, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		done.Status = steward.EditFailed
		if err := db.TagEditItemFinish(ctx, done, nil, nil); err != nil {
			t.Fatal(err)
		}
		e, _ = db.TagEditGet(ctx, everything, edit.ID)
		if e.Status != steward.EditDone || e.AppliedCount != 1 || e.FailedCount != 2 || e.FinishedAt.IsZero() {
			t.Fatalf("finished edit = %+v", e)
		}
		if it, _ := db.TagEditItemGet(ctx, everything, done.ID); it.Status != steward.EditApplied {
			t.Fatalf("applied item became %s", it.Status)
		}

		all, _ := db.TagEditItems(ctx, everything, edit.ID, "", 0, 0)
		if len(all) != 4 || all[0].ID != items[0].ID {
			t.Fatalf("TagEditItems = %v", all)
		}
		if page, _ := db.TagEditItems(ctx, everything, edit.ID, "", all[1].ID, 1); len(page) != 1 || page[0].ID != all[2].ID {
			t.Fatalf("TagEditItems after %d = %v", all[1].ID, page)
		}
		_, err = db.TagEditGet(ctx, everything, 999)
		wantCode(t, err, steward.ENOTFOUND)
		_, err = db.TagEditItemGet(ctx, everything, 999)
		wantCode(t, err, steward.ENOTFOUND)
		wantCode(t, db.TagEditItemFinish(ctx, &steward.TagEditItem{ID: 999, Status: steward.EditApplied}, nil, nil), steward.ENOTFOUND)
		wantCode(t, db.TagEditItemFinish(ctx, &steward.TagEditItem{ID: done.ID, Status: "done"}, nil, nil), steward.EINVALID)
		if v, err := db.AuditVerify(ctx); err != nil || !v.OK() {
			t.Fatalf("audit chain: %+v, %v", v, err)
		}
	})
}

// TestTagEditClaimConcurrent checks that workers claiming at once never
// get the same item.
func TestTagEditClaimConcurrent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createTenant(t, db, tenantOpts{id: guid('a', 1)})
		sub := guid('1', 1)
		createSubs(t, db, guid('a', 1), sub)
		rs := makeResources(sub, 120, nil)
		upsert(t, db, sub, rs, true)
		var items []*steward.TagEditItem
		for _, r := range rs {
			items = append(items, &steward.TagEditItem{ResourcePK: r.PK, ResourceID: r.ID, SubscriptionID: sub, Merge: map[string]string{"a": "b"}})
		}
		if err := db.TagEditCreate(ctx, &steward.TagEdit{CreatedBy: "bob"}, items, nil); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					got, err := db.TagEditItemsClaim(ctx, sub, now, time.Hour, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, it := range got {
						seen[it.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != 120 {
			t.Fatalf("%d items claimed, want 120", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("item %d claimed %d times", id, n)
			}
		}
	})
}

// TestSubscriptionSetLevel checks what each level purges, in one
// transaction with the event.
func TestSubscriptionSetLevel(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := ctxFor("carol")
		ta := guid('a', 1)
		createTenant(t, db, tenantOpts{id: ta})
		sub, other := guid('1', 1), guid('2', 2)
		createSubs(t, db, ta, sub, other)
		day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		fill := func(s string) []*steward.Resource {
			rs := makeResources(s, 10, func(i int) map[string]string { return map[string]string{"env": fmt.Sprint(i % 2)} })
			upsert(t, db, s, rs, true)
			changed := makeResources(s, 10, func(i int) map[string]string { return map[string]string{"env": "x"} })
			upsert(t, db, s, changed, true) // history
			if _, err := db.ResourceGroupSync(ctx, s, []*steward.ResourceGroup{{Name: "RG-0", Tags: map[string]string{"a": "b"}}}); err != nil {
				t.Fatal(err)
			}
			var rows []*steward.CostRow
			for _, r := range rs {
				rows = append(rows, &steward.CostRow{Day: day, SubscriptionID: s, ResourceID: r.ID, ResourceGroup: r.ResourceGroup, Service: "VM", Cost: 1, Currency: "EUR", Tags: map[string]string{"env": "x"}})
			}
			if err := db.CostUpsertMany(ctx, rows); err != nil {
				t.Fatal(err)
			}
			return rs
		}
		rs := fill(sub)
		fill(other)
		items := []*steward.TagEditItem{{ResourcePK: rs[0].PK, ResourceID: rs[0].ID, SubscriptionID: sub, Merge: map[string]string{"a": "b"}}}
		if err := db.TagEditCreate(ctx, &steward.TagEdit{CreatedBy: "carol"}, items, nil); err != nil {
			t.Fatal(err)
		}
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := db.WriteDB().QueryRow(q, args...).Scan(&n); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return n
		}

		s, err := db.SubscriptionSetLevel(ctx, sub, steward.SyncNoTags, steward.NewAuditEvent(ctx, "subscription.sync_level", sub))
		if err != nil || s.SyncLevel != steward.SyncNoTags {
			t.Fatalf("SubscriptionSetLevel = %+v, %v", s, err)
		}
		if got, _ := db.SubscriptionGet(ctx, everything, sub); got.SyncLevel != steward.SyncNoTags {
			t.Fatalf("stored level = %s", got.SyncLevel)
		}
		if n := count(`SELECT count(*) FROM resource_tags t JOIN resources r ON r.pk = t.resource_pk WHERE r.subscription_id = $1`, sub); n != 0 {
			t.Fatalf("%d tag rows left at no-tags", n)
		}
		if n := count(`SELECT count(*) FROM tag_history h JOIN resources r ON r.pk = h.resource_pk WHERE r.subscription_id = $1`, sub); n != 0 {
			t.Fatalf("%d history rows left at no-tags", n)
		}
		if n := count(`SELECT count(*) FROM resources WHERE subscription_id = $1 AND tags <> '{}'`, sub); n != 0 {
			t.Fatalf("%d resources with tags at no-tags", n)
		}
		if n := count(`SELECT count(*) FROM resource_groups WHERE subscription_id = $1 AND tags <> '{}'`, sub); n != 0 {
			t.Fatalf("%d groups with tags at no-tags", n)
		}
		if keys, _ := db.TagKeys(ctx, everything, steward.ResourceFilter{SubscriptionID: sub}, 0); len(keys) != 0 {
			t.Fatalf("tag keys at no-tags: %v", keys)
		}
		rep, err := db.CostReport(ctx, everything, steward.CostQuery{GroupBy: "tag:env", SubscriptionID: sub})
		if err != nil || len(rep) != 1 || rep[0].Key != "" || rep[0].Cost != 10 {
			t.Fatalf("cost by tag at no-tags = %+v, %v; want all untagged", rep, err)
		}
		if it, _ := db.TagEditItemGet(ctx, everything, items[0].ID); it.Status != steward.EditHeld {
			t.Fatalf("pending item at no-tags is %s", it.Status)
		}
		// The other subscription kept everything.
		if n := count(`SELECT count(*) FROM resource_tags t JOIN resources r ON r.pk = t.resource_pk WHERE r.subscription_id = $1`, other); n != 10 {
			t.Fatalf("other subscription has %d tag rows, want 10", n)
		}
		if rep, _ := db.CostReport(ctx, everything, steward.CostQuery{GroupBy: "tag:env", SubscriptionID: other}); len(rep) != 1 || rep[0].Key != "x" {
			t.Fatalf("other subscription's cost by tag = %+v", rep)
		}
		// The next sync at no-tags writes each resource once, then nothing.
		if n := upsert(t, db, sub, makeResources(sub, 10, nil), false); n != 10 {
			t.Fatalf("first sync after the purge wrote %d, want 10", n)
		}
		if n := upsert(t, db, sub, makeResources(sub, 10, nil), false); n != 0 {
			t.Fatalf("second sync after the purge wrote %d, want 0", n)
		}

		if _, err := db.SubscriptionSetLevel(ctx, sub, steward.SyncNoResources, steward.NewAuditEvent(ctx, "subscription.sync_level", sub)); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`SELECT count(*) FROM resources WHERE subscription_id = $1`,
			`SELECT count(*) FROM resource_groups WHERE subscription_id = $1`,
			`SELECT count(*) FROM cost_daily WHERE subscription_id = $1`,
			`SELECT count(*) FROM cost_resources WHERE subscription_id = $1`,
		} {
			if n := count(q, sub); n != 0 {
				t.Fatalf("%s = %d at no-resources", q, n)
			}
		}
		if it, _ := db.TagEditItemGet(ctx, everything, items[0].ID); it.ResourcePK != 0 || it.ResourceID != rs[0].ID {
			t.Fatalf("item after its resource was purged = %+v", it)
		}
		if n := count(`SELECT count(*) FROM resources WHERE subscription_id = $1`, other); n != 10 {
			t.Fatalf("other subscription has %d resources, want 10", n)
		}
		if _, day, _ := db.CostDays(ctx, sub); !day.IsZero() {
			t.Fatalf("latest cost day after purge = %v", day)
		}
		evs, _, _ := db.AuditList(ctx, everything, steward.AuditFilter{Action: "subscription.sync_level"})
		if len(evs) != 2 {
			t.Fatalf("%d level events, want 2", len(evs))
		}
		_, err = db.SubscriptionSetLevel(ctx, sub, "everything", nil)
		wantCode(t, err, steward.EINVALID)
		_, err = db.SubscriptionSetLevel(ctx, guid('9', 9), steward.SyncNoTags, nil)
		wantCode(t, err, steward.ENOTFOUND)
	})
}
