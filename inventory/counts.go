package inventory

import (
	"sync/atomic"

	"github.com/stewardhq/steward"
)

// counts are the service's running totals (see Counts). Atomic, since
// syncs and write-backs run in parallel.
type counts struct {
	seen, written, deleted                atomic.Int64
	succeeded, failed, canceled           atomic.Int64
	applied, conflict, writeFailed, retry atomic.Int64
	costRows                              atomic.Int64
}

func (c *counts) run(status steward.SyncRunStatus) {
	switch status {
	case steward.SyncSucceeded:
		c.succeeded.Add(1)
	case steward.SyncFailed:
		c.failed.Add(1)
	case steward.SyncCanceled:
		c.canceled.Add(1)
	}
}

// Counts returns what this process's syncs, write-backs and cost imports
// have done since it started, for the metrics.
func (s *Service) Counts() steward.InventoryCounts {
	c := &s.counts
	return steward.InventoryCounts{
		ResourcesSeen: c.seen.Load(), ResourcesWritten: c.written.Load(), ResourcesDeleted: c.deleted.Load(),
		SyncRuns: map[steward.SyncRunStatus]int64{
			steward.SyncSucceeded: c.succeeded.Load(), steward.SyncFailed: c.failed.Load(), steward.SyncCanceled: c.canceled.Load(),
		},
		TagWrites: map[string]int64{
			steward.TagWriteApplied: c.applied.Load(), steward.TagWriteConflict: c.conflict.Load(),
			steward.TagWriteFailed: c.writeFailed.Load(), steward.TagWriteRetried: c.retry.Load(),
		},
		CostRows: c.costRows.Load(),
	}
}
