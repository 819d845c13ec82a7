package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// The tag-edit outbox. An edit's items are written to Azure one by one by
// the write-back job; each item's status moves
//
//	pending ⇄ held             (write access off, or a level that does not write)
//	pending → applied | failed | conflict | canceled
//	conflict → pending | canceled   (a person decides)
//
// An edit counts its items by status (pending ones are the rest), so its
// own status follows without a scan: pending while any item is, else
// conflict while any item is, else held while any item is, else done.

const editColumns = `id, created_at, created_by, status, request, item_count, applied_count, failed_count, conflict_count, finished_at`

func scanEdit(row interface{ Scan(...any) error }) (*steward.TagEdit, error) {
	var e steward.TagEdit
	var status string
	var created, finished sql.NullInt64
	if err := row.Scan(&e.ID, &created, &e.CreatedBy, &status, &e.Request, &e.ItemCount, &e.AppliedCount, &e.FailedCount,
		&e.ConflictCount, &finished); err != nil {
		return nil, err
	}
	e.Status, e.CreatedAt, e.FinishedAt = steward.TagEditStatus(status), fromMicros(created), fromMicros(finished)
	return &e, nil
}

const itemColumns = `id, edit_id, resource_pk, arm_id, subscription_id, tenant_id, merge_tags, delete_keys, expected, status,
	attempts, next_attempt_at, last_error, conflicts, applied_at, claim`

func scanItem(row interface{ Scan(...any) error }) (*steward.TagEditItem, error) {
	var it steward.TagEditItem
	var pk, next, applied sql.NullInt64
	var merge, del, expected, status, conflicts string
	if err := row.Scan(&it.ID, &it.EditID, &pk, &it.ResourceID, &it.SubscriptionID, &it.TenantID, &merge, &del, &expected, &status,
		&it.Attempts, &next, &it.LastError, &conflicts, &applied, &it.Claim); err != nil {
		return nil, err
	}
	it.ResourcePK, it.Status = pk.Int64, steward.TagEditStatus(status)
	it.NextAttemptAt, it.AppliedAt = fromMicros(next), fromMicros(applied)
	for _, c := range []struct {
		s string
		v any
	}{{merge, &it.Merge}, {del, &it.Delete}, {expected, &it.Expected}, {conflicts, &it.Conflicts}} {
		if err := fromJSON(c.s, c.v); err != nil {
			return nil, err
		}
	}
	return &it, nil
}

func scanItems(rows *sql.Rows) ([]*steward.TagEditItem, error) {
	defer rows.Close()
	var out []*steward.TagEditItem
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("reading tag edit item: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading tag edit items: %w", err)
	}
	return out, nil
}

