package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store"
	"github.com/stewardhq/steward/store/storetest"
)

// collectPages generates a subscription's resources as sync pages.
func collectPages(e benchEstate, pageSize int, subID string) [][]*steward.Resource {
	var out [][]*steward.Resource
	for p := range e.pages(pageSize) {
		for _, r := range p.resources {
			r.ID = "/subscriptions/" + subID + r.ID[len("/subscriptions/")+len(p.subID):]
			r.SubscriptionID = subID
		}
		out = append(out, p.resources)
	}
	return out
}

// BenchmarkResourceUpsertMany measures the sync write path, ResourceUpsertMany
// with pages of 1,000: a first sync of 100,000 resources (≈2.7 tags each)
// into a new subscription, a re-sync with nothing changed, and one with 1%
// of the resources changed. It reports resources/s.
//
//	go test ./store -run '^$' -bench ResourceUpsertMany -benchtime 3x
func BenchmarkResourceUpsertMany(b *testing.B) {
	const total, pageSize = 100_000, 1000
	e := benchEstate{tenants: 1, subsPerTenant: 1, resources: total}
	for _, engine := range storetest.Engines() {
		b.Run(string(engine), func(b *testing.B) {
			db := storetest.Open(b, engine)
			ctx := context.Background()
			tenant := guid('e', 1)
			createTenant(b, db, tenantOpts{id: tenant})
			var subs []*steward.Subscription
			newSub := func() string {
				id := guid('5', len(subs)+1)
				subs = append(subs, &steward.Subscription{ID: id, DisplayName: id})
				if _, err := db.SubscriptionSync(ctx, tenant, subs); err != nil {
					b.Fatal(err)
				}
				return id
			}
			sync := func(b *testing.B, sub string, pages [][]*steward.Resource) int {
				written := 0
				for _, p := range pages {
					n, err := db.ResourceUpsertMany(ctx, sub, p, true)
					if err != nil {
						b.Fatal(err)
					}
					written += n
				}
				return written
			}
			b.Run("first-sync", func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					sub := newSub()
					pages := collectPages(e, pageSize, sub)
					b.StartTimer()
					if n := sync(b, sub, pages); n != total {
						b.Fatalf("first sync wrote %d, want %d", n, total)
					}
				}
				b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "resources/s")
			})
			sub := newSub()
			pages := collectPages(e, pageSize, sub)
			sync(b, sub, pages)
			b.Run("resync-unchanged", func(b *testing.B) {
				for range b.N {
					if n := sync(b, sub, pages); n != 0 {
						b.Fatalf("unchanged re-sync wrote %d", n)
					}
				}
				b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "resources/s")
			})
			round := 0
			b.Run("resync-1pct-changed", func(b *testing.B) {
				for range b.N {
					round++
					b.StopTimer()
					for _, p := range pages {
						for j := 0; j < len(p); j += 100 {
							p[j].Tags["bench"] = fmt.Sprint(round)
						}
					}
					b.StartTimer()
					if n := sync(b, sub, pages); n != total/100 {
						b.Fatalf("1%% re-sync wrote %d, want %d", n, total/100)
					}
				}
				b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "resources/s")
			})
		})
	}
}

var _ = store.SQLite
