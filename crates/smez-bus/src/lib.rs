//! The Smez job bus and event stream.
//!
//! Two backends with the same semantics:
//! - [`rabbit`]: RabbitMQ through lapin. Durable quorum work queues,
//!   persistent messages, publisher confirms, manual ack, a prefetch per
//!   consumer, delay queues that dead-letter back into the work queue for
//!   retries, a dead-letter queue keeping the last error, one topic exchange
//!   for events, reconnection and re-declaration after the broker drops us.
//! - [`memory`]: in-process, for the embedded default (one `smez` process).
//!
//! A job is at-least-once: handlers must be idempotent (see
//! `smez_store::Store::record_handled`). The database row is the source of
//! truth; a job is the wake-up.

pub mod memory;
pub mod rabbit;
mod topic;
pub mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub use worker::{JobError, WorkerOptions, run_worker};

/// Header names shared by both backends (and documented in proto/smez/jobs).
pub mod headers {
    pub const JOB_ID: &str = "x-smez-job-id";
    pub const ATTEMPT: &str = "x-smez-attempt";
    pub const LAST_ERROR: &str = "x-smez-last-error";
    pub const EVENT_TYPE: &str = "x-smez-event-type";
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    #[error("broker refused the message: {0}")]
    Refused(String),
    #[error("broker could not take the message: {0}")]
    Nacked(String),
    #[error("bus closed")]
    Closed,
}

/// One job (or event) as it travels.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: String,
    /// The job kind (`render.run`) or event type (`render.completed`).
    pub kind: String,
    /// 1 on first delivery, then one more per retry.
    pub attempt: u32,
    pub payload: Bytes,
    /// Why the previous attempt failed.
    pub last_error: Option<String>,
    /// True when the broker handed this message out before without an ack.
    pub redelivered: bool,
    /// W3C trace context of the producer.
    pub trace: HashMap<String, String>,
}

impl Job {
    /// A new job of `kind`, carrying the current trace context.
    pub fn new(kind: impl Into<String>, payload: impl Into<Bytes>) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            kind: kind.into(),
            attempt: 1,
            payload: payload.into(),
            last_error: None,
            redelivered: false,
            trace: smez_kit::telemetry::current_context_fields(),
        }
    }

    /// The copy sent for the next attempt.
    fn next_attempt(&self, reason: &str) -> Self {
        Self {
            attempt: self.attempt + 1,
            last_error: Some(truncate(reason, 1024)),
            redelivered: false,
            ..self.clone()
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A job that used up its attempts (or failed permanently), with the last error.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    pub job: Job,
    pub reason: String,
}

/// How failed jobs are retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// Delay before retry 1, 2, ...; the last one repeats.
    pub delays: Vec<Duration>,
}

impl RetryPolicy {
    pub fn from_settings(settings: &smez_kit::config::BusSettings) -> Self {
        Self {
            max_attempts: settings.max_attempts,
            delays: settings
                .retry_delays_ms
                .iter()
                .map(|ms| Duration::from_millis(*ms))
                .collect(),
        }
    }

    /// The delay before the attempt after `attempt`.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let index = (attempt.saturating_sub(1) as usize).min(self.delays.len().saturating_sub(1));
        self.delays.get(index).copied().unwrap_or(Duration::from_secs(1))
    }
}

/// What a backend does; [`Bus`] adds the retry policy on top.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Returns once the broker has the job durably (publisher confirm).
    async fn publish(&self, job: &Job) -> Result<(), BusError>;
    /// Sends `job` back to its queue after `delay`.
    async fn publish_delayed(&self, job: &Job, delay: Duration) -> Result<(), BusError>;
    async fn publish_dead(&self, letter: &DeadLetter) -> Result<(), BusError>;
    async fn consume(&self, kind: &str, prefetch: u16) -> Result<Box<dyn DeliveryStream>, BusError>;
    async fn emit(&self, event: &Job) -> Result<(), BusError>;
    /// A durable subscription named `name` to events matching any of `patterns`
    /// (`*` matches one dot-separated word, `#` zero or more).
    async fn subscribe(
        &self,
        name: &str,
        patterns: &[&str],
        prefetch: u16,
    ) -> Result<Box<dyn DeliveryStream>, BusError>;
    /// Takes up to `limit` dead letters of `kind` off its dead-letter queue.
    async fn take_dead_letters(&self, kind: &str, limit: usize) -> Result<Vec<DeadLetter>, BusError>;
    /// Messages ready in `kind`'s work queue (for tests and operators).
    async fn ready_count(&self, kind: &str) -> Result<u32, BusError>;
    /// Whether every consumer this backend started holds a live channel
    /// (none is reconnecting). In-process consumers always do.
    fn consuming(&self) -> bool {
        true
    }
    async fn close(&self);
}

#[async_trait]
pub trait DeliveryStream: Send {
    /// The next delivery; `None` once the bus is closed.
    async fn next(&mut self) -> Option<RawDelivery>;
}

/// A delivery before the retry policy is attached.
pub struct RawDelivery {
    pub job: Job,
    pub settle: Box<dyn Settle>,
    /// Events come from a subscription, jobs from their work queue: a failed
    /// event is handed back to its subscription, not to a job queue.
    pub from_subscription: bool,
}

/// Settles one delivery with the broker.
#[async_trait]
pub trait Settle: Send {
    /// False once the channel it came on is gone: the broker redelivers it,
    /// so publishing a retry or dead copy would duplicate it.
    fn usable(&self) -> bool;
    async fn ack(self: Box<Self>) -> Result<(), BusError>;
    /// Returns the message to its queue now (e.g. at shutdown).
    async fn requeue(self: Box<Self>) -> Result<(), BusError>;
}

