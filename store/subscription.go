package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

const subscriptionColumns = `id, tenant_id, home_tenant_id, display_name, state, sync_level, managed_by_tenants, tags,
	discovered_at, updated_at, missing_since, last_sync_run_id, last_synced_at, costs_from, costs_to`

func scanSubscription(row interface{ Scan(...any) error }) (*steward.Subscription, error) {
	var s steward.Subscription
	var level, managed, tags string
	var discovered, updated, missing, lastRun, lastSynced, costsFrom, costsTo sql.NullInt64
	if err := row.Scan(&s.ID, &s.TenantID, &s.HomeTenantID, &s.DisplayName, &s.State, &level, &managed, &tags,
		&discovered, &updated, &missing, &lastRun, &lastSynced, &costsFrom, &costsTo); err != nil {
		return nil, err
	}
	if costsFrom.Valid && costsTo.Valid {
		s.CostsFrom, s.CostsTo = fromDayNumber(costsFrom.Int64), fromDayNumber(costsTo.Int64)
	}
	s.SyncLevel = steward.SyncLevel(level)
	if err := fromJSON(managed, &s.ManagedByTenants); err != nil {
		return nil, err
	}
	if err := fromJSON(tags, &s.Tags); err != nil {
		return nil, err
	}
	s.DiscoveredAt, s.UpdatedAt, s.MissingSince = fromMicros(discovered), fromMicros(updated), fromMicros(missing)
	s.LastSyncRunID, s.LastSyncedAt = lastRun.Int64, fromMicros(lastSynced)
	return &s, nil
}

func listSubscriptions(ctx context.Context, q querier, where string, a args, page string) ([]*steward.Subscription, error) {
	query := `SELECT ` + subscriptionColumns + ` FROM subscriptions`
	if where != "" {
		query += ` WHERE ` + where
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY display_name, id`+page, a...)
	if err != nil {
		return nil, fmt.Errorf("listing subscriptions: %w", err)
	}
	defer rows.Close()
	var out []*steward.Subscription
	for rows.Next() {
		s, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("reading subscription: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing subscriptions: %w", err)
	}
	return out, nil
}

// SubscriptionSync records what a tenant connection sees. A subscription
// belongs to the first connection that saw it: another connection seeing
// it too (say, directly and through Lighthouse) does not take it over.
// Only subscriptions whose fields changed are written.
func (db *DB) SubscriptionSync(ctx context.Context, tenantID string, seen []*steward.Subscription) ([]*steward.Subscription, error) {
	tenantID = strings.ToLower(tenantID)
	for _, s := range seen {
		s.ID, s.TenantID, s.HomeTenantID = strings.ToLower(s.ID), tenantID, strings.ToLower(s.HomeTenantID)
		if !steward.IsGUID(s.ID) {
			return nil, steward.Errorf(steward.EINVALID, "Subscription ID %q is not a GUID.", s.ID)
		}
		for i, m := range s.ManagedByTenants {
			s.ManagedByTenants[i] = strings.ToLower(m)
		}
	}
	var out []*steward.Subscription
	err := db.inTx(ctx, func(tx *Tx) error {
		if err := tx.requireTenant(ctx, tenantID); err != nil {
			return err
		}
		mine, err := listSubscriptions(ctx, tx, `tenant_id = $1`, args{tenantID}, "")
		if err != nil {
			return err
		}
		known := make(map[string]*steward.Subscription, len(mine))
		for _, s := range mine {
			known[s.ID] = s
		}
		visible := map[string]bool{}
		for _, s := range seen {
			if visible[s.ID] {
				continue
			}
			visible[s.ID] = true
			old := known[s.ID]
			if old == nil {
				if err := tx.insertSubscription(ctx, s); err != nil {
					return err
				}
				continue
			}
			if old.HomeTenantID == s.HomeTenantID && old.DisplayName == s.DisplayName && old.State == s.State &&
				jsonText(old.ManagedByTenants) == jsonText(s.ManagedByTenants) && jsonText(old.Tags) == jsonText(s.Tags) && old.MissingSince.IsZero() {
				continue
			}
			_, err := tx.ExecContext(ctx, `
				UPDATE subscriptions SET home_tenant_id = $1, display_name = $2, state = $3, managed_by_tenants = $4, tags = $5,
					updated_at = $6, missing_since = NULL
				WHERE id = $7`,
				s.HomeTenantID, s.DisplayName, s.State, jsonText(s.ManagedByTenants), jsonText(s.Tags), tx.now.UnixMicro(), s.ID)
			if err != nil {
				return fmt.Errorf("updating subscription: %w", err)
			}
		}
		for _, s := range mine {
			if !visible[s.ID] && s.MissingSince.IsZero() {
				if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET missing_since = $1 WHERE id = $2`, tx.now.UnixMicro(), s.ID); err != nil {
					return fmt.Errorf("marking subscription missing: %w", err)
				}
			}
		}
		out, err = listSubscriptions(ctx, tx, `tenant_id = $1`, args{tenantID}, "")
		return err
	})
	return out, err
}

