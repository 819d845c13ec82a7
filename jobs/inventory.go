package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/stewardhq/steward"
)

// InventoryStore is what the scheduling jobs read, as Steward itself.
type InventoryStore interface {
	TenantList(ctx context.Context, scope steward.Scope) ([]*steward.Tenant, error)
	SubscriptionList(ctx context.Context, scope steward.Scope, f steward.SubscriptionFilter) ([]*steward.Subscription, error)
	TagEditSubscriptionsDue(ctx context.Context) ([]string, error)
}

// waiting are the job states in which a unique job is not queued again:
// not yet started, or running (River requires running among them). Work
// that arrives while its job runs is found by the periodic sweep, or by the
// next schedule.
//
// Sync jobs are unique per run, not per subscription: a job left "running"
// by a process that died would otherwise block its subscription until
// River rescues it, an hour later. Runs claim their subscription instead,
// with a heartbeat (SyncRunClaim), and tag edits are claimed by lease.
var waiting = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStateRunning}

// SyncArgs runs one subscription's sync run.
type SyncArgs struct {
	SubscriptionID string `json:"subscription_id"`
	RunID          int64  `json:"run_id" river:"unique"`
}

// Kind names the job.
func (SyncArgs) Kind() string { return "sync_subscription" }

// InsertOpts puts the job in its queue.
func (SyncArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueSync} }

// GraphSyncArgs runs a tenant's Resource Graph sync.
type GraphSyncArgs struct {
	TenantID string  `json:"tenant_id"`
	RunIDs   []int64 `json:"run_ids" river:"unique"`
}

// Kind names the job.
func (GraphSyncArgs) Kind() string { return "sync_tenant_graph" }

// InsertOpts puts the job in its queue.
func (GraphSyncArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueSync} }

// WriteBackArgs writes a subscription's pending tag edits.
type WriteBackArgs struct {
	SubscriptionID string `json:"subscription_id" river:"unique"`
}

// Kind names the job.
func (WriteBackArgs) Kind() string { return "write_back" }

// InsertOpts puts the job in its queue.
func (WriteBackArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueWriteBack} }

// CostsArgs fetches a subscription's costs.
type CostsArgs struct {
	SubscriptionID string `json:"subscription_id" river:"unique"`
}

// Kind names the job.
func (CostsArgs) Kind() string { return "ingest_costs" }

// InsertOpts puts the job in its queue.
func (CostsArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueCosts} }

// ScheduleSyncsArgs queues a sync of every active tenant.
type ScheduleSyncsArgs struct{}

// Kind names the job.
func (ScheduleSyncsArgs) Kind() string { return "schedule_syncs" }

// InsertOpts puts the job in its queue.
func (ScheduleSyncsArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueChecks} }

// SweepWriteBacksArgs queues write-back wherever tag edits are due: the
// safety net behind the write-back queued with each edit.
type SweepWriteBacksArgs struct{}

// Kind names the job.
func (SweepWriteBacksArgs) Kind() string { return "sweep_write_backs" }

// InsertOpts puts the job in its queue.
func (SweepWriteBacksArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueChecks} }

// ScheduleCostsArgs queues cost ingestion for every subscription.
type ScheduleCostsArgs struct{}

// Kind names the job.
func (ScheduleCostsArgs) Kind() string { return "schedule_costs" }

// InsertOpts puts the job in its queue.
func (ScheduleCostsArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueChecks} }

var uniqueWaiting = &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: waiting}}

// EnqueueSync queues a sync run's job, once.
func (r *Runner) EnqueueSync(ctx context.Context, runID int64, subscriptionID string) error {
	if _, err := r.client.Insert(ctx, SyncArgs{SubscriptionID: subscriptionID, RunID: runID}, uniqueWaiting); err != nil {
		return fmt.Errorf("queueing sync: %w", err)
	}
	return nil
}

// EnqueueGraphSync queues a tenant's Resource Graph sync.
func (r *Runner) EnqueueGraphSync(ctx context.Context, tenantID string, runIDs []int64) error {
	if _, err := r.client.Insert(ctx, GraphSyncArgs{TenantID: tenantID, RunIDs: runIDs}, uniqueWaiting); err != nil {
		return fmt.Errorf("queueing graph sync: %w", err)
	}
	return nil
}

