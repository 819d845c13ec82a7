package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// MaxEditResources caps one edit: beyond it, split the edit by subscription.
const MaxEditResources = 100_000

// target is a resource an edit selects, with what decides whether the
// caller may change it.
type target struct {
	res *steward.Resource
	sub *steward.Subscription
	ten *steward.Tenant
}

// targets resolves the request's resources: listed IDs (every one must be
// known) or every resource the filter matches within the caller's scope.
func (s *Service) targets(ctx context.Context, req *steward.TagEditRequest) ([]target, error) {
	sc, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	var rs []*steward.Resource
	if req.Filter != nil {
		f := *req.Filter
		f.Limit, f.After = 1000, 0
		for {
			page, next, err := s.store.ResourceList(ctx, sc, f)
			if err != nil {
				return nil, err
			}
			rs = append(rs, page...)
			if len(rs) > MaxEditResources {
				return nil, steward.Errorf(steward.EUNPROCESSABLE, "The filter selects more than %d resources; narrow it, for example to one subscription.", MaxEditResources)
			}
			if next == "" {
				break
			}
			f.After, _ = strconv.ParseInt(next, 10, 64)
		}
	} else {
		if len(req.Resources) > MaxEditResources {
			return nil, steward.Errorf(steward.EUNPROCESSABLE, "An edit may list at most %d resources.", MaxEditResources)
		}
		var unknown []string
		seen := map[string]bool{}
		for _, id := range req.Resources {
			if seen[steward.ResourceKey(id)] {
				continue
			}
			seen[steward.ResourceKey(id)] = true
			r, err := s.store.ResourceGet(ctx, sc, id)
			if steward.ErrorCode(err) == steward.ENOTFOUND {
				unknown = append(unknown, id)
				continue
			} else if err != nil {
				return nil, err
			}
			rs = append(rs, r)
		}
		if len(unknown) > 0 {
			return nil, steward.Errorf(steward.ENOTFOUND, "Steward knows no resource %s%s. Sync the subscription, or check the IDs.", unknown[0], more(len(unknown)-1))
		}
	}
	subs := map[string]*steward.Subscription{}
	tenants := map[string]*steward.Tenant{}
	out := make([]target, 0, len(rs))
	for _, r := range rs {
		sub, ok := subs[r.SubscriptionID]
		if !ok {
			var err error
			if sub, err = s.store.SubscriptionGet(ctx, sc, r.SubscriptionID); err != nil {
				return nil, err
			}
			subs[r.SubscriptionID] = sub
		}
		t, ok := tenants[sub.TenantID]
		if !ok {
			var err error
			if t, err = s.store.TenantGet(ctx, sc, sub.TenantID); err != nil {
				return nil, err
			}
			tenants[sub.TenantID] = t
		}
		out = append(out, target{res: r, sub: sub, ten: t})
	}
	return out, nil
}

func more(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" (and %d more)", n)
}

// refusal says why the caller may not edit tags on a target, or "".
func refusal(actor *steward.Actor, t target) string {
	switch {
	case !actor.Can(steward.PermTagsWrite, t.ten.ID):
		return "Your roles do not allow editing tags in tenant " + t.ten.Name + "."
	case t.ten.Status != steward.TenantActive:
		return "Tenant " + t.ten.Name + " is revoked."
	case !t.sub.SyncLevel.WritesTags():
		return fmt.Sprintf("Subscription %s is set to %s: %s", t.sub.DisplayName, t.sub.SyncLevel.Label(), t.sub.SyncLevel.Explain())
	case !t.ten.WriteEnabled:
		return "Write access is off for tenant " + t.ten.Name + ": turn it on before editing tags there."
	}
	return ""
}