// insertSubscription adds a newly seen subscription at the default level.
// One already kept by another connection is left alone.
func (tx *Tx) insertSubscription(ctx context.Context, s *steward.Subscription) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO subscriptions (id, tenant_id, home_tenant_id, display_name, state, sync_level, managed_by_tenants, tags, discovered_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (id) DO NOTHING`,
		s.ID, s.TenantID, s.HomeTenantID, s.DisplayName, s.State, string(steward.SyncReadWriteTags),
		jsonText(s.ManagedByTenants), jsonText(s.Tags), tx.now.UnixMicro())
	if err != nil {
		return fmt.Errorf("inserting subscription: %w", err)
	}
	return nil
}

func (tx *Tx) requireTenant(ctx context.Context, tenantID string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM tenants WHERE id = $1`, tenantID).Scan(&one)
	if isNoRows(err) {
		return steward.Errorf(steward.ENOTFOUND, "Tenant not found.")
	} else if err != nil {
		return fmt.Errorf("reading tenant: %w", err)
	}
	return nil
}

// getSubscription reads one subscription through q; lock takes its row
// lock (PostgreSQL) for the rest of the transaction.
func getSubscription(ctx context.Context, q querier, id string, lock string) (*steward.Subscription, error) {
	s, err := scanSubscription(q.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = $1`+lock, strings.ToLower(id)))
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Subscription not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading subscription: %w", err)
	}
	return s, nil
}

// SubscriptionGet returns a subscription within the scope.
func (db *DB) SubscriptionGet(ctx context.Context, scope steward.Scope, id string) (*steward.Subscription, error) {
	s, err := getSubscription(ctx, db.r, id, "")
	if err != nil {
		return nil, err
	}
	if err := notFoundOutside(scope, s.TenantID, "Subscription"); err != nil {
		return nil, err
	}
	return s, nil
}

// SubscriptionList returns the subscriptions within the scope by display
// name.
func (db *DB) SubscriptionList(ctx context.Context, scope steward.Scope, f steward.SubscriptionFilter) ([]*steward.Subscription, error) {
	var a args
	var where []string
	cond, none := a.scopeCond(scope, "tenant_id")
	if none {
		return nil, nil
	}
	if cond != "" {
		where = append(where, cond)
	}
	if f.TenantID != "" {
		where = append(where, `tenant_id = `+a.add(strings.ToLower(f.TenantID)))
	}
	if f.Search != "" {
		p := a.add(containsPattern(f.Search))
		where = append(where, `(LOWER(display_name) LIKE `+p+` ESCAPE '\' OR id LIKE `+p+` ESCAPE '\')`)
	}
	if f.Health != "" {
		h, err := steward.ParseSyncHealth(string(f.Health))
		if err != nil {
			return nil, err
		}
		where = append(where, a.healthCond(h, "subscriptions", db.now()))
	}
	w := strings.Join(where, " AND ")
	if f.Limit > 0 {
		return listSubscriptions(ctx, db.r, w, a, fmt.Sprintf(" LIMIT %d OFFSET %d", f.Limit, max(f.Offset, 0)))
	}
	return listSubscriptions(ctx, db.r, w, a, "")
}

// SubscriptionSetLevel changes a level and makes the stored data fit it, in
// one transaction with the event:
//   - no-resources deletes the subscription's resources (with their tags,
//     tag history and tag counts), resource groups and costs; edit items
//     keep their ARM ID but lose the link to the resource;
//   - no-tags deletes its stored tags: resource and resource-group tags,
//     tag rows and counts, tag history, and the tags kept with its costs
//     (its cost then reports as untagged);
//   - any level that does not write tags holds its pending edit items.
//
// Purged rows get an empty content hash, so the next sync at the new level
// writes each resource once. Raising the level releases nothing: held
// items go out again only through TagEditHold.
func (db *DB) SubscriptionSetLevel(ctx context.Context, id string, level steward.SyncLevel, ev *steward.AuditEvent) (*steward.Subscription, error) {
	if !level.Valid() {
		return nil, steward.Errorf(steward.EINVALID, "Unknown sync level %q; levels are no-resources, no-tags, read-tags and read-write-tags.", level)
	}
	var out *steward.Subscription
	err := db.inTx(ctx, func(tx *Tx) error {
		s, err := getSubscription(ctx, tx, id, tx.db.forUpdate())
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET sync_level = $1, updated_at = $2 WHERE id = $3`,
			string(level), tx.now.UnixMicro(), s.ID); err != nil {
			return fmt.Errorf("setting sync level: %w", err)
		}
		s.SyncLevel, s.UpdatedAt = level, tx.now
		if !level.SyncsResources() {
			if err := tx.purgeResources(ctx, s.ID); err != nil {
				return err
			}
			if err := tx.purgeCosts(ctx, s.ID); err != nil {
				return err
			}
		} else if !level.ReadsTags() {
			if err := tx.purgeTags(ctx, s.ID); err != nil {
				return err
			}
			if err := tx.purgeCostTags(ctx, s.ID); err != nil {
				return err
			}
		}
		if !level.WritesTags() {
			if _, err := tx.holdItems(ctx, s.TenantID, s.ID, true); err != nil {
				return err
			}
		}
		out = s
		return tx.appendAudit(ctx, ev)
	})
	return out, err
}

// purgeResources deletes a subscription's resources with their tag rows,
// and its groups; tag history goes with the resources (ON DELETE CASCADE).
func (tx *Tx) purgeResources(ctx context.Context, subscriptionID string) error {
	if err := tx.deleteSubscriptionTags(ctx, subscriptionID); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM resources WHERE subscription_id = $1`,
		`UPDATE subscriptions SET resource_count = 0 WHERE id = $1`,
		`DELETE FROM resource_groups WHERE subscription_id = $1`,
		`DELETE FROM tag_key_counts WHERE subscription_id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, subscriptionID); err != nil {
			return fmt.Errorf("purging resources: %w", err)
		}
	}
	return nil
}

// purgeTags deletes what Steward knows of a subscription's tags.
func (tx *Tx) purgeTags(ctx context.Context, subscriptionID string) error {
	if err := tx.deleteSubscriptionTags(ctx, subscriptionID); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM tag_history WHERE resource_pk IN (SELECT pk FROM resources WHERE subscription_id = $1)`,
		`DELETE FROM tag_key_counts WHERE subscription_id = $1`,
		`UPDATE resources SET tags = '{}', tag_count = 0, content_hash = '' WHERE subscription_id = $1`,
		`UPDATE resource_groups SET tags = '{}', content_hash = '' WHERE subscription_id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, subscriptionID); err != nil {
			return fmt.Errorf("purging tags: %w", err)
		}
	}
	return nil
}

const syncRunColumns = `id, subscription_id, reason, method, status, created_by, created_at, started_at, finished_at,
	expected, seen, written, deleted, pages, error, resume, heartbeat_at, warning`

func scanSyncRun(row interface{ Scan(...any) error }) (*steward.SyncRun, error) {
	var r steward.SyncRun
	var method, status string
	var created, started, finished, heartbeat sql.NullInt64
	if err := row.Scan(&r.ID, &r.SubscriptionID, &r.Reason, &method, &status, &r.CreatedBy, &created, &started, &finished,
		&r.Expected, &r.Seen, &r.Written, &r.Deleted, &r.Pages, &r.Error, &r.Resume, &heartbeat, &r.Warning); err != nil {
		return nil, err
	}
	r.Method, r.Status = steward.SyncMethod(method), steward.SyncRunStatus(status)
	r.CreatedAt, r.StartedAt, r.FinishedAt = fromMicros(created), fromMicros(started), fromMicros(finished)
	r.HeartbeatAt = fromMicros(heartbeat)
	return &r, nil
}

func validateSyncRun(r *steward.SyncRun) error {
	switch r.Status {
	case steward.SyncQueued, steward.SyncRunning, steward.SyncSucceeded, steward.SyncFailed, steward.SyncCanceled:
	default:
		return steward.Errorf(steward.EINVALID, "Unknown sync run status %q.", r.Status)
	}
	switch r.Method {
	case "", steward.SyncAuto, steward.SyncARM, steward.SyncResourceGraph:
	default:
		return steward.Errorf(steward.EINVALID, "Unknown sync method %q.", r.Method)
	}
	return nil
}

// SyncRunCreate stores a queued run with its job.
func (db *DB) SyncRunCreate(ctx context.Context, run *steward.SyncRun) error {
	return db.SyncRunsCreate(ctx, []*steward.SyncRun{run})
}

// SyncRunsCreate stores queued runs and queues their jobs in the same
// transaction: see steward.InventoryStore.
func (db *DB) SyncRunsCreate(ctx context.Context, runs []*steward.SyncRun) error {
	for _, run := range runs {
		run.SubscriptionID = strings.ToLower(run.SubscriptionID)
		if run.Status == "" {
			run.Status = steward.SyncQueued
		}
		if err := validateSyncRun(run); err != nil {
			return err
		}
	}
	return db.inTx(ctx, func(tx *Tx) error {
		graph := map[string][]int64{} // tenant → its Resource Graph runs
		var tenants []string
		for _, run := range runs {
			var tenant string
			err := tx.QueryRowContext(ctx, `
				INSERT INTO sync_runs (subscription_id, reason, method, status, created_by, created_at, expected)
				VALUES ($1, $2, $3, $4, $5, $6, COALESCE((
					SELECT seen FROM sync_runs WHERE subscription_id = $1 AND status = 'succeeded' ORDER BY id DESC LIMIT 1), 0))
				RETURNING id, expected, (SELECT tenant_id FROM subscriptions WHERE id = $1)`,
				run.SubscriptionID, run.Reason, string(run.Method), string(run.Status), run.CreatedBy, tx.now.UnixMicro()).Scan(&run.ID, &run.Expected, &tenant)
			if isForeignKeyViolation(err) {
				return steward.Errorf(steward.ENOTFOUND, "Subscription not found.")
			} else if err != nil {
				return fmt.Errorf("inserting sync run: %w", err)
			}
			run.CreatedAt = tx.now
			switch {
			case db.queue == nil || run.Status != steward.SyncQueued:
			case run.Method == steward.SyncResourceGraph:
				if graph[tenant] == nil {
					tenants = append(tenants, tenant)
				}
				graph[tenant] = append(graph[tenant], run.ID)
			default:
				if err := db.queue.EnqueueSyncTx(ctx, tx.Tx, run.ID, run.SubscriptionID); err != nil {
					return err
				}
			}
		}
		for _, t := range tenants {
			if err := db.queue.EnqueueGraphSyncTx(ctx, tx.Tx, t, graph[t]); err != nil {
				return err
			}
		}
		return nil
	})
}

// SyncRunUpdate saves a run's progress or outcome. A succeeded run becomes
// its subscription's last sync. A canceled run stays canceled: a process
// that lost its run to another (see SyncRunClaim) learns it here.
func (db *DB) SyncRunUpdate(ctx context.Context, run *steward.SyncRun) error {
	if err := validateSyncRun(run); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE sync_runs SET method = $1, status = $2, started_at = $3, finished_at = $4, expected = $5, seen = $6,
				written = $7, deleted = $8, pages = $9, error = $10, resume = $11, warning = $12
			WHERE id = $13 AND status <> 'canceled'`,
			string(run.Method), string(run.Status), micros(run.StartedAt), micros(run.FinishedAt), run.Expected, run.Seen,
			run.Written, run.Deleted, run.Pages, run.Error, run.Resume, run.Warning, run.ID)
		if err != nil {
			return fmt.Errorf("updating sync run: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.syncRun(ctx, run.ID, ""); err != nil {
				return err
			}
			return steward.Errorf(steward.ECONFLICT, "Sync run %d was canceled; another run took its place.", run.ID)
		}
		if run.Status == steward.SyncSucceeded {
			at := run.FinishedAt
			if at.IsZero() {
				at = tx.now
			}
			_, err := tx.ExecContext(ctx, `
				UPDATE subscriptions SET last_sync_run_id = $1, last_synced_at = $2
				WHERE id = (SELECT subscription_id FROM sync_runs WHERE id = $1)`, run.ID, at.UnixMicro())
			if err != nil {
				return fmt.Errorf("recording the last sync: %w", err)
			}
		}
		return nil
	})
}

