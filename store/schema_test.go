package store_test

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// TestSchemasMatch migrates both engines and compares what they hold: the
// same tables with the same columns, and the same migrations applied, so
// a migration written for one engine only fails here.
func TestSchemasMatch(t *testing.T) {
	t.Parallel()
	lite := storetest.Open(t, store.SQLite)
	pg := storetest.Open(t, store.Postgres) // skips without PostgreSQL
	liteTables := columns(t, lite.WriteDB(), `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2`)
	pgTables := columns(t, pg.WriteDB(), `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY 1, 2`)
	if !slices.Contains(liteTables, "tag_edit_tenants.tenant_id") {
		t.Fatalf("SQLite's schema as read: %v", liteTables)
	}
	if got, want := strings.Join(liteTables, "\n"), strings.Join(pgTables, "\n"); got != want {
		t.Errorf("the engines' schemas differ:\nSQLite\n%s\nPostgreSQL\n%s", got, want)
	}
	q := `SELECT version_id FROM goose_db_version WHERE is_applied AND version_id > 0 ORDER BY 1`
	liteVersions, pgVersions := columns(t, lite.WriteDB(), q), columns(t, pg.WriteDB(), q)
	if len(liteVersions) == 0 || len(pgVersions) == 0 || liteVersions[len(liteVersions)-1] != pgVersions[len(pgVersions)-1] {
		t.Errorf("latest migrations differ: SQLite %v, PostgreSQL %v", liteVersions, pgVersions)
	}
}

// columns runs q and returns its rows as "a.b" lines.
func columns(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
			if b, ok := v.([]byte); ok {
				parts[i] = string(b)
			}
		}
		out = append(out, strings.Join(parts, "."))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
