package store_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// TestCostReport writes random cost rows in several rounds (later rounds
// replace earlier rows, with other costs, currencies and tags) and checks
// every grouping against the same sums computed in Go from the rows that
// won.
func TestCostReport(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ta, tb := guid('a', 1), guid('b', 2)
		createTenant(t, db, tenantOpts{id: ta})
		createTenant(t, db, tenantOpts{id: tb})
		s1, s2, s3 := guid('1', 1), guid('2', 2), guid('3', 3)
		createSubs(t, db, ta, s1, s2)
		createSubs(t, db, tb, s3)
		tenantOf := map[string]string{s1: ta, s2: ta, s3: tb}
		subs := []string{s1, s2, s3}
		day0 := time.Date(2026, 1, 30, 0, 0, 0, 0, time.UTC)
		rng := rand.New(rand.NewPCG(3, 4))
		type key struct {
			sub, res string
			day      time.Time
			service  string
		}
		final := map[key]*steward.CostRow{}
		randomRow := func() *steward.CostRow {
			sub := subs[rng.IntN(3)]
			n := rng.IntN(15)
			r := &steward.CostRow{Day: day0.AddDate(0, 0, rng.IntN(8)), SubscriptionID: sub,
				ResourceID:    armID(sub, fmt.Sprintf("RG-%d", n%3), "Microsoft.Compute/virtualMachines", fmt.Sprint("vm", n)),
				ResourceGroup: fmt.Sprintf("RG-%d", n%3), Service: []string{"Virtual Machines", "Storage", "Bandwidth"}[rng.IntN(3)],
				Cost: math.Round(rng.Float64()*10000) / 100, Currency: []string{"EUR", "EUR", "EUR", "USD"}[rng.IntN(4)]}
			if n == 14 {
				r.ResourceID, r.ResourceGroup = "", "" // a charge of no resource
			}
			tags := map[string]string{}
			if rng.IntN(4) > 0 {
				tags[[]string{"env", "Env"}[rng.IntN(2)]] = []string{"prod", "dev", ""}[rng.IntN(3)]
			}
			if rng.IntN(2) == 0 {
				tags["owner"] = fmt.Sprint("team-", rng.IntN(3))
			}
			if len(tags) > 0 {
				r.Tags = tags
			}
			return r
		}
		for round := range 4 {
			var batch []*steward.CostRow
			for range 150 {
				r := randomRow()
				batch = append(batch, r)
				final[key{r.SubscriptionID, strings.ToLower(r.ResourceID), r.Day, r.Service}] = r
			}
			if round == 3 {
				// Rows equal to the stored ones are not written again.
				var same []*steward.CostRow
				for _, r := range final {
					same = append(same, r)
				}
				if err := db.CostUpsertMany(ctx, same); err != nil {
					t.Fatal(err)
				}
				count := changeCounter(t, db)
				if err := db.CostUpsertMany(ctx, same); err != nil {
					t.Fatal(err)
				}
				if n := count(); n != 0 {
					t.Fatalf("rewriting %d unchanged cost rows wrote %d rows", len(same), n)
				}
			}
			if err := db.CostUpsertMany(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}

		type line struct {
			key, cur string
			day      time.Time
		}
		// A query, and the tenants it is limited to when scoped.
		type costCase struct {
			steward.CostQuery
			scoped  bool
			tenants []string
		}
		expect := func(c costCase) map[line]float64 {
			q := c.CostQuery
			out := map[line]float64{}
			counts := map[line]int{}
			tagKey, byTag := strings.CutPrefix(q.GroupBy, "tag:")
			for _, r := range final {
				if !q.From.IsZero() && r.Day.Before(q.From) || !q.To.IsZero() && !r.Day.Before(q.To) ||
					q.SubscriptionID != "" && !strings.EqualFold(r.SubscriptionID, q.SubscriptionID) ||
					c.scoped && !slices.ContainsFunc(c.tenants, func(t string) bool { return strings.EqualFold(t, tenantOf[r.SubscriptionID]) }) {
					continue
				}
				var k string
				switch {
				case byTag:
					for tk, v := range r.Tags {
						if strings.EqualFold(tk, tagKey) {
							k = v
						}
					}
				case q.GroupBy == "subscription":
					k = r.SubscriptionID
				case q.GroupBy == "resourceGroup":
					k = strings.ToLower(r.ResourceGroup)
				case q.GroupBy == "service":
					k = r.Service
				case q.GroupBy == "day":
					k = r.Day.Format(time.DateOnly)
				}
				l := line{key: k, cur: r.Currency}
				if q.Daily || q.GroupBy == "day" {
					l.day = r.Day
				}
				out[l] += r.Cost
				counts[l]++
			}
			return out
		}
		queries := []costCase{
			{CostQuery: steward.CostQuery{GroupBy: "service"}},
			{CostQuery: steward.CostQuery{GroupBy: "resourceGroup"}},
			{CostQuery: steward.CostQuery{GroupBy: "subscription"}},
			{CostQuery: steward.CostQuery{GroupBy: "day"}},
			{CostQuery: steward.CostQuery{GroupBy: "tag:ENV"}},
			{CostQuery: steward.CostQuery{GroupBy: "tag:owner", Daily: true}},
			{CostQuery: steward.CostQuery{GroupBy: "tag:nobody"}},
			{CostQuery: steward.CostQuery{GroupBy: "service", Daily: true, From: day0.AddDate(0, 0, 2), To: day0.AddDate(0, 0, 5)}},
			{CostQuery: steward.CostQuery{GroupBy: "tag:env", SubscriptionID: strings.ToUpper(s2)}},
			{CostQuery: steward.CostQuery{GroupBy: "tag:env"}, scoped: true, tenants: []string{tb}},
			{CostQuery: steward.CostQuery{GroupBy: "resourceGroup", From: day0.AddDate(0, 0, 1)}, scoped: true, tenants: []string{strings.ToUpper(ta)}},
		}
		for _, c := range queries {
			q := c.CostQuery
			want := expect(c)
			scope := everything
			if c.scoped {
				scope = storetest.Scope(c.tenants...)
			}
			got, err := db.CostReport(ctx, scope, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			if len(got) != len(want) {
				t.Errorf("%+v: %d lines, want %d\n got %v\nwant %v", q, len(got), len(want), costLines(got), want)
				continue
			}
			for i, g := range got {
				w, ok := want[line{g.Key, g.Currency, g.Day}]
				if !ok || math.Abs(w-g.Cost) > 1e-6 {
					t.Errorf("%+v: line %q %s %v = %.4f, want %.4f (present: %v)", q, g.Key, g.Currency, g.Day, g.Cost, w, ok)
				}
				if i > 0 && !q.Daily && got[i-1].Cost < g.Cost {
					t.Errorf("%+v: not largest first: %v", q, costLines(got))
				}
				if i > 0 && q.Daily && got[i-1].Day.After(g.Day) {
					t.Errorf("%+v: daily lines not by day", q)
				}
			}
		}
		first, latest, err := db.CostDays(ctx, s1)
		if err != nil || latest.After(day0.AddDate(0, 0, 7)) || latest.Before(day0) || first.Before(day0) || first.After(latest) {
			t.Fatalf("CostDays = %v, %v, %v", first, latest, err)
		}
		if f, l, _ := db.CostDays(ctx, guid('9', 9)); !f.IsZero() || !l.IsZero() {
			t.Fatalf("days of an unknown subscription = %v, %v", f, l)
		}
		for _, bad := range []steward.CostQuery{{GroupBy: "tenant"}, {GroupBy: "tag: "}, {GroupBy: "day", From: day0, To: day0}} {
			_, err := db.CostReport(ctx, everything, bad)
			wantCode(t, err, steward.EINVALID)
		}
		if rep, _ := db.CostReport(ctx, steward.Scope{}, steward.CostQuery{GroupBy: "service"}); len(rep) != 0 {
			t.Fatalf("scoped to nothing = %v", rep)
		}
		wantCode(t, db.CostUpsertMany(ctx, []*steward.CostRow{{SubscriptionID: s1, Day: day0}}), steward.EINVALID)
		wantCode(t, db.CostUpsertMany(ctx, []*steward.CostRow{{SubscriptionID: guid('9', 9), Day: day0, Currency: "EUR"}}), steward.ENOTFOUND)
	})
}