// TagEditCreate stores an edit and its items with the event, and queues
// the write-back of each subscription with pending items: the outbox.
// Each item's status is decided here, per subscription: pending when the
// subscription is at read-write-tags and its tenant is active with write
// access on, held otherwise. The items' tenant is their subscription's.
// EINVALID (no items, an unknown subscription or resource).
func (db *DB) TagEditCreate(ctx context.Context, e *steward.TagEdit, items []*steward.TagEditItem, ev *steward.AuditEvent) error {
	if len(items) == 0 {
		return steward.Errorf(steward.EINVALID, "The edit changes no resource.")
	}
	if strings.TrimSpace(e.CreatedBy) == "" {
		return steward.Errorf(steward.EINVALID, "The edit needs the name of who made it.")
	}
	subs := map[string]bool{}
	for _, it := range items {
		it.SubscriptionID = strings.ToLower(it.SubscriptionID)
		if strings.TrimSpace(it.ResourceID) == "" || it.SubscriptionID == "" {
			return steward.Errorf(steward.EINVALID, "Each item of an edit needs a resource and its subscription.")
		}
		if len(it.Merge) == 0 && len(it.Delete) == 0 {
			return steward.Errorf(steward.EINVALID, "The item for %s changes nothing.", it.ResourceID)
		}
		subs[it.SubscriptionID] = true
	}
	return db.inTx(ctx, func(tx *Tx) error {
		type subState struct {
			tenant   string
			writable bool
		}
		states := map[string]subState{}
		var a args
		rows, err := tx.QueryContext(ctx, `
			SELECT s.id, s.tenant_id, s.sync_level, t.write_enabled, t.status
			FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id
			WHERE s.id IN (`+addList(tx.db, &a, slices.Sorted(maps.Keys(subs)))+`)`, a...)
		if err != nil {
			return fmt.Errorf("reading subscriptions: %w", err)
		}
		for rows.Next() {
			var id, tenant, level, status string
			var write bool
			if err := rows.Scan(&id, &tenant, &level, &write, &status); err != nil {
				rows.Close()
				return fmt.Errorf("reading subscriptions: %w", err)
			}
			states[id] = subState{tenant, write && steward.SyncLevel(level).WritesTags() && steward.TenantStatus(status) == steward.TenantActive}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading subscriptions: %w", err)
		}
		held := 0
		for _, it := range items {
			st, ok := states[it.SubscriptionID]
			if !ok {
				return steward.Errorf(steward.EINVALID, "Subscription %s is not known to Steward.", it.SubscriptionID)
			}
			it.TenantID, it.Status, it.Attempts, it.NextAttemptAt = st.tenant, steward.EditPending, 0, tx.now
			it.LastError, it.Conflicts, it.AppliedAt = "", nil, time.Time{}
			if !st.writable {
				it.Status = steward.EditHeld
				held++
			}
		}
		e.CreatedAt, e.ItemCount, e.AppliedCount, e.FailedCount, e.ConflictCount, e.FinishedAt = tx.now, len(items), 0, 0, 0, time.Time{}
		e.Status = steward.EditPending
		if held == len(items) {
			e.Status = steward.EditHeld
		}
		err = tx.QueryRowContext(ctx, `
			INSERT INTO tag_edits (created_at, created_by, status, request, item_count, held_count)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			tx.now.UnixMicro(), e.CreatedBy, string(e.Status), e.Request, len(items), held).Scan(&e.ID)
		if err != nil {
			return fmt.Errorf("inserting tag edit: %w", err)
		}
		if err := tx.insertItems(ctx, e.ID, items); err != nil {
			return err
		}
		tenants := map[string]bool{}
		for _, st := range states {
			tenants[st.tenant] = true
		}
		e.Tenants = slices.Sorted(maps.Keys(tenants))
		for _, t := range e.Tenants {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tag_edit_tenants (edit_id, tenant_id) VALUES ($1, $2)`, e.ID, t); err != nil {
				return fmt.Errorf("recording the tenants of a tag edit: %w", err)
			}
		}
		if db.queue != nil && held < len(items) {
			var due []string
			for _, sid := range slices.Sorted(maps.Keys(states)) {
				if states[sid].writable {
					due = append(due, sid)
				}
			}
			if err := db.queue.EnqueueWriteBackTx(ctx, tx.Tx, due); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, ev)
	})
}

