-- The tenants each tag edit touches, so that an edit is shown only to
-- people who may read one of them, and its request (which names resources
-- and tags) only to those who may read all of them. Edits made before are
-- filled in from their items. Numbered alike on both engines from here on.

-- +goose Up
CREATE TABLE tag_edit_tenants (
    edit_id   BIGINT NOT NULL REFERENCES tag_edits (id) ON DELETE CASCADE,
    tenant_id TEXT   NOT NULL,
    PRIMARY KEY (edit_id, tenant_id)
);
CREATE INDEX tag_edit_tenants_tenant ON tag_edit_tenants (tenant_id, edit_id);
INSERT INTO tag_edit_tenants (edit_id, tenant_id) SELECT DISTINCT edit_id, tenant_id FROM tag_edit_items;
