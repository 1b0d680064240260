//! The in-process backend: the same semantics as RabbitMQ for one process.
//! Jobs live in memory, so they do not survive the process; the reconcilers
//! that re-drive rows stuck in a non-final state cover a restart.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::{Backend, BusError, DeadLetter, DeliveryStream, Job, RawDelivery, Settle, topic};

#[derive(Default)]
struct Queue {
    ready: Mutex<VecDeque<Job>>,
    available: Notify,
}

impl Queue {
    fn push_back(&self, job: Job) {
        self.ready.lock().expect("queue lock").push_back(job);
        self.available.notify_one();
    }

    fn push_front(&self, job: Job) {
        self.ready.lock().expect("queue lock").push_front(job);
        self.available.notify_one();
    }

    async fn pop(&self) -> Job {
        loop {
            let notified = self.available.notified();
            if let Some(job) = self.ready.lock().expect("queue lock").pop_front() {
                return job;
            }
            notified.await;
        }
    }
}

struct Subscription {
    patterns: Vec<String>,
    queue: Arc<Queue>,
}

#[derive(Default)]
struct State {
    jobs: HashMap<String, Arc<Queue>>,
    dead: HashMap<String, VecDeque<DeadLetter>>,
    subscriptions: HashMap<String, Subscription>,
}

/// The in-process bus. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct MemoryBackend {
    state: Mutex<State>,
    closed: tokio_util::sync::CancellationToken,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn queue(&self, kind: &str) -> Arc<Queue> {
        self.state
            .lock()
            .expect("bus lock")
            .jobs
            .entry(kind.to_owned())
            .or_default()
            .clone()
    }

    fn check_open(&self) -> Result<(), BusError> {
        if self.closed.is_cancelled() {
            Err(BusError::Closed)
        } else {
            Ok(())
        }
    }

    fn stream(&self, queue: Arc<Queue>, prefetch: u16, from_subscription: bool) -> Box<dyn DeliveryStream> {
        Box::new(MemoryStream {
            queue,
            permits: Arc::new(Semaphore::new(prefetch.max(1) as usize)),
            closed: self.closed.clone(),
            from_subscription,
        })
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "in-process"
    }

    async fn publish(&self, job: &Job) -> Result<(), BusError> {
        self.check_open()?;
        self.queue(&job.kind).push_back(job.clone());
        Ok(())
    }

    async fn publish_delayed(&self, job: &Job, delay: Duration) -> Result<(), BusError> {
        self.check_open()?;
        let queue = self.queue(&job.kind);
        let job = job.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.push_back(job);
        });
        Ok(())
    }

    async fn publish_dead(&self, letter: &DeadLetter) -> Result<(), BusError> {
        self.check_open()?;
        tracing::warn!(kind = %letter.job.kind, job_id = %letter.job.id, reason = %letter.reason, "job dead-lettered");
        self.state
            .lock()
            .expect("bus lock")
            .dead
            .entry(letter.job.kind.clone())
            .or_default()
            .push_back(letter.clone());
        Ok(())
    }

    async fn consume(&self, kind: &str, prefetch: u16) -> Result<Box<dyn DeliveryStream>, BusError> {
        self.check_open()?;
        Ok(self.stream(self.queue(kind), prefetch, false))
    }

    async fn emit(&self, event: &Job) -> Result<(), BusError> {
        self.check_open()?;
        let state = self.state.lock().expect("bus lock");
        for subscription in state.subscriptions.values() {
            if subscription.patterns.iter().any(|p| topic::matches(p, &event.kind)) {
                subscription.queue.push_back(event.clone());
            }
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        name: &str,
        patterns: &[&str],
        prefetch: u16,
    ) -> Result<Box<dyn DeliveryStream>, BusError> {
        self.check_open()?;
        let queue = {
            let mut state = self.state.lock().expect("bus lock");
            let subscription = state
                .subscriptions
                .entry(name.to_owned())
                .or_insert_with(|| Subscription {
                    patterns: Vec::new(),
                    queue: Arc::default(),
                });
            for pattern in patterns {
                if !subscription.patterns.iter().any(|p| p == pattern) {
                    subscription.patterns.push((*pattern).to_owned());
                }
            }
            subscription.queue.clone()
        };
        Ok(self.stream(queue, prefetch, true))
    }

    async fn take_dead_letters(&self, kind: &str, limit: usize) -> Result<Vec<DeadLetter>, BusError> {
        let mut state = self.state.lock().expect("bus lock");
        let Some(dead) = state.dead.get_mut(kind) else {
            return Ok(Vec::new());
        };
        let count = limit.min(dead.len());
        Ok(dead.drain(..count).collect())
    }

    async fn ready_count(&self, kind: &str) -> Result<u32, BusError> {
        Ok(self.queue(kind).ready.lock().expect("queue lock").len() as u32)
    }

    async fn close(&self) {
        self.closed.cancel();
    }
}

struct MemoryStream {
    queue: Arc<Queue>,
    permits: Arc<Semaphore>,
    closed: tokio_util::sync::CancellationToken,
    from_subscription: bool,
}

#[async_trait]
impl DeliveryStream for MemoryStream {
    async fn next(&mut self) -> Option<RawDelivery> {
        // The prefetch: at most `prefetch` deliveries unsettled at once.
        let permit = tokio::select! {
            permit = self.permits.clone().acquire_owned() => permit.ok()?,
            () = self.closed.cancelled() => return None,
        };
        let job = tokio::select! {
            job = self.queue.pop() => job,
            () = self.closed.cancelled() => return None,
        };
        Some(RawDelivery {
            job: job.clone(),
            settle: Box::new(MemorySettle {
                queue: self.queue.clone(),
                job: Some(job),
                _permit: permit,
            }),
            from_subscription: self.from_subscription,
        })
    }
}

/// Unsettled on drop means the consumer died: the job goes back, marked redelivered.
struct MemorySettle {
    queue: Arc<Queue>,
    job: Option<Job>,
    _permit: OwnedSemaphorePermit,
}

impl MemorySettle {
    fn give_back(&mut self) {
        if let Some(mut job) = self.job.take() {
            job.redelivered = true;
            self.queue.push_front(job);
        }
    }
}

impl Drop for MemorySettle {
    fn drop(&mut self) {
        self.give_back();
    }
}

#[async_trait]
impl Settle for MemorySettle {
    fn usable(&self) -> bool {
        true
    }

    async fn ack(mut self: Box<Self>) -> Result<(), BusError> {
        self.job = None;
        Ok(())
    }

    async fn requeue(mut self: Box<Self>) -> Result<(), BusError> {
        self.give_back();
        Ok(())
    }
}
