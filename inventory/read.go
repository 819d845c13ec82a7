package inventory

import (
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

// SyncRuns returns a subscription's latest runs, newest first.
func (s *Service) SyncRuns(ctx context.Context, subscriptionID string, limit int) ([]*steward.SyncRun, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.SyncRunList(ctx, sc, subscriptionID, limit)
}

// SyncRun returns one run.
func (s *Service) SyncRun(ctx context.Context, id int64) (*steward.SyncRun, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.SyncRunGet(ctx, sc, id)
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

// TagEdit returns an edit as the caller may see it.
func (s *Service) TagEdit(ctx context.Context, id int64) (*steward.TagEdit, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.TagEditGet(ctx, sc, id)
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
