-- Applied to every service's database before its own migrations.
--
-- The inbox: ids of jobs and events each consumer of a service (a worker
-- pool, an event subscription) has fully handled. A handler records the
-- message id in the same transaction as its effects, so a redelivered message
-- is recognised and acknowledged without repeating them.
CREATE TABLE smez_inbox (
    consumer TEXT NOT NULL,
    message_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    handled_at_ms BIGINT NOT NULL,
    PRIMARY KEY (consumer, message_id)
);