// PreviewTagEdit shows exactly what the edit would change.
func (s *Service) PreviewTagEdit(ctx context.Context, req *steward.TagEditRequest) (*steward.TagEditPreview, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	// Names and values the edit sets break Azure's limits on every
	// resource alike: refuse the request itself before looking at any.
	set := maps.Clone(req.Merge)
	if set == nil {
		set = map[string]string{}
	}
	for _, to := range req.Rename {
		set[to] = ""
	}
	if err := steward.ValidateTags("The edit", "", set); err != nil && len(set) <= steward.MaxTagsPerResource {
		return nil, err
	}
	ts, err := s.targets(ctx, req)
	if err != nil {
		return nil, err
	}
	actor := steward.ActorFromContext(ctx)
	p := &steward.TagEditPreview{Resources: len(ts)}
	for _, t := range ts {
		if why := refusal(actor, t); why != "" {
			p.Refused = append(p.Refused, steward.TagRefusal{ResourceID: t.res.ID, Reason: why, Code: steward.EFORBIDDEN})
			continue
		}
		plan, err := steward.PlanTagEdit(t.res, req)
		if steward.ErrorCode(err) == steward.EUNPROCESSABLE {
			// This resource's tags and the edit together break Azure's
			// limits (too many tags, or names Azure set itself that its
			// Tags API refuses to write back): Azure would refuse it.
			p.Refused = append(p.Refused, steward.TagRefusal{ResourceID: t.res.ID, Reason: strings.TrimPrefix(steward.ErrorMessage(err), t.res.ID+": "), Code: steward.EUNPROCESSABLE})
			continue
		} else if err != nil {
			return nil, err
		}
		if plan != nil {
			p.Changed = append(p.Changed, plan)
		}
	}
	return p, nil
}

// SubmitTagEdit stores the edit in the outbox with its audit event and
// queues the write-back of each subscription it touches.
func (s *Service) SubmitTagEdit(ctx context.Context, req *steward.TagEditRequest) (*steward.TagEdit, error) {
	preview, err := s.PreviewTagEdit(ctx, req)
	if err != nil {
		return nil, err
	}
	if n := len(preview.Refused); n > 0 && !req.SkipRefused {
		// Forbidden if any refusal is the caller's roles; else it is what
		// Azure would refuse, which no role changes.
		r := preview.Refused[0]
		code := steward.EUNPROCESSABLE
		if i := slices.IndexFunc(preview.Refused, func(r steward.TagRefusal) bool { return r.Code == steward.EFORBIDDEN }); i >= 0 {
			r, code = preview.Refused[i], steward.EFORBIDDEN
		}
		return nil, steward.Errorf(code, "Nothing was changed: %s cannot be edited. %s%s", r.ResourceID, r.Reason, more(n-1))
	}
	if len(preview.Changed) == 0 {
		return nil, steward.Errorf(steward.EUNPROCESSABLE, "Nothing to change: the %d selected resources already have these tags.", preview.Resources)
	}
	actor := steward.ActorFromContext(ctx)
	request, _ := json.Marshal(req)
	edit := &steward.TagEdit{CreatedBy: actor.Name, Status: steward.EditPending, Request: string(request), ItemCount: len(preview.Changed)}
	items := make([]*steward.TagEditItem, 0, len(preview.Changed))
	subs := map[string]bool{}
	tenants := map[string]bool{}
	for _, p := range preview.Changed {
		sub, err := s.store.SubscriptionGet(ctx, visible(ctx), p.Resource.SubscriptionID)
		if err != nil {
			return nil, err
		}
		items = append(items, &steward.TagEditItem{
			ResourcePK: p.Resource.PK, ResourceID: p.Resource.ID, SubscriptionID: sub.ID, TenantID: sub.TenantID,
			Merge: p.Merge, Delete: p.Delete, Expected: p.Expected, Status: steward.EditPending,
		})
		subs[sub.ID], tenants[sub.TenantID] = true, true
	}
	ev := steward.NewAuditEvent(ctx, "tags.edit", fmt.Sprintf("%d resources", len(items))).
		With("resources", strconv.Itoa(len(items))).With("subscriptions", strconv.Itoa(len(subs)))
	if n := len(preview.Refused); n > 0 {
		ev.With("skipped", strconv.Itoa(n))
	}
	if len(tenants) == 1 {
		for t := range tenants {
			ev.WithTenant(t)
		}
	}
	if len(req.Merge) > 0 {
		ev.With("merge", describeMap(req.Merge))
	}
	if len(req.Delete) > 0 {
		ev.With("delete", strings.Join(req.Delete, ", "))
	}
	if len(req.Rename) > 0 {
		ev.With("rename", describeMap(req.Rename))
	}
	// Stored with the write-back jobs of its subscriptions.
	if err := s.store.TagEditCreate(ctx, edit, items, ev); err != nil {
		return nil, err
	}
	return edit, nil
}

