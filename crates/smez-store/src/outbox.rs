//! The transactional outbox (see `migrations/common/0002_outbox.sql`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sea_orm::{ConnectionTrait, DatabaseTransaction};

use crate::{Store, statement};

/// An event waiting to be published.
pub struct OutboxEntry {
    pub id: String,
    pub event_type: String,
    pub payload: Vec<u8>,
}

/// Entries a relay pass takes at most.
const BATCH: u64 = 100;

impl Store {
    /// Adds an event to the outbox inside `txn`; it is published after the
    /// commit. Call [`Store::outbox_written`] once committed to publish at once.
    pub async fn add_to_outbox(
        txn: &DatabaseTransaction,
        id: &str,
        event_type: &str,
        payload: &[u8],
    ) -> Result<(), sea_orm::DbErr> {
        txn.execute_raw(statement(
            txn.get_database_backend(),
            "INSERT INTO smez_outbox (id, event_type, payload, created_at_ms) VALUES (?, ?, ?, ?)",
            [
                id.into(),
                event_type.into(),
                B64.encode(payload).into(),
                chrono::Utc::now().timestamp_millis().into(),
            ],
        ))
        .await
        .map(drop)
    }

    /// Wakes the relay (after committing an outbox write).
    pub fn outbox_written(&self) {
        self.outbox_written.notify_one();
    }

    /// Resolves when an outbox write was announced.
    pub async fn outbox_wait(&self) {
        self.outbox_written.notified().await;
    }

    /// The oldest unpublished entries. No lock is held while they are
    /// published: a crash between publish and removal, or two relays of the
    /// same service, can publish one twice, which consumers tolerate (they
    /// deduplicate or are idempotent), while a slow broker never blocks the
    /// service's writers.
    pub async fn outbox_peek(db: &impl ConnectionTrait) -> Result<Vec<OutboxEntry>, sea_orm::DbErr> {
        let rows = db
            .query_all_raw(statement(
                db.get_database_backend(),
                &format!("SELECT id, event_type, payload FROM smez_outbox ORDER BY created_at_ms, id LIMIT {BATCH}"),
                [],
            ))
            .await?;
        rows.iter()
            .map(|row| {
                let payload: String = row.try_get_by_index(2)?;
                Ok(OutboxEntry {
                    id: row.try_get_by_index(0)?,
                    event_type: row.try_get_by_index(1)?,
                    payload: B64
                        .decode(payload)
                        .map_err(|e| sea_orm::DbErr::Custom(format!("outbox payload is not base64: {e}")))?,
                })
            })
            .collect()
    }

    /// Removes a published entry.
    pub async fn outbox_remove(db: &impl ConnectionTrait, id: &str) -> Result<(), sea_orm::DbErr> {
        db.execute_raw(statement(
            db.get_database_backend(),
            "DELETE FROM smez_outbox WHERE id = ?",
            [id.into()],
        ))
        .await
        .map(drop)
    }
}
