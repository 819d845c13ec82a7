package store

import (
	"time"

	"github.com/stewardhq/steward"
)

// healthCond is the condition that the subscription row of table (a name
// or alias of subscriptions) is in sync health h, as of now. The same SQL
// serves both engines: times are microseconds, statuses text.
func (a *args) healthCond(h steward.SyncHealth, table string, now time.Time) string {
	switch h {
	case steward.SyncHealthFailed:
		// The latest run, by the (subscription_id, id) index.
		return `(SELECT r.status FROM sync_runs r WHERE r.subscription_id = ` + table + `.id ORDER BY r.id DESC LIMIT 1) = 'failed'`
	case steward.SyncHealthQueued:
		return `EXISTS (SELECT 1 FROM sync_runs r WHERE r.subscription_id = ` + table + `.id AND r.status IN ('queued', 'running'))`
	case steward.SyncHealthStale:
		return `(` + table + `.sync_level <> 'no-resources' AND ` + table + `.missing_since IS NULL AND COALESCE(` + table + `.last_synced_at, ` +
			table + `.discovered_at) < ` + a.add(now.Add(-steward.StaleAfter).UnixMicro()) + `)`
	}
	return ""
}
