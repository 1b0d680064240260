-- The render service's edit plans. Every table carries `workspace_id`
-- (row-level security on PostgreSQL; `Store::purge_workspace`). Times are
-- milliseconds since the Unix epoch.

CREATE TABLE edit_plans (
    plan_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- 1 when created, one more on every update (optimistic concurrency).
    revision BIGINT NOT NULL,
    -- The validated `smez.edit_plan/1` document, defaults written out.
    plan TEXT NOT NULL,
    duration_us BIGINT NOT NULL,
    -- Who made it (not `user_id`: deleting that account keeps the
    -- workspace's plans and forgets who made them).
    created_by TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE INDEX edit_plans_listing ON edit_plans (workspace_id, updated_at_ms);
CREATE INDEX edit_plans_created_by ON edit_plans (created_by);
