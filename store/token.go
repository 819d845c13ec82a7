package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/stewardhq/steward"
)

// TokenCreate stores an API token.
func (db *DB) TokenCreate(ctx context.Context, t *steward.APIToken, ev *steward.AuditEvent) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		err := tx.QueryRowContext(ctx, `
			INSERT INTO api_tokens (user_id, name, prefix, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			t.UserID, t.Name, t.Prefix, t.Hash, tx.now.UnixMicro(), micros(t.ExpiresAt)).Scan(&t.ID)
		switch {
		case isForeignKeyViolation(err):
			return steward.Errorf(steward.ENOTFOUND, "User %d does not exist.", t.UserID)
		case isUniqueViolation(err):
			return steward.Errorf(steward.ECONFLICT, "Token already exists.")
		case err != nil:
			return fmt.Errorf("inserting token: %w", err)
		}
		t.CreatedAt = tx.now
		return tx.appendAudit(ctx, ev)
	})
}

const tokenSelect = `
	SELECT t.id, t.user_id, u.name, t.name, t.prefix, t.hash, t.created_at, t.expires_at, t.last_used_at, t.revoked_at
	FROM api_tokens t JOIN users u ON u.id = t.user_id`

func scanToken(row interface{ Scan(...any) error }) (*steward.APIToken, error) {
	var t steward.APIToken
	var created, expires, used, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.UserID, &t.UserName, &t.Name, &t.Prefix, &t.Hash, &created, &expires, &used, &revoked); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromMicros(created), fromMicros(expires), fromMicros(used), fromMicros(revoked)
	return &t, nil
}

func (db *DB) getToken(ctx context.Context, where string, arg any) (*steward.APIToken, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, tokenSelect+` WHERE `+where, arg))
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Token not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading token: %w", err)
	}
	return t, nil
}

// TokenGetByHash returns a token by hash.
func (db *DB) TokenGetByHash(ctx context.Context, hash string) (*steward.APIToken, error) {
	return db.getToken(ctx, "t.hash = $1", hash)
}

// TokenGet returns a token by ID.
func (db *DB) TokenGet(ctx context.Context, id int64) (*steward.APIToken, error) {
	return db.getToken(ctx, "t.id = $1", id)
}

// TokenList returns one user's tokens, or everyone's, newest first.
func (db *DB) TokenList(ctx context.Context, userID int64) ([]*steward.APIToken, error) {
	q, a := tokenSelect, args{}
	if userID != 0 {
		q += ` WHERE t.user_id = ` + a.add(userID)
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY t.id DESC`, a...)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	defer rows.Close()
	var out []*steward.APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("reading token: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TokenRevoke revokes a token.
func (db *DB) TokenRevoke(ctx context.Context, id int64, ev *steward.AuditEvent) error {
	return db.inTx(ctx, func(tx *Tx) error {
		var revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM api_tokens WHERE id = $1`+tx.db.forUpdate(), id).Scan(&revoked)
		if isNoRows(err) {
			return steward.Errorf(steward.ENOTFOUND, "Token not found.")
		} else if err != nil {
			return fmt.Errorf("reading token: %w", err)
		}
		if revoked.Valid {
			return steward.Errorf(steward.ECONFLICT, "Token is already revoked.")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $1 WHERE id = $2`, tx.now.UnixMicro(), id); err != nil {
			return fmt.Errorf("revoking token: %w", err)
		}
		return tx.appendAudit(ctx, ev)
	})
}

// TokenTouch records a use. It writes at most once a minute per token, so
// a busy API client does not turn every read into a write.
func (db *DB) TokenTouch(ctx context.Context, id int64, at time.Time) error {
	_, err := db.w.ExecContext(ctx, `
		UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)`,
		at.UnixMicro(), id, at.Add(-time.Minute).UnixMicro())
	if err != nil {
		return fmt.Errorf("recording token use: %w", err)
	}
	return nil
}
