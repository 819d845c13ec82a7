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
    warned_days   INTEGER NOT NULL DEFAULT 0, -- smallest expiry warning sent (days)
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL DEFAULT '',
    retired_at    INTEGER
);
CREATE INDEX credentials_tenant ON credentials (tenant_id, id);
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
    last_synced_at     INTEGER,
    resource_count     INTEGER NOT NULL DEFAULT 0 -- resources stored, kept by every write (plans listings)
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id);

-- content_hash covers name, location and tags, so a re-sync writes only
-- the groups that changed.
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
-- content_hash is steward.Resource.ContentHash, prefixed "nt:" when the
-- subscription's level did not read tags: a re-sync writes only resources
-- whose hash changed, and a change of level rewrites each resource once.
-- Listings page by pk, so every index used to list ends in pk.
CREATE TABLE resources (
    pk                 INTEGER PRIMARY KEY,
    arm_key            TEXT    NOT NULL UNIQUE,
    arm_id             TEXT    NOT NULL,
    subscription_id    TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    resource_group     TEXT    NOT NULL DEFAULT '',
    resource_group_key TEXT    NOT NULL DEFAULT '',
    name               TEXT    NOT NULL,
    type               TEXT    NOT NULL,
    type_key           TEXT    NOT NULL,
    location           TEXT    NOT NULL DEFAULT '',
    tags               TEXT    NOT NULL DEFAULT '{}',
    tag_count          INTEGER NOT NULL DEFAULT 0,
    content_hash       TEXT    NOT NULL DEFAULT '',
    first_seen_at      INTEGER NOT NULL,
    synced_at          INTEGER NOT NULL -- when the stored copy last changed
);
CREATE INDEX resources_subscription ON resources (subscription_id, pk);
CREATE INDEX resources_group ON resources (subscription_id, resource_group_key, pk);
CREATE INDEX resources_type ON resources (type_key, pk);

-- One row per tag (one per lower-cased name), for filtering millions of
-- resources by tag. Two b-trees only, because every sync writes them: the
-- primary key (key_norm, resource_pk) finds KEY with any value in PK order
-- and answers "does resource P have KEY" (filters, untagged, deletes);
-- resource_tags_kv finds KEY=VALUE in PK order. There is no foreign key:
-- a foreign key needs an index led by resource_pk (a third b-tree), so the
-- store deletes a resource's tag rows itself, from the tags it keeps in
-- resources.tags.
CREATE TABLE resource_tags (
    key_norm    TEXT    NOT NULL, -- lower(tag_key): Azure tag names are case-insensitive
    resource_pk INTEGER NOT NULL,
    tag_key     TEXT    NOT NULL,
    tag_value   TEXT    NOT NULL,
    PRIMARY KEY (key_norm, resource_pk)
) WITHOUT ROWID;
CREATE INDEX resource_tags_kv ON resource_tags (key_norm, tag_value, resource_pk);

-- How many of a subscription's resources carry each tag name as spelled:
-- kept up to date with resource_tags, so listing tag names never scans them.
CREATE TABLE tag_key_counts (
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    key_norm        TEXT    NOT NULL,
    tag_key         TEXT    NOT NULL,
    resources       INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, key_norm, tag_key)
) WITHOUT ROWID;

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
-- then written to Azure by a job, item by item. An edit counts its items by
-- status (pending ones are the rest) so its status never needs a scan.
CREATE TABLE tag_edits (
    id             INTEGER PRIMARY KEY,
    created_at     INTEGER NOT NULL,
    created_by     TEXT    NOT NULL,
    status         TEXT    NOT NULL, -- pending | held | conflict | done
    request        TEXT    NOT NULL, -- the edit as asked (JSON)
    item_count     INTEGER NOT NULL DEFAULT 0,
    applied_count  INTEGER NOT NULL DEFAULT 0,
    failed_count   INTEGER NOT NULL DEFAULT 0,
    conflict_count INTEGER NOT NULL DEFAULT 0,
    canceled_count INTEGER NOT NULL DEFAULT 0,
    held_count     INTEGER NOT NULL DEFAULT 0,
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
    status          TEXT    NOT NULL, -- pending | held | applied | failed | conflict | canceled
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    conflicts       TEXT    NOT NULL DEFAULT '[]', -- []steward.TagConflict
    applied_at      INTEGER
);
CREATE INDEX tag_edit_items_edit ON tag_edit_items (edit_id, id);
CREATE INDEX tag_edit_items_due ON tag_edit_items (status, subscription_id, next_attempt_at, id);
CREATE INDEX tag_edit_items_status ON tag_edit_items (status, id);
CREATE INDEX tag_edit_items_status_resource ON tag_edit_items (status, resource_pk);
CREATE INDEX tag_edit_items_resource ON tag_edit_items (resource_pk);
CREATE INDEX tag_edit_items_tenant ON tag_edit_items (tenant_id, status);

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

-- Costs. A cost row is one day's cost of one resource for one service; it
-- points at the tag set the resource carried when the row was fetched, so
-- reports by tag use the tags of that day. Tag sets are stored once each
-- per subscription (most resources share them). Reports read cost_daily, a rollup kept in
-- step with cost_rows by every write: per subscription, day and currency
-- the total, the cost by service, by resource group and by each tag's
-- value. A month's report reads thousands of rollup rows instead of
-- millions of cost rows; cost untagged under a name is the total less the
-- tagged rows, and n (the number of cost rows summed) makes that exact.
CREATE TABLE tag_sets (
    id              INTEGER PRIMARY KEY, -- 0 is "no tags" and has no row
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    hash            TEXT    NOT NULL,
    tags            TEXT    NOT NULL, -- JSON object
    UNIQUE (subscription_id, hash)
);

CREATE TABLE tag_set_tags (
    tag_set_id INTEGER NOT NULL REFERENCES tag_sets (id) ON DELETE CASCADE,
    key_norm   TEXT    NOT NULL,
    tag_value  TEXT    NOT NULL,
    PRIMARY KEY (tag_set_id, key_norm)
) WITHOUT ROWID;

-- The resources costs name, interned: cost rows then hold a number instead
-- of an ARM ID, which keeps millions of them small. A charge of no resource
-- has resource_key ''.
CREATE TABLE cost_resources (
    id                 INTEGER PRIMARY KEY,
    subscription_id    TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    resource_key       TEXT    NOT NULL, -- lower-cased ARM ID
    resource_group_key TEXT    NOT NULL DEFAULT '',
    UNIQUE (subscription_id, resource_key, resource_group_key)
);

CREATE TABLE cost_rows (
    cost_resource_id INTEGER NOT NULL REFERENCES cost_resources (id) ON DELETE CASCADE,
    day              INTEGER NOT NULL, -- yyyymmdd
    service          TEXT    NOT NULL DEFAULT '',
    cost             REAL    NOT NULL,
    currency         TEXT    NOT NULL,
    tag_set_id       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (cost_resource_id, day, service)
) WITHOUT ROWID;

-- dim is 'total' (value ''), 'service', 'group' (lower-cased resource
-- group) or 'tag:' + a lower-cased tag name (value: the tag's value).
CREATE TABLE cost_daily (
    subscription_id TEXT    NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    dim             TEXT    NOT NULL,
    day             INTEGER NOT NULL, -- yyyymmdd
    value           TEXT    NOT NULL,
    currency        TEXT    NOT NULL,
    cost            REAL    NOT NULL,
    n               INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, dim, day, value, currency)
) WITHOUT ROWID;
CREATE INDEX cost_daily_dim_day ON cost_daily (dim, day);
