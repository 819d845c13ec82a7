package store

import (
	"context"
	"fmt"
	"testing"
)

// TestStmtCache checks that SQLite's kept statements are reused, that the
// cache stays bounded, and that starting it over does not break rows still
// being read from a statement it closed.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, release, err := db.reader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	const count = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $1) SELECT x FROM c`
	rows, err := q.QueryContext(ctx, count, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	first := db.stmts.m[count]
	if first == nil {
		t.Fatal("statement not kept")
	}
	if !rows.Next() {
		t.Fatal("no first row")
	}
	for i := range stmtCacheMax {
		var n int
		if err := q.QueryRowContext(ctx, fmt.Sprintf("SELECT $1 + %d", i), 1).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("query %d: %d, %v", i, n, err)
		}
	}
	if n := len(db.stmts.m); n > stmtCacheMax {
		t.Fatalf("%d statements kept, at most %d wanted", n, stmtCacheMax)
	}
	if _, ok := db.stmts.m[count]; ok {
		t.Fatal("the cache did not start over")
	}
	n := 1
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil || n != 1000 {
		t.Fatalf("read %d rows from a statement closed meanwhile, %v", n, err)
	}

	for range 2 {
		var last int
		if err := q.QueryRowContext(ctx, `SELECT MAX(x) FROM (`+count+`)`, 7).Scan(&last); err != nil || last != 7 {
			t.Fatalf("max %d, %v", last, err)
		}
	}
	kept := db.stmts.m[`SELECT MAX(x) FROM (`+count+`)`]
	var last int
	if err := q.QueryRowContext(ctx, `SELECT MAX(x) FROM (`+count+`)`, 9).Scan(&last); err != nil || last != 9 {
		t.Fatalf("max %d, %v", last, err)
	}
	if db.stmts.m[`SELECT MAX(x) FROM (`+count+`)`] != kept {
		t.Fatal("statement prepared again")
	}
}