// SyncRunClaim starts a run for the calling process: see
// steward.InventoryStore. The run's row and then its subscription's are
// locked first, so two claims of one subscription's runs take turns.
func (db *DB) SyncRunClaim(ctx context.Context, id int64, staleBefore time.Time) (*steward.SyncRun, error) {
	var out *steward.SyncRun
	err := db.inTx(ctx, func(tx *Tx) error {
		run, err := tx.syncRun(ctx, id, db.forUpdate())
		if err != nil {
			return err
		}
		out = run
		switch {
		case run.Status == steward.SyncSucceeded || run.Status == steward.SyncCanceled:
			return nil
		case run.Status == steward.SyncRunning && !run.AliveAt().Before(staleBefore):
			return steward.Errorf(steward.ECONFLICT, "Sync run %d is running.", id)
		}
		var locked string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM subscriptions WHERE id = $1`+db.forUpdate(), run.SubscriptionID).Scan(&locked); err != nil {
			return fmt.Errorf("locking the subscription: %w", err)
		}
		cancel := func(id int64, why string) error {
			_, err := tx.ExecContext(ctx, `UPDATE sync_runs SET status = 'canceled', error = $1, resume = '', finished_at = $2 WHERE id = $3`,
				why, tx.now.UnixMicro(), id)
			if err != nil {
				return fmt.Errorf("canceling sync run: %w", err)
			}
			return nil
		}
		var newer int64
		err = tx.QueryRowContext(ctx, `SELECT id FROM sync_runs WHERE subscription_id = $1 AND id > $2 AND status <> 'canceled' ORDER BY id LIMIT 1`,
			run.SubscriptionID, id).Scan(&newer)
		switch {
		case err == nil:
			return cancel(id, fmt.Sprintf("Run %d of this subscription took its place.", newer))
		case !isNoRows(err):
			return fmt.Errorf("reading sync runs: %w", err)
		}
		var running [][2]int64 // ID, last sign of life
		rows, err := tx.QueryContext(ctx, `
			SELECT id, COALESCE(heartbeat_at, started_at, created_at) FROM sync_runs
			WHERE subscription_id = $1 AND id < $2 AND status = 'running'`, run.SubscriptionID, id)
		err = eachRow(rows, err, func(rows *sql.Rows) error {
			var r [2]int64
			err := rows.Scan(&r[0], &r[1])
			running = append(running, r)
			return err
		})
		if err != nil {
			return fmt.Errorf("reading sync runs: %w", err)
		}
		for _, r := range running {
			if r[1] >= staleBefore.UnixMicro() {
				return cancel(id, fmt.Sprintf("Run %d of this subscription was running.", r[0]))
			}
		}
		for _, r := range running {
			if err := cancel(r[0], fmt.Sprintf("Steward stopped during this sync; run %d took its place.", id)); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE sync_runs SET status = 'running', started_at = COALESCE(started_at, $1), heartbeat_at = $1, finished_at = NULL, error = ''
			WHERE id = $2`, tx.now.UnixMicro(), id)
		if err != nil {
			return fmt.Errorf("starting sync run: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out.Status == steward.SyncSucceeded || out.Status == steward.SyncCanceled {
		return out, nil
	}
	return db.syncRunGet(ctx, id)
}

// SyncRunHeartbeat renews the heartbeat of those of the runs still running.
func (db *DB) SyncRunHeartbeat(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *Tx) error {
		a := args{tx.now.UnixMicro()}
		_, err := tx.ExecContext(ctx, `UPDATE sync_runs SET heartbeat_at = $1 WHERE status = 'running' AND id IN (`+addList(db, &a, ids)+`)`, a...)
		if err != nil {
			return fmt.Errorf("renewing sync runs' heartbeat: %w", err)
		}
		return nil
	})
}

