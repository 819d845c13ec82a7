package store

import (
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// This file holds what differs between the engines.

// forUpdate locks the rows a SELECT reads until the transaction ends. SQLite
// needs no row locks: its one writer connection already serialises writers.
func (db *DB) forUpdate() string {
	if db.engine == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// bytewise makes a column of text sort byte by byte, as SQLite's default
// BINARY collation does, whatever PostgreSQL's database collation: pages
// of a list sorted by a name are then the same on both engines.
func (db *DB) bytewise(column string) string {
	if db.engine == Postgres {
		return column + ` COLLATE "C"`
	}
	return column
}

// isUniqueViolation reports whether err is a unique or primary-key violation.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isForeignKeyViolation reports whether err is a foreign-key violation.
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// isNoRows reports whether a single-row query found nothing.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// micros stores a time as Unix microseconds; the zero time is NULL.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros reads a time stored by micros.
func fromMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

// indexedBy makes SQLite read a table through the named index. Listings
// page in PK order, and which index yields that order for a filter is known
// here better than a planner without statistics can guess; PostgreSQL
// plans with the statistics it keeps.
func (db *DB) indexedBy(index string) string {
	if db.engine == SQLite {
		return " INDEXED BY " + index
	}
	return ""
}

// notIndexed makes SQLite scan a table in rowid (PK) order.
func (db *DB) notIndexed() string {
	if db.engine == SQLite {
		return " NOT INDEXED"
	}
	return ""
}

// skipLocked makes a locking subquery pass over rows other transactions
// hold, so concurrent claimers on PostgreSQL take different rows. SQLite
// has one writer and needs none.
func (db *DB) skipLocked() string {
	if db.engine == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// placeholder returns the placeholder of the nth query parameter, for
// statements with many of them. PostgreSQL numbers parameters $N. SQLite
// takes $N for a name, and both its parser and sqlite3_bind_parameter_name
// walk the list of names one by one — quadratic in a multi-row statement's
// thousands of parameters — while an anonymous ? gets the next number and
// no name. So on SQLite the nth parameter must be the nth to appear in the
// statement's text (every builder here adds parameters in text order);
// args.add's $N names mix with them, binding by their number.
func (db *DB) placeholder(n int) string {
	if db.engine == SQLite {
		return "?"
	}
	return "$" + strconv.Itoa(n)
}
