//! The RabbitMQ backend (lapin).
//!
//! Topology for job kind `K` with prefix `P`:
//! - `P.jobs.K`: the durable quorum work queue. A delivery limit dead-letters
//!   a message that keeps killing its workers (it was never acked or failed).
//! - `P.jobs.K.retry.<ms>`: one durable delay queue per retry delay; its TTL
//!   dead-letters the message back into `P.jobs.K`.
//! - `P.jobs.K.dead`: the dead-letter queue, reached through exchange `P.dlx`.
//! - `P.events`: the topic exchange for events; subscription `S` is queue
//!   `P.events.S`.
//!
//! Every publish waits for its publisher confirm and is `mandatory`, so a
//! message the broker could not route is an error, not a silent drop. When the
//! connection goes away (broker restart, `rabbitmqctl close_all_connections`),
//! publishers and consumers reconnect with backoff and declare the topology again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::{Backend, BusError, DeadLetter, DeliveryStream, Job, RawDelivery, Settle, headers};

/// Header naming the job kind, so dead letters and delayed copies keep it.
const KIND_HEADER: &str = "x-smez-kind";
/// Deliveries a quorum queue allows one message before dead-lettering it.
const DELIVERY_LIMIT: i32 = 20;
const PUBLISH_TRIES: u32 = 6;
/// Longest wait for a connection, a channel or a publisher confirm: a broker
/// under a memory or disk alarm must not hang a publisher (or shutdown) forever.
const BROKER_TIMEOUT: Duration = Duration::from_secs(15);

async fn within<T>(what: &str, future: impl std::future::Future<Output = lapin::Result<T>>) -> Result<T, BusError> {
    match tokio::time::timeout(BROKER_TIMEOUT, future).await {
        Ok(result) => result.map_err(unavailable),
        Err(_) => Err(BusError::Unavailable(format!(
            "{what}: no answer from RabbitMQ within {BROKER_TIMEOUT:?}"
        ))),
    }
}

struct Link {
    connection: Option<Arc<Connection>>,
    publisher: Option<Channel>,
    generation: u64,
}

struct Inner {
    url: String,
    prefix: String,
    link: Mutex<Link>,
    declared: std::sync::Mutex<HashSet<String>>,
    closed: CancellationToken,
    consumer_seq: AtomicU64,
    /// Consumers without a live channel right now (reconnecting).
    consumers_down: AtomicUsize,
}

/// A RabbitMQ connection shared by the publishers and consumers of a process.
pub struct RabbitBackend {
    inner: Arc<Inner>,
}