// insertItems inserts an edit's items with multi-row statements and sets
// their IDs.
func (tx *Tx) insertItems(ctx context.Context, editID int64, items []*steward.TagEditItem) error {
	const ncols = 12
	for chunk := range slices.Chunk(items, maxParams/ncols) {
		flat := make([]any, 0, len(chunk)*ncols)
		waiting := map[string][]*steward.TagEditItem{}
		for _, it := range chunk {
			it.EditID = editID
			var pk any
			if it.ResourcePK > 0 {
				pk = it.ResourcePK
			}
			flat = append(flat, editID, pk, it.ResourceID, it.SubscriptionID, it.TenantID, jsonText(it.Merge), jsonText(it.Delete),
				jsonText(it.Expected), string(it.Status), it.Attempts, it.NextAttemptAt.UnixMicro(), jsonText(it.Conflicts))
			waiting[it.ResourceID] = append(waiting[it.ResourceID], it)
		}
		var a args
		rows, err := tx.QueryContext(ctx, `
			INSERT INTO tag_edit_items (edit_id, resource_pk, arm_id, subscription_id, tenant_id, merge_tags, delete_keys,
				expected, status, attempts, next_attempt_at, conflicts)
			VALUES `+tx.db.values(&a, flat, ncols, nil)+` RETURNING id, arm_id`, a...)
		if isForeignKeyViolation(err) {
			return steward.Errorf(steward.EINVALID, "A resource of the edit is no longer known to Steward; preview the edit again.")
		} else if err != nil {
			return fmt.Errorf("inserting tag edit items: %w", err)
		}
		for rows.Next() {
			var id int64
			var arm string
			if err := rows.Scan(&id, &arm); err != nil {
				rows.Close()
				return fmt.Errorf("inserting tag edit items: %w", err)
			}
			if w := waiting[arm]; len(w) > 0 {
				w[0].ID = id
				waiting[arm] = w[1:]
			}
		}
		rows.Close()
		if err := rows.Err(); isForeignKeyViolation(err) {
			return steward.Errorf(steward.EINVALID, "A resource of the edit is no longer known to Steward; preview the edit again.")
		} else if err != nil {
			return fmt.Errorf("inserting tag edit items: %w", err)
		}
	}
	return nil
}