// EnqueueWriteBack queues writing a subscription's pending tag edits.
func (r *Runner) EnqueueWriteBack(ctx context.Context, subscriptionID string) error {
	if _, err := r.client.Insert(ctx, WriteBackArgs{SubscriptionID: subscriptionID}, uniqueWaiting); err != nil {
		return fmt.Errorf("queueing write-back: %w", err)
	}
	return nil
}

// EnqueueCosts queues fetching a subscription's costs.
func (r *Runner) EnqueueCosts(ctx context.Context, subscriptionID string) error {
	if _, err := r.client.Insert(ctx, CostsArgs{SubscriptionID: subscriptionID}, uniqueWaiting); err != nil {
		return fmt.Errorf("queueing costs: %w", err)
	}
	return nil
}

// EnqueueSyncTx queues a sync run's job in the transaction that stores
// the run, so the run is never stored without it.
func (r *Runner) EnqueueSyncTx(ctx context.Context, tx *sql.Tx, runID int64, subscriptionID string) error {
	if _, err := r.client.InsertTx(ctx, tx, SyncArgs{SubscriptionID: subscriptionID, RunID: runID}, uniqueWaiting); err != nil {
		return fmt.Errorf("queueing sync: %w", err)
	}
	return nil
}

// EnqueueGraphSyncTx queues a tenant's Resource Graph sync in the
// transaction that stores its runs.
func (r *Runner) EnqueueGraphSyncTx(ctx context.Context, tx *sql.Tx, tenantID string, runIDs []int64) error {
	if _, err := r.client.InsertTx(ctx, tx, GraphSyncArgs{TenantID: tenantID, RunIDs: runIDs}, uniqueWaiting); err != nil {
		return fmt.Errorf("queueing graph sync: %w", err)
	}
	return nil
}

// EnqueueWriteBackTx queues write-back of the subscriptions in the
// transaction that stores their pending items.
func (r *Runner) EnqueueWriteBackTx(ctx context.Context, tx *sql.Tx, subscriptionIDs []string) error {
	params := make([]river.InsertManyParams, len(subscriptionIDs))
	for i, s := range subscriptionIDs {
		params[i] = river.InsertManyParams{Args: WriteBackArgs{SubscriptionID: s}, InsertOpts: uniqueWaiting}
	}
	if _, err := r.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("queueing write-back: %w", err)
	}
	return nil
}

var _ steward.JobQueue = (*Runner)(nil)

type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	inv steward.InventoryService
}

// Timeout stays under River's one-hour rescue of stuck jobs; a sync cut
// short resumes where it stopped on the retry.
func (w *syncWorker) Timeout(*river.Job[SyncArgs]) time.Duration { return 50 * time.Minute }

func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	return w.inv.RunSync(ctx, job.Args.RunID)
}

type graphSyncWorker struct {
	river.WorkerDefaults[GraphSyncArgs]
	inv steward.InventoryService
}

func (w *graphSyncWorker) Timeout(*river.Job[GraphSyncArgs]) time.Duration { return 50 * time.Minute }

func (w *graphSyncWorker) Work(ctx context.Context, job *river.Job[GraphSyncArgs]) error {
	return w.inv.RunGraphSync(ctx, job.Args.TenantID, job.Args.RunIDs)
}

type writeBackWorker struct {
	river.WorkerDefaults[WriteBackArgs]
	inv steward.InventoryService
}

func (w *writeBackWorker) Timeout(*river.Job[WriteBackArgs]) time.Duration { return 50 * time.Minute }

func (w *writeBackWorker) Work(ctx context.Context, job *river.Job[WriteBackArgs]) error {
	return w.inv.ApplyTagEdits(ctx, job.Args.SubscriptionID)
}

type costsWorker struct {
	river.WorkerDefaults[CostsArgs]
	inv steward.InventoryService
}

func (w *costsWorker) Timeout(*river.Job[CostsArgs]) time.Duration { return 30 * time.Minute }

