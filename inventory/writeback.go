package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stewardhq/steward"
)

// claimBatch is how many items a write-back worker claims at a time.
const claimBatch = 50

// ApplyTagEdits writes a subscription's due items to Azure. It claims
// items with a lease that it renews while it works, and sends each write
// only while the item's claim is still its own, so two workers never write
// the same item; an item whose worker died is retried once the lease
// passes, and one whose worker stopped (steward.Stopping) at once. It
// answers steward.ErrStopping when it stopped for its process.
func (s *Service) ApplyTagEdits(ctx context.Context, subscriptionID string) error {
	if err := steward.RequireSystem(ctx); err != nil {
		return err
	}
	sub, err := s.store.SubscriptionGet(ctx, visible(ctx), subscriptionID)
	if err != nil {
		return err
	}
	t, err := s.store.TenantGet(ctx, visible(ctx), sub.TenantID)
	if err != nil {
		return err
	}
	if !t.WriteEnabled || !sub.SyncLevel.WritesTags() || t.Status != steward.TenantActive {
		// Nothing may be written now: keep the edits, waiting.
		n, err := s.store.TagEditHold(ctx, t.ID, sub.ID, true)
		if n > 0 {
			s.log.InfoContext(ctx, "tag edits held", slog.String("subscription_id", sub.ID), slog.Int("items", n))
		}
		return err
	}
	id, err := s.identity(ctx, t, steward.CredentialWrite)
	if err != nil {
		return err
	}
	w := &writer{s: s, id: id, editors: map[int64]string{}}
	for {
		if stopping(ctx) {
			return steward.ErrStopping
		}
		items, err := s.store.TagEditItemsClaim(ctx, sub.ID, s.now(), s.cfg.Lease, claimBatch)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		w.claim = s.hold(ctx, items)
		err = w.applyAll(ctx, items)
		w.claim.end(ctx) // what is left goes back to the queue at once
		if err != nil {
			return err
		}
	}
}

// applyAll applies a batch of claimed items until one stops the
// write-back, the process stops, or the claim could not be renewed.
func (w *writer) applyAll(ctx context.Context, items []*steward.TagEditItem) error {
	for _, item := range items {
		if stopping(ctx) {
			return steward.ErrStopping
		}
		if err := context.Cause(w.claim.ctx); err != nil {
			return err
		}
		if !w.claim.held(item) {
			continue
		}
		err := w.apply(w.claim.ctx, item)
		if errors.Is(err, steward.ErrClaimPassed) {
			w.s.log.InfoContext(ctx, "tag edit item left to the worker that claimed it since", slog.Int64("item_id", item.ID))
			err = nil
		}
		if err != nil {
			return err
		}
		w.claim.finished(item)
	}
	return nil
}

// stopping reports whether the process is stopping taking work.
func stopping(ctx context.Context) bool {
	select {
	case <-steward.Stopping(ctx):
		return true
	default:
		return false
	}
}

// writer applies items with one write identity.
type writer struct {
	s       *Service
	id      steward.AzureIdentity
	editors map[int64]string // edit ID -> who made the edit
	claim   *claim           // the batch being written
}

// finish records an item's outcome under its claim and stops renewing it.
func (w *writer) finish(ctx context.Context, item *steward.TagEditItem, tags map[string]string, ev *steward.AuditEvent) error {
	if err := w.s.store.TagEditItemFinish(ctx, item, tags, ev); err != nil {
		return err
	}
	w.claim.finished(item)
	return nil
}

