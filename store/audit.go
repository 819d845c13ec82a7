package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// AuditAppend appends an event in its own transaction.
func (db *DB) AuditAppend(ctx context.Context, ev *steward.AuditEvent) error {
	return db.inTx(ctx, func(tx *Tx) error { return tx.appendAudit(ctx, ev) })
}

// appendAudit links ev to the head of the chain and moves the head. The head
// row is locked (or, on SQLite, the writer is held), so concurrent appends
// from several replicas still form one chain, and times follow IDs.
func (tx *Tx) appendAudit(ctx context.Context, ev *steward.AuditEvent) error {
	if ev == nil {
		return nil
	}
	// Canonical text is stored byte for byte on both engines, so the
	// event hashes the same when it is read back.
	ev.Canonicalize()
	if err := ev.Validate(); err != nil {
		return err
	}
	var lastID int64
	var lastHash string
	err := tx.QueryRowContext(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`+tx.db.forUpdate()).Scan(&lastID, &lastHash)
	if err != nil {
		return fmt.Errorf("reading the audit head: %w", err)
	}
	// The time is read under the head's lock, not taken from tx.now: a
	// transaction that began earlier may reach the lock later, and its
	// event must not carry an earlier time than the one before it. It
	// never goes below the previous event's time either, so a replica
	// whose clock lags (or a clock stepped back) cannot run it backwards.
	var lastUs int64
	if lastID > 0 {
		// A statement of its own, so on PostgreSQL it sees the event
		// committed by whoever held the lock before us.
		if err := tx.QueryRowContext(ctx, `SELECT time_us FROM audit_events WHERE id = $1`, lastID).Scan(&lastUs); err != nil {
			return fmt.Errorf("reading the last audit event's time: %w", err)
		}
	}
	if ev.Time.IsZero() {
		ev.Time = tx.db.now()
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond) // stored in microseconds
	if ev.Time.UnixMicro() < lastUs {
		ev.Time = time.UnixMicro(lastUs).UTC()
	}
	ev.ID, ev.PrevHash = lastID+1, lastHash
	ev.StoredDetails = ev.DetailsJSON()
	ev.Hash = ev.ComputeHash()
	_, err = tx.ExecContext(ctx, `
		INSERT INTO audit_events (id, time_us, actor, action, target, tenant_id, outcome, source_ip, request_id, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		ev.ID, ev.Time.UnixMicro(), ev.Actor, ev.Action, ev.Target, ev.TenantID, ev.Outcome, ev.SourceIP, ev.RequestID, ev.StoredDetails, ev.PrevHash, ev.Hash)
	if err != nil {
		return fmt.Errorf("appending audit event: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1`, ev.ID, ev.Hash); err != nil {
		return fmt.Errorf("moving the audit head: %w", err)
	}
	return nil
}

const auditColumns = `id, time_us, actor, action, target, tenant_id, outcome, source_ip, request_id, details, prev_hash, hash`

func scanAudit(row interface{ Scan(...any) error }) (*steward.AuditEvent, error) {
	var ev steward.AuditEvent
	var t sql.NullInt64
	if err := row.Scan(&ev.ID, &t, &ev.Actor, &ev.Action, &ev.Target, &ev.TenantID, &ev.Outcome, &ev.SourceIP, &ev.RequestID, &ev.StoredDetails, &ev.PrevHash, &ev.Hash); err != nil {
		return nil, err
	}
	ev.Time = fromMicros(t)
	// The hash covers StoredDetails as read; Details are for reading.
	if ev.StoredDetails != "{}" {
		if err := json.Unmarshal([]byte(ev.StoredDetails), &ev.Details); err != nil {
			ev.Details = map[string]string{"unreadable": ev.StoredDetails}
		}
	}
	return &ev, nil
}

// args collects query arguments and hands out their $N placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// AuditList returns events matching f, newest first, and the next cursor.
func (db *DB) AuditList(ctx context.Context, scope steward.Scope, f steward.AuditFilter) ([]*steward.AuditEvent, string, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = 100
	case limit > 1000:
		return nil, "", steward.Errorf(steward.EINVALID, "limit must be at most 1000.")
	}
	f.Canonicalize() // compared with stored text, which is canonical
	var a args
	var where []string
	if f.Actor != "" {
		where = append(where, "actor = "+a.add(f.Actor))
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			// A prefix such as "user.": a range scan on the action index.
			where = append(where, "action >= "+a.add(f.Action)+" AND action < "+a.add(f.Action[:len(f.Action)-1]+"/"))
		} else {
			where = append(where, "action = "+a.add(f.Action))
		}
	}
	if f.TenantID != "" {
		where = append(where, "tenant_id = "+a.add(f.TenantID))
	}
	if cond, none := a.scopeCond(scope, "tenant_id"); none {
		return nil, "", nil
	} else if cond != "" {
		// A limited scope never reaches events of no tenant ('').
		where = append(where, cond)
	}
	if !f.From.IsZero() {
		where = append(where, "time_us >= "+a.add(f.From.UnixMicro()))
	}
	if !f.To.IsZero() {
		where = append(where, "time_us < "+a.add(f.To.UnixMicro()))
	}
	if f.Before > 0 {
		where = append(where, "id < "+a.add(f.Before))
	}
	q := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT " + a.add(limit+1)
	rows, err := db.r.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, "", fmt.Errorf("listing audit events: %w", err)
	}
	defer rows.Close()
	var out []*steward.AuditEvent
	for rows.Next() {
		ev, err := scanAudit(rows)
		if err != nil {
			return nil, "", fmt.Errorf("reading audit event: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("listing audit events: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = strconv.FormatInt(out[limit-1].ID, 10)
	}
	return out, next, nil
}

// AuditVerify walks the chain in ID order in constant memory, then checks
// that the head still names the last event, so that events removed from the
// end are found too.
func (db *DB) AuditVerify(ctx context.Context) (*steward.AuditVerification, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("reading the audit log: %w", err)
	}
	defer rows.Close()
	var chain steward.AuditChain
	v := &steward.AuditVerification{}
	for rows.Next() {
		ev, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("reading audit event: %w", err)
		}
		if problem := chain.Next(ev); problem != "" {
			v.Checked, _, _ = chain.Checked()
			v.BadID, v.Problem = ev.ID, problem
			return v, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the audit log: %w", err)
	}
	v.Checked, v.HeadID, v.HeadHash = chain.Checked()
	var headID int64
	var headHash string
	if err := db.r.QueryRowContext(ctx, `SELECT last_id, last_hash FROM audit_head WHERE id = 1`).Scan(&headID, &headHash); err != nil {
		return nil, fmt.Errorf("reading the audit head: %w", err)
	}
	if headID != v.HeadID || headHash != v.HeadHash {
		v.BadID = v.HeadID + 1
		v.Problem = fmt.Sprintf("the log ends at event %d but its head records event %d: events at the end were deleted or the head was changed", v.HeadID, headID)
	}
	return v, nil
}
