// Package jobs runs Steward's queued and scheduled work on River, a job
// queue that keeps its jobs in Steward's own database. On PostgreSQL several
// Steward replicas share one queue: River elects one leader to enqueue
// periodic jobs, and each job is locked by exactly one worker, so scheduled
// work runs once however many replicas run. On SQLite there is one process
// and River uses the store's single writer connection.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/stewardhq/steward"
)

// The queues: each kind of work has workers of its own, so a sync never
// waits behind a cost import, nor a tag edit behind a sync.
const (
	QueueSync      = "sync"       // subscription and Resource Graph syncs
	QueueWriteBack = "write_back" // tag edits written to Azure
	QueueCosts     = "costs"      // cost imports, paced by Cost Management's quota
	QueueChecks    = "checks"     // schedules, sweeps, access checks and reminders, pruning
)

// Config wires the runner to its database and to the services its jobs use.
type Config struct {
	// DB is the store's writer handle (store.DB.WriteDB). Required. Jobs
	// are queued in the store's own transactions on it (see EnqueueSyncTx),
	// and on SQLite River shares its one writer connection.
	DB *sql.DB
	// Postgres is the store's pgx pool on PostgreSQL, nil on SQLite: River
	// listens on it for new jobs and locks its migrations there.
	Postgres *pgxpool.Pool
	// Sessions is pruned of expired sessions. Required.
	Sessions steward.SessionStore
	// Inventory runs syncs, write-back and cost ingestion; with Store it
	// enables those jobs. Optional (tools that only migrate leave it out).
	Inventory steward.InventoryService
	Store     InventoryStore
	// Access checks credential expiry and validates every tenant's access
	// once a day (CheckInterval). Optional.
	Access        steward.AccessService
	CheckInterval time.Duration
	// SyncInterval is how often every tenant is synced. Defaults to 1 hour.
	SyncInterval time.Duration
	// SweepInterval is how often pending tag edits are looked for, behind
	// the write-back queued with each edit. Defaults to 30 seconds.
	SweepInterval time.Duration
	// CostInterval is how often costs are fetched: Microsoft asks for at
	// most once a day. Defaults to 24 hours.
	CostInterval time.Duration
	// PruneInterval is how often expired sessions are removed. Defaults to
	// 10 minutes.
	PruneInterval time.Duration
	// Workers is how many syncs run at once in this process. Defaults to 10.
	Workers int
	// WriteBackWorkers is how many subscriptions' tag edits are written at
	// once. Defaults to 16: Azure's write limits are per subscription, and a
	// worker spends most of its time waiting on Azure, so four left the
	// cores idle (an edit over 100 subscriptions: 153 writes/s with 4, 396
	// with 16, on SQLite).
	WriteBackWorkers int
	// CostWorkers is how many cost imports run at once. Defaults to 2: they
	// share each tenant's hourly Cost Management quota, and one whose quota
	// is spent gives its worker back until the quota resets.
	CostWorkers int
	// ID names this process in River's tables. Defaults to River's choice.
	ID string
	// PollInterval is how often an idle worker looks for jobs when it gets
	// no notification (always, on SQLite). Defaults to 1 second.
	PollInterval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// WithDefaults returns the config with empty fields filled in.
func (c Config) WithDefaults() Config {
	c.PruneInterval = cmp.Or(c.PruneInterval, 10*time.Minute)
	c.SyncInterval = cmp.Or(c.SyncInterval, time.Hour)
	c.SweepInterval = cmp.Or(c.SweepInterval, 30*time.Second)
	c.CostInterval = cmp.Or(c.CostInterval, 24*time.Hour)
	c.CheckInterval = cmp.Or(c.CheckInterval, 24*time.Hour)
	c.Workers = cmp.Or(c.Workers, 10)
	c.WriteBackWorkers = cmp.Or(c.WriteBackWorkers, 16)
	c.CostWorkers = cmp.Or(c.CostWorkers, 2)
	c.PollInterval = cmp.Or(c.PollInterval, time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if c.DB == nil {
		return errors.New("jobs: DB is required")
	}
	if c.Sessions == nil {
		return errors.New("jobs: Sessions is required")
	}
	if (c.Inventory == nil) != (c.Store == nil) {
		return errors.New("jobs: set both Inventory and Store, or neither")
	}
	return nil
}

// Runner owns the River client of this process. Both engines' drivers work
// on database/sql, as the store does, so a job can be queued in the store
// transaction that creates its work.
type Runner struct {
	cfg     Config
	client  *river.Client[*sql.Tx]
	migrate func(ctx context.Context) (*rivermigrate.MigrateResult, error)
	pending func(ctx context.Context) (bool, error)

	mu      sync.Mutex
	started bool
}

// New builds a runner; it does not start working until Start.
func New(cfg Config) (*Runner, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg}
	workers := river.NewWorkers()
	river.AddWorker(workers, &pruneSessionsWorker{sessions: cfg.Sessions, now: cfg.Now, log: cfg.Logger})
	periodic := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(cfg.PruneInterval),
			func() (river.JobArgs, *river.InsertOpts) { return PruneSessionsArgs{}, pruneOpts(cfg.PruneInterval) },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "prune_sessions"}),
	}
	if cfg.Inventory != nil {
		river.AddWorker(workers, &syncWorker{inv: cfg.Inventory})
		river.AddWorker(workers, &graphSyncWorker{inv: cfg.Inventory})
		river.AddWorker(workers, &writeBackWorker{inv: cfg.Inventory})
		river.AddWorker(workers, &costsWorker{inv: cfg.Inventory})
		river.AddWorker(workers, &scheduleSyncsWorker{inv: cfg.Inventory, store: cfg.Store, log: cfg.Logger})
		river.AddWorker(workers, &sweepWriteBacksWorker{queue: r, store: cfg.Store, every: cfg.SweepInterval})
		river.AddWorker(workers, &scheduleCostsWorker{queue: r, store: cfg.Store})
		every := func(d time.Duration, args river.JobArgs, id string, onStart bool) *river.PeriodicJob {
			return river.NewPeriodicJob(river.PeriodicInterval(d),
				func() (river.JobArgs, *river.InsertOpts) {
					return args, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: d}}
				}, &river.PeriodicJobOpts{RunOnStart: onStart, ID: id})
		}
		periodic = append(periodic,
			every(cfg.SyncInterval, ScheduleSyncsArgs{}, "schedule_syncs", false),
			every(cfg.SweepInterval, SweepWriteBacksArgs{}, "sweep_write_backs", true),
			every(cfg.CostInterval, ScheduleCostsArgs{}, "schedule_costs", false))
	}
	if cfg.Access != nil && cfg.Store != nil {
		river.AddWorker(workers, &accessChecksWorker{access: cfg.Access, store: cfg.Store, log: cfg.Logger})
		d := cfg.CheckInterval
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(d),
			func() (river.JobArgs, *river.InsertOpts) {
				return AccessChecksArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: d}}
			}, &river.PeriodicJobOpts{RunOnStart: true, ID: "access_checks"}))
	}
	rc := &river.Config{
		ID:                cfg.ID,
		Middleware:        []rivertype.Middleware{&asSystem{}},
		Logger:            cfg.Logger.With(slog.String("component", "jobs")),
		FetchPollInterval: cfg.PollInterval,
		Queues: map[string]river.QueueConfig{
			QueueSync:      {MaxWorkers: cfg.Workers},
			QueueWriteBack: {MaxWorkers: cfg.WriteBackWorkers},
			QueueCosts:     {MaxWorkers: cfg.CostWorkers},
			QueueChecks:    {MaxWorkers: 2},
			// Jobs queued by an earlier release, before there were queues.
			river.QueueDefault: {MaxWorkers: 1},
		},
		Workers:      workers,
		PeriodicJobs: periodic,
	}
	var driver riverdriver.Driver[*sql.Tx] = riversqlite.New(cfg.DB)
	if cfg.Postgres != nil {
		driver = riverdatabasesql.NewWithPgxListener(cfg.DB, cfg.Postgres)
	}
	var err error
	if r.client, r.migrate, r.pending, err = build(driver, rc); err != nil {
		return nil, err
	}
	if cfg.Postgres != nil {
		r.migrate = lockedMigrate(cfg.Postgres, r.migrate)
	}
	return r, nil
}

