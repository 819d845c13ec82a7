package inventory

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// statsGap is the least time between two refreshes of the planner's
// statistics while syncs are still running.
const statsGap = 30 * time.Second

// statsGate decides when a sync refreshes the database's statistics after
// bulk writes. ANALYZE samples whole tables, and a tenant's first sync
// finishes dozens of subscriptions within seconds: refreshing after each
// took a third of PostgreSQL's CPU in the medium-estate benchmark. So a
// bulk write only makes a refresh owed, and the sync that ends it pays it
// when no other sync of this process is running (the estate is complete)
// or the last refresh is statsGap old (a long first sync still gets fresh
// statistics as it goes).
type statsGate struct {
	mu     sync.Mutex
	active int       // syncs running in this process
	owed   bool      // a bulk write since the last refresh
	last   time.Time // when the last refresh started
}

func (g *statsGate) enter() {
	g.mu.Lock()
	g.active++
	g.mu.Unlock()
}

func (g *statsGate) owe() {
	g.mu.Lock()
	g.owed = true
	g.mu.Unlock()
}

// leave ends a sync and reports whether it should refresh the statistics
// now; if so the refresh is no longer owed.
func (g *statsGate) leave(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active--
	if !g.owed || (g.active > 0 && now.Sub(g.last) < statsGap) {
		return false
	}
	g.owed, g.last = false, now
	return true
}

// endSync is deferred by every sync: it refreshes the statistics when the
// gate says so.
func (s *Service) endSync(ctx context.Context) {
	if !s.stats.leave(time.Now()) {
		return
	}
	start := time.Now()
	if err := s.store.ResourceAnalyze(context.WithoutCancel(ctx)); err != nil {
		s.log.WarnContext(ctx, "resource statistics not refreshed", slog.Any("error", err))
		return
	}
	s.log.DebugContext(ctx, "resource statistics refreshed", slog.Duration("took", time.Since(start)))
}
