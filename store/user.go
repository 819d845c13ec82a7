package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// UserCreate stores a user with its grants.
func (db *DB) UserCreate(ctx context.Context, u *steward.User, ev *steward.AuditEvent) error {
	if err := u.Validate(); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		err := tx.QueryRowContext(ctx, `
			INSERT INTO users (name, name_key, display_name, email, password_hash, disabled, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id`,
			u.Name, strings.ToLower(u.Name), u.DisplayName, u.Email, u.PasswordHash, u.Disabled, tx.now.UnixMicro()).Scan(&u.ID)
		if isUniqueViolation(err) {
			return steward.Errorf(steward.ECONFLICT, "A user named %q already exists.", u.Name)
		} else if err != nil {
			return fmt.Errorf("inserting user: %w", err)
		}
		u.CreatedAt, u.UpdatedAt = tx.now, tx.now
		for i := range u.Grants {
			g := &u.Grants[i]
			g.UserID = u.ID
			if err := tx.insertGrant(ctx, g); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, ev)
	})
}

func (tx *Tx) insertGrant(ctx context.Context, g *steward.Grant) error {
	if err := g.Validate(); err != nil {
		return err
	}
	err := tx.QueryRowContext(ctx, `
		INSERT INTO grants (user_id, role, tenants, created_at, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		g.UserID, string(g.Role), strings.Join(g.Tenants, ","), tx.now.UnixMicro(), g.CreatedBy).Scan(&g.ID)
	switch {
	case isUniqueViolation(err):
		return steward.Errorf(steward.ECONFLICT, "The user already has this grant.")
	case isForeignKeyViolation(err):
		return steward.Errorf(steward.ENOTFOUND, "User %d does not exist.", g.UserID)
	case err != nil:
		return fmt.Errorf("inserting grant: %w", err)
	}
	g.CreatedAt = tx.now
	return nil
}

const userColumns = `id, name, display_name, email, password_hash, disabled, created_at, updated_at, last_login_at`

func scanUser(row interface{ Scan(...any) error }) (*steward.User, error) {
	var u steward.User
	var created, updated, login sql.NullInt64
	if err := row.Scan(&u.ID, &u.Name, &u.DisplayName, &u.Email, &u.PasswordHash, &u.Disabled, &created, &updated, &login); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromMicros(created), fromMicros(updated), fromMicros(login)
	return &u, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// getUser reads one user with its grants through q (the reader pool or a
// transaction).
func getUser(ctx context.Context, q querier, where string, arg any) (*steward.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg))
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "User not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading user: %w", err)
	}
	grants, err := listGrants(ctx, q, u.ID)
	if err != nil {
		return nil, err
	}
	u.Grants = grants[u.ID]
	return u, nil
}

// listGrants returns grants by user, for one user or (userID 0) everyone.
func listGrants(ctx context.Context, q querier, userID int64) (map[int64][]steward.Grant, error) {
	query := `SELECT id, user_id, role, tenants, created_at, created_by FROM grants`
	var a args
	if userID != 0 {
		query += ` WHERE user_id = ` + a.add(userID)
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY id`, a...)
	if err != nil {
		return nil, fmt.Errorf("listing grants: %w", err)
	}
	defer rows.Close()
	out := map[int64][]steward.Grant{}
	for rows.Next() {
		var g steward.Grant
		var role, tenants string
		var created sql.NullInt64
		if err := rows.Scan(&g.ID, &g.UserID, &role, &tenants, &created, &g.CreatedBy); err != nil {
			return nil, fmt.Errorf("reading grant: %w", err)
		}
		g.Role, g.CreatedAt = steward.Role(role), fromMicros(created)
		if tenants != "" {
			g.Tenants = strings.Split(tenants, ",")
		}
		out[g.UserID] = append(out[g.UserID], g)
	}
	return out, rows.Err()
}

// UserGet returns a user with its grants.
func (db *DB) UserGet(ctx context.Context, id int64) (*steward.User, error) {
	return getUser(ctx, db.r, "id = $1", id)
}

// UserGetByName finds a user by name, case-insensitively.
func (db *DB) UserGetByName(ctx context.Context, name string) (*steward.User, error) {
	return getUser(ctx, db.r, "name_key = $1", strings.ToLower(name))
}

