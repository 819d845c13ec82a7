package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/stewardhq/steward"
)

var _ steward.TenantStore = (*DB)(nil)

// validateTenant checks a tenant's fields, lower-cases its ID and fills
// the defaults (status active, sync method auto).
func validateTenant(t *steward.Tenant) error {
	t.ID = strings.ToLower(strings.TrimSpace(t.ID))
	if !steward.IsGUID(t.ID) {
		return steward.Errorf(steward.EINVALID, "A tenant ID is a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47.")
	}
	if strings.TrimSpace(t.Name) == "" {
		return steward.Errorf(steward.EINVALID, "The tenant needs a name.")
	}
	switch t.Connection {
	case steward.ConnectConsent, steward.ConnectServicePrincipal, steward.ConnectLighthouse:
	default:
		return steward.Errorf(steward.EINVALID, "Unknown connection %q; connections are consent, service-principal and lighthouse.", t.Connection)
	}
	if t.Status == "" {
		t.Status = steward.TenantActive
	}
	switch t.Status {
	case steward.TenantActive, steward.TenantRevoked, steward.TenantRevokedVerified:
	default:
		return steward.Errorf(steward.EINVALID, "Unknown tenant status %q.", t.Status)
	}
	if t.SyncMethod == "" {
		t.SyncMethod = steward.SyncAuto
	}
	switch t.SyncMethod {
	case steward.SyncAuto, steward.SyncARM, steward.SyncResourceGraph:
	default:
		return steward.Errorf(steward.EINVALID, "Unknown sync method %q; methods are auto, arm and resource-graph.", t.SyncMethod)
	}
	return nil
}

// validateCredential checks a credential's fields; an empty status means
// active (the schema's default).
func validateCredential(c *steward.Credential) error {
	c.TenantID = strings.ToLower(strings.TrimSpace(c.TenantID))
	switch c.Purpose {
	case steward.CredentialRead, steward.CredentialWrite:
	default:
		return steward.Errorf(steward.EINVALID, "Unknown credential purpose %q; purposes are read and write.", c.Purpose)
	}
	switch c.Kind {
	case steward.CredentialSecret, steward.CredentialCertificate:
	default:
		return steward.Errorf(steward.EINVALID, "Unknown credential kind %q; kinds are secret and certificate.", c.Kind)
	}
	if c.Status == "" {
		c.Status = steward.CredentialActive
	}
	switch c.Status {
	case steward.CredentialPending, steward.CredentialActive, steward.CredentialRetired:
	default:
		return steward.Errorf(steward.EINVALID, "Unknown credential status %q.", c.Status)
	}
	if strings.TrimSpace(c.ClientID) == "" {
		return steward.Errorf(steward.EINVALID, "The credential needs the app's client ID.")
	}
	if len(c.Sealed) == 0 {
		return steward.Errorf(steward.EINVALID, "The credential has no sealed secret.")
	}
	switch c.ExpirySource {
	case "", "graph", "entered":
	default:
		return steward.Errorf(steward.EINVALID, "Unknown expiry source %q; sources are graph and entered.", c.ExpirySource)
	}
	return nil
}

