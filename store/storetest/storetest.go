// Package storetest opens real, isolated databases for tests: SQLite in a
// temporary directory always, and PostgreSQL when STEWARD_TEST_POSTGRES holds
// a URL, each test in its own schema so parallel tests never collide.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
)

// EnvPostgres names the variable that holds the PostgreSQL URL for tests.
const EnvPostgres = "STEWARD_TEST_POSTGRES"

// Engines returns the engines to test on: SQLite, and PostgreSQL when
// STEWARD_TEST_POSTGRES is set.
func Engines() []store.Engine {
	if os.Getenv(EnvPostgres) != "" {
		return []store.Engine{store.SQLite, store.Postgres}
	}
	return []store.Engine{store.SQLite}
}

// URL returns a database URL for a fresh, empty database of the engine that
// lives as long as the test: a file in a temporary directory, or a new
// PostgreSQL schema dropped at cleanup.
func URL(tb testing.TB, engine store.Engine) string {
	tb.Helper()
	if engine == store.SQLite {
		return "sqlite:" + filepath.Join(tb.TempDir(), "steward.db")
	}
	base := os.Getenv(EnvPostgres)
	if base == "" {
		tb.Skipf("%s is not set", EnvPostgres)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "test_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connecting to %s: %v", EnvPostgres, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("creating schema: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("connecting to drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parsing %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a migrated, empty database of the engine, closed at cleanup.
func Open(tb testing.TB, engine store.Engine) *store.DB {
	tb.Helper()
	return OpenURL(tb, URL(tb, engine))
}

// OpenURL opens and migrates the database at url, closed at cleanup.
func OpenURL(tb testing.TB, url string) *store.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: url, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("opening %s database: %v", store.EngineOf(url), err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		tb.Fatalf("migrating: %v", err)
	}
	return db
}

// Each runs fn as a parallel subtest on every engine, with a fresh database.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, e := range Engines() {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, e))
		})
	}
}

// Exec runs raw SQL on the database behind the store, bypassing it, as an
// attacker with database access would.
func Exec(tb testing.TB, db *store.DB, query string, args ...any) {
	tb.Helper()
	if _, err := db.WriteDB().Exec(query, args...); err != nil {
		tb.Fatalf("exec %q: %v", query, err)
	}
}

// Scope is the scope of a viewer limited to the tenants: what a user with
// such a grant may read. With no tenants it reaches nothing, like the
// scope of a call without an actor.
func Scope(tenants ...string) steward.Scope {
	if len(tenants) == 0 {
		return steward.Scope{}
	}
	a := &steward.Actor{Grants: []steward.Grant{{Role: steward.RoleViewer, Tenants: tenants}}}
	return a.Scope(steward.PermInventoryRead)
}

// All is the scope of Steward's own jobs: every tenant, and data of none.
func All() steward.Scope { return steward.SystemActor.Scope(steward.PermInventoryRead) }
