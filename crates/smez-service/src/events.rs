//! Events between services: written to the outbox in the transaction that
//! makes the change, published by a relay, consumed by subscriptions that
//! settle each delivery.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use smez_proto::events::v1::{Event, event::Payload};
use smez_store::Store;
use smez_store::sea_orm::DatabaseTransaction;

use crate::ServiceContext;

/// How often the relay looks at the outbox when nothing woke it.
const RELAY_POLL: Duration = Duration::from_millis(500);
/// Pause after a failed relay pass (the broker or database is away).
const RELAY_BACKOFF: Duration = Duration::from_secs(2);

/// A new event of `event_type`.
pub fn new_event(event_type: &str, workspace_id: Option<&str>, payload: Payload) -> Event {
    let now = chrono::Utc::now();
    Event {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: event_type.to_owned(),
        occurred_at: Some(prost_types::Timestamp {
            seconds: now.timestamp(),
            nanos: now.timestamp_subsec_nanos() as i32,
        }),
        workspace_id: workspace_id.map(str::to_owned),
        payload: Some(payload),
    }
}

/// Queues `event` for publishing when `txn` commits.
pub async fn publish_in(txn: &DatabaseTransaction, event: &Event) -> Result<(), smez_store::sea_orm::DbErr> {
    Store::add_to_outbox(txn, &event.id, &event.r#type, &event.encode_to_vec()).await
}

/// Publishes what the service's outbox holds until shutdown.
pub fn spawn_outbox_relay(ctx: Arc<ServiceContext>) {
    tokio::spawn(async move {
        loop {
            let pause = match relay_once(&ctx).await {
                Ok(0) => RELAY_POLL,
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    tracing::warn!(service = ctx.name, error = %e, "outbox relay pass failed; retrying");
                    RELAY_BACKOFF
                }
            };
            tokio::select! {
                () = ctx.shutdown.cancelled() => break,
                () = ctx.store.outbox_wait() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    });
}

async fn relay_once(ctx: &ServiceContext) -> anyhow::Result<usize> {
    let db = ctx.store.connection();
    let entries = Store::outbox_peek(db).await?;
    for entry in &entries {
        ctx.bus
            .emit(&entry.event_type, entry.payload.clone())
            .await
            .map_err(|e| anyhow::anyhow!("publishing {} {}: {e}", entry.event_type, entry.id))?;
        Store::outbox_remove(db, &entry.id).await?;
    }
    Ok(entries.len())
}

/// Consumes events matching `patterns` on the subscription `<service>.<consumer>`
/// until shutdown. `Ok` acknowledges; `Err` hands the event back for a later try.
pub fn spawn_subscriber<H, F>(ctx: Arc<ServiceContext>, consumer: &str, patterns: &'static [&'static str], handler: H)
where
    H: Fn(Event) -> F + Send + Sync + 'static,
    F: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let name = format!("{}.{consumer}", ctx.name);
    tokio::spawn(async move {
        let prefetch = ctx.settings.bus.prefetch;
        let mut deliveries = loop {
            match ctx.bus.subscribe(&name, patterns, prefetch).await {
                Ok(deliveries) => break deliveries,
                Err(e) => {
                    tracing::warn!(subscription = %name, error = %e, "subscribing failed; retrying");
                    tokio::select! {
                        () = ctx.shutdown.cancelled() => return,
                        () = tokio::time::sleep(RELAY_BACKOFF) => {}
                    }
                }
            }
        };
        loop {
            let delivery = tokio::select! {
                () = ctx.shutdown.cancelled() => break,
                delivery = deliveries.next() => match delivery {
                    Some(delivery) => delivery,
                    None => break,
                },
            };
            let event = match Event::decode(delivery.job.payload.clone()) {
                Ok(event) => event,
                Err(e) => {
                    tracing::error!(subscription = %name, error = %e, "undecodable event dropped to dead letters");
                    let _ = delivery.dead(&format!("not a smez.events.v1.Event: {e}")).await;
                    continue;
                }
            };
            let event_type = event.r#type.clone();
            let settled = match handler(event).await {
                Ok(()) => delivery.ack().await,
                Err(e) => {
                    tracing::warn!(subscription = %name, event = %event_type, error = %e, "event handling failed; will retry");
                    delivery.fail(&e.to_string()).await
                }
            };
            if let Err(e) = settled {
                tracing::warn!(subscription = %name, error = %e, "settling an event failed; the broker redelivers it");
            }
        }
    });
}