// TenantCreate stores a tenant with its credentials and the event.
func (db *DB) TenantCreate(ctx context.Context, t *steward.Tenant, creds []*steward.Credential, ev *steward.AuditEvent) error {
	if err := validateTenant(t); err != nil {
		return err
	}
	for _, c := range creds {
		c.TenantID = t.ID
		if err := validateCredential(c); err != nil {
			return err
		}
	}
	return db.inTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO tenants (id, name, connection, write_enabled, status, status_detail, sync_method, pal_partner_id,
				validation, last_validated_at, created_at, updated_at, revoked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)`,
			t.ID, t.Name, string(t.Connection), t.WriteEnabled, string(t.Status), t.StatusDetail, string(t.SyncMethod), t.PALPartnerID,
			t.Validation, micros(t.LastValidatedAt), tx.now.UnixMicro(), micros(t.RevokedAt))
		if isUniqueViolation(err) {
			return steward.Errorf(steward.ECONFLICT, "Tenant %s is already connected.", t.ID)
		} else if err != nil {
			return fmt.Errorf("inserting tenant: %w", err)
		}
		t.CreatedAt, t.UpdatedAt = tx.now, tx.now
		for _, c := range creds {
			if err := tx.insertCredential(ctx, c); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, ev)
	})
}

const tenantColumns = `id, name, connection, write_enabled, status, status_detail, sync_method, pal_partner_id,
	validation, last_validated_at, created_at, updated_at, revoked_at`

func scanTenant(row interface{ Scan(...any) error }) (*steward.Tenant, error) {
	var t steward.Tenant
	var conn, status, method string
	var validated, created, updated, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.Name, &conn, &t.WriteEnabled, &status, &t.StatusDetail, &method, &t.PALPartnerID,
		&t.Validation, &validated, &created, &updated, &revoked); err != nil {
		return nil, err
	}
	t.Connection, t.Status, t.SyncMethod = steward.ConnectionKind(conn), steward.TenantStatus(status), steward.SyncMethod(method)
	t.LastValidatedAt, t.CreatedAt, t.UpdatedAt, t.RevokedAt = fromMicros(validated), fromMicros(created), fromMicros(updated), fromMicros(revoked)
	return &t, nil
}

// TenantGet returns a tenant.
func (db *DB) TenantGet(ctx context.Context, scope steward.Scope, id string) (*steward.Tenant, error) {
	if err := notFoundOutside(scope, id, "Tenant"); err != nil {
		return nil, err
	}
	t, err := scanTenant(db.r.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, strings.ToLower(id)))
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Tenant not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading tenant: %w", err)
	}
	return t, nil
}

// TenantList returns the tenants within the scope by name.
func (db *DB) TenantList(ctx context.Context, scope steward.Scope) ([]*steward.Tenant, error) {
	return db.TenantFind(ctx, scope, steward.TenantFilter{})
}

// TenantFind returns the tenants within the scope that match f, by name
// then ID, a page of f.Limit from f.Offset when f.Limit is set.
func (db *DB) TenantFind(ctx context.Context, scope steward.Scope, f steward.TenantFilter) ([]*steward.Tenant, error) {
	var a args
	var where []string
	cond, none := a.scopeCond(scope, "id")
	if none {
		return nil, nil
	}
	if cond != "" {
		where = append(where, cond)
	}
	if f.Search != "" {
		p := a.add(containsPattern(f.Search))
		where = append(where, `(LOWER(name) LIKE `+p+` ESCAPE '\' OR id LIKE `+p+` ESCAPE '\')`)
	}
	switch f.Status {
	case "":
	case steward.TenantActive:
		where = append(where, `status = 'active'`)
	case steward.TenantRevoked:
		where = append(where, `status IN ('revoked', 'revoked-verified')`)
	default:
		return nil, steward.Errorf(steward.EINVALID, "Unknown tenant status %q; filter by active or revoked.", f.Status)
	}
	if f.Health != "" {
		h, err := steward.ParseSyncHealth(string(f.Health))
		if err != nil {
			return nil, err
		}
		where = append(where, `EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = tenants.id AND `+a.healthCond(h, "s", db.now())+`)`)
	}
	q := `SELECT ` + tenantColumns + ` FROM tenants`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY ` + db.bytewise("name") + `, id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d OFFSET %d", f.Limit, max(f.Offset, 0))
	}
	rows, err := db.r.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	defer rows.Close()
	var out []*steward.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("reading tenant: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	return out, nil
}

// TenantUpdate saves the mutable fields: name, write switch, status and
// its detail, sync method, PAL partner ID, validation and revocation time.
// A tenant whose writing is off, or that is revoked, has its pending tag
// edits held in the same transaction (TagEditHold releases them).
func (db *DB) TenantUpdate(ctx context.Context, t *steward.Tenant, ev *steward.AuditEvent) error {
	if err := validateTenant(t); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE tenants SET name = $1, write_enabled = $2, status = $3, status_detail = $4, sync_method = $5,
				pal_partner_id = $6, validation = $7, last_validated_at = $8, revoked_at = $9, updated_at = $10
			WHERE id = $11`,
			t.Name, t.WriteEnabled, string(t.Status), t.StatusDetail, string(t.SyncMethod),
			t.PALPartnerID, t.Validation, micros(t.LastValidatedAt), micros(t.RevokedAt), tx.now.UnixMicro(), t.ID)
		if err != nil {
			return fmt.Errorf("updating tenant: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return steward.Errorf(steward.ENOTFOUND, "Tenant not found.")
		}
		t.UpdatedAt = tx.now
		if !t.WriteEnabled || t.Status != steward.TenantActive {
			if _, err := tx.holdItems(ctx, t.ID, "", true); err != nil {
				return err
			}
		}
		return tx.appendAudit(ctx, ev)
	})
}

func (tx *Tx) insertCredential(ctx context.Context, c *steward.Credential) error {
	err := tx.QueryRowContext(ctx, `
		INSERT INTO credentials (tenant_id, purpose, client_id, kind, sealed, key_version, azure_key_id, expires_at,
			expiry_source, status, warned_days, created_at, created_by, retired_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
		c.TenantID, string(c.Purpose), c.ClientID, string(c.Kind), c.Sealed, c.KeyVersion, c.AzureKeyID, micros(c.ExpiresAt),
		c.ExpirySource, string(c.Status), c.WarnedDays, tx.now.UnixMicro(), c.CreatedBy, micros(c.RetiredAt)).Scan(&c.ID)
	if isForeignKeyViolation(err) {
		return steward.Errorf(steward.ENOTFOUND, "Tenant not found.")
	} else if err != nil {
		return fmt.Errorf("inserting credential: %w", err)
	}
	c.CreatedAt = tx.now
	return nil
}