/// The bus a process uses: one backend, one retry policy.
#[derive(Clone)]
pub struct Bus {
    backend: Arc<dyn Backend>,
    policy: Arc<RetryPolicy>,
}

impl Bus {
    pub fn new(backend: Arc<dyn Backend>, policy: RetryPolicy) -> Self {
        Self {
            backend,
            policy: Arc::new(policy),
        }
    }

    /// The backend the settings choose: RabbitMQ when `bus.url` is set.
    pub async fn from_settings(settings: &smez_kit::config::BusSettings) -> anyhow::Result<Self> {
        let policy = RetryPolicy::from_settings(settings);
        let backend: Arc<dyn Backend> = if settings.url.is_empty() {
            Arc::new(memory::MemoryBackend::new())
        } else {
            Arc::new(rabbit::RabbitBackend::connect(&settings.url, &settings.prefix).await?)
        };
        Ok(Self::new(backend, policy))
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Whether every consumer of this process is receiving (none is waiting
    /// to reconnect to the broker): what a worker's readiness reports.
    pub fn consuming(&self) -> bool {
        self.backend.consuming()
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Enqueues a job; returns its id once the broker has it.
    pub async fn enqueue(&self, kind: &str, payload: impl Into<Bytes>) -> Result<String, BusError> {
        let job = Job::new(kind, payload);
        self.backend.publish(&job).await?;
        Ok(job.id)
    }

    pub async fn consume(&self, kind: &str, prefetch: u16) -> Result<Deliveries, BusError> {
        Ok(Deliveries {
            inner: self.backend.consume(kind, prefetch).await?,
            bus: self.clone(),
        })
    }

    /// Publishes an event on the topic exchange, routed by its type.
    pub async fn emit(&self, event_type: &str, payload: impl Into<Bytes>) -> Result<String, BusError> {
        let event = Job::new(event_type, payload);
        self.backend.emit(&event).await?;
        Ok(event.id)
    }

    pub async fn subscribe(&self, name: &str, patterns: &[&str], prefetch: u16) -> Result<Deliveries, BusError> {
        Ok(Deliveries {
            inner: self.backend.subscribe(name, patterns, prefetch).await?,
            bus: self.clone(),
        })
    }

    pub async fn take_dead_letters(&self, kind: &str, limit: usize) -> Result<Vec<DeadLetter>, BusError> {
        self.backend.take_dead_letters(kind, limit).await
    }

    pub async fn ready_count(&self, kind: &str) -> Result<u32, BusError> {
        self.backend.ready_count(kind).await
    }

    pub async fn close(&self) {
        self.backend.close().await;
    }
}

/// A stream of deliveries with the bus's retry policy attached.
pub struct Deliveries {
    inner: Box<dyn DeliveryStream>,
    bus: Bus,
}

impl Deliveries {
    pub async fn next(&mut self) -> Option<Delivery> {
        let raw = self.inner.next().await?;
        Some(Delivery {
            job: raw.job,
            settle: raw.settle,
            from_subscription: raw.from_subscription,
            bus: self.bus.clone(),
        })
    }
}

/// One job handed to a worker. Settle it exactly once; dropping it unsettled
/// returns it to the queue (as a worker that died would).
pub struct Delivery {
    pub job: Job,
    settle: Box<dyn Settle>,
    from_subscription: bool,
    bus: Bus,
}

impl Delivery {
    /// Done: the broker forgets the job.
    pub async fn ack(self) -> Result<(), BusError> {
        self.settle.ack().await
    }

    /// Failed: retried after a growing delay, or dead-lettered with `reason`
    /// once the attempts are used up. An event (from a subscription) is handed
    /// back to its subscription after the first retry delay instead.
    pub async fn fail(self, reason: &str) -> Result<(), BusError> {
        self.check_usable()?;
        if self.from_subscription {
            tokio::time::sleep(self.bus.policy.delay_after(1)).await;
            return self.settle.requeue().await;
        }
        if self.job.attempt >= self.bus.policy.max_attempts {
            return self.dead(reason).await;
        }
        let delay = self.bus.policy.delay_after(self.job.attempt);
        // Publish the retry before acking: a crash in between repeats the job
        // (handlers are idempotent) rather than losing it.
        self.bus
            .backend
            .publish_delayed(&self.job.next_attempt(reason), delay)
            .await?;
        self.settle.ack().await
    }

    /// Failed for good: a job goes to its dead-letter queue with `reason`; an
    /// event is dropped from its subscription (logged with the reason).
    pub async fn dead(self, reason: &str) -> Result<(), BusError> {
        self.check_usable()?;
        if self.from_subscription {
            tracing::error!(event = %self.job.kind, id = %self.job.id, %reason, "event dropped by its subscriber");
            return self.settle.ack().await;
        }
        let letter = DeadLetter {
            job: self.job.clone(),
            reason: truncate(reason, 1024),
        };
        self.bus.backend.publish_dead(&letter).await?;
        self.settle.ack().await
    }

    fn check_usable(&self) -> Result<(), BusError> {
        if self.settle.usable() {
            Ok(())
        } else {
            Err(BusError::Unavailable(
                "the delivery's channel is gone; the broker redelivers it".into(),
            ))
        }
    }

    /// Not handled here (e.g. shutting down): back to the queue now.
    pub async fn requeue(self) -> Result<(), BusError> {
        self.settle.requeue().await
    }
}
