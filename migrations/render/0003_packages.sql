-- Platform packages: a finished render made ready for one platform — the
-- checked metadata, and the video to send (the render's own file, or a
-- re-encode when the render breaks that platform's rules).

CREATE TABLE packages (
    package_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    render_id TEXT NOT NULL,
    platform TEXT NOT NULL CHECK (platform IN ('tiktok', 'instagram', 'youtube')),
    status TEXT NOT NULL CHECK (status IN ('building', 'ready', 'failed')),
    -- JSON: the metadata as checked (caption composed, defaults written out).
    metadata TEXT NOT NULL,
    -- JSON: why the video is re-encoded (empty list: the render is sent as it is).
    reencode TEXT NOT NULL,
    video_key TEXT,
    -- JSON: what the video to send was probed to be.
    video TEXT,
    error TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until_ms BIGINT,
    created_by TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE INDEX packages_listing ON packages (workspace_id, created_at_ms, package_id);
CREATE INDEX packages_by_render ON packages (workspace_id, render_id);
CREATE INDEX packages_created_by ON packages (created_by);
