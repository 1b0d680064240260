//! Runs a job handler over a queue with bounded concurrency and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
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

impl WorkerOptions {
    /// `bus.prefetch` jobs at once; `shutdown.grace_secs` to drain.
    pub fn from_settings(settings: &smez_kit::Settings) -> Self {
        Self {
            concurrency: settings.bus.prefetch,
            grace: settings.shutdown_grace(),
        }
    }
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
    // The broker's prefetch is per channel: after a reconnect the new channel
    // could hand out more while old handlers still run. This bound is ours.
    let slots = Arc::new(tokio::sync::Semaphore::new(usize::from(options.concurrency.max(1))));
    let mut in_flight = JoinSet::new();
    loop {
        // Reap finished tasks so the set does not grow without bound.
        while in_flight.try_join_next().is_some() {}
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let delivery = tokio::select! {
            () = shutdown.cancelled() => break,
            delivery = deliveries.next() => delivery,
        };
        let Some(delivery) = delivery else { break };
        let (handler, metrics) = (handler.clone(), metrics.clone());
        in_flight.spawn(async move {
            handle(delivery, handler, metrics).await;
            drop(slot);
        });
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
        // A panicking handler is a failed attempt, not a job that loops forever.
        let outcome = AssertUnwindSafe(handler(job.clone()))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(JobError::Retry("the handler panicked".into())));
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
