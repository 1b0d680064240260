use std::sync::Arc;
use std::time::Duration;

use smez_bus::memory::MemoryBackend;
use smez_bus::rabbit::RabbitBackend;
use smez_bus::{Bus, Delivery, RetryPolicy};

pub const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(200)];
pub const MAX_ATTEMPTS: u32 = 3;

pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// `close_all_connections` hits every test's connections: that test takes this
/// lock to write, every other RabbitMQ test holds it to read.
pub static BROKER: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

pub fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: MAX_ATTEMPTS,
        delays: RETRY_DELAYS.to_vec(),
    }
}

/// A bus on one backend, with what it takes to make a second connection and clean up.
pub struct Harness {
    pub bus: Bus,
    rabbit: Option<(Arc<RabbitBackend>, String)>,
    _broker: Option<tokio::sync::RwLockReadGuard<'static, ()>>,
    kinds: Vec<String>,
    subscriptions: Vec<String>,
}

impl Harness {
    pub fn memory() -> Self {
        Self {
            bus: Bus::new(Arc::new(MemoryBackend::new()), policy()),
            rabbit: None,
            _broker: None,
            kinds: Vec::new(),
            subscriptions: Vec::new(),
        }
    }

    /// A RabbitMQ bus under a random prefix, so tests never see each other's queues.
    pub async fn rabbit() -> Self {
        let broker = BROKER.read().await;
        Self::rabbit_with(Some(broker)).await
    }

    /// For the one test that holds [`BROKER`] exclusively.
    pub async fn rabbit_exclusive() -> Self {
        Self::rabbit_with(None).await
    }

    async fn rabbit_with(broker: Option<tokio::sync::RwLockReadGuard<'static, ()>>) -> Self {
        smez_kit::telemetry::init_for_tests();
        let prefix = format!("test.{}", uuid::Uuid::new_v4().simple());
        let backend = Arc::new(
            RabbitBackend::connect(&amqp_url(), &prefix)
                .await
                .expect("RabbitMQ must be reachable at TEST_AMQP_URL"),
        );
        Self {
            bus: Bus::new(backend.clone(), policy()),
            rabbit: Some((backend, prefix)),
            _broker: broker,
            kinds: Vec::new(),
            subscriptions: Vec::new(),
        }
    }

    pub fn kind(&mut self, name: &str) -> String {
        self.kinds.push(name.to_owned());
        name.to_owned()
    }

    pub fn subscription(&mut self, name: &str) -> String {
        self.subscriptions.push(name.to_owned());
        name.to_owned()
    }

    /// Another process's view of the same bus: its own connection (RabbitMQ)
    /// or the same in-process bus.
    pub async fn second_connection(&self) -> Bus {
        match &self.rabbit {
            Some((_, prefix)) => Bus::new(
                Arc::new(RabbitBackend::connect(&amqp_url(), prefix).await.unwrap()),
                policy(),
            ),
            None => self.bus.clone(),
        }
    }

    pub fn rabbit_backend(&self) -> Option<&RabbitBackend> {
        self.rabbit.as_ref().map(|(backend, _)| backend.as_ref())
    }

    pub fn is_rabbit(&self) -> bool {
        self.rabbit.is_some()
    }

    pub async fn cleanup(self) {
        if let Some((backend, _)) = &self.rabbit {
            for kind in &self.kinds {
                backend.delete_kind(kind, &RETRY_DELAYS).await.unwrap();
            }
            for name in &self.subscriptions {
                backend.delete_subscription(name).await.unwrap();
            }
            backend.delete_exchanges().await.unwrap();
        }
        self.bus.close().await;
    }
}

/// The next delivery within `wait`, or None.
pub async fn next_within(deliveries: &mut smez_bus::Deliveries, wait: Duration) -> Option<Delivery> {
    tokio::time::timeout(wait, deliveries.next()).await.ok().flatten()
}
