-- Steward schema, SQLite. Times are Unix microseconds (INTEGER) so the same
-- queries and comparisons run unchanged on SQLite and PostgreSQL.

-- +goose Up

-- Portal users, their grants, sessions and API tokens.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    name_key      TEXT    NOT NULL UNIQUE, -- lower(name): names are case-insensitive
    display_name  TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER
);

-- tenants is '' for all tenants, else sorted comma-separated tenant IDs.
CREATE TABLE grants (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL,
    tenants    TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    created_by TEXT    NOT NULL DEFAULT '',
    UNIQUE (user_id, role, tenants)
);

CREATE TABLE sessions (
    hash       TEXT    PRIMARY KEY, -- SHA-256 of the cookie token
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    source_ip  TEXT    NOT NULL DEFAULT '',
    user_agent TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE, -- SHA-256 of the token
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- The audit log: append-only and hash-chained. audit_head holds the newest
-- event so that removing events from the end is detected too.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY, -- assigned by the chain, never reused
    time_us    INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL DEFAULT '',
    tenant_id  TEXT    NOT NULL DEFAULT '',
    outcome    TEXT    NOT NULL,
    source_ip  TEXT    NOT NULL DEFAULT '',
    request_id TEXT    NOT NULL DEFAULT '',
    details    TEXT    NOT NULL DEFAULT '{}',
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);
CREATE INDEX audit_events_time ON audit_events (time_us, id);

CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_id   INTEGER NOT NULL,
    last_hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, '');

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
-- +goose StatementEnd

-- Connected Azure tenants (one row per connection) and their credentials.
CREATE TABLE tenants (
    id                TEXT    PRIMARY KEY, -- Entra tenant ID, lower case
    name              TEXT    NOT NULL,
    connection        TEXT    NOT NULL, -- consent | service-principal | lighthouse
    write_enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    status            TEXT    NOT NULL DEFAULT 'active', -- active | revoked | revoked-verified
    status_detail     TEXT    NOT NULL DEFAULT '',
    sync_method       TEXT    NOT NULL DEFAULT 'auto', -- auto | arm | resource-graph
    pal_partner_id    TEXT    NOT NULL DEFAULT '',
    validation        TEXT    NOT NULL DEFAULT '', -- last validation report (JSON)
    last_validated_at INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    revoked_at        INTEGER
);

-- sealed is the envelope-encrypted secret or certificate; key_version names
-- the key-encryption key that wraps it, so rotation finds what to re-wrap.
CREATE TABLE credentials (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    purpose       TEXT    NOT NULL, -- read | write
    client_id     TEXT    NOT NULL,
    kind          TEXT    NOT NULL, -- secret | certificate
    sealed        BLOB    NOT NULL,
    key_version   INTEGER NOT NULL,
    azure_key_id  TEXT    NOT NULL DEFAULT '', -- Graph passwordCredential keyId
    expires_at    INTEGER,
    expiry_source TEXT    NOT NULL DEFAULT '', -- graph | entered
    status        TEXT    NOT NULL DEFAULT 'active', -- pending | active | retired
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL DEFAULT '',
    retired_at    INTEGER
);
CREATE INDEX credentials_tenant ON credentials (tenant_id, purpose, status);
CREATE INDEX credentials_expires ON credentials (expires_at);
CREATE INDEX credentials_key_version ON credentials (key_version);

-- Inventory.
CREATE TABLE subscriptions (
    id                 TEXT    PRIMARY KEY, -- subscription GUID, lower case
    tenant_id          TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, -- connection that sees it
    home_tenant_id     TEXT    NOT NULL DEFAULT '',
    display_name       TEXT    NOT NULL DEFAULT '',
    state              TEXT    NOT NULL DEFAULT '',
    sync_level         TEXT    NOT NULL DEFAULT 'read-write-tags'
        CHECK (sync_level IN ('no-resources', 'no-tags', 'read-tags', 'read-write-tags')),
    managed_by_tenants TEXT    NOT NULL DEFAULT '[]',
    tags               TEXT    NOT NULL DEFAULT '{}',
    discovered_at      INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    missing_since      INTEGER, -- no longer visible to the connection
    last_sync_run_id   INTEGER,
    last_synced_at     INTEGER
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id);

CREATE TABLE resource_groups (
    pk              INTEGER PRIMARY KEY,
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    name_key        TEXT    NOT NULL,
    location        TEXT    NOT NULL DEFAULT '',
    tags            TEXT    NOT NULL DEFAULT '{}',
    content_hash    TEXT    NOT NULL DEFAULT '',
    synced_at       INTEGER NOT NULL,
    UNIQUE (subscription_id, name_key)
);

-- arm_key is the lower-cased ARM ID (ARM IDs are case-insensitive).
-- content_hash lets a re-sync skip unchanged resources without a write.
CREATE TABLE resources (
    pk                 INTEGER PRIMARY KEY,
    arm_key            TEXT    NOT NULL UNIQUE,
    arm_id             TEXT    NOT NULL,
    subscription_id    TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    resource_group_key TEXT    NOT NULL DEFAULT '',
    name               TEXT    NOT NULL,
    type               TEXT    NOT NULL,
    type_key           TEXT    NOT NULL,
    location           TEXT    NOT NULL DEFAULT '',
    tags               TEXT    NOT NULL DEFAULT '{}',
    tag_count          INTEGER NOT NULL DEFAULT 0,
    content_hash       TEXT    NOT NULL DEFAULT '',
    first_seen_at      INTEGER NOT NULL,
    synced_at          INTEGER NOT NULL
);
CREATE INDEX resources_subscription ON resources (subscription_id, pk);
CREATE INDEX resources_type ON resources (type_key, pk);
CREATE INDEX resources_group ON resources (subscription_id, resource_group_key, pk);

