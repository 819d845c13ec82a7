package inventory_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/azure"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/inventory"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// TestWriteBackOutlivesItsLease stretches a write-back far past its lease
// with Azure's write throttling (a bucket of 2 writes refilled at 4 a
// second, a lease of 2 s) while two replicas' workers compete for one
// subscription's items, each claiming again whenever it finds nothing, as
// the sweep's jobs do. Each worker renews its claim while it works and
// sends a write only under a claim still its own, so every resource is
// written exactly once, counted in Azure's activity log, with one write
// event each. Without renewal and fencing it fails: the items of a batch
// whose lease passed were claimed and written by the other worker too (of
// 60 items, on SQLite 1 resource written twice and 65 write events, on
// PostgreSQL 40 written twice and 100 write events).
func TestWriteBackOutlivesItsLease(t *testing.T) {
	if testing.Short() {
		t.Skip("writes at Azure's throttled pace for several leases")
	}
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const lease = 2 * time.Second
		fw := newFaultWorld(t, db, faultOptions{Lease: lease, Emulator: emulator.Config{Throttling: emulator.Throttling{
			Writes: emulator.BucketSpec{Size: 2, RefillPerSecond: 4}, GlobalFactor: 1}}})
		fw.syncAll(t)
		sub := fw.subs[0]

		// The other replica: a connector and an inventory of its own on
		// the same database.
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		az, err := azure.New(azure.Config{Cloud: fw.path, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(az.Close)
		other, err := inventory.New(inventory.Config{Store: db, Azure: az, Box: fw.keys, Logger: log, Lease: lease})
		if err != nil {
			t.Fatal(err)
		}

		since := time.Now().Add(-time.Second)
		edit, err := fw.inv.SubmitTagEdit(fw.ctx, &steward.TagEditRequest{Filter: &steward.ResourceFilter{SubscriptionID: sub},
			SkipRefused: true, Merge: map[string]string{"lease-test": "1"}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(steward.NewSystemContext(fw.ctx), 3*time.Minute)
		defer cancel()
		start := time.Now()
		var wg sync.WaitGroup
		for _, inv := range []*inventory.Service{fw.inv, other} {
			wg.Go(func() {
				for {
					if err := inv.ApplyTagEdits(ctx, sub); err != nil && ctx.Err() == nil {
						t.Errorf("write-back: %v", err)
					}
					e, err := db.TagEditGet(ctx, everything, edit.ID)
					if err == nil && e.Status != steward.EditPending {
						return
					}
					select {
					case <-ctx.Done():
						return
					case <-time.After(lease / 20):
					}
				}
			})
		}
		wg.Wait()
		took := time.Since(start)
		if ctx.Err() != nil {
			t.Fatalf("the edit was not done in %v", took)
		}

		got, err := db.TagEditGet(fw.ctx, everything, edit.ID)
		if err != nil || got.AppliedCount != got.ItemCount {
			t.Fatalf("edit after write-back: %+v, %v", got, err)
		}
		if took < 3*lease {
			t.Fatalf("the write-back took %v, under three leases: the test proves nothing", took)
		}
		items, err := db.TagEditItems(fw.ctx, everything, edit.ID, "", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		writes := fw.tagWrites(t, sub, since)
		twice := 0
		for _, it := range items {
			if n := writes[strings.ToLower(it.ResourceID)]; n != 1 {
				t.Errorf("%s: %d tag writes in Azure's activity log, want 1 (claim %d)", it.ResourceID, n, it.Claim)
				twice += max(n-1, 0)
			}
		}
		if len(writes) != len(items) {
			t.Errorf("%d resources written, %d items", len(writes), len(items))
		}
		evs, _, err := db.AuditList(fw.ctx, everything, steward.AuditFilter{Action: "tags.write", Limit: 1000})
		if err != nil || len(evs) != len(items) {
			t.Errorf("%d write events for %d items, %v", len(evs), len(items), err)
		}
		t.Logf("%d items, %d resources written, %d written again, %d write events, done in %v (lease %v)",
			len(items), len(writes), twice, len(evs), took.Round(100*time.Millisecond), lease)
	})
}
