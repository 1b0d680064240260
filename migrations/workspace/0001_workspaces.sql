-- The workspace service's tables. Every one carries `workspace_id`, so on
-- PostgreSQL row-level security covers all of them and
-- `Store::purge_workspace` deletes a workspace from all of them at once.
-- Ids are UUIDv7 strings; times are milliseconds since the Unix epoch.

CREATE TABLE workspaces (
    workspace_id TEXT PRIMARY KEY,
    -- Trimmed, 1..=100 characters, no control characters; otherwise verbatim.
    name TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    -- smez_kit::roles::Role
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    joined_at_ms BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);

-- A user's workspaces (ListMyWorkspaces, account deletion).
CREATE INDEX memberships_user ON memberships (user_id);

-- Pending invitations. Deliberately no inviter column: a deleted account
-- must leave no trace here (the gateway records who invited as a security event).
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    -- SHA-256 (hex) of the single-use token; the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    -- Normalised: trimmed and lowercased.
    email TEXT NOT NULL,
    -- Nobody is invited as owner: ownership is transferred.
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

CREATE INDEX invitations_workspace_expiry ON invitations (workspace_id, expires_at_ms);
