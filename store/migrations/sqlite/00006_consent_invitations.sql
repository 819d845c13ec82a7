-- Consent links a partner sends customers (invitations): the customer's
-- admin opens one with no Steward account, consents and picks
-- subscriptions. Only the SHA-256 of a link's token is kept. tenant_id is
-- the tenant the invitation belongs to ('' until one is known), which is
-- what scopes read it by. And a sync run's warning: what it could not do
-- without failing, such as reading the activity log to name who changed
-- tags outside Steward.

-- +goose Up
CREATE TABLE consent_invitations (
    id              INTEGER PRIMARY KEY,
    token_hash      TEXT    NOT NULL UNIQUE,
    customer_name   TEXT    NOT NULL DEFAULT '',
    expected_tenant TEXT    NOT NULL DEFAULT '', -- a tenant ID or domain, as the operator named it
    tenant_id       TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL,            -- pending, opened, consented, connected, revoked
    consented_by    TEXT    NOT NULL DEFAULT '',
    created_by      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    opened_at       INTEGER,
    consented_at    INTEGER,
    connected_at    INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX consent_invitations_tenant ON consent_invitations (tenant_id, id);
ALTER TABLE sync_runs ADD COLUMN warning TEXT NOT NULL DEFAULT '';
