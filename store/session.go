package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/stewardhq/steward"
)

// SessionCreate stores a session for an enabled user.
func (db *DB) SessionCreate(ctx context.Context, s *steward.Session, ev *steward.AuditEvent) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO sessions (hash, user_id, created_at, expires_at, source_ip, user_agent)
			SELECT $1, id, $2, $3, $4, $5 FROM users WHERE id = $6 AND NOT disabled`,
			s.Hash, tx.now.UnixMicro(), s.ExpiresAt.UnixMicro(), s.SourceIP, truncate(s.UserAgent, 500), s.UserID)
		if err != nil {
			return fmt.Errorf("inserting session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return steward.Errorf(steward.ENOTFOUND, "User not found or disabled.")
		}
		s.CreatedAt = tx.now
		return tx.appendAudit(ctx, ev)
	})
}

// SessionGet returns an unexpired session of an enabled user.
func (db *DB) SessionGet(ctx context.Context, hash string) (*steward.Session, error) {
	var s steward.Session
	var created, expires sql.NullInt64
	err := db.r.QueryRowContext(ctx, `
		SELECT s.hash, s.user_id, s.created_at, s.expires_at, s.source_ip, s.user_agent
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.hash = $1 AND s.expires_at > $2 AND NOT u.disabled`,
		hash, db.now().UnixMicro()).Scan(&s.Hash, &s.UserID, &created, &expires, &s.SourceIP, &s.UserAgent)
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Session not found or expired.")
	} else if err != nil {
		return nil, fmt.Errorf("reading session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &s, nil
}

// SessionDelete ends a session.
func (db *DB) SessionDelete(ctx context.Context, hash string, ev *steward.AuditEvent) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
		if err != nil {
			return fmt.Errorf("deleting session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return steward.Errorf(steward.ENOTFOUND, "Session not found.")
		}
		return tx.appendAudit(ctx, ev)
	})
}

// SessionDeleteExpired removes sessions that expired before now.
func (db *DB) SessionDeleteExpired(ctx context.Context, now time.Time) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("deleting expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
