-- Renders of edit plans. A render row is the job's truth: the `render.run`
-- message only says "look at this row"; the reconciler re-sends it for rows
-- left queued, and for rows whose worker stopped renewing its lease.

CREATE TABLE renders (
    render_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    plan_revision BIGINT NOT NULL,
    -- The plan as it was when the render was asked for (later edits do not change it).
    plan TEXT NOT NULL,
    duration_us BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    -- 0 ..= 1000
    progress_permille BIGINT NOT NULL,
    error TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    -- The worker running it, while its lease lasts.
    lease_owner TEXT,
    lease_until_ms BIGINT,
    -- When the job was last sent (the reconciler sends again after a while).
    enqueued_at_ms BIGINT NOT NULL,
    output_key TEXT,
    poster_key TEXT,
    -- JSON: what the output was probed to be.
    output TEXT,
    created_by TEXT,
    created_at_ms BIGINT NOT NULL,
    started_at_ms BIGINT,
    finished_at_ms BIGINT
);

CREATE INDEX renders_by_status ON renders (status, enqueued_at_ms);
CREATE INDEX renders_by_plan ON renders (workspace_id, plan_id);
CREATE INDEX renders_created_by ON renders (created_by);