// apply writes one item: read Azure's tags, stop on a conflict, skip what
// already landed, delete then merge. It returns an error only when the
// whole write-back must stop (the credential no longer works).
func (w *writer) apply(ctx context.Context, item *steward.TagEditItem) error {
	s := w.s
	current, err := s.azure.TagsGet(ctx, w.id, item.ResourceID)
	if err != nil {
		return w.retryOrFail(ctx, item, err)
	}
	done, conflicts := steward.CheckTagPlan(current, item.Merge, item.Delete, item.Expected)
	if len(conflicts) > 0 {
		return w.conflict(ctx, item, conflicts)
	}
	if !done {
		// Compare-and-delete: each name goes with the value Steward last
		// saw, so Azure deletes it only while unchanged.
		del := map[string]string{}
		for _, name := range item.Delete {
			if v, ok := lookupFold(current, name); ok {
				if seen := item.Expected[steward.TagKey(name)]; seen != nil {
					v = *seen
				}
				del[name] = v
			}
		}
		if len(del) > 0 {
			if err := w.claim.check(item); err != nil {
				return err // sent under this worker's claim only
			}
			if current, err = s.azure.TagsDelete(ctx, w.id, item.ResourceID, del); err != nil {
				return w.retryOrFail(ctx, item, err)
			}
			for name := range del {
				if _, kept := lookupFold(current, name); kept {
					return w.unapplied(ctx, item, current)
				}
			}
			// A rename to another spelling deletes first; remember that it
			// did, so a retry does not take the missing name for a conflict.
			progressed := false
			for _, name := range del {
				lk := steward.TagKey(name)
				if _, renamed := mergeFold(item.Merge, lk); renamed && item.Expected[lk] != nil {
					item.Expected[lk] = nil
					progressed = true
				}
			}
			if progressed {
				if err := s.store.TagEditItemFinish(ctx, item, nil, nil); err != nil {
					return err
				}
			}
		}
		merge := map[string]string{}
		for k, v := range item.Merge {
			if cv, ok := current[k]; !ok || cv != v {
				merge[k] = v
			}
		}
		if len(merge) > 0 {
			if err := w.claim.check(item); err != nil {
				return err
			}
			if current, err = s.azure.TagsMerge(ctx, w.id, item.ResourceID, merge); err != nil {
				return w.retryOrFail(ctx, item, err)
			}
		}
		if done, _ := steward.CheckTagPlan(current, item.Merge, item.Delete, item.Expected); !done {
			return w.unapplied(ctx, item, current)
		}
	}
	item.Status, item.LastError, item.Conflicts, item.AppliedAt = steward.EditApplied, "", nil, s.now()
	ev := w.event(ctx, item, "tags.write")
	if done {
		ev.With("note", "already in Azure")
	}
	return s.counted(&s.counts.applied, w.finish(ctx, item, current, ev))
}

// conflict finishes an item whose tags Azure holds with other values than
// the edit expected, naming Azure's in the audit event.
func (w *writer) conflict(ctx context.Context, item *steward.TagEditItem, conflicts []steward.TagConflict) error {
	item.Status, item.Conflicts = steward.EditConflict, conflicts
	item.LastError = steward.ErrorMessage(steward.ErrTagEditConflict(item.ResourceID, conflicts))
	ev := w.event(ctx, item, "tags.conflict").WithOutcome(steward.OutcomeFailure)
	for _, c := range conflicts {
		ev.With("azure:"+c.Key, deref(c.Azure))
	}
	return w.s.counted(&w.s.counts.conflict, w.finish(ctx, item, nil, ev))
}

