package store_test

import (
	"context"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// TestSyncRunWarning: what a run could not do without failing is kept
// with it, and read back, on both engines.
func TestSyncRunWarning(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		createTenant(t, db, tenantOpts{id: guid('a', 1)})
		sub := guid('1', 1)
		createSubs(t, db, guid('a', 1), sub)
		run := &steward.SyncRun{SubscriptionID: sub, Reason: "manual"}
		if err := db.SyncRunCreate(ctx, run); err != nil {
			t.Fatal(err)
		}
		run.Status, run.Warning = steward.SyncSucceeded, steward.WarnActivityLogForbidden
		if err := db.SyncRunUpdate(ctx, run); err != nil {
			t.Fatal(err)
		}
		got, err := db.SyncRunGet(ctx, everything, run.ID)
		if err != nil || got.Warning != steward.WarnActivityLogForbidden {
			t.Fatalf("read back %+v, %v", got, err)
		}
	})
}
