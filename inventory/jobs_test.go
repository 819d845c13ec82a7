package inventory_test

import (
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// TestThroughTheJobQueue runs the work as `steward serve` does, through
// River: a tenant sync queues one job per subscription, a finished sync
// queues the first cost fetch, and a submitted edit is written back by its
// job, on SQLite and on PostgreSQL.
func TestThroughTheJobQueue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.startJobs(t)

		runs, err := w.inv.SyncTenant(w.ctx, w.tenant.ID, "test")
		if err != nil || len(runs) != len(w.subs) {
			t.Fatalf("runs %v, %v", runs, err)
		}
		eventually(t, "every sync succeeded", func() bool {
			for _, run := range runs {
				got, err := db.SyncRunGet(w.ctx, everything, run.ID)
				if err != nil || got.Status != steward.SyncSucceeded {
					return false
				}
			}
			return true
		})
		eventually(t, "first costs fetched", func() bool {
			_, day, err := db.CostDays(w.ctx, w.subs[0])
			return err == nil && !day.IsZero()
		})

		res := w.stored(t, w.subs[1])[0]
		edit, err := w.inv.SubmitTagEdit(w.ctx, &steward.TagEditRequest{Resources: []string{res.ID}, Merge: map[string]string{"steward-job": "yes"}})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "edit applied", func() bool {
			got, err := db.TagEditGet(w.ctx, everything, edit.ID)
			return err == nil && got.AppliedCount == 1
		})
		tags, err := w.az.TagsGet(w.ctx, w.outside, res.ID)
		if err != nil || tags["steward-job"] != "yes" {
			t.Fatalf("Azure has %v, %v", tags, err)
		}
		// Each kind of work ran in its own queue, so none waits behind another.
		rows, err := db.WriteDB().QueryContext(w.ctx, `SELECT DISTINCT kind, queue FROM river_job`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		queues := map[string]string{}
		for rows.Next() {
			var kind, queue string
			if err := rows.Scan(&kind, &queue); err != nil {
				t.Fatal(err)
			}
			queues[kind] = queue
		}
		for kind, want := range map[string]string{"sync_subscription": jobs.QueueSync, "ingest_costs": jobs.QueueCosts, "write_back": jobs.QueueWriteBack} {
			if queues[kind] != want {
				t.Errorf("%s jobs ran in queue %q, want %q (all: %v)", kind, queues[kind], want, queues)
			}
		}
	})
}