// TagEditGet returns an edit that touches a tenant within the scope, shown
// as the scope may see it (see scopeEdits).
func (db *DB) TagEditGet(ctx context.Context, scope steward.Scope, id int64) (*steward.TagEdit, error) {
	e, err := scanEdit(db.r.QueryRowContext(ctx, `SELECT `+editColumns+` FROM tag_edits WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Tag edit not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading tag edit: %w", err)
	}
	out, err := db.scopeEdits(ctx, scope, []*steward.TagEdit{e})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, steward.Errorf(steward.ENOTFOUND, "Tag edit not found.")
	}
	return out[0], nil
}

// TagEditList returns the edits that touch a tenant within the scope,
// newest first; limit defaults to 100 and is at most 1,000.
func (db *DB) TagEditList(ctx context.Context, scope steward.Scope, limit int) ([]*steward.TagEdit, error) {
	var a args
	q := `SELECT ` + editColumns + ` FROM tag_edits`
	cond, none := a.scopeCond(scope, "tenant_id")
	if none {
		return nil, nil
	}
	if cond != "" {
		q += ` WHERE id IN (SELECT edit_id FROM tag_edit_tenants WHERE ` + cond + `)`
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY id DESC LIMIT `+a.add(listLimit(limit, 100, 1000)), a...)
	if err != nil {
		return nil, fmt.Errorf("listing tag edits: %w", err)
	}
	var edits []*steward.TagEdit
	err = eachRow(rows, nil, func(rows *sql.Rows) error {
		e, err := scanEdit(rows)
		edits = append(edits, e)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing tag edits: %w", err)
	}
	return db.scopeEdits(ctx, scope, edits)
}

// scopeEdits fills in the tenants each edit touches and returns the edits
// that touch one within the scope. An edit that also touches a tenant
// outside it is Partial: its request, which names resources and tags
// there, is withheld, and its counts and status are those of the items
// within the scope.
func (db *DB) scopeEdits(ctx context.Context, scope steward.Scope, edits []*steward.TagEdit) ([]*steward.TagEdit, error) {
	if len(edits) == 0 || scope.Empty() {
		return nil, nil
	}
	byID := map[int64]*steward.TagEdit{}
	ids := make([]int64, len(edits))
	for i, e := range edits {
		byID[e.ID], ids[i] = e, e.ID
	}
	var a args
	rows, err := db.r.QueryContext(ctx, `SELECT edit_id, tenant_id FROM tag_edit_tenants WHERE edit_id IN (`+addList(db, &a, ids)+`) ORDER BY edit_id, tenant_id`, a...)
	err = eachRow(rows, err, func(rows *sql.Rows) error {
		var id int64
		var tenant string
		if err := rows.Scan(&id, &tenant); err != nil {
			return err
		}
		byID[id].Tenants = append(byID[id].Tenants, tenant)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the tenants of tag edits: %w", err)
	}
	out := edits[:0]
	for _, e := range edits {
		switch {
		case scope.AllowsAll(e.Tenants) && len(e.Tenants) > 0:
			out = append(out, e)
		case scope.AllowsAny(e.Tenants):
			if err := db.partialEdit(ctx, scope, e); err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// partialEdit shows an edit as someone who may read only some of its
// tenants sees it.
func (db *DB) partialEdit(ctx context.Context, scope steward.Scope, e *steward.TagEdit) error {
	var a args
	cond, _ := a.scopeCond(scope, "tenant_id")
	rows, err := db.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM tag_edit_items WHERE edit_id = `+a.add(e.ID)+` AND `+cond+` GROUP BY status`, a...)
	counts := map[steward.TagEditStatus]int{}
	err = eachRow(rows, err, func(rows *sql.Rows) error {
		var status string
		var n int
		err := rows.Scan(&status, &n)
		counts[steward.TagEditStatus(status)] = n
		return err
	})
	if err != nil {
		return fmt.Errorf("counting tag edit items: %w", err)
	}
	// Only the tenants within the scope are named.
	e.Partial, e.Request = true, ""
	e.Tenants = slices.DeleteFunc(e.Tenants, func(t string) bool { return !scope.Allows(t) })
	e.ItemCount, e.AppliedCount, e.FailedCount, e.ConflictCount = 0, counts[steward.EditApplied], counts[steward.EditFailed], counts[steward.EditConflict]
	for _, n := range counts {
		e.ItemCount += n
	}
	switch {
	case counts[steward.EditPending] > 0:
		e.Status = steward.EditPending
	case counts[steward.EditConflict] > 0:
		e.Status = steward.EditConflict
	case counts[steward.EditHeld] > 0:
		e.Status = steward.EditHeld
	default:
		e.Status = steward.EditDone
	}
	if e.Status != steward.EditDone {
		e.FinishedAt = time.Time{}
	}
	return nil
}

// TagEditItems returns the items within the scope of an edit, or with
// editID 0 the items in status across edits, by ID after an item ID; limit
// defaults to 100 and is at most 5,000.
func (db *DB) TagEditItems(ctx context.Context, scope steward.Scope, editID int64, status steward.TagEditStatus, after int64, limit int) ([]*steward.TagEditItem, error) {
	var a args
	var where []string
	cond, none := a.scopeCond(scope, "tenant_id")
	if none {
		return nil, nil
	}
	if cond != "" {
		where = append(where, cond)
	}
	if editID != 0 {
		where = append(where, `edit_id = `+a.add(editID))
	}
	if status != "" {
		where = append(where, `status = `+a.add(string(status)))
	}
	where = append(where, `id > `+a.add(after))
	rows, err := db.r.QueryContext(ctx, `SELECT `+itemColumns+` FROM tag_edit_items WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id LIMIT `+a.add(listLimit(limit, 100, 5000)), a...)
	if err != nil {
		return nil, fmt.Errorf("listing tag edit items: %w", err)
	}
	return scanItems(rows)
}

// TagEditPending counts an edit's pending items per subscription: see
// steward.InventoryStore.
func (db *DB) TagEditPending(ctx context.Context, scope steward.Scope, editID int64, limit int) ([]*steward.PendingWrites, error) {
	var a args
	where := []string{`edit_id = ` + a.add(editID), `status = 'pending'`}
	cond, none := a.scopeCond(scope, "tenant_id")
	if none {
		return nil, nil
	}
	if cond != "" {
		where = append(where, cond)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT subscription_id, COUNT(*), MIN(next_attempt_at) FROM tag_edit_items`+db.indexedBy("tag_edit_items_edit")+
		` WHERE `+strings.Join(where, " AND ")+` GROUP BY subscription_id ORDER BY subscription_id LIMIT `+a.add(listLimit(limit, 50, 1000)), a...)
	if err != nil {
		return nil, fmt.Errorf("counting pending tag writes: %w", err)
	}
	defer rows.Close()
	var out []*steward.PendingWrites
	for rows.Next() {
		var p steward.PendingWrites
		var next sql.NullInt64
		if err := rows.Scan(&p.SubscriptionID, &p.Items, &next); err != nil {
			return nil, fmt.Errorf("counting pending tag writes: %w", err)
		}
		p.NextAttemptAt = fromMicros(next)
		out = append(out, &p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting pending tag writes: %w", err)
	}
	return out, nil
}

// TagEditItemGet returns one item within the scope.
func (db *DB) TagEditItemGet(ctx context.Context, scope steward.Scope, id int64) (*steward.TagEditItem, error) {
	it, err := scanItem(db.r.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM tag_edit_items WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Tag edit item not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading tag edit item: %w", err)
	}
	if err := notFoundOutside(scope, it.TenantID, "Tag edit item"); err != nil {
		return nil, err
	}
	return it, nil
}

// TagEditItemsClaim claims due pending items of a subscription with one
// UPDATE … RETURNING: the lease is the next attempt moved to now+lease, and
// the attempt is counted, and the claim number moves on: the item's
// fencing token, renewed and finished under (TagEditItemsRenew,
// TagEditItemFinish). On PostgreSQL the candidates are locked with
// SKIP LOCKED, so concurrent claimers take different items; SQLite's single
// writer serialises them.
func (db *DB) TagEditItemsClaim(ctx context.Context, subscriptionID string, now time.Time, lease time.Duration, limit int) ([]*steward.TagEditItem, error) {
	limit = listLimit(limit, 50, 1000)
	// The candidates are a materialized CTE: as a plain IN subquery,
	// PostgreSQL may run it again for each row, and find more items once
	// the first ones no longer look due.
	rows, err := db.w.QueryContext(ctx, `
		WITH due AS MATERIALIZED (
			SELECT id FROM tag_edit_items
			WHERE status = 'pending' AND subscription_id = $2 AND next_attempt_at <= $3
			ORDER BY next_attempt_at, id LIMIT $4`+db.skipLocked()+`)
		UPDATE tag_edit_items SET next_attempt_at = $1, attempts = attempts + 1, claim = claim + 1
		WHERE id IN (SELECT id FROM due) AND status = 'pending' AND next_attempt_at <= $3
		RETURNING `+itemColumns,
		now.Add(lease).UnixMicro(), strings.ToLower(subscriptionID), now.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("claiming tag edit items: %w", err)
	}
	items, err := scanItems(rows)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(items, func(a, b *steward.TagEditItem) int { return cmp.Compare(a.ID, b.ID) })
	return items, nil
}

// claimed is the condition on items still pending under the claims of
// items: their ID and claim number, matched as a pair.
func (db *DB) claimed(a *args, items []*steward.TagEditItem) string {
	flat := make([]any, 0, 2*len(items))
	for _, it := range items {
		flat = append(flat, it.ID, it.Claim)
	}
	return `status = 'pending' AND (id, claim) IN (VALUES ` + db.values(a, flat, 2, []string{"BIGINT", "BIGINT"}) + `)`
}

// TagEditItemsRenew moves the lease of items still held under their
// claims on to until, in one statement, and returns the IDs it renewed.
// It never shortens a lease (a worker renewing one item right before its
// write must not cut the others').
func (db *DB) TagEditItemsRenew(ctx context.Context, items []*steward.TagEditItem, until time.Time) ([]int64, error) {
	var held []int64
	for chunk := range slices.Chunk(items, maxParams/2-1) {
		var a args
		u := a.add(until.UnixMicro())
		rows, err := db.w.QueryContext(ctx, `UPDATE tag_edit_items SET next_attempt_at = CASE WHEN next_attempt_at > `+u+` THEN next_attempt_at ELSE `+u+` END
			WHERE `+db.claimed(&a, chunk)+` RETURNING id`, a...)
		err = eachRow(rows, err, func(rows *sql.Rows) error {
			var id int64
			err := rows.Scan(&id)
			held = append(held, id)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("renewing tag edit claims: %w", err)
		}
	}
	slices.Sort(held)
	return held, nil
}

// TagEditItemsRelease makes items still held under their claims due at
// now, and takes back the attempt their claim counted.
func (db *DB) TagEditItemsRelease(ctx context.Context, items []*steward.TagEditItem, now time.Time) (int, error) {
	n := 0
	for chunk := range slices.Chunk(items, maxParams/2-1) {
		var a args
		at := a.add(now.UnixMicro())
		res, err := db.w.ExecContext(ctx, `UPDATE tag_edit_items SET next_attempt_at = `+at+`, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
			WHERE `+db.claimed(&a, chunk), a...)
		if err != nil {
			return n, fmt.Errorf("releasing tag edit claims: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return n, fmt.Errorf("releasing tag edit claims: %w", err)
		}
		n += int(k)
	}
	return n, nil
}

// TagEditSubscriptionsDue lists subscriptions with pending items.
func (db *DB) TagEditSubscriptionsDue(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT subscription_id FROM tag_edit_items WHERE status = 'pending' ORDER BY subscription_id`)
	if err != nil {
		return nil, fmt.Errorf("listing subscriptions with pending tag edits: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("listing subscriptions with pending tag edits: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// editCountColumn is the tag_edits column counting items in a status;
// pending items are not counted (they are the rest).
func editCountColumn(s steward.TagEditStatus) string {
	switch s {
	case steward.EditApplied:
		return "applied_count"
	case steward.EditFailed:
		return "failed_count"
	case steward.EditConflict:
		return "conflict_count"
	case steward.EditCanceled:
		return "canceled_count"
	case steward.EditHeld:
		return "held_count"
	}
	return ""
}

// refreshEdits recomputes the status (and finish time) of edits from their
// counts.
func (tx *Tx) refreshEdits(ctx context.Context, ids []int64) error {
	for chunk := range slices.Chunk(ids, 1000) {
		var a args
		now := a.add(tx.now.UnixMicro())
		_, err := tx.ExecContext(ctx, `
			UPDATE tag_edits SET
				status = CASE
					WHEN item_count > applied_count + failed_count + conflict_count + canceled_count + held_count THEN 'pending'
					WHEN conflict_count > 0 THEN 'conflict'
					WHEN held_count > 0 THEN 'held'
					ELSE 'done' END,
				finished_at = CASE
					WHEN item_count > applied_count + failed_count + canceled_count THEN NULL
					ELSE COALESCE(finished_at, `+now+`) END
			WHERE id IN (`+addList(tx.db, &a, chunk)+`)`, a...)
		if err != nil {
			return fmt.Errorf("updating tag edit status: %w", err)
		}
	}
	return nil
}

// TagEditItemFinish saves an item's outcome with its event in one
// transaction: status, expected values, attempts, next attempt, error,
// conflicts and applied time. The edit's counts move from the old status to
// the new one, so finishing an item twice with one status counts it once.
// When applied with tags, the resource's stored tags become tags (JSON,
// tag rows, counts and content hash, so the next sync sees no change) and
// the change goes into tag history with source "steward", the edit's
// author and the edit ID; nothing is stored for a resource Steward no
// longer has, or whose level no longer reads tags.
//
// Applied and canceled are final and failed gives way only to applied: a
// late finish from a worker whose lease had passed cannot undo them (its
// event is still recorded). A worker's finish is fenced by its claim: once
// the item has been claimed again, nothing is saved, not even the event
// (the worker holding the claim records the outcome), and the answer is
// steward.ErrClaimPassed. ENOTFOUND, EINVALID (an unknown status).
func (db *DB) TagEditItemFinish(ctx context.Context, item *steward.TagEditItem, tags map[string]string, ev *steward.AuditEvent) error {
	switch item.Status {
	case steward.EditPending, steward.EditApplied, steward.EditFailed, steward.EditConflict, steward.EditCanceled:
	default:
		return steward.Errorf(steward.EINVALID, "A tag edit item cannot be finished as %q.", item.Status)
	}
	return db.inTx(ctx, func(tx *Tx) error {
		var old string
		var editID int64
		var pk sql.NullInt64
		var sub string
		var claim int64
		err := tx.QueryRowContext(ctx, `SELECT status, edit_id, resource_pk, subscription_id, claim FROM tag_edit_items WHERE id = $1`+tx.db.forUpdate(),
			item.ID).Scan(&old, &editID, &pk, &sub, &claim)
		if isNoRows(err) {
			return steward.Errorf(steward.ENOTFOUND, "Tag edit item not found.")
		} else if err != nil {
			return fmt.Errorf("reading tag edit item: %w", err)
		}
		if claim != item.Claim {
			return steward.ErrClaimPassed
		}
		from, to := steward.TagEditStatus(old), item.Status
		final := (from == steward.EditApplied || from == steward.EditCanceled) && to != from ||
			from == steward.EditFailed && to != steward.EditFailed && to != steward.EditApplied
		if final {
			return tx.appendAudit(ctx, ev)
		}
		if to == steward.EditApplied && item.AppliedAt.IsZero() {
			item.AppliedAt = tx.now
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE tag_edit_items SET status = $1, expected = $2, attempts = $3, next_attempt_at = $4, last_error = $5,
				conflicts = $6, applied_at = $7
			WHERE id = $8`,
			string(to), jsonText(item.Expected), item.Attempts, item.NextAttemptAt.UnixMicro(), item.LastError,
			jsonText(item.Conflicts), micros(item.AppliedAt), item.ID)
		if err != nil {
			return fmt.Errorf("updating tag edit item: %w", err)
		}
		if from != to {
			var set []string
			if c := editCountColumn(from); c != "" {
				set = append(set, c+" = "+c+" - 1")
			}
			if c := editCountColumn(to); c != "" {
				set = append(set, c+" = "+c+" + 1")
			}
			if len(set) > 0 {
				if _, err := tx.ExecContext(ctx, `UPDATE tag_edits SET `+strings.Join(set, ", ")+` WHERE id = $1`, editID); err != nil {
					return fmt.Errorf("counting tag edit items: %w", err)
				}
			}
			if err := tx.refreshEdits(ctx, []int64{editID}); err != nil {
				return err
			}
		}
		if to == steward.EditApplied && tags != nil && pk.Valid {
			var author string
			if err := tx.QueryRowContext(ctx, `SELECT created_by FROM tag_edits WHERE id = $1`, editID).Scan(&author); err != nil {
				return fmt.Errorf("reading tag edit: %w", err)
			}
			if err := tx.setResourceTags(ctx, pk.Int64, tags, tagSource{source: "steward", actor: author, editID: editID}); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, ev)
	})
}

// setResourceTags makes tags the resource's stored tags, as written by an
// edit: JSON, tag rows, counts, content hash and history.
func (tx *Tx) setResourceTags(ctx context.Context, pk int64, tags map[string]string, src tagSource) error {
	var r steward.Resource
	var stored, level string
	err := tx.QueryRowContext(ctx, `
		SELECT r.arm_id, r.subscription_id, r.resource_group, r.name, r.type, r.location, r.tags, s.sync_level
		FROM resources r JOIN subscriptions s ON s.id = r.subscription_id
		WHERE r.pk = $1`+tx.db.forUpdate(), pk).Scan(&r.ID, &r.SubscriptionID, &r.ResourceGroup, &r.Name, &r.Type, &r.Location, &stored, &level)
	if isNoRows(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("reading resource: %w", err)
	}
	if !steward.SyncLevel(level).ReadsTags() {
		return nil
	}
	it := &pageItem{pk: pk, existing: true, tags: tags, history: true}
	if err := fromJSON(stored, &it.oldTags); err != nil {
		return err
	}
	if jsonText(it.oldTags) == jsonText(tags) {
		return nil
	}
	r.Tags = tags
	it.hash = r.ContentHash()
	_, err = tx.ExecContext(ctx, `UPDATE resources SET tags = $1, tag_count = $2, content_hash = $3, synced_at = $4 WHERE pk = $5`,
		jsonText(tags), len(tags), it.hash, tx.now.UnixMicro(), pk)
	if err != nil {
		return fmt.Errorf("updating resource tags: %w", err)
	}
	return tx.writeTagChanges(ctx, r.SubscriptionID, []*pageItem{it}, src)
}

// TagEditHold holds (hold true) a tenant's pending items, or one
// subscription's, or releases held ones; it returns how many changed. A
// release skips items that still may not be written — their subscription
// is not at read-write-tags, or their tenant has write access off or is
// revoked — so they stay held. EINVALID when neither tenant nor
// subscription is given.
func (db *DB) TagEditHold(ctx context.Context, tenantID, subscriptionID string, hold bool) (int, error) {
	if tenantID == "" && subscriptionID == "" {
		return 0, steward.Errorf(steward.EINVALID, "Say whose tag edits to hold: a tenant or a subscription.")
	}
	var n int
	err := db.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.holdItems(ctx, tenantID, subscriptionID, hold)
		return err
	})
	return n, err
}

// holdItems moves items between pending and held and updates their edits.
func (tx *Tx) holdItems(ctx context.Context, tenantID, subscriptionID string, hold bool) (int, error) {
	from, to := steward.EditPending, steward.EditHeld
	if !hold {
		from, to = to, from
	}
	var a args
	where := []string{`status = ` + a.add(string(from))}
	if tenantID != "" {
		where = append(where, `tenant_id = `+a.add(strings.ToLower(tenantID)))
	}
	if subscriptionID != "" {
		where = append(where, `subscription_id = `+a.add(strings.ToLower(subscriptionID)))
	}
	if !hold {
		where = append(where, `subscription_id IN (
			SELECT s.id FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id
			WHERE s.sync_level = 'read-write-tags' AND t.write_enabled AND t.status = 'active')`)
	}
	rows, err := tx.QueryContext(ctx, `UPDATE tag_edit_items SET status = `+a.add(string(to))+` WHERE `+strings.Join(where, " AND ")+` RETURNING edit_id`, a...)
	if err != nil {
		return 0, fmt.Errorf("holding tag edit items: %w", err)
	}
	perEdit := map[int64]int{}
	total := 0
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("holding tag edit items: %w", err)
		}
		perEdit[id]++
		total++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("holding tag edit items: %w", err)
	}
	if total == 0 {
		return 0, nil
	}
	ids := slices.Sorted(maps.Keys(perEdit))
	sign := "+"
	if !hold {
		sign = "-"
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE tag_edits SET held_count = held_count `+sign+` $1 WHERE id = $2`, perEdit[id], id); err != nil {
			return 0, fmt.Errorf("counting held items: %w", err)
		}
	}
	return total, tx.refreshEdits(ctx, ids)
}
