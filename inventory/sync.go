package inventory

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// SyncTenant discovers the tenant's subscriptions and queues a sync of each
// one whose level reads resources: one Resource Graph job for many small
// subscriptions, or one ARM job per subscription (parallel).
func (s *Service) SyncTenant(ctx context.Context, tenantID, reason string) ([]*steward.SyncRun, error) {
	t, err := steward.TenantFor(ctx, s.store, tenantID, steward.PermTenantsManage)
	if err != nil {
		return nil, err
	}
	subs, err := s.discover(ctx, t)
	if err != nil {
		return nil, err
	}
	var eligible []*steward.Subscription
	for _, sub := range subs {
		if sub.SyncLevel.SyncsResources() && sub.MissingSince.IsZero() && !strings.EqualFold(sub.State, "Disabled") {
			eligible = append(eligible, sub)
		}
	}
	method := s.method(ctx, t, eligible)
	var runs, created, waiting []*steward.SyncRun
	for _, sub := range eligible {
		if r, busy := s.activeRun(ctx, sub.ID); busy {
			runs = append(runs, r)
			if r.Status == steward.SyncQueued {
				waiting = append(waiting, r)
			}
			continue
		}
		run := &steward.SyncRun{SubscriptionID: sub.ID, Reason: reason, Method: method, Status: steward.SyncQueued, CreatedBy: actorName(ctx)}
		runs, created = append(runs, run), append(created, run)
	}
	// The runs and their jobs are stored together: a Resource Graph sync
	// of the tenant, or a sync of each subscription.
	if err := s.store.SyncRunsCreate(ctx, created); err != nil {
		return nil, err
	}
	return runs, s.requeue(ctx, t.ID, waiting)
}

// requeue queues the jobs of runs already queued: their jobs may be gone
// (discarded after their last attempt, or never queued by a release that
// queued jobs after storing runs); if not, queueing them again does
// nothing. A run whose job cannot be queued fails, so that it does not hold
// its subscription as queued for ever.
func (s *Service) requeue(ctx context.Context, tenantID string, runs []*steward.SyncRun) error {
	if s.jobs == nil {
		return nil
	}
	var graph []int64
	for _, r := range runs {
		if r.Method == steward.SyncResourceGraph {
			graph = append(graph, r.ID)
		} else if err := s.enqueue(ctx, r); err != nil {
			return err
		}
	}
	if len(graph) == 0 {
		return nil
	}
	err := s.jobs.EnqueueGraphSync(ctx, tenantID, graph)
	if err != nil {
		for _, r := range runs {
			if r.Method == steward.SyncResourceGraph {
				s.fail(ctx, r, err)
			}
		}
	}
	return err
}

// discover records the subscriptions the tenant's read identity sees now.
func (s *Service) discover(ctx context.Context, t *steward.Tenant) ([]*steward.Subscription, error) {
	id, err := s.identity(ctx, t, steward.CredentialRead)
	if err != nil {
		return nil, err
	}
	seen, err := s.azure.Subscriptions(ctx, id)
	if err != nil {
		return nil, err
	}
	subs := make([]*steward.Subscription, 0, len(seen))
	for _, a := range seen {
		subs = append(subs, &steward.Subscription{
			ID: strings.ToLower(a.ID), TenantID: t.ID, HomeTenantID: strings.ToLower(a.HomeTenantID), DisplayName: a.DisplayName,
			State: a.State, ManagedByTenants: a.ManagedByTenants, Tags: a.Tags,
		})
	}
	return s.store.SubscriptionSync(ctx, t.ID, subs)
}

// method picks how to list a tenant's resources: Resource Graph when it has
// many subscriptions that are all small, else ARM per subscription.
func (s *Service) method(ctx context.Context, t *steward.Tenant, subs []*steward.Subscription) steward.SyncMethod {
	if t.SyncMethod != steward.SyncAuto && t.SyncMethod != "" {
		return t.SyncMethod
	}
	if len(subs) < s.cfg.GraphThreshold {
		return steward.SyncARM
	}
	for _, sub := range subs {
		runs, err := s.store.SyncRunList(ctx, visible(ctx), sub.ID, 5)
		if err != nil {
			return steward.SyncARM
		}
		for _, r := range runs {
			if r.Status == steward.SyncSucceeded {
				if r.Seen > s.cfg.GraphSmall {
					return steward.SyncARM
				}
				break
			}
		}
	}
	return steward.SyncResourceGraph
}

