package store

import (
	"context"
	"database/sql"
	"fmt"
)

// queryer is what a multi-query read needs of its connection.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader returns one reading connection for a read of several queries (a
// listing asks up to four), taken in turn: readers wait first in line on
// db.readers, whose waiters Go wakes in order. database/sql alone hands a
// freed connection to a random waiter, so under load some listings waited
// many times longer than others (p99 five times the median over a million
// resources with 50 clients).
func (db *DB) reader(ctx context.Context) (*sql.Conn, func(), error) {
	select {
	case db.readers <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
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