func costLines(gs []*steward.CostGroup) []string {
	var out []string
	for _, g := range gs {
		out = append(out, fmt.Sprintf("%s/%s/%s=%.2f", g.Key, g.Currency, g.Day.Format(time.DateOnly), g.Cost))
	}
	return out
}

// TestCostCoverAndPrune: the days covered grow by adjacent months in either
// direction, start anew when a month lands apart from them, and pruning
// deletes rows and sums past their retention and narrows the days covered
// to the sums kept.
func TestCostCoverAndPrune(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tenant, sub := guid('a', 1), guid('1', 1)
		createTenant(t, db, tenantOpts{id: tenant})
		createSubs(t, db, tenant, sub)
		day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
		covered := func(from, to time.Time) {
			t.Helper()
			s, err := db.SubscriptionGet(ctx, everything, sub)
			if err != nil {
				t.Fatal(err)
			}
			if !s.CostsFrom.Equal(from) || !s.CostsTo.Equal(to) {
				t.Fatalf("covered %v to %v, want %v to %v", s.CostsFrom, s.CostsTo, from, to)
			}
		}
		cover := func(from, to time.Time) {
			t.Helper()
			if err := db.CostCover(ctx, sub, from, to); err != nil {
				t.Fatal(err)
			}
		}
		covered(time.Time{}, time.Time{})
		cover(day(12, 1), day(12, 7)) // this month first
		cover(day(11, 1), day(11, 30))
		cover(day(10, 1), day(10, 31))
		covered(day(10, 1), day(12, 7))
		cover(day(12, 5), day(12, 9)) // the days not yet final, again
		covered(day(10, 1), day(12, 9))
		cover(day(12, 20), day(12, 21)) // apart from them: anew
		covered(day(12, 20), day(12, 21))
		cover(day(9, 1), day(9, 30)) // apart, older
		covered(day(9, 1), day(9, 30))
		if err := db.CostCover(ctx, sub, day(9, 2), day(9, 1)); steward.ErrorCode(err) != steward.EINVALID {
			t.Fatalf("a range ending before it begins: %v", err)
		}
		if err := db.CostCover(ctx, guid('9', 9), day(9, 1), day(9, 2)); steward.ErrorCode(err) != steward.ENOTFOUND {
			t.Fatalf("an unknown subscription: %v", err)
		}

		var rows []*steward.CostRow
		for d := day(9, 1); !d.After(day(9, 30)); d = d.AddDate(0, 0, 1) {
			rows = append(rows, &steward.CostRow{Day: d, SubscriptionID: sub, ResourceID: armID(sub, "RG", "Microsoft.Compute/virtualMachines", "vm"),
				ResourceGroup: "RG", Service: "Virtual Machines", Cost: 1, Currency: "EUR"})
		}
		if err := db.CostUpsertMany(ctx, rows); err != nil {
			t.Fatal(err)
		}
		count := func(q string) (n int) {
			t.Helper()
			if err := db.WriteDB().QueryRow(q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// Rows kept from the 21st, sums from the 11th.
		if err := db.CostPrune(ctx, sub, day(9, 21), day(9, 11)); err != nil {
			t.Fatal(err)
		}
		if n := count(`SELECT COUNT(*) FROM cost_rows`); n != 10 {
			t.Errorf("%d cost rows kept, want 10", n)
		}
		if n := count(`SELECT COUNT(DISTINCT day) FROM cost_daily`); n != 20 {
			t.Errorf("sums of %d days kept, want 20", n)
		}
		covered(day(9, 11), day(9, 30)) // as far as sums are kept
		if err := db.CostPrune(ctx, sub, day(10, 1), day(10, 1)); err != nil {
			t.Fatal(err)
		}
		covered(time.Time{}, time.Time{})
	})
}
