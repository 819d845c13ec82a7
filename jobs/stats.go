package jobs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// queueStatsSQL counts unfinished jobs by queue and state with the age, in
// seconds on the database's clock, of the oldest; one per engine.
var queueStatsSQL = map[bool]string{
	true: `SELECT queue, state, COUNT(*), COALESCE(EXTRACT(EPOCH FROM now() - MIN(scheduled_at))::float8, 0)
		FROM river_job WHERE state IN ('available', 'running', 'scheduled', 'retryable') GROUP BY queue, state`,
	false: `SELECT queue, state, COUNT(*), COALESCE((julianday('now') - julianday(MIN(scheduled_at))) * 86400.0, 0)
		FROM river_job WHERE state IN ('available', 'running', 'scheduled', 'retryable') GROUP BY queue, state`,
}

// QueueStats counts the work in each queue, for the metrics: jobs waiting
// for a worker (and how long the oldest has), running, and set for later
// (snoozed until Azure's quota resets, or retrying).
func (r *Runner) QueueStats(ctx context.Context) ([]steward.QueueStat, error) {
	rs, err := r.cfg.DB.QueryContext(ctx, queueStatsSQL[r.cfg.Postgres != nil])
	if err != nil {
		return nil, fmt.Errorf("counting queued jobs: %w", err)
	}
	defer rs.Close()
	byQueue := map[string]*steward.QueueStat{}
	for _, name := range []string{QueueSync, QueueWriteBack, QueueCosts, QueueChecks} {
		byQueue[name] = &steward.QueueStat{Queue: name}
	}
	for rs.Next() {
		var queue, state string
		var n int
		var age float64
		if err := rs.Scan(&queue, &state, &n, &age); err != nil {
			return nil, fmt.Errorf("counting queued jobs: %w", err)
		}
		s := byQueue[queue]
		if s == nil {
			s = &steward.QueueStat{Queue: queue}
			byQueue[queue] = s
		}
		switch state {
		case "available":
			s.Waiting, s.OldestWaiting = n, time.Duration(max(age, 0)*float64(time.Second))
		case "running":
			s.Running = n
		default:
			s.Later += n
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("counting queued jobs: %w", err)
	}
	out := make([]steward.QueueStat, 0, len(byQueue))
	for _, s := range byQueue {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b steward.QueueStat) int { return strings.Compare(a.Queue, b.Queue) })
	return out, nil
}
