package jobs

import (
	"database/sql"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// TestCostsWaitForTheQuota: a cost import whose job is snoozed until
// Azure's quota resets (River leaves it scheduled for then) says it waits
// for the quota until that time; ready ones wait for a worker, counted in
// the order River takes them; on SQLite and on PostgreSQL.
func TestCostsWaitForTheQuota(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		r, err := New(Config{DB: db.WriteDB(), Postgres: db.Pool(), Sessions: db, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		// Cost jobs are queued here by a client that does not work them,
		// so none starts.
		var driver riverdriver.Driver[*sql.Tx] = riversqlite.New(db.WriteDB())
		if db.Pool() != nil {
			driver = riverdatabasesql.New(db.WriteDB())
		}
		if r.client, err = river.NewClient(driver, &river.Config{SkipUnknownJobCheck: true, Logger: slog.New(slog.DiscardHandler)}); err != nil {
			t.Fatal(err)
		}
		resets := time.Now().Add(90 * time.Second)
		if _, err := r.client.Insert(t.Context(), CostsArgs{SubscriptionID: "snoozed"}, &river.InsertOpts{ScheduledAt: resets}); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"first", "second"} {
			if err := r.EnqueueCosts(t.Context(), s); err != nil {
				t.Fatal(err)
			}
		}
		waits, err := r.CostsWaits(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if w := waits["snoozed"]; w == nil || w.Reason != steward.WaitQuota || w.Until.Sub(resets).Abs() > 2*time.Second {
			t.Errorf("snoozed import waits %+v; want the quota until %v", w, resets)
		}
		for i, s := range []string{"first", "second"} {
			if w := waits[s]; w == nil || w.Reason != steward.WaitWorker || w.Ahead != i || w.Queue != QueueCosts {
				t.Errorf("%s import waits %+v; want a worker, %d ahead", s, w, i)
			}
		}
		if len(waits) != 3 {
			t.Errorf("waits %v", waits)
		}
	})
}
