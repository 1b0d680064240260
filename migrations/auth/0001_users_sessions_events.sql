-- The auth service's tables: accounts, sessions with their refresh tokens,
-- login throttles and security events.

CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    -- Normalised (trimmed, lowercase): one account per address.
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    -- ISO 8601 date; sign-up refuses anyone under auth.min_age_years.
    date_of_birth TEXT NOT NULL,
    -- Argon2id PHC string (parameters inside, so they can be raised later).
    password_hash TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    password_changed_at_ms BIGINT NOT NULL
);

-- A session is one refresh-token family: every refresh rotates the token,
-- and presenting a rotated one revokes the session.
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    last_used_at_ms BIGINT NOT NULL,
    -- Sliding: refresh_token_ttl_secs after the last refresh.
    expires_at_ms BIGINT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    revoked_at_ms BIGINT,
    revoked_reason TEXT
);

CREATE INDEX sessions_user ON sessions (user_id);

-- Only the SHA-256 of a refresh token is stored. Rotated tokens stay (with
-- rotated_at_ms) so that their reuse is recognised as theft.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    issued_at_ms BIGINT NOT NULL,
    rotated_at_ms BIGINT
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Failed logins per account (keyed by a hash of the email, so unknown emails
-- are throttled the same way and no address is stored) and per client address.
CREATE TABLE login_throttles (
    throttle_key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    lockouts BIGINT NOT NULL,
    locked_until_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Security events (OWASP logging vocabulary names). `user_id` is the actor,
-- `subject_user_id` the user acted upon; both go when that user is deleted.
-- Workspace events are row-level secured by workspace_id.
CREATE TABLE security_events (
    id TEXT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    event TEXT NOT NULL,
    user_id TEXT,
    subject_user_id TEXT,
    workspace_id TEXT,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);

CREATE INDEX security_events_workspace ON security_events (workspace_id, id);
CREATE INDEX security_events_user ON security_events (user_id);
