-- The outbox: events a service decided to announce, written in the same
-- transaction as the change they describe. A relay publishes them on the bus
-- and deletes them, so an event is never lost to a crash between the commit
-- and the publish (it may be published twice; consumers deduplicate on the
-- event id inside the payload).
CREATE TABLE smez_outbox (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    -- base64 of the protobuf `smez.events.v1.Event`.
    payload TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE INDEX smez_outbox_created ON smez_outbox (created_at_ms);
