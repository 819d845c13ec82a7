package inventory_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/emulator"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// TestSyncTakesOverARunWhoseProcessDied: a process took a sync run and
// died (its job stays "running" in the job engine for an hour). Within a
// lease, Sync now answers with that run; a lease later a new run takes its
// place and syncs, and the dead run says what happened to it. The dead
// process's job, rescued later, does nothing.
func TestSyncTakesOverARunWhoseProcessDied(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fw := newFaultWorld(t, db, faultOptions{})
		sub := fw.subs[1]
		dead, err := fw.inv.SyncNow(fw.ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.SyncRunClaim(fw.ctx, dead.ID, time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, err := fw.inv.SyncNow(fw.ctx, sub); err != nil || got.ID != dead.ID {
			t.Fatalf("Sync now within the lease = %+v, %v; want run %d", got, err, dead.ID)
		}

		fw.clock.Skip(3 * time.Minute)
		next, err := fw.inv.SyncNow(fw.ctx, sub)
		if err != nil || next.ID == dead.ID {
			t.Fatalf("Sync now a lease later = %+v, %v; want a new run", next, err)
		}
		if err := fw.inv.RunSync(steward.NewSystemContext(fw.ctx), next.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.SyncRunGet(fw.ctx, everything, next.ID); got.Status != steward.SyncSucceeded || got.Seen != len(fw.azureResources(t, sub)) {
			t.Fatalf("the run that took over: %+v", got)
		}
		want := "Steward stopped during this sync"
		if got, _ := db.SyncRunGet(fw.ctx, everything, dead.ID); got.Status != steward.SyncCanceled || !strings.HasPrefix(got.Error, want) {
			t.Fatalf("the dead run: %+v; want canceled, %q", got, want)
		}

		if err := fw.inv.RunSync(steward.NewSystemContext(fw.ctx), dead.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.SyncRunGet(fw.ctx, everything, dead.ID); got.Status != steward.SyncCanceled {
			t.Fatalf("the dead run's rescued job ran it: %+v", got)
		}
	})
}

// TestSyncHeartbeatOutlastsTheLease: a sync that takes several leases keeps
// its subscription, because its process renews the heartbeat; Sync now
// meanwhile answers with it.
func TestSyncHeartbeatOutlastsTheLease(t *testing.T) {
	t.Parallel()
	const lease = 400 * time.Millisecond
	fw := newFaultWorld(t, storetest.Open(t, store.SQLite), faultOptions{Lease: lease})
	sub := fw.subs[1]
	run, err := fw.inv.SyncNow(fw.ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	fw.setFaults(t, emulator.Faults{Latency: 150 * time.Millisecond, PathContains: "/resources"})
	var wg sync.WaitGroup
	var syncErr error
	var took time.Duration
	wg.Go(func() {
		start := time.Now()
		syncErr = fw.inv.RunSync(steward.NewSystemContext(fw.ctx), run.ID)
		took = time.Since(start)
	})
	asked := 0
	for done := false; !done; {
		time.Sleep(lease / 2)
		got, err := fw.db.SyncRunGet(fw.ctx, everything, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if done = got.Status != steward.SyncRunning && got.Status != steward.SyncQueued; done {
			break
		}
		now, err := fw.inv.SyncNow(fw.ctx, sub)
		if err != nil || now.ID != run.ID {
			t.Fatalf("Sync now during a sync = %+v, %v; want run %d", now, err, run.ID)
		}
		asked++
	}
	wg.Wait()
	if syncErr != nil {
		t.Fatal(syncErr)
	}
	if took < 2*lease || asked < 3 {
		t.Fatalf("the sync took %s and was asked about %d times; the test needs one of several leases", took, asked)
	}
	if got, _ := fw.db.SyncRunGet(fw.ctx, everything, run.ID); got.Status != steward.SyncSucceeded {
		t.Fatalf("run: %+v", got)
	}
}

// TestSyncNowQueuesALostJob: a run stored without its job (by a release
// that queued jobs after storing runs, and stopped between). Sync now answers with the run and queues its job
// again, and the run is synced, by one job however often Sync now is
// pressed.
func TestSyncNowQueuesALostJob(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storetest.Open(t, store.SQLite))
	w.syncAll(t)
	sub := w.subs[0]
	lost := &steward.SyncRun{SubscriptionID: sub, Reason: "manual", Method: steward.SyncARM}
	if err := w.db.SyncRunCreate(w.ctx, lost); err != nil {
		t.Fatal(err)
	}
	w.startJobs(t)
	for range 3 {
		if got, err := w.inv.SyncNow(w.ctx, sub); err != nil || got.ID != lost.ID {
			t.Fatalf("Sync now = %+v, %v; want run %d", got, err, lost.ID)
		}
	}
	eventually(t, "the run synced", func() bool {
		got, err := w.db.SyncRunGet(w.ctx, everything, lost.ID)
		return err == nil && got.Status == steward.SyncSucceeded
	})
	var n int
	if err := w.db.WriteDB().QueryRow(`SELECT COUNT(*) FROM river_job WHERE kind = 'sync_subscription' AND json_extract(args, '$.run_id') = ?`,
		lost.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d jobs for the run, %v; want 1", n, err)
	}
}