impl RabbitBackend {
    /// Connects once now, so a wrong URL fails at start with a clear error.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let inner = Arc::new(Inner {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            link: Mutex::new(Link {
                connection: None,
                publisher: None,
                generation: 0,
            }),
            declared: Default::default(),
            closed: CancellationToken::new(),
            consumer_seq: AtomicU64::new(0),
            consumers_down: AtomicUsize::new(0),
        });
        inner
            .publisher()
            .await
            .map_err(|e| anyhow::anyhow!("bus.url {}: {e}", smez_kit::config::redact_url(url)))?;
        inner.declare_exchanges(&inner.publisher().await?.0).await?;
        Ok(Self { inner })
    }

    pub fn work_queue(&self, kind: &str) -> String {
        self.inner.work_queue(kind)
    }

    /// Deletes a job kind's queues (work, dead-letter, the given delay
    /// queues). For operators retiring a kind, and for tests cleaning up.
    pub async fn delete_kind(&self, kind: &str, delays: &[Duration]) -> Result<(), BusError> {
        let mut names = vec![self.inner.work_queue(kind), self.inner.dead_queue(kind)];
        names.extend(delays.iter().map(|d| self.inner.delay_queue(kind, *d)));
        self.delete_queues(&names).await
    }

    /// Deletes the dead-letter and event exchanges of this prefix (after
    /// [`Self::delete_kind`] for every kind: for tests and retired prefixes).
    pub async fn delete_exchanges(&self) -> Result<(), BusError> {
        let (channel, _) = self.inner.publisher().await?;
        for name in [
            self.inner.dead_exchange(),
            self.inner.retry_exchange(),
            self.inner.events_exchange(),
        ] {
            channel
                .exchange_delete(name.into(), lapin::options::ExchangeDeleteOptions::default())
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    /// Deletes an event subscription's queue.
    pub async fn delete_subscription(&self, name: &str) -> Result<(), BusError> {
        self.delete_queues(&[self.inner.subscription_queue(name)]).await
    }

    async fn delete_queues(&self, names: &[String]) -> Result<(), BusError> {
        let (channel, _) = self.inner.publisher().await?;
        for name in names {
            channel
                .queue_delete(name.clone().into(), lapin::options::QueueDeleteOptions::default())
                .await
                .map_err(unavailable)?;
        }
        self.inner.declared.lock().expect("declared lock").clear();
        Ok(())
    }
}

impl Inner {
    fn work_queue(&self, kind: &str) -> String {
        format!("{}.jobs.{kind}", self.prefix)
    }

    fn dead_queue(&self, kind: &str) -> String {
        format!("{}.jobs.{kind}.dead", self.prefix)
    }

    fn delay_queue(&self, kind: &str, delay: Duration) -> String {
        format!("{}.jobs.{kind}.retry.{}ms", self.prefix, delay.as_millis())
    }

    fn dead_exchange(&self) -> String {
        format!("{}.dlx", self.prefix)
    }

    /// Where delay queues dead-letter expired retries: bound to every work queue by its name.
    fn retry_exchange(&self) -> String {
        format!("{}.retry", self.prefix)
    }

    fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    fn subscription_queue(&self, name: &str) -> String {
        format!("{}.events.{name}", self.prefix)
    }

    /// The connection, (re)opening it if needed, with its generation.
    async fn connection(&self) -> Result<(Arc<Connection>, u64), BusError> {
        if self.closed.is_cancelled() {
            return Err(BusError::Closed);
        }
        let mut link = self.link.lock().await;
        if let Some(connection) = link.connection.as_ref().filter(|c| c.status().connected()) {
            return Ok((connection.clone(), link.generation));
        }
        let properties = ConnectionProperties::default().with_connection_name("smez".into());
        let connection = within("connecting", Connection::connect(&self.url, properties)).await?;
        let connection = Arc::new(connection);
        link.generation += 1;
        link.connection = Some(connection.clone());
        link.publisher = None;
        self.declared.lock().expect("declared lock").clear();
        if link.generation > 1 {
            tracing::info!(generation = link.generation, "reconnected to RabbitMQ");
        }
        Ok((connection, link.generation))
    }

    /// The shared confirm-mode publishing channel.
    async fn publisher(&self) -> Result<(Channel, u64), BusError> {
        let (connection, generation) = self.connection().await?;
        let mut link = self.link.lock().await;
        if link.generation == generation
            && let Some(channel) = link.publisher.as_ref().filter(|c| c.status().connected())
        {
            return Ok((channel.clone(), generation));
        }
        let channel = within("opening a channel", connection.create_channel()).await?;
        within(
            "enabling confirms",
            channel.confirm_select(ConfirmSelectOptions::default()),
        )
        .await?;
        if link.generation == generation {
            link.publisher = Some(channel.clone());
        }
        Ok((channel, generation))
    }

    /// Forgets a broken publishing channel, and the connection too if it is
    /// down, so the next user opens fresh ones (once per generation).
    async fn invalidate(&self, generation: u64) {
        let mut link = self.link.lock().await;
        if link.generation == generation {
            link.publisher = None;
            if !link.connection.as_ref().is_some_and(|c| c.status().connected()) {
                link.connection = None;
            }
        }
    }

    async fn declare_exchanges(&self, channel: &Channel) -> Result<(), BusError> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        for (name, kind) in [
            (self.dead_exchange(), ExchangeKind::Direct),
            (self.retry_exchange(), ExchangeKind::Direct),
            (self.events_exchange(), ExchangeKind::Topic),
        ] {
            within(
                "declaring an exchange",
                channel.exchange_declare(name.into(), kind, durable, FieldTable::default()),
            )
            .await?;
        }
        Ok(())
    }

    /// Declares a kind's work and dead-letter queues once per connection.
    async fn declare_job_queues(&self, channel: &Channel, kind: &str) -> Result<(), BusError> {
        let work = self.work_queue(kind);
        if self.declared.lock().expect("declared lock").contains(&work) {
            return Ok(());
        }
        self.declare_exchanges(channel).await?;
        let dead = self.dead_queue(kind);
        declare_queue(channel, &dead, table([("x-queue-type", text("quorum"))])).await?;
        channel
            .queue_bind(
                dead.clone().into(),
                self.dead_exchange().into(),
                dead.clone().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        let arguments = table([
            ("x-queue-type", text("quorum")),
            ("x-delivery-limit", AMQPValue::LongInt(DELIVERY_LIMIT)),
            ("x-dead-letter-exchange", text(&self.dead_exchange())),
            ("x-dead-letter-routing-key", text(&dead)),
        ]);
        declare_queue(channel, &work, arguments).await?;
        within(
            "binding the work queue",
            channel.queue_bind(
                work.clone().into(),
                self.retry_exchange().into(),
                work.clone().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            ),
        )
        .await?;
        self.declared.lock().expect("declared lock").insert(work);
        Ok(())
    }

    async fn declare_delay_queue(&self, channel: &Channel, kind: &str, delay: Duration) -> Result<String, BusError> {
        let name = self.delay_queue(kind, delay);
        if self.declared.lock().expect("declared lock").contains(&name) {
            return Ok(name);
        }
        // Quorum with at-least-once dead-lettering: a delayed retry survives a
        // broker restart and is not dropped on its way back to the work queue.
        let arguments = table([
            ("x-queue-type", text("quorum")),
            ("x-message-ttl", AMQPValue::LongLongInt(delay.as_millis() as i64)),
            ("x-dead-letter-exchange", text(&self.retry_exchange())),
            ("x-dead-letter-routing-key", text(&self.work_queue(kind))),
            ("x-dead-letter-strategy", text("at-least-once")),
            ("x-overflow", text("reject-publish")),
        ]);
        declare_queue(channel, &name, arguments).await?;
        self.declared.lock().expect("declared lock").insert(name.clone());
        Ok(name)
    }

    /// Publishes with confirm, reconnecting and trying again on a broken link.
    async fn publish(&self, target: Target, job: &Job, extra: &[(&str, AMQPValue)]) -> Result<(), BusError> {
        let mut last = BusError::Unavailable("not tried".into());
        let mut refused_before = false;
        for attempt in 0..PUBLISH_TRIES {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let (channel, generation) = match self.publisher().await {
                Ok(found) => found,
                Err(BusError::Closed) => return Err(BusError::Closed),
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            match self.publish_once(&channel, target, job, extra).await {
                Ok(()) => return Ok(()),
                Err(BusError::Refused(why)) if refused_before => return Err(BusError::Refused(why)),
                Err(BusError::Nacked(why)) => {
                    // The broker could not take it now (e.g. a queue at its limit):
                    // the link is fine, try again after the backoff.
                    tracing::warn!(%why, attempt, "publish nacked; trying again");
                    last = BusError::Nacked(why);
                }
                Err(BusError::Refused(why)) => {
                    // Someone deleted the queue under us: declare it again and resend.
                    tracing::warn!(%why, "broker returned a job; declaring its queues again");
                    self.declared.lock().expect("declared lock").clear();
                    refused_before = true;
                    last = BusError::Refused(why);
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "publish failed; reconnecting");
                    self.invalidate(generation).await;
                    last = e;
                }
            }
        }
        Err(last)
    }

    async fn publish_once(
        &self,
        channel: &Channel,
        target: Target,
        job: &Job,
        extra: &[(&str, AMQPValue)],
    ) -> Result<(), BusError> {
        let (exchange, routing_key) = match target {
            Target::Work => {
                self.declare_job_queues(channel, &job.kind).await?;
                (String::new(), self.work_queue(&job.kind))
            }
            Target::Delay(delay) => {
                self.declare_job_queues(channel, &job.kind).await?;
                (
                    String::new(),
                    self.declare_delay_queue(channel, &job.kind, delay).await?,
                )
            }
            Target::Dead => {
                self.declare_job_queues(channel, &job.kind).await?;
                (String::new(), self.dead_queue(&job.kind))
            }
            Target::Events => {
                self.declare_exchanges(channel).await?;
                (self.events_exchange(), job.kind.clone())
            }
        };
        let confirm = within(
            "publishing",
            channel.basic_publish(
                exchange.into(),
                routing_key.clone().into(),
                BasicPublishOptions {
                    // Events with no subscriber yet are fine; jobs must land in a queue.
                    mandatory: !matches!(target, Target::Events),
                    ..Default::default()
                },
                &job.payload,
                properties(job, extra),
            ),
        )
        .await?;
        let confirmation = within("waiting for the publisher confirm", confirm).await?;
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_returned)) => Err(BusError::Refused(format!("no queue for `{routing_key}`"))),
            Confirmation::Nack(_) => Err(BusError::Unavailable(format!(
                "broker nacked a message to `{routing_key}`"
            ))),
            Confirmation::NotRequested => Err(BusError::Unavailable("publisher confirms are off".into())),
        }
    }

    /// Opens a consuming channel with its prefetch on `queue`.
    async fn start_consumer(
        self: &Arc<Self>,
        source: &Source,
        prefetch: u16,
    ) -> Result<(Channel, lapin::Consumer, u64), BusError> {
        let (connection, generation) = self.connection().await?;
        let channel = within("opening a channel", connection.create_channel()).await?;
        within(
            "setting the prefetch",
            channel.basic_qos(prefetch, BasicQosOptions::default()),
        )
        .await?;
        let queue = match source {
            Source::Jobs(kind) => {
                self.declare_job_queues(&channel, kind).await?;
                self.work_queue(kind)
            }
            Source::Events { name, patterns } => {
                self.declare_exchanges(&channel).await?;
                let queue = self.subscription_queue(name);
                declare_queue(&channel, &queue, table([("x-queue-type", text("quorum"))])).await?;
                for pattern in patterns {
                    channel
                        .queue_bind(
                            queue.clone().into(),
                            self.events_exchange().into(),
                            pattern.clone().into(),
                            QueueBindOptions::default(),
                            FieldTable::default(),
                        )
                        .await
                        .map_err(unavailable)?;
                }
                queue
            }
        };
        let tag = format!(
            "smez-{}-{}",
            std::process::id(),
            self.consumer_seq.fetch_add(1, Ordering::Relaxed)
        );
        let consumer = channel
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        Ok((channel, consumer, generation))
    }
}

