-- The media service's tables. Every table carries `workspace_id` (row-level
-- security on PostgreSQL; `Store::purge_workspace`). Times are milliseconds
-- since the Unix epoch. Objects live in the media store under generated keys
-- (`ws/<workspace_id>/<media_id>/…`); nothing here is derived from user input
-- but the sanitised display name.

CREATE TABLE media (
    media_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('video', 'image', 'audio', 'transcript')),
    file_name TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    -- Who uploaded it (not `user_id`: deleting that account keeps the
    -- workspace's media and forgets who uploaded it).
    uploaded_by TEXT,
    object_key TEXT NOT NULL,
    poster_key TEXT,
    -- JSON of the probe (video, image, audio) or of the parsed transcript.
    probe TEXT,
    transcript TEXT,
    -- Clips: the transcript attached to it.
    transcript_id TEXT,
    created_at_ms BIGINT NOT NULL
);

CREATE INDEX media_listing ON media (workspace_id, created_at_ms, media_id);
CREATE INDEX media_uploaded_by ON media (uploaded_by);
CREATE INDEX media_transcript ON media (transcript_id);

-- Resumable uploads in progress; the bytes wait in media.upload_dir.
CREATE TABLE resumable_uploads (
    upload_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    length BIGINT NOT NULL,
    upload_offset BIGINT NOT NULL,
    -- Set while one request appends: a second one is refused, not interleaved.
    busy_until_ms BIGINT,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

CREATE INDEX resumable_uploads_expiry ON resumable_uploads (expires_at_ms);
