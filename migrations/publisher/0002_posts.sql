-- Posts, their targets (one per connected account) and every publish
-- attempt. The target row is the truth; a `publish.run` job only wakes a
-- worker for it. Times are milliseconds since the Unix epoch.

CREATE TABLE posts (
    post_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    -- The instant it is due (the resolved wall time, when one was given).
    publish_at_ms BIGINT NOT NULL,
    -- `now`, `instant` (RFC 3339) or `local` (a wall time in `time_zone`).
    schedule_kind TEXT NOT NULL CHECK (schedule_kind IN ('now', 'instant', 'local')),
    time_zone TEXT,
    -- The wall time as the user chose it, e.g. `2027-03-14T02:30`.
    local_time TEXT,
    -- How that wall time became the instant: `exact`, `gap` or `fold`.
    resolution TEXT NOT NULL DEFAULT 'exact',
    created_by TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE INDEX posts_workspace_time ON posts (workspace_id, publish_at_ms);

CREATE TABLE post_targets (
    target_id TEXT PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts (post_id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    package_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('scheduled', 'queued', 'publishing', 'processing', 'published',
        'failed', 'unconfirmed', 'canceled')),
    -- When the scheduler next sends its job (NULL: not waiting for the scheduler).
    dispatch_at_ms BIGINT,
    -- When its job was last sent (the reconciler re-sends lost ones).
    enqueued_at_ms BIGINT,
    -- The worker publishing it, until when (a dead worker's lease lapses).
    lease_owner TEXT,
    lease_until_ms BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- What the platform already accepted (JSON `PublishProgress`): a retry resumes it.
    progress TEXT NOT NULL DEFAULT '{}',
    -- The platform's handle of the upload (TikTok publish_id, container id, video id).
    handle_id TEXT,
    error TEXT NOT NULL DEFAULT '',
    error_class TEXT,
    error_field TEXT,
    -- Whether retrying (POST …/retry) can help.
    retryable BIGINT NOT NULL DEFAULT 0,
    platform_post_id TEXT,
    public_url TEXT,
    published_at_ms BIGINT,
    -- When a "still waiting past its due time" alert went out for it.
    alerted_at_ms BIGINT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    UNIQUE (post_id, connection_id)
);

CREATE INDEX post_targets_dispatch ON post_targets (dispatch_at_ms);
CREATE INDEX post_targets_state ON post_targets (state, updated_at_ms);
CREATE INDEX post_targets_post ON post_targets (post_id);

CREATE TABLE publish_attempts (
    attempt_id TEXT PRIMARY KEY,
    target_id TEXT NOT NULL REFERENCES post_targets (target_id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    number BIGINT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    -- Set when the attempt called the platform's publish (the limits count these).
    platform_call_at_ms BIGINT,
    finished_at_ms BIGINT,
    -- running, published, processing, waiting, retry, failed, unconfirmed, abandoned.
    outcome TEXT NOT NULL DEFAULT 'running',
    detail TEXT NOT NULL DEFAULT ''
);

CREATE INDEX publish_attempts_target ON publish_attempts (target_id, number);
CREATE INDEX publish_attempts_calls ON publish_attempts (platform, platform_call_at_ms);