#[derive(Clone, Copy)]
enum Target {
    Work,
    Delay(Duration),
    Dead,
    Events,
}

enum Source {
    Jobs(String),
    Events { name: String, patterns: Vec<String> },
}

#[async_trait]
impl Backend for RabbitBackend {
    fn name(&self) -> &'static str {
        "rabbitmq"
    }

    async fn publish(&self, job: &Job) -> Result<(), BusError> {
        self.inner.publish(Target::Work, job, &[]).await
    }

    async fn publish_delayed(&self, job: &Job, delay: Duration) -> Result<(), BusError> {
        self.inner.publish(Target::Delay(delay), job, &[]).await
    }

    async fn publish_dead(&self, letter: &DeadLetter) -> Result<(), BusError> {
        tracing::warn!(kind = %letter.job.kind, job_id = %letter.job.id, reason = %letter.reason, "job dead-lettered");
        let reason = [(headers::LAST_ERROR, text(&letter.reason))];
        self.inner.publish(Target::Dead, &letter.job, &reason).await
    }

    async fn consume(&self, kind: &str, prefetch: u16) -> Result<Box<dyn DeliveryStream>, BusError> {
        stream(&self.inner, Source::Jobs(kind.to_owned()), prefetch).await
    }

    async fn emit(&self, event: &Job) -> Result<(), BusError> {
        let event_type = [(headers::EVENT_TYPE, text(&event.kind))];
        self.inner.publish(Target::Events, event, &event_type).await
    }

    async fn subscribe(
        &self,
        name: &str,
        patterns: &[&str],
        prefetch: u16,
    ) -> Result<Box<dyn DeliveryStream>, BusError> {
        let source = Source::Events {
            name: name.to_owned(),
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
        };
        stream(&self.inner, source, prefetch).await
    }

    async fn take_dead_letters(&self, kind: &str, limit: usize) -> Result<Vec<DeadLetter>, BusError> {
        let (channel, _) = self.inner.publisher().await?;
        self.inner.declare_job_queues(&channel, kind).await?;
        let mut letters = Vec::new();
        while letters.len() < limit {
            let Some(message) = channel
                .basic_get(self.inner.dead_queue(kind).into(), BasicGetOptions { no_ack: true })
                .await
                .map_err(unavailable)?
            else {
                break;
            };
            let delivery = message.delivery;
            let job = job_from(&delivery.properties, &delivery.data, kind, delivery.redelivered);
            let reason = job.last_error.clone().unwrap_or_else(|| {
                format!("delivered {DELIVERY_LIMIT} times without being settled (workers died or stopped mid-job)")
            });
            letters.push(DeadLetter { job, reason });
        }
        Ok(letters)
    }

    async fn ready_count(&self, kind: &str) -> Result<u32, BusError> {
        let (channel, _) = self.inner.publisher().await?;
        self.inner.declare_job_queues(&channel, kind).await?;
        let queue = channel
            .queue_declare(
                self.inner.work_queue(kind).into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        Ok(queue.message_count())
    }

    fn consuming(&self) -> bool {
        self.inner.consumers_down.load(Ordering::SeqCst) == 0
    }

    async fn close(&self) {
        self.inner.closed.cancel();
        let mut link = self.inner.link.lock().await;
        if let Some(connection) = link.connection.take() {
            let _ = tokio::time::timeout(BROKER_TIMEOUT, connection.close(200, "smez shutting down".into())).await;
        }
        link.publisher = None;
    }
}

