-- Deletions that span services: a deleted workspace or account is announced
-- (`workspace.deleted`, `user.deleted`) and announced again every
-- `workspace.purge_retry_secs` until every service that may hold its data
-- answered `data.purged`. Then both rows go: nothing of the subject is left.
-- Only the coordinating service (workspace, auth) writes here.
CREATE TABLE smez_purge_requests (
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    requested_at_ms BIGINT NOT NULL,
    announced_at_ms BIGINT NOT NULL,
    PRIMARY KEY (subject_kind, subject_id)
);

CREATE TABLE smez_purge_confirmations (
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    service TEXT NOT NULL,
    confirmed_at_ms BIGINT NOT NULL,
    PRIMARY KEY (subject_kind, subject_id, service)
);