// UserList returns every user with grants, by name.
func (db *DB) UserList(ctx context.Context) ([]*steward.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name_key`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	var out []*steward.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("reading user: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	grants, err := listGrants(ctx, db.r, 0)
	if err != nil {
		return nil, err
	}
	for _, u := range out {
		u.Grants = grants[u.ID]
	}
	return out, nil
}

// UserCount returns the number of users.
func (db *DB) UserCount(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting users: %w", err)
	}
	return n, nil
}

// UserUpdate changes the given fields.
func (db *DB) UserUpdate(ctx context.Context, id int64, upd steward.UserUpdate, ev *steward.AuditEvent) (*steward.User, error) {
	var out *steward.User
	err := db.inTx(ctx, func(tx *Tx) error {
		u, err := getUser(ctx, tx, "id = $1"+tx.db.forUpdate(), id)
		if err != nil {
			return err
		}
		wasAdmin := isEnabledAdmin(u)
		if upd.DisplayName != nil {
			u.DisplayName = *upd.DisplayName
		}
		if upd.Email != nil {
			u.Email = *upd.Email
		}
		if upd.PasswordHash != nil {
			u.PasswordHash = *upd.PasswordHash
		}
		if upd.Disabled != nil {
			u.Disabled = *upd.Disabled
		}
		if err := u.Validate(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE users SET display_name = $1, email = $2, password_hash = $3, disabled = $4, updated_at = $5 WHERE id = $6`,
			u.DisplayName, u.Email, u.PasswordHash, u.Disabled, tx.now.UnixMicro(), id)
		if err != nil {
			return fmt.Errorf("updating user: %w", err)
		}
		u.UpdatedAt = tx.now
		// A new password or a disabled account ends every session.
		if upd.PasswordHash != nil || u.Disabled {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
				return fmt.Errorf("ending sessions: %w", err)
			}
		}
		// A new password also revokes every token: whoever made the change
		// (the owner who suspects a leak, an admin locking someone out)
		// means the old secrets to stop working, and a token is one.
		if upd.PasswordHash != nil {
			res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL`, tx.now.UnixMicro(), id)
			if err != nil {
				return fmt.Errorf("revoking tokens: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 && ev != nil {
				ev.With("tokens_revoked", strconv.FormatInt(n, 10))
			}
		}
		if wasAdmin && u.Disabled {
			if err := tx.requireAdmin(ctx, "disable"); err != nil {
				return err
			}
		}
		out = u
		return tx.appendAudit(ctx, ev)
	})
	return out, err
}

// UserRehashPassword replaces an outdated hash of the same password.
func (db *DB) UserRehashPassword(ctx context.Context, id int64, oldHash, newHash string) error {
	return db.inTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3`, newHash, id, oldHash)
		if err != nil {
			return fmt.Errorf("rehashing password: %w", err)
		}
		return nil
	})
}

// UserDelete removes a user with its grants, sessions and tokens.
func (db *DB) UserDelete(ctx context.Context, id int64, ev *steward.AuditEvent) error {
	return db.inTx(ctx, func(tx *Tx) error {
		u, err := getUser(ctx, tx, "id = $1"+tx.db.forUpdate(), id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return fmt.Errorf("deleting user: %w", err)
		}
		if isEnabledAdmin(u) {
			if err := tx.requireAdmin(ctx, "delete"); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, ev)
	})
}

func isEnabledAdmin(u *steward.User) bool {
	return !u.Disabled && slices.ContainsFunc(u.Grants, func(g steward.Grant) bool { return g.Role == steward.RoleAdmin })
}

// requireAdmin fails the transaction when no enabled user would be left
// with the admin role: nobody could manage users any more.
func (tx *Tx) requireAdmin(ctx context.Context, verb string) error {
	var n int
	err := tx.QueryRowContext(ctx, `
		SELECT COUNT(*) FROM users u WHERE NOT u.disabled
		AND EXISTS (SELECT 1 FROM grants g WHERE g.user_id = u.id AND g.role = 'admin')`).Scan(&n)
	if err != nil {
		return fmt.Errorf("counting admins: %w", err)
	}
	if n == 0 {
		return steward.Errorf(steward.ECONFLICT, "Cannot %s the last enabled admin: make another user admin first.", verb)
	}
	return nil
}

// UserRecordLogin notes a successful sign-in.
func (db *DB) UserRecordLogin(ctx context.Context, id int64, ev *steward.AuditEvent) error {
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET last_login_at = $1 WHERE id = $2`, tx.now.UnixMicro(), id)
		if err != nil {
			return fmt.Errorf("recording sign-in: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return steward.Errorf(steward.ENOTFOUND, "User not found.")
		}
		return tx.appendAudit(ctx, ev)
	})
}

// GrantCreate adds a grant to a user.
func (db *DB) GrantCreate(ctx context.Context, g *steward.Grant, ev *steward.AuditEvent) error {
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.insertGrant(ctx, g); err != nil {
			return err
		}
		return tx.appendAudit(ctx, ev)
	})
}

// GrantGet returns one grant.
func (db *DB) GrantGet(ctx context.Context, id int64) (*steward.Grant, error) {
	var userID int64
	if err := db.r.QueryRowContext(ctx, `SELECT user_id FROM grants WHERE id = $1`, id).Scan(&userID); isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Grant not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading grant: %w", err)
	}
	grants, err := listGrants(ctx, db.r, userID)
	if err != nil {
		return nil, err
	}
	for _, g := range grants[userID] {
		if g.ID == id {
			return &g, nil
		}
	}
	return nil, steward.Errorf(steward.ENOTFOUND, "Grant not found.")
}

// GrantDelete removes a grant and returns it.
func (db *DB) GrantDelete(ctx context.Context, id int64, ev *steward.AuditEvent) (*steward.Grant, error) {
	var out *steward.Grant
	err := db.inTx(ctx, func(tx *Tx) error {
		var userID int64
		if err := tx.QueryRowContext(ctx, `SELECT user_id FROM grants WHERE id = $1`, id).Scan(&userID); isNoRows(err) {
			return steward.Errorf(steward.ENOTFOUND, "Grant not found.")
		} else if err != nil {
			return fmt.Errorf("reading grant: %w", err)
		}
		u, err := getUser(ctx, tx, "id = $1"+tx.db.forUpdate(), userID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(u.Grants, func(g steward.Grant) bool { return g.ID == id })
		out = &u.Grants[i]
		if _, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE id = $1`, id); err != nil {
			return fmt.Errorf("deleting grant: %w", err)
		}
		if isEnabledAdmin(u) {
			if err := tx.requireAdmin(ctx, "remove the admin role from"); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, ev)
	})
	return out, err
}
