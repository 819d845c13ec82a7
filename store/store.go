// Package store keeps Steward's data in SQLite (the embedded default) or
// PostgreSQL (for scale and for several replicas). One set of SQL queries,
// written with $N placeholders, runs on both engines through database/sql;
// the few places where the engines differ are in engine.go.
//
// Exported methods open their own transaction; unexported helpers take a *Tx,
// which carries a fixed "now" so that everything one call writes shares one
// timestamp. Every change that a person makes carries its audit event, which
// is appended in the same transaction.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/stewardhq/steward"
)

//go:embed migrations
var migrationFS embed.FS

// Engine names a database engine.
type Engine string

// The supported engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Config says which database to open.
type Config struct {
	// URL selects the engine: "postgres://…" or "postgresql://…" opens
	// PostgreSQL; "sqlite:PATH" opens that SQLite file. Defaults to SQLite
	// at DataDir/steward.db.
	URL string
	// DataDir holds the SQLite file when URL is empty. Defaults to ".".
	DataDir string
	// ReadConns is the size of the SQLite reader pool. Defaults to 8.
	ReadConns int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now; tests stub it.
	Now func() time.Time
}

// WithDefaults returns the config with empty fields filled in.
func (c Config) WithDefaults() Config {
	c.DataDir = cmp.Or(c.DataDir, ".")
	c.ReadConns = cmp.Or(c.ReadConns, 8)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// EngineOf tells which engine a database URL selects.
func EngineOf(url string) Engine {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// DB is an open database. It implements the store interfaces of package
// steward.
type DB struct {
	engine Engine
	// w takes every write. On SQLite it holds one connection, so writers
	// queue in Go instead of failing with SQLITE_BUSY; r is a separate pool
	// of readers (WAL lets them run beside the writer). On PostgreSQL both
	// are the same pool.
	w, r *sql.DB
	pool *pgxpool.Pool // PostgreSQL only
	path string        // SQLite file
	now  func() time.Time
	log  *slog.Logger

	queue       Queue // see SetQueue
	deleteBatch int   // see ResourceDeleteExcept; tests make it small

	analyzing atomic.Bool    // see ResourceAnalyze
	group     groupCommit    // see ResourceUpsertMany
	batches   *sqliteBatches // SQLite only; see preparedBatch
	ckpt      *checkpointer  // SQLite only
	readers   chan struct{}  // see reader
	stmts     *stmtCache     // SQLite only; see reader
	plans     planMemo       // see resourceQuery
}

var (
	_ steward.UserStore    = (*DB)(nil)
	_ steward.SessionStore = (*DB)(nil)
	_ steward.TokenStore   = (*DB)(nil)
	_ steward.AuditLog     = (*DB)(nil)
)

// Open connects to the database. It does not migrate; call Migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	cfg = cfg.WithDefaults()
	db := &DB{engine: EngineOf(cfg.URL), now: cfg.Now, log: cfg.Logger, deleteBatch: defaultDeleteBatch}
	var err error
	if db.engine == Postgres {
		err = db.openPostgres(ctx, cfg.URL)
	} else {
		db.path = strings.TrimPrefix(cfg.URL, "sqlite:")
		if db.path == "" {
			db.path = filepath.Join(cfg.DataDir, "steward.db")
		}
		err = db.openSQLite(ctx, db.path, cfg.ReadConns)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// readerMmap is how much of the database file SQLite's readers map rather
// than read into each connection's page cache: SQLite's own limit, 2 GB.
// Listings read pages all over the file; with each reader copying them,
// listings over a million resources with 50 clients took 9% (the first
// page) to 42% (two tags) longer.
const readerMmap = 0x7fff0000

func (db *DB) openSQLite(ctx context.Context, path string, readConns int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	// WAL lets readers work beside the writer; busy_timeout covers the rare
	// moment a checkpoint holds the file; foreign keys are off by default.
	// Statement journals (undoing one statement of a transaction) stay in
	// memory rather than in temporary files. The writer leaves checkpoints
	// to the checkpointer.
	const pragmas = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)"
	var err error
	db.batches = newSQLiteBatches()
	if db.w, err = sql.Open("sqlite", path+"?"+pragmas+"&_txlock=immediate&_pragma=wal_autocheckpoint("+strconv.Itoa(walBackstop)+")"); err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetConnMaxIdleTime(0)
	if err := db.w.PingContext(ctx); err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("restricting %s to its owner: %w", path, err)
	}
	if db.r, err = sql.Open("sqlite", path+"?"+pragmas+"&_pragma=query_only(1)&_pragma=mmap_size("+strconv.Itoa(readerMmap)+")"); err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	db.r.SetMaxOpenConns(readConns)
	db.r.SetMaxIdleConns(readConns)
	// SQLite reads run on this process's cores: see reader.
	db.readers = make(chan struct{}, min(readConns, runtime.GOMAXPROCS(0)))
	db.stmts = newStmtCache(db.r)
	ckpt, err := sql.Open("sqlite", path+"?"+pragmas)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	ckpt.SetMaxOpenConns(1)
	db.ckpt = startCheckpointer(ckpt)
	return nil
}

// postgresConns is the pool's size unless the URL sets pool_max_conns.
const postgresConns = 25

func (db *DB) openPostgres(ctx context.Context, url string) error {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return steward.Errorf(steward.EINVALID, "The PostgreSQL URL is not valid.")
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default is the number of cores, at least 4: on a small VM
		// the sync, write-back and cost workers then queue for four
		// connections while they could be waiting on Azure side by side
		// (write-back over 100 subscriptions spent 97% of its time waiting
		// for one). Three replicas at 25 fit PostgreSQL's 100.
		cfg.MaxConns = postgresConns
	}
	if db.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("connecting to PostgreSQL at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	db.w = stdlib.OpenDBFromPool(db.pool)
	db.r = db.w
	// Listings take at most half the pool, so background work always finds
	// a connection.
	db.readers = make(chan struct{}, max(1, cfg.MaxConns/2))
	return nil
}

// Close closes every pool. Safe to call twice; calls after it fail with
// "database is closed" rather than panicking.
func (db *DB) Close() error {
	var errs []error
	if db.batches != nil {
		db.batches.close()
	}
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.close())
	}
	if db.stmts != nil {
		db.stmts.close()
	}
	if db.r != nil && db.r != db.w {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	if db.pool != nil {
		db.pool.Close()
	}
	return errors.Join(errs...)
}