async fn stream(inner: &Arc<Inner>, source: Source, prefetch: u16) -> Result<Box<dyn DeliveryStream>, BusError> {
    // Start now so the queue exists before the caller goes on; later failures reconnect.
    let (channel, consumer, generation) = inner.start_consumer(&source, prefetch).await?;
    Ok(Box::new(RabbitStream {
        inner: inner.clone(),
        source,
        prefetch,
        current: Some((channel, consumer, generation)),
        failures: 0,
    }))
}

struct RabbitStream {
    inner: Arc<Inner>,
    source: Source,
    prefetch: u16,
    current: Option<(Channel, lapin::Consumer, u64)>,
    failures: u32,
}

impl RabbitStream {
    fn kind_hint(&self) -> &str {
        match &self.source {
            Source::Jobs(kind) => kind,
            Source::Events { .. } => "",
        }
    }
}

#[async_trait]
impl DeliveryStream for RabbitStream {
    async fn next(&mut self) -> Option<RawDelivery> {
        loop {
            if self.inner.closed.is_cancelled() {
                return None;
            }
            if self.current.is_none() {
                if self.failures > 0 {
                    tokio::select! {
                        () = tokio::time::sleep(backoff(self.failures)) => {}
                        () = self.inner.closed.cancelled() => return None,
                    }
                }
                match self.inner.start_consumer(&self.source, self.prefetch).await {
                    Ok(current) => {
                        self.current = Some(current);
                        self.failures = 0;
                        self.inner.consumers_down.fetch_sub(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        self.failures += 1;
                        tracing::warn!(error = %e, "consumer cannot start yet; retrying");
                        continue;
                    }
                }
            }
            let (_, consumer, generation) = self.current.as_mut().expect("set above");
            let generation = *generation;
            let item = tokio::select! {
                item = consumer.next() => item,
                () = self.inner.closed.cancelled() => return None,
            };
            match item {
                Some(Ok(delivery)) => {
                    let job = job_from(
                        &delivery.properties,
                        &delivery.data,
                        self.kind_hint(),
                        delivery.redelivered,
                    );
                    return Some(RawDelivery {
                        job,
                        settle: Box::new(RabbitSettle {
                            acker: Some(delivery.acker),
                        }),
                        from_subscription: matches!(self.source, Source::Events { .. }),
                    });
                }
                Some(Err(e)) => tracing::warn!(error = %e, "consumer lost its channel; reconnecting"),
                None => tracing::warn!("consumer was cancelled; reconnecting"),
            }
            self.current = None;
            self.inner.consumers_down.fetch_add(1, Ordering::SeqCst);
            self.failures += 1;
            self.inner.invalidate(generation).await;
        }
    }
}

impl Drop for RabbitStream {
    fn drop(&mut self) {
        // Closing the channel hands its unacked deliveries back to the queue.
        match self.current.take() {
            Some((channel, _, _)) => {
                tokio::spawn(async move {
                    let _ = channel.close(200, "consumer stopped".into()).await;
                });
            }
            // A stopped consumer no longer counts as one waiting to reconnect.
            None => {
                self.inner.consumers_down.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

struct RabbitSettle {
    acker: Option<lapin::Acker>,
}

#[async_trait]
impl Settle for RabbitSettle {
    fn usable(&self) -> bool {
        self.acker.as_ref().is_some_and(lapin::Acker::usable)
    }

    async fn ack(mut self: Box<Self>) -> Result<(), BusError> {
        let acker = self.acker.take().expect("settled once");
        settled(acker.ack(BasicAckOptions::default()).await)
    }

    async fn requeue(mut self: Box<Self>) -> Result<(), BusError> {
        let acker = self.acker.take().expect("settled once");
        nack_requeue(acker).await
    }
}

impl Drop for RabbitSettle {
    fn drop(&mut self) {
        // Dropped unsettled: hand it back at once, as a dead consumer's channel would.
        if let Some(acker) = self.acker.take() {
            tokio::spawn(async move {
                let _ = nack_requeue(acker).await;
            });
        }
    }
}

async fn nack_requeue(acker: lapin::Acker) -> Result<(), BusError> {
    settled(
        acker
            .nack(BasicNackOptions {
                requeue: true,
                multiple: false,
            })
            .await,
    )
}

/// lapin answers `Ok(false)` when the delivery's channel is already gone.
fn settled(result: lapin::Result<bool>) -> Result<(), BusError> {
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(BusError::Unavailable(
            "the delivery's channel is gone; the broker redelivers it".into(),
        )),
        Err(e) => Err(unavailable(e)),
    }
}

async fn declare_queue(channel: &Channel, name: &str, arguments: FieldTable) -> Result<(), BusError> {
    channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await
        .map(drop)
        .map_err(|e| BusError::Unavailable(format!("declaring queue {name}: {e}")))
}

fn properties(job: &Job, extra: &[(&str, AMQPValue)]) -> BasicProperties {
    let mut fields = FieldTable::default();
    fields.insert(headers::JOB_ID.into(), text(&job.id));
    fields.insert(KIND_HEADER.into(), text(&job.kind));
    fields.insert(headers::ATTEMPT.into(), AMQPValue::LongLongInt(i64::from(job.attempt)));
    if let Some(error) = &job.last_error {
        fields.insert(headers::LAST_ERROR.into(), text(error));
    }
    for (key, value) in &job.trace {
        fields.insert(key.clone().into(), text(value));
    }
    for (key, value) in extra {
        fields.insert((*key).into(), value.clone());
    }
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_message_id(job.id.clone().into())
        .with_content_type("application/octet-stream".into())
        .with_headers(fields)
}

fn job_from(properties: &BasicProperties, data: &[u8], kind_hint: &str, redelivered: bool) -> Job {
    let empty = FieldTable::default();
    let fields = properties.headers().as_ref().unwrap_or(&empty).inner();
    let text_of = |key: &str| fields.get(key).and_then(value_text);
    let trace: HashMap<String, String> = ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|key| text_of(key).map(|v| (key.to_owned(), v)))
        .collect();
    let attempt = match fields.get(headers::ATTEMPT) {
        Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).unwrap_or(1),
        Some(AMQPValue::LongInt(n)) => u32::try_from(*n).unwrap_or(1),
        _ => 1,
    };
    Job {
        id: text_of(headers::JOB_ID)
            .or_else(|| properties.message_id().as_ref().map(ShortString::to_string))
            .unwrap_or_default(),
        kind: text_of(headers::EVENT_TYPE)
            .or_else(|| text_of(KIND_HEADER))
            .unwrap_or_else(|| kind_hint.to_owned()),
        attempt: attempt.max(1),
        payload: bytes::Bytes::copy_from_slice(data),
        last_error: text_of(headers::LAST_ERROR),
        redelivered,
        trace,
    }
}

fn value_text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

fn table<const N: usize>(entries: [(&str, AMQPValue); N]) -> FieldTable {
    let mut fields = FieldTable::default();
    for (key, value) in entries {
        fields.insert(key.into(), value);
    }
    fields
}

/// Exponential backoff with jitter, so processes that lost the broker
/// together do not all come back at the same instant.
fn backoff(failures: u32) -> Duration {
    let base = 100 * 2u64.pow(failures.min(6));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    Duration::from_millis(base / 2 + nanos % (base / 2 + 1))
}

fn unavailable(error: lapin::Error) -> BusError {
    BusError::Unavailable(error.to_string())
}
