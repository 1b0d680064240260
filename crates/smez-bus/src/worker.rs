//! Runs a job handler over a queue with bounded concurrency and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{Bus, BusError, Delivery, Job};

/// Why a handler did not finish a job.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt later (a timeout, a platform hiccup).
    #[error("{0}")]
    Retry(String),
    /// Will never succeed (bad payload, a row that is gone): dead-letter now.
    #[error("{0}")]
    Permanent(String),
}

#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Jobs held and handled at once (the broker prefetch, too).
    pub concurrency: u16,
    /// How long in-flight jobs get to finish at shutdown before going back to the queue.
    pub grace: Duration,
}

/// Consumes `kind` until `shutdown`, handling up to `concurrency` jobs at once.
///
/// Each job runs in a span that continues the producer's trace. Success acks;
/// [`JobError::Retry`] retries with the bus's growing delays and dead-letters
/// after the last attempt; [`JobError::Permanent`] dead-letters at once. At
/// shutdown it stops taking jobs, lets in-flight ones finish within `grace`,
/// and whatever is still unsettled returns to the queue.
pub async fn run_worker<H, F>(
    bus: Bus,
    kind: String,
    options: WorkerOptions,
    metrics: smez_kit::metrics::Metrics,
    shutdown: CancellationToken,
    handler: H,
) -> Result<(), BusError>
where
    H: Fn(Job) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), JobError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    let mut deliveries = bus.consume(&kind, options.concurrency).await?;
    let mut in_flight = JoinSet::new();
    loop {
        // Reap finished tasks so the set does not grow without bound.
        while in_flight.try_join_next().is_some() {}
        let delivery = tokio::select! {
            () = shutdown.cancelled() => break,
            delivery = deliveries.next() => delivery,
        };
        let Some(delivery) = delivery else { break };
        in_flight.spawn(handle(delivery, handler.clone(), metrics.clone()));
    }
    tracing::info!(%kind, in_flight = in_flight.len(), "worker stopping");
    let drained = tokio::time::timeout(options.grace, async { while in_flight.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        // Aborting drops the unsettled deliveries, which hands them back.
        tracing::warn!(%kind, "grace period over; returning unfinished jobs to the queue");
        in_flight.shutdown().await;
    }
    Ok(())
}

async fn handle<H, F>(delivery: Delivery, handler: Arc<H>, metrics: smez_kit::metrics::Metrics)
where
    H: Fn(Job) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), JobError>> + Send + 'static,
{
    let job = delivery.job.clone();
    let span = tracing::info_span!("job", job.kind = %job.kind, job.id = %job.id, job.attempt = job.attempt);
    smez_kit::telemetry::set_parent(&span, smez_kit::telemetry::extract_fields(&job.trace));
    async move {
        let started = Instant::now();
        let outcome = handler(job.clone()).await;
        let (label, settled) = match outcome {
            Ok(()) => ("ok", delivery.ack().await),
            Err(JobError::Retry(reason)) => {
                tracing::warn!(%reason, "job failed; will retry or dead-letter");
                ("retry", delivery.fail(&reason).await)
            }
            Err(JobError::Permanent(reason)) => {
                tracing::error!(%reason, "job failed permanently");
                ("dead", delivery.dead(&reason).await)
            }
        };
        metrics.observe_job(&job.kind, label, started.elapsed());
        if let Err(e) = settled {
            // The broker will redeliver it; handlers are idempotent.
            tracing::warn!(error = %e, "could not settle the job; it will be redelivered");
        }
    }
    .instrument(span)
    .await
}
