package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// queryer is what a multi-query read needs of its connection.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader returns a queryer for a read of several queries (a listing asks up
// to four), taken in turn: readers wait first in line on db.readers, whose
// waiters Go wakes in order. database/sql alone hands a freed connection to
// a random waiter, so under load some listings waited many times longer
// than others (p99 five times the median over a million resources with 50
// clients). A reader that has its place finds a connection free.
//
// On SQLite the queries run in this process, as statements kept prepared
// (see stmtCache), and db.readers holds one place per core. With eight
// places on two cores, listings shared the cores and each took longer: in
// paired runs over a million resources with 50 clients, the p99 of
// listings by two tags was 62 ms with eight places, 39–41 ms with four and
// 26–29 ms with two, at the same throughput. The price: two slow listings
// at once (name searches over every resource, say) hold up the rest until
// one ends.
//
// On PostgreSQL the queries run on one connection in the server, whose
// driver keeps its own statements, and db.readers holds one place per
// connection of the pool.
func (db *DB) reader(ctx context.Context) (queryer, func(), error) {
	select {
	case db.readers <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	if db.stmts != nil {
		return db.stmts, func() { <-db.readers }, nil
	}
	conn, err := db.r.Conn(ctx)
	if err != nil {
		<-db.readers
		return nil, nil, fmt.Errorf("connecting to the database: %w", err)
	}
	return conn, func() {
		conn.Close()
		<-db.readers
	}, nil
}

// stmtCacheMax bounds the statements kept; past it the cache starts over.
// Each is prepared on up to every reading connection, at a few kilobytes
// apiece.
const stmtCacheMax = 128

// stmtCache keeps SQLite's reading statements prepared, by their text.
// Compiling a listing's SQL was a sixth of its time over a million
// resources; a statement once prepared on a connection is reused there
// (database/sql prepares it on each connection the first time it runs
// there). In three paired rounds of 11,000 listings with 50 clients they
// took 1.52–1.58 s kept against 1.73–1.90 s compiled each time. The texts
// are few: filters' values are bound, not written in.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt)}
}

func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	s, ok := c.m[query]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept, ok := c.m[query]; ok { // prepared meanwhile by another reader
		s.Close()
		return kept, nil
	}
	if len(c.m) >= stmtCacheMax {
		// A statement still in use closes when its rows do.
		c.closeLocked()
	}
	c.m[query] = s
	return s, nil
}

// QueryContext runs query as a kept statement.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// QueryRowContext runs query as a kept statement.
func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := c.stmt(ctx, query)
	if err != nil {
		// A *sql.Row cannot be made with an error; the query fails the
		// same way unprepared.
		return c.db.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked()
}

func (c *stmtCache) closeLocked() {
	for q, s := range c.m {
		s.Close()
		delete(c.m, q)
	}
}
