package inventory

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/stewardhq/steward"
)

// costBatch is how many cost rows are written per transaction.
const costBatch = 2000

// IngestCosts fetches a subscription's daily costs per resource, newest
// first, a calendar month per query: Cost Management charges each request
// one query unit per month it spans, so a month costs a quarter of what a
// 90-day query does, and Spend shows this month while older ones are still
// coming. Each run refreshes the days not yet final (from two days before
// the last stored) and then fills in, month by month, the older days of the
// last CostDays not stored yet. A month is stored whole or not at all, so
// the days stored stay one unbroken range and an import stopped midway (by
// Azure's quota, or a restart) goes on from where it stopped.
//
// Each resource's daily rows are kept for CostRowDays, the sums by day,
// subscription, service, resource group and tag (what Spend reports) for
// CostSumDays: rows take most of the room, and reports read the sums.
//
// Each row keeps the resource's tags as Steward knows them when the row is
// fetched, so a report by tag shows the tags a day's cost was spent under.
func (s *Service) IngestCosts(ctx context.Context, subscriptionID string) error {
	if err := steward.RequireSystem(ctx); err != nil {
		return err
	}
	sub, err := s.store.SubscriptionGet(ctx, visible(ctx), subscriptionID)
	if err != nil {
		return err
	}
	if !sub.SyncLevel.SyncsResources() {
		return nil
	}
	t, err := s.store.TenantGet(ctx, visible(ctx), sub.TenantID)
	if err != nil {
		return err
	}
	id, err := s.identity(ctx, t, steward.CredentialRead)
	if err != nil {
		return err
	}
	today := s.now().UTC().Truncate(24 * time.Hour)
	start := s.costsStart()
	var spans []daySpan
	if sub.CostsTo.IsZero() || sub.CostsTo.Before(start) {
		spans = monthsNewestFirst(start, today)
	} else {
		spans = monthsNewestFirst(maxTime(sub.CostsTo.AddDate(0, 0, -2), start), today)
		if sub.CostsFrom.After(start) {
			spans = append(spans, monthsNewestFirst(start, sub.CostsFrom.AddDate(0, 0, -1))...)
		}
	}
	tags, err := s.tagsBySubscription(ctx, sub)
	if err != nil {
		return err
	}
	n := 0
	for _, span := range spans {
		var month []*steward.CostRow
		for row, err := range s.azure.Costs(ctx, id, sub.ID, span.from, span.to.AddDate(0, 0, 1)) {
			if err != nil {
				return err
			}
			row.SubscriptionID = sub.ID
			if sub.SyncLevel.ReadsTags() {
				row.Tags = tags[steward.ResourceKey(row.ResourceID)]
			}
			month = append(month, row)
		}
		for b := range slices.Chunk(month, costBatch) {
			if err := s.store.CostUpsertMany(ctx, b); err != nil {
				return err
			}
			s.counts.costRows.Add(int64(len(b)))
		}
		// Covered once all its rows are in, days without cost included:
		// an import stopped midway fetches the month again.
		if err := s.store.CostCover(ctx, sub.ID, span.from, span.to); err != nil {
			return err
		}
		n += len(month)
	}
	if err := s.store.CostPrune(ctx, sub.ID, today.AddDate(0, 0, 1-s.cfg.CostRowDays), today.AddDate(0, 0, 1-s.cfg.CostSumDays)); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "costs fetched", slog.String("subscription_id", sub.ID), slog.Int("rows", n), slog.Int("months", len(spans)))
	return nil
}

// costsStart is the first day of the CostDays imported, today the last.
func (s *Service) costsStart() time.Time {
	return s.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1-s.cfg.CostDays)
}

// daySpan is the days from and to, both included.
type daySpan struct{ from, to time.Time }

// monthsNewestFirst cuts the days from..to (included) at calendar months,
// the latest first.
func monthsNewestFirst(from, to time.Time) []daySpan {
	var out []daySpan
	for !to.Before(from) {
		monthStart := time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC)
		out = append(out, daySpan{from: maxTime(monthStart, from), to: to})
		to = monthStart.AddDate(0, 0, -1)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// tagsBySubscription maps the subscription's tagged resources to their tags.
func (s *Service) tagsBySubscription(ctx context.Context, sub *steward.Subscription) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	f := steward.ResourceFilter{SubscriptionID: sub.ID, Limit: 1000}
	for {
		rs, next, err := s.store.ResourceList(ctx, visible(ctx), f)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if len(r.Tags) > 0 {
				out[steward.ResourceKey(r.ID)] = r.Tags
			}
		}
		if next == "" {
			return out, nil
		}
		f.After, _ = strconv.ParseInt(next, 10, 64)
	}
}