// unapplied finishes an item whose write Azure answered with success but
// whose answer does not show the edit's result: a conflict when Azure
// holds a value other than both what Steward last saw and what the edit
// sets (changed meanwhile; a compare-and-delete then deletes nothing), else
// failed, naming what Azure kept.
func (w *writer) unapplied(ctx context.Context, item *steward.TagEditItem, current map[string]string) error {
	s := w.s
	if _, conflicts := steward.CheckTagPlan(current, item.Merge, item.Delete, item.Expected); len(conflicts) > 0 {
		return w.conflict(ctx, item, conflicts)
	}
	var kept []string
	for _, name := range item.Delete {
		if v, ok := lookupFold(current, name); ok {
			kept = append(kept, fmt.Sprintf("%s=%q", name, v))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(item.Merge)) {
		if v, ok := current[k]; !ok {
			kept = append(kept, k+" absent")
		} else if v != item.Merge[k] {
			kept = append(kept, fmt.Sprintf("%s=%q", k, v))
		}
	}
	item.Status = steward.EditFailed
	item.LastError = fmt.Sprintf("Azure answered the write to %s with success, but its tags do not show it: %s.", item.ResourceID, strings.Join(kept, ", "))
	ev := w.event(ctx, item, "tags.write").WithOutcome(steward.OutcomeFailure).With("reason", item.LastError)
	return s.counted(&s.counts.writeFailed, w.finish(ctx, item, nil, ev))
}

// retryOrFail decides what an error means for an item: a broken credential
// stops the write-back (items return to the queue); a refusal by Azure fails
// the item with Azure's reason; anything else is retried with backoff until
// MaxAttempts.
func (w *writer) retryOrFail(ctx context.Context, item *steward.TagEditItem, cause error) error {
	s := w.s
	if ctx.Err() != nil {
		return ctx.Err()
	}
	code := steward.ErrorCode(cause)
	item.LastError = steward.ErrorMessage(cause)
	switch {
	case code == steward.EUNAUTHORIZED:
		item.Status, item.NextAttemptAt = steward.EditPending, s.now().Add(backoff(item.Attempts))
		if err := w.finish(ctx, item, nil, nil); err != nil {
			return err
		}
		return cause
	case code == steward.EFORBIDDEN || code == steward.ENOTFOUND || code == steward.EINVALID || item.Attempts >= s.cfg.MaxAttempts:
		item.Status = steward.EditFailed
		ev := w.event(ctx, item, "tags.write").WithOutcome(steward.OutcomeFailure).With("reason", item.LastError)
		return s.counted(&s.counts.writeFailed, w.finish(ctx, item, nil, ev))
	default:
		item.Status, item.NextAttemptAt = steward.EditPending, s.now().Add(backoff(item.Attempts))
		s.log.WarnContext(ctx, "tag write will be retried", slog.Int64("item_id", item.ID), slog.Int("attempt", item.Attempts), slog.Any("error", cause))
		return s.counted(&s.counts.retry, w.finish(ctx, item, nil, nil))
	}
}

// counted adds one to n when err is nil (the outcome was stored), and
// returns err.
func (s *Service) counted(n *atomic.Int64, err error) error {
	if err == nil {
		n.Add(1)
	}
	return err
}

// backoff grows with the attempts: 10 s, 20 s, 40 s … up to 10 minutes.
func backoff(attempts int) time.Duration {
	d := 10 * time.Second << min(attempts, 6)
	return min(d, 10*time.Minute)
}

// event is the audit event of a write, in the name of the person who made
// the edit: Steward wrote it, they asked for it.
func (w *writer) event(ctx context.Context, item *steward.TagEditItem, action string) *steward.AuditEvent {
	by, ok := w.editors[item.EditID]
	if !ok {
		by = steward.SystemActor.Name
		if e, err := w.s.store.TagEditGet(ctx, visible(ctx), item.EditID); err == nil {
			by = e.CreatedBy
		}
		w.editors[item.EditID] = by
	}
	ev := &steward.AuditEvent{Actor: by, Action: action, Target: item.ResourceID, TenantID: item.TenantID, Outcome: steward.OutcomeSuccess}
	ev.With("edit", strconv.FormatInt(item.EditID, 10)).With("via", "steward write identity "+w.id.ClientID)
	if len(item.Merge) > 0 {
		ev.With("merge", describeMap(item.Merge))
	}
	if len(item.Delete) > 0 {
		ev.With("delete", strings.Join(item.Delete, ", "))
	}
	return ev
}

func lookupFold(tags map[string]string, name string) (string, bool) {
	for k, v := range tags {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func mergeFold(merge map[string]string, lowerKey string) (string, bool) {
	for k, v := range merge {
		if steward.TagKey(k) == lowerKey {
			return v, true
		}
	}
	return "", false
}

func deref(s *string) string {
	if s == nil {
		return "(absent)"
	}
	return *s
}
