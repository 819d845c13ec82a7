package store_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// movableClock is a store clock a test moves on.
type movableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movableClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *movableClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestTenantAndSubscriptionFilters builds one estate on every engine —
// a failed sync, a queued one, subscriptions not synced for three hours,
// one at No Resources, a revoked tenant, names whose byte order differs
// from a dictionary's — and checks that search, state filters, sync
// health, scopes and pages find the same tenants and subscriptions on
// each, and the ones expected.
func TestTenantAndSubscriptionFilters(t *testing.T) {
	t.Parallel()
	results := map[store.Engine]map[string][]string{}
	var mu sync.Mutex
	t.Run("engines", func(t *testing.T) {
		for _, engine := range storetest.Engines() {
			t.Run(string(engine), func(t *testing.T) {
				t.Parallel()
				got := tenantFilters(t, engine)
				mu.Lock()
				results[engine] = got
				mu.Unlock()
			})
		}
	})
	if a, b := results[store.SQLite], results[store.Postgres]; a != nil && b != nil {
		for q, want := range a {
			if !slices.Equal(b[q], want) {
				t.Errorf("%s: SQLite found %v, PostgreSQL %v", q, want, b[q])
			}
		}
	}
}

func tenantFilters(t *testing.T, engine store.Engine) map[string][]string {
	ctx := context.Background()
	clock := &movableClock{t: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	db, err := store.Open(ctx, store.Config{URL: storetest.URL(t, engine), Logger: slog.New(slog.DiscardHandler), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	idA, idB, idC, idD := guid('a', 1), guid('b', 2), guid('c', 3), guid('d', 4)
	createTenant(t, db, tenantOpts{id: idA, name: "Alpha Corp"})
	createTenant(t, db, tenantOpts{id: idB, name: "beta"})
	createTenant(t, db, tenantOpts{id: idC, name: "Gamma", revoked: true})
	createTenant(t, db, tenantOpts{id: idD, name: "delta"})
	a1, a2, b1, b2, c1, d1, d2 := guid('1', 1), guid('1', 2), guid('2', 1), guid('2', 2), guid('3', 1), guid('4', 1), guid('4', 2)
	createSubs(t, db, idA, a1, a2)
	createSubs(t, db, idB, b1, b2)
	createSubs(t, db, idC, c1)
	createSubs(t, db, idD, d1, d2)
	if _, err := db.SubscriptionSetLevel(ctxFor("test"), d2, steward.SyncNoResources, steward.NewAuditEvent(ctxFor("test"), "subscription.level", d2).WithTenant(idD)); err != nil {
		t.Fatal(err)
	}

	// Three hours on: a1 syncs and then fails, b1 waits, a2, b2 and d1
	// sync; c1 (revoked) and d2 (No Resources) never do.
	clock.Add(3 * time.Hour)
	run := func(sub string, status steward.SyncRunStatus) {
		t.Helper()
		r := &steward.SyncRun{SubscriptionID: sub, Reason: "test", Method: steward.SyncARM}
		if err := db.SyncRunCreate(ctx, r); err != nil {
			t.Fatal(err)
		}
		if status == steward.SyncQueued {
			return
		}
		r.Status, r.StartedAt, r.FinishedAt = status, clock.Now(), clock.Now()
		if err := db.SyncRunUpdate(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	run(a1, steward.SyncSucceeded) // an older success does not hide the later failure
	run(a1, steward.SyncFailed)
	run(b1, steward.SyncQueued)
	run(a2, steward.SyncSucceeded)
	run(b2, steward.SyncFailed) // failed, then succeeded: not failed
	run(b2, steward.SyncSucceeded)
	run(d1, steward.SyncSucceeded)

	got := map[string][]string{}
	tenants := func(name string, sc steward.Scope, f steward.TenantFilter, want ...string) {
		t.Helper()
		ts, err := db.TenantFind(ctx, sc, f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var names []string
		for _, x := range ts {
			names = append(names, x.Name)
		}
		got["tenants "+name] = names
		if !slices.Equal(names, want) {
			t.Errorf("tenants %s = %v; want %v", name, names, want)
		}
	}
	subs := func(name string, sc steward.Scope, f steward.SubscriptionFilter, want ...string) {
		t.Helper()
		ss, err := db.SubscriptionList(ctx, sc, f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var ids []string
		for _, x := range ss {
			ids = append(ids, x.ID)
		}
		got["subscriptions "+name] = ids
		if !slices.Equal(ids, want) {
			t.Errorf("subscriptions %s = %v; want %v", name, ids, want)
		}
	}
	// Byte order: capitals first, as SQLite sorts and PostgreSQL with "C".
	tenants("all", everything, steward.TenantFilter{}, "Alpha Corp", "Gamma", "beta", "delta")
	tenants("page 1", everything, steward.TenantFilter{Limit: 3}, "Alpha Corp", "Gamma", "beta")
	tenants("page 2", everything, steward.TenantFilter{Limit: 3, Offset: 3}, "delta")
	tenants("search name", everything, steward.TenantFilter{Search: "ALPHA"}, "Alpha Corp")
	tenants("search ID", everything, steward.TenantFilter{Search: idC[:6]}, "Gamma")
	tenants("search wildcard", everything, steward.TenantFilter{Search: "%"})
	tenants("active", everything, steward.TenantFilter{Status: steward.TenantActive}, "Alpha Corp", "beta", "delta")
	tenants("revoked", everything, steward.TenantFilter{Status: steward.TenantRevoked}, "Gamma")
	tenants("failed", everything, steward.TenantFilter{Health: steward.SyncHealthFailed}, "Alpha Corp")
	tenants("queued", everything, steward.TenantFilter{Health: steward.SyncHealthQueued}, "beta")
	tenants("stale", everything, steward.TenantFilter{Health: steward.SyncHealthStale}, "Gamma", "beta")
	tenants("active and stale", everything, steward.TenantFilter{Status: steward.TenantActive, Health: steward.SyncHealthStale}, "beta")
	tenants("stale, paged", everything, steward.TenantFilter{Health: steward.SyncHealthStale, Limit: 1, Offset: 1}, "beta")
	// A scope limited to A and C finds nothing of B or D, whatever the filter.
	sc := storetest.Scope(idA, idC)
	tenants("scoped", sc, steward.TenantFilter{}, "Alpha Corp", "Gamma")
	tenants("scoped stale", sc, steward.TenantFilter{Health: steward.SyncHealthStale}, "Gamma")
	tenants("scoped queued", sc, steward.TenantFilter{Health: steward.SyncHealthQueued})
	tenants("scoped search", sc, steward.TenantFilter{Search: "beta"})
	tenants("no scope", steward.Scope{}, steward.TenantFilter{Health: steward.SyncHealthStale})

	subs("failed", everything, steward.SubscriptionFilter{Health: steward.SyncHealthFailed}, a1)
	subs("queued", everything, steward.SubscriptionFilter{Health: steward.SyncHealthQueued}, b1)
	subs("stale", everything, steward.SubscriptionFilter{Health: steward.SyncHealthStale}, b1, c1)
	subs("stale of B", everything, steward.SubscriptionFilter{TenantID: idB, Health: steward.SyncHealthStale}, b1)
	subs("scoped queued", storetest.Scope(idA), steward.SubscriptionFilter{Health: steward.SyncHealthQueued})

	// Two more hours: the syncs of three hours ago are stale too, except
	// that a queued run is still queued.
	clock.Add(2*time.Hour + time.Minute)
	tenants("stale later", everything, steward.TenantFilter{Health: steward.SyncHealthStale}, "Alpha Corp", "Gamma", "beta", "delta")
	subs("stale later", everything, steward.SubscriptionFilter{Health: steward.SyncHealthStale}, a1, a2, b1, b2, c1, d1)

	_, err = db.TenantFind(ctx, everything, steward.TenantFilter{Health: "sick"})
	wantCode(t, err, steward.EINVALID)
	_, err = db.SubscriptionList(ctx, everything, steward.SubscriptionFilter{Health: "sick"})
	wantCode(t, err, steward.EINVALID)
	return got
}
