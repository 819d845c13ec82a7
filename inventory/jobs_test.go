package inventory_test

import (
	"log/slog"
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
	cfg := jobs.Config{Sessions: w.db, Inventory: w.inv, Store: w.db, PollInterval: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	if w.db.Engine() == store.Postgres {
		cfg.Postgres = w.db.Pool()
	} else {
		cfg.SQLite = w.db.WriteDB()
	}
	r, err := jobs.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Migrate(w.ctx); err != nil {
		t.Fatal(err)
	}
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