// asSystem runs every job as Steward itself: the one place the system
// actor is given out, so the services' checks see who acts, and a call
// that comes from neither a person nor a job has no actor and is refused.
type asSystem struct{ river.MiddlewareDefaults }

func (asSystem) Work(ctx context.Context, _ *rivertype.JobRow, doInner func(ctx context.Context) error) error {
	return doInner(steward.NewSystemContext(ctx))
}

var _ rivertype.WorkerMiddleware = &asSystem{}

// build makes a client and its migrator for one driver.
func build(d riverdriver.Driver[*sql.Tx], rc *river.Config) (*river.Client[*sql.Tx], func(context.Context) (*rivermigrate.MigrateResult, error), func(context.Context) (bool, error), error) {
	c, err := river.NewClient(d, rc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating the job client: %w", err)
	}
	m, err := rivermigrate.New(d, &rivermigrate.Config{Logger: rc.Logger})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating the job migrator: %w", err)
	}
	migrate := func(ctx context.Context) (*rivermigrate.MigrateResult, error) {
		return m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	}
	pending := func(ctx context.Context) (bool, error) {
		v, err := m.Validate(ctx, nil)
		if err != nil {
			return false, err
		}
		return !v.OK, nil
	}
	return c, migrate, pending, nil
}

// lockedMigrate holds a PostgreSQL advisory lock around River's migrations
// so that replicas starting together do not race to create its tables.
func lockedMigrate(pool *pgxpool.Pool, migrate func(context.Context) (*rivermigrate.MigrateResult, error)) func(context.Context) (*rivermigrate.MigrateResult, error) {
	return func(ctx context.Context) (*rivermigrate.MigrateResult, error) {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("acquiring a connection: %w", err)
		}
		defer conn.Release()
		var schema string
		if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return nil, fmt.Errorf("reading the current schema: %w", err)
		}
		h := fnv.New64a()
		h.Write([]byte("steward-river-migrations:" + schema))
		id := int64(h.Sum64())
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, id); err != nil {
			return nil, fmt.Errorf("locking for job migrations: %w", err)
		}
		defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, id)
		return migrate(ctx)
	}
}

