package inventory

import (
	"time"

	"context"
	"strconv"

	"github.com/stewardhq/steward"
)

// The reads people make, each within the caller's read scope: the store
// finds nothing outside it, so a listing cannot show another tenant's rows
// and a lookup of one answers ENOTFOUND, as if it did not exist.

// Subscriptions lists subscriptions by display name.
func (s *Service) Subscriptions(ctx context.Context, f steward.SubscriptionFilter) ([]*steward.Subscription, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.SubscriptionList(ctx, sc, f)
}

// Subscription returns one subscription.
func (s *Service) Subscription(ctx context.Context, id string) (*steward.Subscription, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.SubscriptionGet(ctx, sc, id)
}

// SyncRuns returns a subscription's latest runs, newest first, a queued
// one with why it waits.
func (s *Service) SyncRuns(ctx context.Context, subscriptionID string, limit int) ([]*steward.SyncRun, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	runs, err := s.store.SyncRunList(ctx, sc, subscriptionID, limit)
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		if err := s.syncWait(ctx, sc, r); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// SyncRun returns one run, queued with why it waits.
func (s *Service) SyncRun(ctx context.Context, id int64) (*steward.SyncRun, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.store.SyncRunGet(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	return r, s.syncWait(ctx, sc, r)
}

// syncWait sets why a queued run waits, from its job.
func (s *Service) syncWait(ctx context.Context, sc steward.Scope, r *steward.SyncRun) error {
	if s.jobs == nil || r.Status != steward.SyncQueued {
		return nil
	}
	sub, err := s.store.SubscriptionGet(ctx, sc, r.SubscriptionID)
	if err != nil {
		return err
	}
	r.Wait, err = s.jobs.SyncWait(ctx, r, sub.TenantID)
	return err
}

// Resources lists a page of resources matching f.
func (s *Service) Resources(ctx context.Context, f steward.ResourceFilter) ([]*steward.Resource, string, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, "", err
	}
	return s.store.ResourceList(ctx, sc, f)
}

// CountResources counts the resources matching f.
func (s *Service) CountResources(ctx context.Context, f steward.ResourceFilter) (int, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return 0, err
	}
	return s.store.ResourceCount(ctx, sc, f)
}

// Resource returns a resource by ARM ID with its latest tag changes.
func (s *Service) Resource(ctx context.Context, armID string, history int) (*steward.Resource, []*steward.TagHistoryEntry, error) {
	if armID == "" {
		return nil, nil, steward.Errorf(steward.EINVALID, "Give the resource's ARM ID as id.")
	}
	sc, err := readScope(ctx)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.store.ResourceGet(ctx, sc, armID)
	if err != nil {
		return nil, nil, err
	}
	h, err := s.store.TagHistory(ctx, sc, r.PK, history)
	if err != nil {
		return nil, nil, err
	}
	return r, h, nil
}

// TagKeys lists the tag names in use.
func (s *Service) TagKeys(ctx context.Context, f steward.ResourceFilter, limit int) ([]*steward.TagKeyStat, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.TagKeys(ctx, sc, f, limit)
}

// TagEdits lists the latest edits the caller may see.
func (s *Service) TagEdits(ctx context.Context, limit int) ([]*steward.TagEdit, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.TagEditList(ctx, sc, limit)
}

// TagEdit returns an edit as the caller may see it, with what is still to
// be written in each subscription (the first 50) and why it waits.
func (s *Service) TagEdit(ctx context.Context, id int64) (*steward.TagEdit, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.store.TagEditGet(ctx, sc, id)
	if err != nil || e.Status != steward.EditPending {
		return e, err
	}
	if e.Pending, err = s.store.TagEditPending(ctx, sc, id, 50); err != nil {
		return nil, err
	}
	now := s.now()
	for _, p := range e.Pending {
		switch {
		case p.NextAttemptAt.After(now):
			// Azure throttled or failed the last try: the items wait
			// out their back-off whatever the job does.
			p.Wait = &steward.Wait{Reason: steward.WaitRetry, Queue: "write_back", Until: p.NextAttemptAt}
		case s.jobs != nil:
			if p.Wait, err = s.jobs.WriteBackWait(ctx, p.SubscriptionID); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

// CostImports says, for each subscription within the scope whose resources
// Steward reads, how many of the days imported are stored and why the
// import waits, if it does.
func (s *Service) CostImports(ctx context.Context) ([]*steward.CostImport, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	subs, err := s.store.SubscriptionList(ctx, sc, steward.SubscriptionFilter{})
	if err != nil {
		return nil, err
	}
	var waits map[string]*steward.Wait
	if s.jobs != nil {
		if waits, err = s.jobs.CostsWaits(ctx); err != nil {
			return nil, err
		}
	}
	start, today := s.costsStart(), s.now().UTC().Truncate(24*time.Hour)
	var out []*steward.CostImport
	for _, sub := range subs {
		if !sub.SyncLevel.SyncsResources() || !sub.MissingSince.IsZero() {
			continue
		}
		ci := &steward.CostImport{SubscriptionID: sub.ID, Days: s.cfg.CostDays}
		if !sub.CostsTo.Before(start) && !sub.CostsTo.IsZero() {
			from := maxTime(sub.CostsFrom, start)
			ci.DaysStored = min(int(sub.CostsTo.Sub(from).Hours()/24)+1, s.cfg.CostDays)
			ci.StoredTo = sub.CostsTo
			ci.Current = !sub.CostsTo.Before(today.AddDate(0, 0, -1)) && !from.After(start)
		}
		ci.Wait = waits[sub.ID]
		out = append(out, ci)
	}
	return out, nil
}

// TagEditItems returns a page of an edit's items the caller may see.
func (s *Service) TagEditItems(ctx context.Context, editID int64, status steward.TagEditStatus, after int64, limit int) ([]*steward.TagEditItem, string, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, "", err
	}
	if editID != 0 {
		if _, err := s.store.TagEditGet(ctx, sc, editID); err != nil {
			return nil, "", err
		}
	}
	limit = max(1, min(limit, 1000))
	items, err := s.store.TagEditItems(ctx, sc, editID, status, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = strconv.FormatInt(items[limit-1].ID, 10)
	}
	return items, next, nil
}

// TagEditItem returns one item.
func (s *Service) TagEditItem(ctx context.Context, id int64) (*steward.TagEditItem, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.TagEditItemGet(ctx, sc, id)
}

// Costs sums spend.
func (s *Service) Costs(ctx context.Context, q steward.CostQuery) ([]*steward.CostGroup, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.CostReport(ctx, sc, q)
}
