-- The publisher's platform connections and the OAuth flows that create
-- them. Metadata only: tokens live in the vault, keyed by connection id.
-- Every table carries `workspace_id` (row-level security on PostgreSQL;
-- `Store::purge_workspace`). Times are milliseconds since the Unix epoch.

CREATE TABLE connections (
    connection_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    platform TEXT NOT NULL CHECK (platform IN ('tiktok', 'instagram', 'youtube')),
    -- The platform's id of the account (TikTok open_id, Instagram user id, YouTube channel id).
    account_id TEXT NOT NULL,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    avatar_url TEXT,
    -- As granted, space-separated (users may untick some).
    scopes TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'reauthorization_required', 'revoked')),
    status_reason TEXT NOT NULL DEFAULT '',
    access_expires_at_ms BIGINT,
    refresh_expires_at_ms BIGINT,
    -- Bumped whenever the vault gets new tokens: a caller that saw version N
    -- refused as expired asks for a refresh only if N is still current.
    token_version BIGINT NOT NULL,
    -- The single-flight refresh lease: who holds it, until when.
    refresh_lease_owner TEXT,
    refresh_lease_until_ms BIGINT,
    -- Who connected it (not `user_id`: deleting that account disconnects it,
    -- tokens included, rather than dropping the row and its post history).
    connected_by TEXT,
    connected_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    UNIQUE (workspace_id, platform, account_id)
);

CREATE INDEX connections_refresh_due ON connections (status, access_expires_at_ms);
CREATE INDEX connections_connected_by ON connections (connected_by);

-- Started connects. The `state` sent to the platform is `<state_id>.<HMAC>`
-- over this row's bindings; a row is used once (`used_at_ms`).
CREATE TABLE oauth_states (
    state_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    -- SHA-256 (hex) of the browser's binding cookie.
    browser_binding TEXT NOT NULL,
    -- The PKCE verifier, sealed by the vault (bound to this state); NULL
    -- where the platform takes no PKCE.
    pkce_verifier_sealed TEXT,
    redirect_uri TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    used_at_ms BIGINT
);

CREATE INDEX oauth_states_expiry ON oauth_states (expires_at_ms);

-- Logins that offered several accounts, while the user chooses. The tokens
-- wait in the vault as a sealed pending transfer with the same id.
CREATE TABLE oauth_pending_choices (
    pending_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    -- JSON: [{"id","username","display_name","avatar_url"}] (no tokens).
    accounts TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
