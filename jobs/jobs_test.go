package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"go.uber.org/goleak"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/jobs"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

const interval = 24 * time.Hour

type instance struct {
	db     *store.DB
	runner *jobs.Runner
}

// startInstance opens the database at url and starts a runner on it, as one
// Steward process would.
func startInstance(t *testing.T, url, id string) *instance {
	t.Helper()
	db := storetest.OpenURL(t, url)
	r, err := jobs.New(jobs.Config{DB: db.WriteDB(), Postgres: db.Pool(), Sessions: db, PruneInterval: interval, ID: id,
		PollInterval: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &instance{db: db, runner: r}
}

func (in *instance) start(t *testing.T) {
	t.Helper()
	if err := in.runner.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.runner.Stop(ctx); err != nil {
			t.Error(err)
		}
		in.runner.Stop(ctx) // safe twice
	})
}

func seedExpiredSessions(t *testing.T, db *store.DB, n int) {
	t.Helper()
	ctx := context.Background()
	u := &steward.User{Name: "pat", PasswordHash: "x"}
	if err := db.UserCreate(ctx, u, &steward.AuditEvent{Actor: "test", Action: "user.create", Outcome: steward.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		s := &steward.Session{Hash: fmt.Sprint("expired", i), UserID: u.ID, ExpiresAt: time.Now().Add(-time.Minute)}
		if err := db.SessionCreate(ctx, s, nil); err != nil {
			t.Fatal(err)
		}
	}
	live := &steward.Session{Hash: "live", UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.SessionCreate(ctx, live, nil); err != nil {
		t.Fatal(err)
	}
}

// periods counts the unique-by-period windows between two times: the prune
// job may legitimately run once per window.
func periods(from, to time.Time) int {
	return int(to.Truncate(interval).Sub(from.Truncate(interval))/interval) + 1
}

func waitCompleted(t *testing.T, ch <-chan *river.Event) {
	t.Helper()
	select {
	case ev := <-ch:
		if ev.Job.Kind != (jobs.PruneSessionsArgs{}).Kind() {
			t.Fatalf("unexpected job %s", ev.Job.Kind)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no job completed within 30s")
	}
}

// TestTwoReplicasRunPruneOnce starts two Steward instances on one
// PostgreSQL database. Both try to queue the scheduled prune (each as a
// possible leader, and by hand); it must run exactly once.
func TestTwoReplicasRunPruneOnce(t *testing.T) {
	t.Parallel()
	url := storetest.URL(t, store.Postgres) // skips without PostgreSQL
	begin := time.Now().UTC()

	// Both replicas migrate at once, as they would when started together.
	var a, b *instance
	var wg sync.WaitGroup
	wg.Go(func() { a = startInstance(t, url, "replica-a") })
	wg.Go(func() { b = startInstance(t, url, "replica-b") })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	seedExpiredSessions(t, a.db, 5)

	events := make(chan *river.Event, 10)
	for _, in := range []*instance{a, b} {
		ch, cancel := in.runner.Subscribe(river.EventKindJobCompleted)
		t.Cleanup(cancel)
		go func() {
			for ev := range ch {
				events <- ev
			}
		}()
	}
	a.start(t)
	b.start(t)
	for _, in := range []*instance{a, b, a, b} {
		if _, err := in.runner.PruneSessionsNow(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	waitCompleted(t, events)

	want := periods(begin, time.Now().UTC())
	for want > 1 { // the test straddled a period boundary: both may run
		waitCompleted(t, events)
		want--
	}
	n, err := a.runner.CompletedCount(context.Background(), "prune_sessions")
	if err != nil {
		t.Fatal(err)
	}
	if max := periods(begin, time.Now().UTC()); n < 1 || n > max {
		t.Fatalf("prune ran %d times across two replicas; want once per period (%d)", n, max)
	}
	_, err = a.db.SessionGet(context.Background(), "expired0")
	if steward.ErrorCode(err) != steward.ENOTFOUND {
		t.Fatalf("expired session still there: %v", err)
	}
	if _, err := b.db.SessionGet(context.Background(), "live"); err != nil {
		t.Fatalf("live session pruned: %v", err)
	}
	var left int
	if err := a.db.WriteDB().QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&left); err != nil || left != 1 {
		t.Fatalf("sessions left = %d, %v; want 1", left, err)
	}
}

// TestPruneOnSQLite runs the scheduled prune on the embedded engine.
func TestPruneOnSQLite(t *testing.T) {
	t.Parallel()
	in := startInstance(t, storetest.URL(t, store.SQLite), "solo")
	seedExpiredSessions(t, in.db, 3)
	ch, cancel := in.runner.Subscribe(river.EventKindJobCompleted)
	defer cancel()
	in.start(t)
	queued, err := in.runner.PruneSessionsNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, ch)
	if queued {
		// The scheduled run had not been queued yet; ours ran instead, and
		// the scheduled one was skipped as a duplicate.
		t.Log("the manual prune was queued before the scheduled one")
	}
	var left int
	if err := in.db.WriteDB().QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&left); err != nil || left != 1 {
		t.Fatalf("sessions left = %d, %v; want 1", left, err)
	}
	pending, err := in.runner.MigrationsPending(context.Background())
	if err != nil || pending {
		t.Fatalf("MigrationsPending = %v, %v", pending, err)
	}
}

// TestQueueStats counts a queued job in its queue, with a sane age, on
// both engines (the age is the database's own arithmetic on each).
func TestQueueStats(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			in := startInstance(t, storetest.URL(t, engine), "stats")
			if _, err := in.runner.PruneSessionsNow(context.Background()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // an age to measure
			stats, err := in.runner.QueueStats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]steward.QueueStat{}
			for _, s := range stats {
				got[s.Queue] = s
			}
			checks := got[jobs.QueueChecks]
			if checks.Waiting != 1 || checks.Running != 0 || checks.OldestWaiting <= 0 || checks.OldestWaiting > time.Minute {
				t.Fatalf("checks queue: %+v (all %+v)", checks, stats)
			}
			if s, ok := got[jobs.QueueCosts]; !ok || s.Waiting != 0 {
				t.Fatalf("costs queue: %+v, %v", s, ok)
			}
		})
	}
}