// Migrate creates or updates River's tables.
func (r *Runner) Migrate(ctx context.Context) (int, error) {
	res, err := r.migrate(ctx) // River logs each version it applies
	if err != nil {
		return 0, fmt.Errorf("migrating the job tables: %w", err)
	}
	return len(res.Versions), nil
}

// MigrationsPending reports whether River's tables are behind.
func (r *Runner) MigrationsPending(ctx context.Context) (bool, error) {
	p, err := r.pending(ctx)
	if err != nil {
		return false, fmt.Errorf("checking job migrations: %w", err)
	}
	return p, nil
}

// Start begins working jobs. Safe to call twice.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return nil
	}
	if err := r.client.Start(ctx); err != nil {
		return fmt.Errorf("starting the job runner: %w", err)
	}
	r.started = true
	return nil
}

// Stop lets running jobs finish (for at most the context's time) and stops
// fetching new ones. Safe to call twice.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return nil
	}
	r.started = false
	if err := r.client.Stop(ctx); err != nil {
		return fmt.Errorf("stopping the job runner: %w", err)
	}
	return nil
}

// PruneSessionsArgs asks for expired sessions to be removed.
type PruneSessionsArgs struct{}

// Kind names the job in River's tables.
func (PruneSessionsArgs) Kind() string { return "prune_sessions" }

// InsertOpts puts the job in its queue.
func (PruneSessionsArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueChecks} }

// pruneOpts makes the prune job unique per interval, so that a leader
// change (or a manual request) never queues a second prune for one period.
func pruneOpts(interval time.Duration) *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
}

// PruneSessionsNow queues a prune unless one is already queued for this
// period, and returns whether this call queued it.
func (r *Runner) PruneSessionsNow(ctx context.Context) (bool, error) {
	res, err := r.client.Insert(ctx, PruneSessionsArgs{}, pruneOpts(r.cfg.PruneInterval))
	if err != nil {
		return false, fmt.Errorf("queueing session prune: %w", err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

type pruneSessionsWorker struct {
	river.WorkerDefaults[PruneSessionsArgs]
	sessions steward.SessionStore
	now      func() time.Time
	log      *slog.Logger
}

func (w *pruneSessionsWorker) Timeout(*river.Job[PruneSessionsArgs]) time.Duration {
	return time.Minute
}

func (w *pruneSessionsWorker) Work(ctx context.Context, job *river.Job[PruneSessionsArgs]) error {
	n, err := w.sessions.SessionDeleteExpired(ctx, w.now())
	if err != nil {
		return err
	}
	if n > 0 {
		w.log.Info("expired sessions removed", slog.Int("count", n), slog.Int64("job_id", job.ID))
	}
	return nil
}

// CompletedCount returns how many jobs of a kind have completed, for tests
// and the operator's status page.
func (r *Runner) CompletedCount(ctx context.Context, kind string) (int, error) {
	res, err := r.client.JobList(ctx, river.NewJobListParams().Kinds(kind).States(rivertype.JobStateCompleted).First(10000))
	if err != nil {
		return 0, fmt.Errorf("listing jobs: %w", err)
	}
	return len(res.Jobs), nil
}

// Subscribe forwards River's job events, for tests that wait on work.
func (r *Runner) Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	return r.client.Subscribe(kinds...)
}
