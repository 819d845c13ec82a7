package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/storetest"
)

// BenchmarkAuditAppend measures appending hash-chained audit events, each in
// its own transaction, one writer at a time and from parallel writers.
func BenchmarkAuditAppend(b *testing.B) {
	for _, engine := range storetest.Engines() {
		b.Run(string(engine)+"/serial", func(b *testing.B) {
			db := storetest.Open(b, engine)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ev := &steward.AuditEvent{Actor: "bench", Action: "bench.append", Target: fmt.Sprint(i), Outcome: steward.OutcomeSuccess, Details: map[string]string{"n": "1"}}
				if err := db.AuditAppend(ctx, ev); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(string(engine)+"/parallel", func(b *testing.B) {
			db := storetest.Open(b, engine)
			ctx := context.Background()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ev := &steward.AuditEvent{Actor: "bench", Action: "bench.append", Outcome: steward.OutcomeSuccess}
					if err := db.AuditAppend(ctx, ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if v, err := db.AuditVerify(ctx); err != nil || !v.OK() {
				b.Fatalf("chain after parallel appends: %+v %v", v, err)
			}
		})
	}
}