// Work imports what Azure's quota allows now; when the quota is spent it
// gives the worker back and runs again once Azure says it resets. Rows
// already stored stay, so the import goes on from there.
func (w *costsWorker) Work(ctx context.Context, job *river.Job[CostsArgs]) error {
	err := w.inv.IngestCosts(steward.NewContextNoQuotaWait(ctx), job.Args.SubscriptionID)
	if wait := steward.QuotaWait(err); wait > 0 {
		return river.JobSnooze(wait)
	}
	return err
}

type scheduleSyncsWorker struct {
	river.WorkerDefaults[ScheduleSyncsArgs]
	inv   steward.InventoryService
	store InventoryStore
	log   *slog.Logger
}

func (w *scheduleSyncsWorker) Work(ctx context.Context, job *river.Job[ScheduleSyncsArgs]) error {
	tenants, err := w.store.TenantList(ctx, steward.ScopeFor(ctx, steward.PermInventoryRead))
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if t.Status != steward.TenantActive {
			continue
		}
		if _, err := w.inv.SyncTenant(ctx, t.ID, "schedule"); err != nil {
			// One tenant's failure (a revoked secret, say) must not stop
			// the others; its runs record why.
			w.log.WarnContext(ctx, "scheduled sync failed", slog.String("tenant_id", t.ID), slog.Any("error", err))
		}
	}
	return nil
}

type sweepWriteBacksWorker struct {
	river.WorkerDefaults[SweepWriteBacksArgs]
	queue *Runner
	store InventoryStore
	every time.Duration
}

func (w *sweepWriteBacksWorker) Work(ctx context.Context, job *river.Job[SweepWriteBacksArgs]) error {
	subs, err := w.store.TagEditSubscriptionsDue(ctx)
	if err != nil {
		return err
	}
	// Unique per sweep period rather than by state: a write-back job left
	// "running" by a process that died must not block its subscription
	// until River rescues it (an hour). Two write-backs at once are safe:
	// items are claimed with a lease.
	opts := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: w.every}}
	for _, s := range subs {
		if _, err := w.queue.client.Insert(ctx, WriteBackArgs{SubscriptionID: s}, opts); err != nil {
			return err
		}
	}
	return nil
}

type scheduleCostsWorker struct {
	river.WorkerDefaults[ScheduleCostsArgs]
	queue *Runner
	store InventoryStore
}

func (w *scheduleCostsWorker) Work(ctx context.Context, job *river.Job[ScheduleCostsArgs]) error {
	subs, err := w.store.SubscriptionList(ctx, steward.ScopeFor(ctx, steward.PermInventoryRead), steward.SubscriptionFilter{})
	if err != nil {
		return err
	}
	for _, s := range subs {
		if s.SyncLevel.SyncsResources() && s.MissingSince.IsZero() {
			if err := w.queue.EnqueueCosts(ctx, s.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// AccessChecksArgs is the daily check of every tenant's credentials: expiry
// warnings, review reminders, then validation against what each sync level
// needs.
type AccessChecksArgs struct{}

func (AccessChecksArgs) Kind() string { return "access_checks" }

// InsertOpts puts the job in its queue.
func (AccessChecksArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueChecks} }

type accessChecksWorker struct {
	river.WorkerDefaults[AccessChecksArgs]
	access steward.AccessService
	store  InventoryStore
	log    *slog.Logger
}

func (w *accessChecksWorker) Timeout(*river.Job[AccessChecksArgs]) time.Duration {
	return 30 * time.Minute
}

func (w *accessChecksWorker) Work(ctx context.Context, job *river.Job[AccessChecksArgs]) error {
	if _, err := w.access.CheckExpiry(ctx); err != nil {
		return err
	}
	if _, err := w.access.Remind(ctx); err != nil {
		return err
	}
	tenants, err := w.store.TenantList(ctx, steward.ScopeFor(ctx, steward.PermInventoryRead))
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if t.Status != steward.TenantActive {
			continue
		}
		// A failing tenant is recorded in its report and alerted on by
		// Validate; the others still get checked.
		if _, err := w.access.Validate(ctx, t.ID); err != nil {
			w.log.WarnContext(ctx, "daily validation failed", slog.String("tenant_id", t.ID), slog.Any("error", err))
		}
	}
	return nil
}