// activeRun returns the subscription's queued or running run, if any. A
// run whose heartbeat is older than a lease was abandoned by a process
// that died: it does not count, and the next run takes its place.
func (s *Service) activeRun(ctx context.Context, subscriptionID string) (*steward.SyncRun, bool) {
	runs, err := s.store.SyncRunList(ctx, visible(ctx), subscriptionID, 1)
	if err != nil || len(runs) == 0 {
		return nil, false
	}
	r := runs[0]
	return r, r.Status == steward.SyncQueued || (r.Status == steward.SyncRunning && !s.abandoned(r))
}

// abandoned reports whether a running run's heartbeat is older than a
// lease.
func (s *Service) abandoned(r *steward.SyncRun) bool {
	return r.AliveAt().Before(s.now().Add(-s.cfg.Lease))
}

// claim starts a run for this process (see SyncRunClaim) and returns it,
// or nil when it is not to be run: done already, or canceled in favour of
// another run of its subscription.
func (s *Service) claim(ctx context.Context, id int64) (*steward.SyncRun, error) {
	run, err := s.store.SyncRunClaim(ctx, id, s.now().Add(-s.cfg.Lease))
	if steward.ErrorCode(err) == steward.ECONFLICT {
		s.log.InfoContext(ctx, "sync run not started", slog.Int64("run_id", id), slog.String("reason", steward.ErrorMessage(err)))
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if run.Status != steward.SyncRunning {
		if run.Status == steward.SyncCanceled {
			s.log.InfoContext(ctx, "sync run not started", slog.Int64("run_id", id), slog.String("reason", run.Error))
		}
		return nil, nil
	}
	return run, nil
}

// keepAlive renews the runs' heartbeat every quarter lease until stop is
// called, so that no other process takes them over while this one lives.
func (s *Service) keepAlive(ctx context.Context, ids []int64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.Lease / 4)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.store.SyncRunHeartbeat(ctx, ids); err != nil && ctx.Err() == nil {
					s.log.WarnContext(ctx, "sync heartbeat not renewed", slog.Any("error", err))
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// SyncNow queues a sync of one subscription through ARM, or returns the run
// already queued or running.
func (s *Service) SyncNow(ctx context.Context, subscriptionID string) (*steward.SyncRun, error) {
	sub, err := s.subscriptionFor(ctx, subscriptionID, steward.PermTenantsManage, "starting syncs")
	if err != nil {
		return nil, err
	}
	if !sub.SyncLevel.SyncsResources() {
		return nil, steward.Errorf(steward.ECONFLICT, "Subscription %s is set to No Resources: Steward reads nothing there.", sub.DisplayName)
	}
	t, err := s.store.TenantGet(ctx, visible(ctx), sub.TenantID)
	if err != nil {
		return nil, err
	}
	if t.Status != steward.TenantActive {
		return nil, steward.Errorf(steward.ECONFLICT, "Tenant %s is revoked; Steward no longer syncs it.", t.Name)
	}
	if r, busy := s.activeRun(ctx, sub.ID); busy {
		if r.Status == steward.SyncQueued && r.Method != steward.SyncResourceGraph {
			if err := s.enqueue(ctx, r); err != nil { // see requeue
				return nil, err
			}
		}
		return r, nil
	}
	// Stored with its job. Should another replica have queued a run of the
	// subscription a moment ago, the older of the two gives way when it
	// starts (see SyncRunClaim).
	run := &steward.SyncRun{SubscriptionID: sub.ID, Reason: "manual", Method: steward.SyncARM, Status: steward.SyncQueued, CreatedBy: actorName(ctx)}
	if err := s.store.SyncRunCreate(ctx, run); err != nil {
		return nil, err
	}
	return run, nil
}

// enqueue queues a queued run's job again, or fails the run.
func (s *Service) enqueue(ctx context.Context, run *steward.SyncRun) error {
	if s.jobs == nil {
		return nil
	}
	if err := s.jobs.EnqueueSync(ctx, run.ID, run.SubscriptionID); err != nil {
		return s.fail(ctx, run, err)
	}
	return nil
}

// RunSync lists one subscription through ARM page by page. Each page is
// written in one transaction, so whatever happens the stored data is the
// last good state plus whole pages; deletions are detected only after a
// listing that started at the first page and reached the last.
func (s *Service) RunSync(ctx context.Context, runID int64) error {
	if err := steward.RequireSystem(ctx); err != nil {
		return err
	}
	s.stats.enter()
	defer s.endSync(ctx)
	run, err := s.claim(ctx, runID)
	if run == nil || err != nil {
		return err
	}
	defer s.keepAlive(ctx, []int64{run.ID})()
	sub, err := s.store.SubscriptionGet(ctx, visible(ctx), run.SubscriptionID)
	if err != nil {
		return s.fail(ctx, run, err)
	}
	t, err := s.store.TenantGet(ctx, visible(ctx), sub.TenantID)
	if err != nil {
		return s.fail(ctx, run, err)
	}
	if !sub.SyncLevel.SyncsResources() {
		return s.finish(ctx, run, steward.SyncCanceled, "The subscription is set to No Resources.")
	}
	id, err := s.identity(ctx, t, steward.CredentialRead)
	if err != nil {
		return s.fail(ctx, run, err)
	}
	groups, err := s.azure.ResourceGroups(ctx, id, sub.ID)
	if err != nil {
		return s.fail(ctx, run, err)
	}
	if !sub.SyncLevel.ReadsTags() {
		for _, g := range groups {
			g.Tags = nil
		}
	}
	if _, err := s.store.ResourceGroupSync(ctx, sub.ID, groups); err != nil {
		return s.fail(ctx, run, err)
	}
	fromStart := run.Resume == ""
	if fromStart {
		run.Seen, run.Written, run.Pages = 0, 0, 0
	}
	var keep []int64
	for page, err := range s.azure.Resources(ctx, id, sub.ID, run.Resume) {
		if err != nil {
			return s.fail(ctx, run, err)
		}
		// The level may change while the sync runs; it takes effect at once.
		if sub, err = s.store.SubscriptionGet(ctx, visible(ctx), sub.ID); err != nil {
			return s.fail(ctx, run, err)
		}
		if !sub.SyncLevel.SyncsResources() {
			return s.finish(ctx, run, steward.SyncCanceled, "The subscription was set to No Resources during the sync.")
		}
		written, err := s.writePage(ctx, sub, page.Resources)
		if err != nil {
			return s.fail(ctx, run, err)
		}
		for _, r := range page.Resources {
			keep = append(keep, r.PK)
		}
		run.Seen += len(page.Resources)
		run.Written += written
		run.Pages++
		s.counts.seen.Add(int64(len(page.Resources)))
		s.counts.written.Add(int64(written))
		run.Resume = page.Next
		if err := s.store.SyncRunUpdate(ctx, run); err != nil {
			return err
		}
	}
	if fromStart {
		slices.Sort(keep)
		n, err := s.store.ResourceDeleteExcept(ctx, sub.ID, keep)
		if err != nil {
			return s.fail(ctx, run, err)
		}
		run.Deleted = n
		s.counts.deleted.Add(int64(n))
	}
	if run.Written > 0 && sub.SyncLevel.ReadsTags() {
		s.attributeDrift(ctx, id, run)
	}
	return s.finish(ctx, run, steward.SyncSucceeded, "")
}

// attributeDrift names who changed tags outside Steward: Azure's activity
// log has the caller of each write. An identity that may not read it (Tag
// Contributor and Cost Management Reader alone, as consent assigns) leaves
// drift unnamed, and the run says so in its warning rather than fail.
func (s *Service) attributeDrift(ctx context.Context, id steward.AzureIdentity, run *steward.SyncRun) {
	run.Warning = ""
	since := run.StartedAt.AddDate(0, 0, -89) // the activity log keeps 90 days
	if runs, err := s.store.SyncRunList(ctx, visible(ctx), run.SubscriptionID, 10); err == nil {
		for _, r := range runs {
			if r.ID != run.ID && r.Status == steward.SyncSucceeded && r.StartedAt.After(since) {
				since = r.StartedAt
				break
			}
		}
	}
	acts, err := s.azure.Activity(ctx, id, run.SubscriptionID, since)
	if err != nil {
		run.Warning = steward.WarnActivityLogForbidden
		if steward.ErrorCode(err) != steward.EFORBIDDEN {
			run.Warning = "Drift authors unknown: the activity log could not be read (" + steward.ErrorMessage(err) + ")."
		}
		s.log.InfoContext(ctx, "drift left unnamed: the activity log is not readable", slog.String("subscription_id", run.SubscriptionID), slog.Any("error", err))
		return
	}
	callers := map[string]string{}
	latest := map[string]time.Time{}
	for _, a := range acts {
		// A Tags API write is logged on {scope}/providers/Microsoft.Resources/tags/default.
		key := steward.ResourceKey(strings.TrimSuffix(strings.ToLower(a.ResourceID), "/providers/microsoft.resources/tags/default"))
		if a.Caller == "" || !strings.EqualFold(a.Status, "Succeeded") || a.Time.Before(latest[key]) {
			continue
		}
		callers[key], latest[key] = a.Caller, a.Time
	}
	if len(callers) == 0 {
		return
	}
	if _, err := s.store.TagHistoryAttribute(ctx, run.SubscriptionID, run.StartedAt, callers); err != nil {
		s.log.WarnContext(ctx, "drift callers not recorded", slog.String("subscription_id", run.SubscriptionID), slog.Any("error", err))
	}
}

// writePage stores one page of a subscription's resources at its level.
func (s *Service) writePage(ctx context.Context, sub *steward.Subscription, rs []*steward.Resource) (int, error) {
	readTags := sub.SyncLevel.ReadsTags()
	for _, r := range rs {
		r.SubscriptionID = sub.ID
		if !readTags {
			r.Tags = nil
		}
	}
	return s.store.ResourceUpsertMany(ctx, sub.ID, rs, readTags)
}

// RunGraphSync syncs several subscriptions of a tenant with Resource Graph.
func (s *Service) RunGraphSync(ctx context.Context, tenantID string, runIDs []int64) error {
	if err := steward.RequireSystem(ctx); err != nil {
		return err
	}
	s.stats.enter()
	defer s.endSync(ctx)
	t, err := s.store.TenantGet(ctx, visible(ctx), tenantID)
	if err != nil {
		return err
	}
	runs := map[string]*steward.SyncRun{}
	subs := map[string]*steward.Subscription{}
	var ids []string
	failAll := func(err error) error {
		for _, run := range runs {
			s.fail(ctx, run, err)
		}
		return err
	}
	for _, id := range runIDs {
		run, err := s.claim(ctx, id)
		if err != nil {
			return failAll(err)
		}
		if run == nil {
			continue
		}
		sub, err := s.store.SubscriptionGet(ctx, visible(ctx), run.SubscriptionID)
		if err != nil {
			s.fail(ctx, run, err)
			return failAll(err)
		}
		if !sub.SyncLevel.SyncsResources() {
			s.finish(ctx, run, steward.SyncCanceled, "The subscription is set to No Resources.")
			continue
		}
		runs[sub.ID], subs[sub.ID] = run, sub
		ids = append(ids, sub.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	claimed := make([]int64, 0, len(runs))
	for _, run := range runs {
		claimed = append(claimed, run.ID)
	}
	defer s.keepAlive(ctx, claimed)()
	id, err := s.identity(ctx, t, steward.CredentialRead)
	if err != nil {
		return failAll(err)
	}
	for _, sid := range ids {
		groups, err := s.azure.ResourceGroups(ctx, id, sid)
		if err != nil {
			return failAll(err)
		}
		if _, err := s.store.ResourceGroupSync(ctx, sid, groups); err != nil {
			return failAll(err)
		}
	}
	// One listing covers every subscription, so one resume point serves all.
	resume := runs[ids[0]].Resume
	fromStart := resume == ""
	keep := map[string][]int64{}
	for page, err := range s.azure.ResourcesGraph(ctx, id, ids, resume) {
		if err != nil {
			return failAll(err)
		}
		bySub := map[string][]*steward.Resource{}
		for _, r := range page.Resources {
			sid := strings.ToLower(r.SubscriptionID)
			if subs[sid] != nil {
				bySub[sid] = append(bySub[sid], r)
			}
		}
		for sid, rs := range bySub {
			written, err := s.writePage(ctx, subs[sid], rs)
			if err != nil {
				return failAll(err)
			}
			for _, r := range rs {
				keep[sid] = append(keep[sid], r.PK)
			}
			runs[sid].Seen += len(rs)
			runs[sid].Written += written
			s.counts.seen.Add(int64(len(rs)))
			s.counts.written.Add(int64(written))
		}
		for _, sid := range ids {
			runs[sid].Pages++
			runs[sid].Resume = page.Next
			if err := s.store.SyncRunUpdate(ctx, runs[sid]); err != nil {
				return err
			}
		}
	}
	for _, sid := range ids {
		run := runs[sid]
		if fromStart {
			k := keep[sid]
			slices.Sort(k)
			n, err := s.store.ResourceDeleteExcept(ctx, sid, k)
			if err != nil {
				return failAll(err)
			}
			run.Deleted = n
			s.counts.deleted.Add(int64(n))
		}
		if err := s.finish(ctx, run, steward.SyncSucceeded, ""); err != nil {
			return err
		}
	}
	return nil
}

// fail records why a run stopped, keeping where it stopped so that running
// it again resumes there, and returns err so the job is retried.
func (s *Service) fail(ctx context.Context, run *steward.SyncRun, cause error) error {
	run.Status = steward.SyncFailed
	run.Error = steward.ErrorMessage(cause)
	if errors.Is(cause, context.Canceled) {
		run.Error = "Steward stopped during the sync; it continues where it stopped."
	}
	run.FinishedAt = s.now()
	// The run's record must be saved even when ctx was cancelled.
	if err := s.store.SyncRunUpdate(context.WithoutCancel(ctx), run); err != nil {
		s.log.ErrorContext(ctx, "sync run outcome not saved", slog.Int64("run_id", run.ID), slog.Any("error", err))
	} else {
		s.counts.run(steward.SyncFailed)
	}
	s.log.WarnContext(ctx, "sync failed", slog.Int64("run_id", run.ID), slog.String("subscription_id", run.SubscriptionID), slog.Any("error", cause))
	return cause
}

func (s *Service) finish(ctx context.Context, run *steward.SyncRun, status steward.SyncRunStatus, note string) error {
	run.Status, run.Error, run.Resume, run.FinishedAt = status, note, "", s.now()
	if err := s.store.SyncRunUpdate(ctx, run); err != nil {
		return err
	}
	s.counts.run(status)
	if status == steward.SyncSucceeded {
		s.log.InfoContext(ctx, "sync finished", slog.Int64("run_id", run.ID), slog.String("subscription_id", run.SubscriptionID),
			slog.Int("seen", run.Seen), slog.Int("written", run.Written), slog.Int("deleted", run.Deleted), slog.Duration("took", run.FinishedAt.Sub(run.StartedAt)))
		s.firstCosts(ctx, run.SubscriptionID)
		if bulkWrite(run) {
			s.stats.owe()
		}
	}
	return nil
}

// firstCosts queues a subscription's first cost fetch once its resources
// are known, so spend shows the day a subscription is connected rather
// than at the next daily fetch.
func (s *Service) firstCosts(ctx context.Context, subscriptionID string) {
	if s.jobs == nil {
		return
	}
	if _, last, err := s.store.CostDays(ctx, subscriptionID); err != nil || !last.IsZero() {
		return
	}
	if err := s.jobs.EnqueueCosts(ctx, subscriptionID); err != nil && steward.ErrorCode(err) != steward.ECONFLICT {
		s.log.WarnContext(ctx, "first cost fetch not queued; the daily fetch will do it", slog.String("subscription_id", subscriptionID), slog.Any("error", err))
	}
}

// actorName names who asked, for run records: every caller has an actor
// by now (readScope and steward.RequireSystem refuse the others).
func actorName(ctx context.Context) string {
	return steward.ActorFromContext(ctx).Name
}

// bulkWrite reports whether a run changed enough rows that the database's
// statistics may mislead the planner until it refreshes them: 10,000 rows,
// or 1,000 that are a tenth of the subscription (a first sync).
func bulkWrite(run *steward.SyncRun) bool {
	changed := run.Written + run.Deleted
	return changed >= 10_000 || changed >= 1_000 && changed*10 >= run.Seen
}
