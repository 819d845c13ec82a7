package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// batchSizes are the row counts a preparedBatch is prepared for. Rows
// beyond a multiple of the largest go through the smaller ones, so any
// count takes at most a few statements more.
var batchSizes = [...]int{1000, 100, 10, 1}

// preparedBatch is a multi-row statement that SQLite's writer prepares
// once per size in batchSizes and reuses. SQLite parses a statement anew
// for every text, and the text of a page's multi-row INSERT holds
// thousands of parameters: parsing took a tenth of the writer's time in a
// first sync. (PostgreSQL takes whole columns as arrays instead; see
// unnestQuery.)
type preparedBatch struct {
	ncols int
	text  func(rows int) string // the statement for that many rows

	mu    sync.Mutex
	stmts []*sql.Stmt // by batchSizes, once prepared
}

// rowsText returns n rows of ncols anonymous placeholders: "(?, ?), (?, ?)".
func rowsText(n, ncols int) string {
	row := "(" + strings.Repeat("?, ", ncols-1) + "?)"
	return strings.Repeat(row+", ", n-1) + row
}

// prepare prepares the statements on the writer, once. It must not be
// called within a transaction: the writer has one connection, which the
// transaction holds.
func (b *preparedBatch) prepare(ctx context.Context, w *sql.DB) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stmts != nil {
		return nil
	}
	stmts := make([]*sql.Stmt, 0, len(batchSizes))
	for _, n := range batchSizes {
		st, err := w.PrepareContext(ctx, b.text(n))
		if err != nil {
			for _, s := range stmts {
				s.Close()
			}
			return fmt.Errorf("preparing a statement: %w", err)
		}
		stmts = append(stmts, st)
	}
	b.stmts = stmts
	return nil
}

// ready reports whether the statements are prepared.
func (b *preparedBatch) ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stmts != nil
}

// run executes the statement within tx over flat, ncols values a row,
// largest sizes first. With scan it queries and calls scan on every row
// returned. A Stmt prepared on the writer's connection is reused by the
// transaction on that connection (database/sql prepares it again only if
// the connection was replaced).
func (b *preparedBatch) run(ctx context.Context, tx *Tx, flat []any, scan func(*sql.Rows) error) error {
	b.mu.Lock()
	stmts := b.stmts
	b.mu.Unlock()
	if stmts == nil {
		return errors.New("store: batch statement used before it was prepared")
	}
	for i, n := range batchSizes {
		per := n * b.ncols
		for len(flat) >= per {
			st := tx.StmtContext(ctx, stmts[i])
			if scan == nil {
				if _, err := st.ExecContext(ctx, flat[:per]...); err != nil {
					return err
				}
			} else {
				rows, err := st.QueryContext(ctx, flat[:per]...)
				if err := eachRow(rows, err, scan); err != nil {
					return err
				}
			}
			flat = flat[per:]
		}
	}
	return nil
}

// eachRow calls scan on every row of a query's result, given as the
// query returned it, and closes the rows.
func eachRow(rows *sql.Rows, err error, scan func(*sql.Rows) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sqliteBatches are the sync's bulk statements on SQLite.
type sqliteBatches struct {
	insertResources, insertTags, storedHashes preparedBatch
}

func newSQLiteBatches() *sqliteBatches {
	return &sqliteBatches{
		insertResources: preparedBatch{ncols: len(resourceInsertTypes), text: func(n int) string {
			return resourceInsertHead + ` VALUES ` + rowsText(n, len(resourceInsertTypes)) + ` RETURNING pk, arm_key`
		}},
		insertTags: preparedBatch{ncols: 4, text: func(n int) string {
			return tagInsertHead + rowsText(n, 4)
		}},
		storedHashes: preparedBatch{ncols: 1, text: func(n int) string {
			return storedHashesHead + `IN (` + strings.Repeat("?, ", n-1) + `?)`
		}},
	}
}

// prepare prepares them all (see preparedBatch.prepare).
func (s *sqliteBatches) prepare(ctx context.Context, w *sql.DB) error {
	for _, b := range []*preparedBatch{&s.insertResources, &s.insertTags, &s.storedHashes} {
		if err := b.prepare(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqliteBatches) close() {
	for _, b := range []*preparedBatch{&s.insertResources, &s.insertTags, &s.storedHashes} {
		b.mu.Lock()
		for _, st := range b.stmts {
			st.Close()
		}
		b.stmts = nil
		b.mu.Unlock()
	}
}
