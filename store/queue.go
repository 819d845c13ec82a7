package store

import (
	"context"
	"database/sql"
)

// Queue queues background jobs in a transaction of the store's (River's
// InsertTx), so the work a call stores and the job that does it commit
// together: a sync run or a pending tag edit never exists without its job,
// whatever stops in between.
type Queue interface {
	EnqueueSyncTx(ctx context.Context, tx *sql.Tx, runID int64, subscriptionID string) error
	EnqueueGraphSyncTx(ctx context.Context, tx *sql.Tx, tenantID string, runIDs []int64) error
	EnqueueWriteBackTx(ctx context.Context, tx *sql.Tx, subscriptionIDs []string) error
}

// SetQueue makes the store queue the jobs of the runs and edits it stores.
// Without one (tools and tests that run jobs themselves) it queues none.
// Call it before the store is in use.
func (db *DB) SetQueue(q Queue) { db.queue = q }
