package inventory

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/stewardhq/steward"
)

// costBatch is how many cost rows are written per transaction.
const costBatch = 2000

// IngestCosts fetches a subscription's daily costs per resource: the last
// CostDays days the first time, then the last three days (Cost Management
// refreshes recent days as usage arrives). Each row keeps the resource's
// tags as Steward knows them when the row is fetched, so a report by tag
// shows the tags a day's cost was spent under.
func (s *Service) IngestCosts(ctx context.Context, subscriptionID string) error {
	if err := requireSystem(ctx); err != nil {
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
	today := s.now().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -s.cfg.CostDays)
	if latest, err := s.store.CostLatestDay(ctx, sub.ID); err != nil {
		return err
	} else if !latest.IsZero() {
		from = latest.AddDate(0, 0, -2)
	}
	tags, err := s.tagsBySubscription(ctx, sub)
	if err != nil {
		return err
	}
	var batch []*steward.CostRow
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.store.CostUpsertMany(ctx, batch)
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for row, err := range s.azure.Costs(ctx, id, sub.ID, from, today.AddDate(0, 0, 1)) {
		if err != nil {
			return err
		}
		row.SubscriptionID = sub.ID
		if sub.SyncLevel.ReadsTags() {
			row.Tags = tags[steward.ResourceKey(row.ResourceID)]
		}
		batch = append(batch, row)
		if len(batch) == costBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "costs fetched", slog.String("subscription_id", sub.ID), slog.Int("rows", n),
		slog.String("from", from.Format(time.DateOnly)))
	return nil
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