// startJobs runs the world's work through River, as `steward serve` does.
func (w *world) startJobs(t *testing.T) {
	t.Helper()
	r := w.runner(t)
	if _, err := r.Migrate(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.db.SetQueue(r)
	w.inv.SetJobs(r)
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(t.Context()) })
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runner makes a job runner on the world's database, as `steward serve` does.
func (w *world) runner(t *testing.T) *jobs.Runner {
	t.Helper()
	r, err := jobs.New(jobs.Config{DB: w.db.WriteDB(), Postgres: w.db.Pool(), Sessions: w.db, Inventory: w.inv, Store: w.db,
		PollInterval: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWorkIsStoredWithItsJob: runs and edits are stored in one transaction
// with their jobs, so when the job cannot be queued nothing is stored —
// no run holds its subscription as queued, no edit waits for a job that
// does not exist — and when it can, every stored run and edit has its job.
func TestWorkIsStoredWithItsJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.syncAll(t)
		res := w.stored(t, w.subs[1])[0]
		count := func(q string) int {
			t.Helper()
			var n int
			if err := db.WriteDB().QueryRowContext(w.ctx, q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		runsBefore, editsBefore := count(`SELECT COUNT(*) FROM sync_runs`), count(`SELECT COUNT(*) FROM tag_edits`)

		// River's tables are not made yet: every job insert fails.
		w.db.SetQueue(w.runner(t))
		if _, err := w.inv.SyncNow(w.ctx, w.subs[0]); err == nil {
			t.Fatal("Sync now succeeded without its job")
		}
		if _, err := w.inv.SyncTenant(w.ctx, w.tenant.ID, "test"); err == nil {
			t.Fatal("a tenant sync succeeded without its jobs")
		}
		edit := &steward.TagEditRequest{Resources: []string{res.ID}, Merge: map[string]string{"steward-job": "yes"}}
		if _, err := w.inv.SubmitTagEdit(w.ctx, edit); err == nil {
			t.Fatal("an edit was accepted without its write-back job")
		}
		if r, e := count(`SELECT COUNT(*) FROM sync_runs`), count(`SELECT COUNT(*) FROM tag_edits`); r != runsBefore || e != editsBefore {
			t.Fatalf("%d runs and %d edits stored without jobs", r-runsBefore, e-editsBefore)
		}

		w.startJobs(t)
		runs, err := w.inv.SyncTenant(w.ctx, w.tenant.ID, "test")
		if err != nil || len(runs) != len(w.subs) {
			t.Fatalf("runs %v, %v", runs, err)
		}
		if _, err := w.inv.SubmitTagEdit(w.ctx, edit); err != nil {
			t.Fatal(err)
		}
		if n := count(`SELECT COUNT(*) FROM sync_runs WHERE id > ` + strconv.Itoa(runsBefore)); n != len(w.subs) {
			t.Fatalf("%d new runs, want %d", n, len(w.subs))
		}
		if n := count(`SELECT COUNT(*) FROM river_job WHERE kind = 'sync_subscription'`); n != len(w.subs) {
			t.Errorf("%d sync jobs for %d runs", n, len(w.subs))
		}
		if n := count(`SELECT COUNT(*) FROM river_job WHERE kind = 'write_back'`); n < 1 {
			t.Errorf("no write-back job for the edit")
		}
		eventually(t, "edit applied", func() bool {
			got, err := w.inv.TagEdits(w.ctx, 1)
			return err == nil && len(got) == 1 && got[0].AppliedCount == 1
		})
	})
}

// TestWhyWorkWaits: queued runs, tag writes and cost imports say why they
// wait — for a worker, behind the jobs ahead of them — and Spend's import
// progress counts the days stored, on SQLite and on PostgreSQL.
func TestWhyWorkWaits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		w.syncAll(t)
		sys := steward.NewSystemContext(w.ctx)
		// The jobs are queued but no worker runs yet.
		r := w.runner(t)
		if _, err := r.Migrate(w.ctx); err != nil {
			t.Fatal(err)
		}
		w.db.SetQueue(r)
		w.inv.SetJobs(r)
		runs, err := w.inv.SyncTenant(w.ctx, w.tenant.ID, "test")
		if err != nil {
			t.Fatal(err)
		}
		for i, run := range runs {
			got, err := w.inv.SyncRun(w.ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Wait == nil || got.Wait.Reason != steward.WaitWorker || got.Wait.Ahead != i || got.Wait.Queue != jobs.QueueSync {
				t.Fatalf("run %d of %d waits %+v; want a sync worker with %d ahead", i+1, len(runs), got.Wait, i)
			}
		}
		res := w.stored(t, w.subs[1])[0]
		edit, err := w.inv.SubmitTagEdit(w.ctx, &steward.TagEditRequest{Resources: []string{res.ID}, Merge: map[string]string{"steward-wait": "yes"}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.inv.TagEdit(w.ctx, edit.ID)
		if err != nil || len(got.Pending) != 1 || got.Pending[0].Items != 1 || got.Pending[0].Wait == nil || got.Pending[0].Wait.Reason != steward.WaitWorker {
			t.Fatalf("edit pending %+v, %v; want one item waiting for a worker", got.Pending, err)
		}

		// Every subscription's costs are imported; then the first's are
		// forgotten, so its import has four months to fetch. (A wait for
		// the quota is the job's snooze: see TestCostsWaitForTheQuota.)
		for _, sub := range w.subs {
			if err := w.inv.IngestCosts(sys, sub); err != nil {
				t.Fatal(err)
			}
		}
		storetest.Exec(t, db, `UPDATE subscriptions SET costs_from = NULL, costs_to = NULL WHERE id = $1`, w.subs[0])
		imports := func() map[string]*steward.CostImport {
			t.Helper()
			all, err := w.inv.CostImports(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]*steward.CostImport{}
			for _, ci := range all {
				out[ci.SubscriptionID] = ci
			}
			return out
		}
		if ci := imports(); ci[w.subs[0]].DaysStored != 0 || !ci[w.subs[1]].Current || ci[w.subs[1]].DaysStored != ci[w.subs[1]].Days {
			t.Fatalf("imports %+v, %+v", ci[w.subs[0]], ci[w.subs[1]])
		}
		if err := r.EnqueueCosts(w.ctx, w.subs[0]); err != nil {
			t.Fatal(err)
		}
		if ci := imports()[w.subs[0]]; ci.Wait == nil || ci.Wait.Reason != steward.WaitWorker || ci.Wait.Queue != jobs.QueueCosts {
			t.Fatalf("a queued import waits %+v; want a worker", ci.Wait)
		}
		if err := r.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Stop(t.Context()) })
		eventually(t, "the import done", func() bool {
			ci := imports()[w.subs[0]]
			return ci.Current && ci.Wait == nil
		})
	})
}