const credentialColumns = `id, tenant_id, purpose, client_id, kind, sealed, key_version, azure_key_id, expires_at,
	expiry_source, status, warned_days, created_at, created_by, retired_at`

func scanCredential(row interface{ Scan(...any) error }) (*steward.Credential, error) {
	var c steward.Credential
	var purpose, kind, status string
	var expires, created, retired sql.NullInt64
	if err := row.Scan(&c.ID, &c.TenantID, &purpose, &c.ClientID, &kind, &c.Sealed, &c.KeyVersion, &c.AzureKeyID, &expires,
		&c.ExpirySource, &status, &c.WarnedDays, &created, &c.CreatedBy, &retired); err != nil {
		return nil, err
	}
	c.Purpose, c.Kind, c.Status = steward.CredentialPurpose(purpose), steward.CredentialKind(kind), steward.CredentialStatus(status)
	c.ExpiresAt, c.CreatedAt, c.RetiredAt = fromMicros(expires), fromMicros(created), fromMicros(retired)
	return &c, nil
}

// CredentialList returns a tenant's credentials, newest first.
func (db *DB) CredentialList(ctx context.Context, scope steward.Scope, tenantID string) ([]*steward.Credential, error) {
	if !scope.Allows(tenantID) {
		return nil, nil
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE tenant_id = $1 ORDER BY id DESC`, strings.ToLower(tenantID))
	if err != nil {
		return nil, fmt.Errorf("listing credentials: %w", err)
	}
	defer rows.Close()
	var out []*steward.Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("reading credential: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing credentials: %w", err)
	}
	return out, nil
}

// CredentialGet returns one credential.
func (db *DB) CredentialGet(ctx context.Context, scope steward.Scope, id int64) (*steward.Credential, error) {
	c, err := scanCredential(db.r.QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, steward.Errorf(steward.ENOTFOUND, "Credential not found.")
	} else if err != nil {
		return nil, fmt.Errorf("reading credential: %w", err)
	}
	if err := notFoundOutside(scope, c.TenantID, "Credential"); err != nil {
		return nil, err
	}
	return c, nil
}

// CredentialCreate adds a credential to its tenant.
func (db *DB) CredentialCreate(ctx context.Context, c *steward.Credential, ev *steward.AuditEvent) error {
	if err := validateCredential(c); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		if err := tx.insertCredential(ctx, c); err != nil {
			return err
		}
		return tx.appendAudit(ctx, ev)
	})
}

// CredentialUpdate saves what changes over a credential's life: status,
// expiry and its source, the sealed blob and its key version (re-wrapping),
// the Entra key ID, the retirement time and the expiry warnings sent.
func (db *DB) CredentialUpdate(ctx context.Context, c *steward.Credential, ev *steward.AuditEvent) error {
	if err := validateCredential(c); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE credentials SET status = $1, expires_at = $2, expiry_source = $3, sealed = $4, key_version = $5,
				azure_key_id = $6, retired_at = $7, warned_days = $8
			WHERE id = $9`,
			string(c.Status), micros(c.ExpiresAt), c.ExpirySource, c.Sealed, c.KeyVersion,
			c.AzureKeyID, micros(c.RetiredAt), c.WarnedDays, c.ID)
		if err != nil {
			return fmt.Errorf("updating credential: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return steward.Errorf(steward.ENOTFOUND, "Credential not found.")
		}
		return tx.appendAudit(ctx, ev)
	})
}
