package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/stewardhq/steward"
)

// The newest unfinished job of a kind whose argument (a JSON field of its
// args) has a value, and how many seconds from now, on the database's
// clock, it is scheduled; one query per engine.
var jobOfSQL = map[bool]string{
	true: `SELECT id, state, queue, priority, COALESCE(EXTRACT(EPOCH FROM scheduled_at - now())::float8, 0)
		FROM river_job WHERE kind = $1 AND args->>($2::text) = $3 AND state IN ('available', 'scheduled', 'retryable', 'running')
		ORDER BY id DESC LIMIT 1`,
	false: `SELECT id, state, queue, priority, COALESCE((julianday(scheduled_at) - julianday('now')) * 86400.0, 0)
		FROM river_job WHERE kind = $1 AND CAST(json_extract(args, '$.' || $2) AS TEXT) = $3 AND state IN ('available', 'scheduled', 'retryable', 'running')
		ORDER BY id DESC LIMIT 1`,
}

// aheadSQL counts the ready jobs of a queue that a worker takes before the
// job: River takes them by priority, then time scheduled, then ID.
const aheadSQL = `SELECT COUNT(*) FROM river_job o, (SELECT scheduled_at FROM river_job WHERE id = $3) j
	WHERE o.state = 'available' AND o.queue = $1 AND (o.priority < $2 OR (o.priority = $2 AND
		(o.scheduled_at < j.scheduled_at OR (o.scheduled_at = j.scheduled_at AND o.id < $3))))`

// SyncWait says why a queued run waits: see steward.JobQueue.
func (r *Runner) SyncWait(ctx context.Context, run *steward.SyncRun, tenantID string) (*steward.Wait, error) {
	if run.Status != steward.SyncQueued {
		return nil, nil
	}
	if run.Method == steward.SyncResourceGraph {
		return r.wait(ctx, GraphSyncArgs{}.Kind(), "tenant_id", tenantID)
	}
	return r.wait(ctx, SyncArgs{}.Kind(), "run_id", strconv.FormatInt(run.ID, 10))
}

// WriteBackWait says why a subscription's tag writes wait.
func (r *Runner) WriteBackWait(ctx context.Context, subscriptionID string) (*steward.Wait, error) {
	return r.wait(ctx, WriteBackArgs{}.Kind(), "subscription_id", subscriptionID)
}

// costJobsSQL lists the unfinished cost imports in the order River takes
// them, each with its subscription and seconds to when it is scheduled.
var costJobsSQL = map[bool]string{
	true: `SELECT args->>'subscription_id', state, COALESCE(EXTRACT(EPOCH FROM scheduled_at - now())::float8, 0)
		FROM river_job WHERE kind = $1 AND state IN ('available', 'scheduled', 'retryable', 'running') ORDER BY priority, scheduled_at, id`,
	false: `SELECT CAST(json_extract(args, '$.subscription_id') AS TEXT), state, COALESCE((julianday(scheduled_at) - julianday('now')) * 86400.0, 0)
		FROM river_job WHERE kind = $1 AND state IN ('available', 'scheduled', 'retryable', 'running') ORDER BY priority, scheduled_at, id`,
}

// CostsWaits says why cost imports wait, in one query for Spend's page of
// every subscription: see steward.JobQueue.
func (r *Runner) CostsWaits(ctx context.Context) (map[string]*steward.Wait, error) {
	rows, err := r.cfg.DB.QueryContext(ctx, costJobsSQL[r.cfg.Postgres != nil], CostsArgs{}.Kind())
	if err != nil {
		return nil, fmt.Errorf("reading cost jobs: %w", err)
	}
	defer rows.Close()
	out := map[string]*steward.Wait{}
	ahead := 0
	for rows.Next() {
		var sub, state string
		var secs float64
		if err := rows.Scan(&sub, &state, &secs); err != nil {
			return nil, fmt.Errorf("reading cost jobs: %w", err)
		}
		if w := r.waitOf(state, QueueCosts, secs); w != nil && out[sub] == nil {
			if w.Reason == steward.WaitWorker {
				w.Ahead, ahead = ahead, ahead+1
			}
			out[sub] = w
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading cost jobs: %w", err)
	}
	return out, nil
}

// waitOf is the wait of a job in a state, scheduled secs from now: ready
// (waiting for a worker), scheduled (Steward schedules a job for later only
// when Azure's quota is spent: see costsWorker), or retrying after a
// failure; nil while it runs.
func (r *Runner) waitOf(state, queue string, secs float64) *steward.Wait {
	w := &steward.Wait{Queue: queue, Until: r.cfg.Now().Add(time.Duration(secs * float64(time.Second))).Truncate(time.Second)}
	switch state {
	case "available":
		w.Reason, w.Until = steward.WaitWorker, time.Time{}
	case "scheduled":
		w.Reason = steward.WaitQuota
	case "retryable":
		w.Reason = steward.WaitRetry
	default:
		return nil
	}
	return w
}

// wait reads the job's state, and for one waiting for a worker how many
// jobs are ahead of it.
func (r *Runner) wait(ctx context.Context, kind, arg, value string) (*steward.Wait, error) {
	var id int64
	var state, queue string
	var priority int
	var secs float64
	err := r.cfg.DB.QueryRowContext(ctx, jobOfSQL[r.cfg.Postgres != nil], kind, arg, value).Scan(&id, &state, &queue, &priority, &secs)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("reading a job: %w", err)
	}
	w := r.waitOf(state, queue, secs)
	if w != nil && w.Reason == steward.WaitWorker {
		if err := r.cfg.DB.QueryRowContext(ctx, aheadSQL, queue, priority, id).Scan(&w.Ahead); err != nil {
			return nil, fmt.Errorf("counting the jobs ahead: %w", err)
		}
	}
	return w, nil
}