-- One row per tag, for filtering millions of resources by key and value.
-- key_norm is the lower-cased key: Azure tag names are case-insensitive.
CREATE TABLE resource_tags (
    resource_pk     INTEGER NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    subscription_id TEXT    NOT NULL,
    key_norm        TEXT    NOT NULL,
    tag_key         TEXT    NOT NULL,
    tag_value       TEXT    NOT NULL,
    PRIMARY KEY (resource_pk, key_norm)
) WITHOUT ROWID;
CREATE INDEX resource_tags_kv ON resource_tags (key_norm, tag_value, resource_pk);
CREATE INDEX resource_tags_sub_kv ON resource_tags (subscription_id, key_norm, tag_value, resource_pk);

CREATE TABLE tag_history (
    id          INTEGER PRIMARY KEY,
    resource_pk INTEGER NOT NULL REFERENCES resources (pk) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    tag_key     TEXT    NOT NULL,
    old_value   TEXT, -- NULL: the tag did not exist
    new_value   TEXT, -- NULL: the tag was removed
    source      TEXT    NOT NULL, -- sync | steward
    actor       TEXT    NOT NULL DEFAULT '',
    edit_id     INTEGER
);
CREATE INDEX tag_history_resource ON tag_history (resource_pk, id);

-- Tag edits are an outbox: stored with their audit event in one transaction,
-- then written to Azure by a job, item by item.
CREATE TABLE tag_edits (
    id             INTEGER PRIMARY KEY,
    created_at     INTEGER NOT NULL,
    created_by     TEXT    NOT NULL,
    status         TEXT    NOT NULL, -- pending | done | failed | conflict
    request        TEXT    NOT NULL, -- the edit as asked (JSON)
    item_count     INTEGER NOT NULL DEFAULT 0,
    applied_count  INTEGER NOT NULL DEFAULT 0,
    failed_count   INTEGER NOT NULL DEFAULT 0,
    conflict_count INTEGER NOT NULL DEFAULT 0,
    finished_at    INTEGER
);

CREATE TABLE tag_edit_items (
    id              INTEGER PRIMARY KEY,
    edit_id         INTEGER NOT NULL REFERENCES tag_edits (id) ON DELETE CASCADE,
    resource_pk     INTEGER REFERENCES resources (pk) ON DELETE SET NULL,
    arm_id          TEXT    NOT NULL,
    subscription_id TEXT    NOT NULL,
    tenant_id       TEXT    NOT NULL,
    merge_tags      TEXT    NOT NULL DEFAULT '{}', -- key -> value to set
    delete_keys     TEXT    NOT NULL DEFAULT '[]',
    expected        TEXT    NOT NULL DEFAULT '{}', -- key -> value Steward last saw (null: absent)
    status          TEXT    NOT NULL, -- pending | held | applied | failed | conflict | resolved | canceled
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    applied_at      INTEGER
);
CREATE INDEX tag_edit_items_due ON tag_edit_items (status, next_attempt_at);
CREATE INDEX tag_edit_items_edit ON tag_edit_items (edit_id, id);
CREATE INDEX tag_edit_items_subscription ON tag_edit_items (subscription_id, status);
CREATE INDEX tag_edit_items_resource ON tag_edit_items (resource_pk, status);

CREATE TABLE sync_runs (
    id              INTEGER PRIMARY KEY,
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    reason          TEXT    NOT NULL, -- schedule | manual | level-change
    method          TEXT    NOT NULL DEFAULT '', -- arm | resource-graph
    status          TEXT    NOT NULL, -- queued | running | succeeded | failed | canceled
    created_by      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    expected        INTEGER NOT NULL DEFAULT 0, -- resources the last run saw, for progress
    seen            INTEGER NOT NULL DEFAULT 0,
    written         INTEGER NOT NULL DEFAULT 0,
    deleted         INTEGER NOT NULL DEFAULT 0,
    pages           INTEGER NOT NULL DEFAULT 0,
    error           TEXT    NOT NULL DEFAULT '',
    resume          TEXT    NOT NULL DEFAULT '' -- where an interrupted run continues
);
CREATE INDEX sync_runs_subscription ON sync_runs (subscription_id, id);

-- Daily cost per resource and service, with the resource's tags of that day.
CREATE TABLE cost_rows (
    pk                 INTEGER PRIMARY KEY,
    subscription_id    TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    day                INTEGER NOT NULL, -- yyyymmdd
    resource_key       TEXT    NOT NULL, -- lower-cased ARM ID
    resource_group_key TEXT    NOT NULL DEFAULT '',
    service            TEXT    NOT NULL DEFAULT '',
    cost               REAL    NOT NULL,
    currency           TEXT    NOT NULL,
    UNIQUE (subscription_id, day, resource_key, service)
);
CREATE INDEX cost_rows_day ON cost_rows (day);

CREATE TABLE cost_row_tags (
    cost_pk   INTEGER NOT NULL REFERENCES cost_rows (pk) ON DELETE CASCADE,
    key_norm  TEXT    NOT NULL,
    tag_key   TEXT    NOT NULL,
    tag_value TEXT    NOT NULL,
    PRIMARY KEY (cost_pk, key_norm)
) WITHOUT ROWID;
CREATE INDEX cost_row_tags_kv ON cost_row_tags (key_norm, tag_value, cost_pk);