// Engine returns the engine in use.
func (db *DB) Engine() Engine { return db.engine }

// WriteDB returns the database/sql handle that takes writes. The job engine
// runs on it so that, on SQLite, it shares the one writer connection.
func (db *DB) WriteDB() *sql.DB { return db.w }

// Pool returns the pgx pool on PostgreSQL, nil on SQLite.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Path returns the SQLite file, "" on PostgreSQL.
func (db *DB) Path() string { return db.path }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.r.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging the database: %w", err)
	}
	return nil
}

func (db *DB) migrations(ctx context.Context) (*goose.Provider, error) {
	dir, dialect := "migrations/sqlite", goose.DialectSQLite3
	var opts []goose.ProviderOption
	if db.engine == Postgres {
		dir, dialect = "migrations/postgres", goose.DialectPostgres
		// Replicas starting together take turns. Advisory locks are per
		// database, so the lock ID is derived from the schema: installations
		// (and parallel tests) in other schemas do not wait for each other.
		var schema string
		if err := db.w.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return nil, fmt.Errorf("reading the current schema: %w", err)
		}
		h := fnv.New64a()
		h.Write([]byte("steward-migrations:" + schema))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	sub, err := fs.Sub(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, db.w, sub, opts...)
}

// Migrate applies every pending migration, each in its own transaction, and
// returns how many ran.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	p, err := db.migrations(ctx)
	if err != nil {
		return 0, fmt.Errorf("loading migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("applying migrations: %w", err)
	}
	for _, r := range res {
		db.log.Info("migration applied", slog.String("engine", string(db.engine)), slog.String("migration", r.Source.Path), slog.Duration("took", r.Duration))
	}
	return len(res), nil
}

// MigrationsPending reports whether the schema is behind this binary.
func (db *DB) MigrationsPending(ctx context.Context) (bool, error) {
	p, err := db.migrations(ctx)
	if err != nil {
		return false, fmt.Errorf("loading migrations: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("checking migrations: %w", err)
	}
	return pending, nil
}

// Tx is a write transaction with a fixed clock reading.
type Tx struct {
	*sql.Tx
	db  *DB
	now time.Time
}

// begin starts a write transaction.
func (db *DB) begin(ctx context.Context) (*Tx, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("beginning a transaction: %w", err)
	}
	return &Tx{Tx: tx, db: db, now: db.now().UTC().Truncate(time.Microsecond)}, nil
}

// inTx runs fn in a write transaction and commits when it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	if db.ckpt != nil {
		db.ckpt.committed()
	}
	return nil
}
