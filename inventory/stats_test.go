package inventory

import (
	"testing"
	"time"
)

func TestStatsGateRefreshesOnceTheBulkIsDone(t *testing.T) {
	var g statsGate
	t0 := time.Unix(1_000_000, 0)
	for range 3 {
		g.enter()
	}
	if g.leave(t0) {
		t.Fatal("refreshed with nothing owed")
	}
	g.owe()
	if !g.leave(t0) {
		t.Fatal("the first bulk write of a run did not refresh (none refreshed yet)")
	}
	g.enter()
	g.owe()
	if g.leave(t0.Add(statsGap / 2)) {
		t.Fatal("refreshed again within statsGap while a sync still runs")
	}
	g.enter()
	if g.leave(t0.Add(statsGap / 2)) {
		t.Fatal("refreshed within statsGap while a sync still runs")
	}
	g.enter()
	if !g.leave(t0.Add(statsGap + time.Second)) {
		t.Fatal("a refresh owed for statsGap while syncs run did not happen")
	}
	g.owe()
	if !g.leave(t0.Add(statsGap + 2*time.Second)) {
		t.Fatal("the last sync to end did not pay the owed refresh")
	}
	if g.active != 0 || g.owed {
		t.Fatalf("gate left with %d active, owed %v", g.active, g.owed)
	}
}