// syncRun reads a run within tx; lock is "" or db.forUpdate().
func (tx *Tx) syncRun(ctx context.Context, id int64, lock string) (*steward.SyncRun, error) {
	r, err := scanSyncRun(tx.QueryRowContext(ctx, `SELECT `+syncRunColumns+` FROM sync_runs WHERE id = $1`+lock, id))
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Sync run not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading sync run: %w", err)
	}
	return r, nil
}

// SyncRunGet returns a run of a subscription within the scope.
func (db *DB) SyncRunGet(ctx context.Context, scope steward.Scope, id int64) (*steward.SyncRun, error) {
	r, err := db.syncRunGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if ok, err := db.subscriptionInScope(ctx, scope, r.SubscriptionID); err != nil {
		return nil, err
	} else if !ok {
		return nil, steward.Errorf(steward.ENOTFOUND, "Sync run not found.")
	}
	return r, nil
}

func (db *DB) syncRunGet(ctx context.Context, id int64) (*steward.SyncRun, error) {
	r, err := scanSyncRun(db.r.QueryRowContext(ctx, `SELECT `+syncRunColumns+` FROM sync_runs WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Sync run not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading sync run: %w", err)
	}
	return r, nil
}

// subscriptionInScope reports whether a subscription exists and belongs to
// a tenant within the scope.
func (db *DB) subscriptionInScope(ctx context.Context, scope steward.Scope, id string) (bool, error) {
	if scope.Empty() {
		return false, nil
	}
	var tenant string
	err := db.r.QueryRowContext(ctx, `SELECT tenant_id FROM subscriptions WHERE id = $1`, strings.ToLower(id)).Scan(&tenant)
	if isNoRows(err) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("reading subscription: %w", err)
	}
	return scope.Allows(tenant), nil
}

// SyncRunList returns a subscription's runs, newest first, when it is
// within the scope; limit defaults to 20 and is at most 1,000.
func (db *DB) SyncRunList(ctx context.Context, scope steward.Scope, subscriptionID string, limit int) ([]*steward.SyncRun, error) {
	if ok, err := db.subscriptionInScope(ctx, scope, subscriptionID); err != nil || !ok {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+syncRunColumns+` FROM sync_runs WHERE subscription_id = $1 ORDER BY id DESC LIMIT $2`,
		strings.ToLower(subscriptionID), listLimit(limit, 20, 1000))
	if err != nil {
		return nil, fmt.Errorf("listing sync runs: %w", err)
	}
	defer rows.Close()
	var out []*steward.SyncRun
	for rows.Next() {
		r, err := scanSyncRun(rows)
		if err != nil {
			return nil, fmt.Errorf("reading sync run: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing sync runs: %w", err)
	}
	return out, nil
}

// groupHash summarises what ResourceGroupSync compares.
func groupHash(g *steward.ResourceGroup) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s;%d:%s;", len(g.Name), g.Name, len(g.Location), g.Location)
	for _, k := range slices.Sorted(maps.Keys(g.Tags)) {
		fmt.Fprintf(h, "%d:%s=%d:%s;", len(k), k, len(g.Tags[k]), g.Tags[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ResourceGroupSync makes the subscription's stored groups the listed ones:
// new groups are inserted, changed ones (name, location or tags) updated,
// missing ones deleted. It returns the rows written. ENOTFOUND
// (subscription).
func (db *DB) ResourceGroupSync(ctx context.Context, subscriptionID string, groups []*steward.ResourceGroup) (int, error) {
	subscriptionID = strings.ToLower(subscriptionID)
	written := 0
	err := db.inTx(ctx, func(tx *Tx) error {
		if _, err := getSubscription(ctx, tx, subscriptionID, ""); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT name_key, content_hash FROM resource_groups WHERE subscription_id = $1`, subscriptionID)
		if err != nil {
			return fmt.Errorf("reading resource groups: %w", err)
		}
		stored := map[string]string{}
		for rows.Next() {
			var key, hash string
			if err := rows.Scan(&key, &hash); err != nil {
				rows.Close()
				return fmt.Errorf("reading resource group: %w", err)
			}
			stored[key] = hash
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading resource groups: %w", err)
		}
		listed := map[string]bool{}
		for _, g := range groups {
			key := strings.ToLower(g.Name)
			if key == "" || listed[key] {
				continue
			}
			listed[key] = true
			hash := groupHash(g)
			old, ok := stored[key]
			if ok && old == hash {
				continue
			}
			_, err := tx.ExecContext(ctx, `
				INSERT INTO resource_groups (subscription_id, name, name_key, location, tags, content_hash, synced_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (subscription_id, name_key) DO UPDATE SET name = excluded.name, location = excluded.location,
					tags = excluded.tags, content_hash = excluded.content_hash, synced_at = excluded.synced_at`,
				subscriptionID, g.Name, key, g.Location, jsonText(g.Tags), hash, tx.now.UnixMicro())
			if err != nil {
				return fmt.Errorf("writing resource group: %w", err)
			}
			written++
		}
		for key := range stored {
			if listed[key] {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM resource_groups WHERE subscription_id = $1 AND name_key = $2`, subscriptionID, key); err != nil {
				return fmt.Errorf("deleting resource group: %w", err)
			}
			written++
		}
		return nil
	})
	return written, err
}
