package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

var _ steward.InvitationStore = (*DB)(nil)

// InvitationCreate stores an invitation.
func (db *DB) InvitationCreate(ctx context.Context, inv *steward.Invitation, ev *steward.AuditEvent) error {
	if inv.Hash == "" || inv.ExpiresAt.IsZero() || inv.CreatedBy == "" {
		return steward.Errorf(steward.EINVALID, "An invitation needs a token hash, an expiry and its maker.")
	}
	inv.TenantID = strings.ToLower(inv.TenantID)
	if inv.State == "" {
		inv.State = steward.InvitationPending
	}
	return db.inTx(ctx, func(tx *Tx) error {
		err := tx.QueryRowContext(ctx, `
			INSERT INTO consent_invitations (token_hash, customer_name, expected_tenant, tenant_id, state, created_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			inv.Hash, inv.CustomerName, inv.ExpectedTenant, inv.TenantID, string(inv.State), inv.CreatedBy, tx.now.UnixMicro(), inv.ExpiresAt.UnixMicro()).Scan(&inv.ID)
		switch {
		case isUniqueViolation(err):
			return steward.Errorf(steward.ECONFLICT, "An invitation with this token already exists.")
		case err != nil:
			return fmt.Errorf("inserting invitation: %w", err)
		}
		inv.CreatedAt = tx.now
		if ev == nil {
			return nil
		}
		return tx.appendAudit(ctx, ev.With("invitation_id", strconv.FormatInt(inv.ID, 10)))
	})
}

const invitationSelect = `
	SELECT id, token_hash, customer_name, expected_tenant, tenant_id, state, consented_by, created_by,
		created_at, expires_at, opened_at, consented_at, connected_at, revoked_at
	FROM consent_invitations`

func scanInvitation(row interface{ Scan(...any) error }) (*steward.Invitation, error) {
	var i steward.Invitation
	var state string
	var created, expires, opened, consented, connected, revoked sql.NullInt64
	if err := row.Scan(&i.ID, &i.Hash, &i.CustomerName, &i.ExpectedTenant, &i.TenantID, &state, &i.ConsentedBy, &i.CreatedBy,
		&created, &expires, &opened, &consented, &connected, &revoked); err != nil {
		return nil, err
	}
	i.State = steward.InvitationState(state)
	i.CreatedAt, i.ExpiresAt, i.OpenedAt = fromMicros(created), fromMicros(expires), fromMicros(opened)
	i.ConsentedAt, i.ConnectedAt, i.RevokedAt = fromMicros(consented), fromMicros(connected), fromMicros(revoked)
	return &i, nil
}

// InvitationGet returns an invitation within the scope.
func (db *DB) InvitationGet(ctx context.Context, scope steward.Scope, id int64) (*steward.Invitation, error) {
	i, err := scanInvitation(db.r.QueryRowContext(ctx, invitationSelect+` WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Invitation not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading invitation: %w", err)
	}
	if err := notFoundOutside(scope, i.TenantID, "Invitation"); err != nil {
		return nil, err
	}
	return i, nil
}

// InvitationGetByHash returns an invitation by its token's hash.
func (db *DB) InvitationGetByHash(ctx context.Context, hash string) (*steward.Invitation, error) {
	i, err := scanInvitation(db.r.QueryRowContext(ctx, invitationSelect+` WHERE token_hash = $1`, hash))
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Invitation not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading invitation: %w", err)
	}
	return i, nil
}

// InvitationList returns the invitations within the scope, newest first.
func (db *DB) InvitationList(ctx context.Context, scope steward.Scope) ([]*steward.Invitation, error) {
	var a args
	cond, none := a.scopeCond(scope, "tenant_id")
	if none {
		return nil, nil
	}
	q := invitationSelect
	if cond != "" {
		q += ` WHERE ` + cond
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY id DESC`, a...)
	if err != nil {
		return nil, fmt.Errorf("listing invitations: %w", err)
	}
	defer rows.Close()
	var out []*steward.Invitation
	for rows.Next() {
		i, err := scanInvitation(rows)
		if err != nil {
			return nil, fmt.Errorf("reading invitation: %w", err)
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// InvitationUpdate moves an invitation on, provided nothing else moved it
// first: the state check and the write are one statement, so two answers
// racing through one link cannot both use it.
func (db *DB) InvitationUpdate(ctx context.Context, inv *steward.Invitation, from []steward.InvitationState, ev *steward.AuditEvent) error {
	if len(from) == 0 {
		return steward.Errorf(steward.EINVALID, "An invitation update names the states it moves from.")
	}
	inv.TenantID = strings.ToLower(inv.TenantID)
	return db.inTx(ctx, func(tx *Tx) error {
		a := args{string(inv.State), inv.TenantID, inv.ConsentedBy, micros(inv.OpenedAt), micros(inv.ConsentedAt), micros(inv.ConnectedAt), micros(inv.RevokedAt), inv.ID}
		states := make([]string, len(from))
		for i, s := range from {
			states[i] = a.add(string(s))
		}
		res, err := tx.ExecContext(ctx, `
			UPDATE consent_invitations SET state = $1, tenant_id = $2, consented_by = $3, opened_at = $4, consented_at = $5, connected_at = $6, revoked_at = $7
			WHERE id = $8 AND state IN (`+strings.Join(states, ", ")+`) AND (tenant_id = '' OR tenant_id = $2)`, a...)
		if err != nil {
			return fmt.Errorf("updating invitation: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("updating invitation: %w", err)
		} else if n == 0 {
			var exists int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM consent_invitations WHERE id = $1`, inv.ID).Scan(&exists); isNoRows(err) {
				return steward.Errorf(steward.ENOTFOUND, "Invitation not found.")
			}
			return steward.Errorf(steward.ECONFLICT, "This invitation has been used, revoked or bound to another tenant meanwhile.")
		}
		if ev == nil {
			return nil
		}
		return tx.appendAudit(ctx, ev)
	})
}
