-- Applied to every service's database before its own migrations.
--
-- The inbox: ids of jobs and events a service has fully handled. A handler
-- records the message id in the same transaction as its effects, so a
-- redelivered message is recognised and acknowledged without repeating them.
CREATE TABLE smez_inbox (
    message_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    handled_at_ms BIGINT NOT NULL
);