func describeMap(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

// enqueueWriteBack queues write-back; a failure is logged, not returned: the
// periodic sweep finds pending items anyway.
func (s *Service) enqueueWriteBack(ctx context.Context, subscriptionID string) {
	if s.jobs == nil {
		return
	}
	if err := s.jobs.EnqueueWriteBack(ctx, subscriptionID); err != nil {
		s.log.WarnContext(ctx, "write-back not queued; the sweep will find it", "subscription_id", subscriptionID, "error", err)
	}
}

// ResolveConflict settles an item in conflict.
func (s *Service) ResolveConflict(ctx context.Context, itemID int64, keepAzure bool) error {
	sc, err := readScope(ctx)
	if err != nil {
		return err
	}
	item, err := s.store.TagEditItemGet(ctx, sc, itemID)
	if err != nil {
		return err
	}
	if item.Status != steward.EditConflict {
		return steward.Errorf(steward.ECONFLICT, "This change is %s, not in conflict.", item.Status)
	}
	actor := steward.ActorFromContext(ctx)
	if !actor.Can(steward.PermTagsWrite, item.TenantID) {
		return steward.Errorf(steward.EFORBIDDEN, "Your roles do not allow editing tags in this tenant.")
	}
	ev := steward.NewAuditEvent(ctx, "tags.conflict_resolved", item.ResourceID).WithTenant(item.TenantID).
		With("edit", strconv.FormatInt(item.EditID, 10))
	if keepAzure {
		item.Status = steward.EditCanceled
		ev.With("decision", "keep Azure's value")
		return s.store.TagEditItemFinish(ctx, item, nil, ev)
	}
	// Apply over Azure's current value: expect what Azure has now.
	for _, c := range item.Conflicts {
		item.Expected[c.Key] = c.Azure
	}
	item.Status, item.Conflicts, item.Attempts, item.NextAttemptAt, item.LastError = steward.EditPending, nil, 0, s.now(), ""
	ev.With("decision", "apply Steward's edit")
	if err := s.store.TagEditItemFinish(ctx, item, nil, ev); err != nil {
		return err
	}
	s.enqueueWriteBack(ctx, item.SubscriptionID)
	return nil
}

// SetSyncLevel changes a level at once: the store purges what the new level
// may not keep and holds edits it may not write, in one transaction with
// the event. A level that reads more than before queues a sync.
func (s *Service) SetSyncLevel(ctx context.Context, subscriptionID string, level steward.SyncLevel) (*steward.Subscription, error) {
	if !level.Valid() {
		return nil, steward.Errorf(steward.EINVALID, "Unknown sync level %q; levels are no-resources, no-tags, read-tags and read-write-tags.", level)
	}
	old, err := s.subscriptionFor(ctx, subscriptionID, steward.PermTenantsManage, "changing sync levels")
	if err != nil {
		return nil, err
	}
	if old.SyncLevel == level {
		return old, nil
	}
	ev := steward.NewAuditEvent(ctx, "subscription.sync_level", old.ID).WithTenant(old.TenantID).
		With("from", string(old.SyncLevel)).With("to", string(level))
	sub, err := s.store.SubscriptionSetLevel(ctx, subscriptionID, level, ev)
	if err != nil {
		return nil, err
	}
	readsMore := (level.SyncsResources() && !old.SyncLevel.SyncsResources()) || (level.ReadsTags() && !old.SyncLevel.ReadsTags())
	if readsMore {
		if _, err := s.SyncNow(ctx, sub.ID); err != nil {
			s.log.WarnContext(ctx, "sync after level change not queued", "subscription_id", sub.ID, "error", err)
		}
	}
	if level.WritesTags() {
		if t, err := s.store.TenantGet(ctx, visible(ctx), sub.TenantID); err == nil && t.WriteEnabled {
			if n, err := s.store.TagEditHold(ctx, t.ID, sub.ID, false); err == nil && n > 0 {
				s.enqueueWriteBack(ctx, sub.ID)
			}
		}
	}
	return sub, nil
}
