//! Bus round trip on RabbitMQ over loopback: publish with confirm → consume →
//! ack, as jobs/s and latency percentiles, beside a bare lapin loop doing the
//! same work on the same kind of queue (the ratio is what the bus costs).
//!
//! `cargo bench -p smez-bus` (env: `TEST_AMQP_URL`, `BENCH_JOBS` default
//! 20000, `BENCH_PUBLISHERS` default 64, `BENCH_PREFETCH` default 256).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};
use smez_bus::rabbit::RabbitBackend;
use smez_bus::{Bus, RetryPolicy};
use tokio::sync::Mutex;

struct Figures {
    jobs: usize,
    elapsed: Duration,
    latency: Histogram<u64>,
}

impl Figures {
    fn rate(&self) -> f64 {
        self.jobs as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self, name: &str) {
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{name:<28} {:>9.0} jobs/s   p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   ({} jobs in {:.2?})",
            self.rate(),
            ms(0.50),
            ms(0.99),
            self.latency.max() as f64 / 1000.0,
            self.jobs,
            self.elapsed
        );
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The payload carries when it was sent, in µs since `base`.
fn stamp(base: Instant) -> Vec<u8> {
    (base.elapsed().as_micros() as u64).to_le_bytes().to_vec()
}

fn age_us(base: Instant, payload: &[u8]) -> u64 {
    let sent = u64::from_le_bytes(payload[..8].try_into().expect("8-byte stamp"));
    (base.elapsed().as_micros() as u64).saturating_sub(sent)
}

async fn bench_bus(url: &str, jobs: usize, publishers: usize, prefetch: u16) -> Figures {
    let prefix = format!("bench.{}", uuid::Uuid::new_v4().simple());
    let backend = Arc::new(RabbitBackend::connect(url, &prefix).await.expect("RabbitMQ reachable"));
    let policy = RetryPolicy {
        max_attempts: 5,
        delays: vec![Duration::from_secs(1)],
    };
    let bus = Bus::new(backend.clone(), policy);
    let kind = "bench.roundtrip";
    let mut deliveries = bus.consume(kind, prefetch).await.unwrap();
    let base = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut latency = Histogram::<u64>::new(3).unwrap();
        for _ in 0..jobs {
            let delivery = deliveries.next().await.expect("bus open");
            latency.record(age_us(base, &delivery.job.payload)).unwrap();
            delivery.ack().await.unwrap();
        }
        (latency, base.elapsed())
    });
    let mut producers = Vec::new();
    for p in 0..publishers {
        let bus = bus.clone();
        let share = jobs / publishers + usize::from(p < jobs % publishers);
        producers.push(tokio::spawn(async move {
            for _ in 0..share {
                bus.enqueue(kind, stamp(base)).await.unwrap();
            }
        }));
    }
    for producer in producers {
        producer.await.unwrap();
    }
    let (latency, elapsed) = consumer.await.unwrap();
    backend.delete_kind(kind, &[]).await.unwrap();
    backend.delete_exchanges().await.unwrap();
    bus.close().await;
    Figures { jobs, elapsed, latency }
}

async fn bench_bare_lapin(url: &str, jobs: usize, publishers: usize, prefetch: u16) -> Figures {
    let queue = format!("bench.bare.{}", uuid::Uuid::new_v4().simple());
    let connection = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
    let publish_channel = connection.create_channel().await.unwrap();
    publish_channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    publish_channel
        .queue_declare(
            queue.clone().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await
        .unwrap();
    let consume_channel = connection.create_channel().await.unwrap();
    consume_channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .unwrap();
    let mut consumer = consume_channel
        .basic_consume(
            queue.clone().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let base = Instant::now();
    let reader = tokio::spawn(async move {
        let mut latency = Histogram::<u64>::new(3).unwrap();
        for _ in 0..jobs {
            let delivery = consumer.next().await.unwrap().unwrap();
            latency.record(age_us(base, &delivery.data)).unwrap();
            delivery.ack(BasicAckOptions::default()).await.unwrap();
        }
        (latency, base.elapsed())
    });
    let channel = Arc::new(Mutex::new(publish_channel.clone()));
    let mut producers = Vec::new();
    for p in 0..publishers {
        let channel = channel.lock().await.clone();
        let queue = queue.clone();
        let share = jobs / publishers + usize::from(p < jobs % publishers);
        producers.push(tokio::spawn(async move {
            for _ in 0..share {
                let confirm = channel
                    .basic_publish(
                        "".into(),
                        queue.clone().into(),
                        BasicPublishOptions::default(),
                        &stamp(base),
                        BasicProperties::default().with_delivery_mode(2),
                    )
                    .await
                    .unwrap()
                    .await
                    .unwrap();
                assert!(matches!(confirm, Confirmation::Ack(None)));
            }
        }));
    }
    for producer in producers {
        producer.await.unwrap();
    }
    let (latency, elapsed) = reader.await.unwrap();
    publish_channel
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    connection.close(200, "bench done".into()).await.unwrap();
    Figures { jobs, elapsed, latency }
}

fn main() {
    let url = std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let jobs = env_number("BENCH_JOBS", 20_000);
    let publishers = env_number("BENCH_PUBLISHERS", 64);
    let prefetch = env_number("BENCH_PREFETCH", 256) as u16;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "bus round trip on {} (persistent, confirmed, quorum queue, manual ack; {publishers} publishers, prefetch {prefetch})",
            smez_kit::config::redact_url(&url)
        );
        // Warm up both paths so neither pays for first-connection costs.
        bench_bare_lapin(&url, 1_000, publishers, prefetch).await;
        bench_bus(&url, 1_000, publishers, prefetch).await;
        let bare = bench_bare_lapin(&url, jobs, publishers, prefetch).await;
        bare.print("bare lapin");
        let bus = bench_bus(&url, jobs, publishers, prefetch).await;
        bus.print("smez bus");
        println!("bus / bare throughput: {:.2}", bus.rate() / bare.rate());
    });
}
