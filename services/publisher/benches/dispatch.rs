//! Dispatch lag: `BENCH_TARGETS` publish targets (default 10 000) due across
//! one minute, then all due at one instant, claimed by `BENCH_SCHEDULERS`
//! schedulers (default 3, each with its own database pool and broker
//! connection, as separate publisher processes would be) from one PostgreSQL
//! schema, their `publish.run` jobs sent through RabbitMQ to one consumer.
//! For each target: the time from its due time until its job reached the
//! consumer. Prints, per phase, p50, p99 and max, when the last one was out,
//! and how many jobs arrived twice (must be 0: no target is dispatched twice).
//!
//! `cargo bench -p smez-publisher --bench dispatch` (PostgreSQL at
//! `TEST_POSTGRES_URL`, RabbitMQ at `TEST_AMQP_URL`, the tests' defaults).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use prost::Message;
use smez_bus::Bus;
use smez_bus::worker::{WorkerOptions, run_worker};
use smez_kit::config::Sources;
use smez_kit::grpc::ClientFactory;
use smez_kit::identity::InternalAuth;
use smez_kit::metrics::Metrics;
use smez_kit::{CancellationToken, Settings};
use smez_proto::jobs::v1::PublishRun;
use smez_publisher::dispatch_bench::{NewTarget, PostRepo, PostRow, spawn_scheduler};
use smez_service::ServiceContext;
use smez_service::peers::Peers;
use smez_store::{Location, Scope, Store};

type Arrivals = Arc<Mutex<Vec<(String, i64)>>>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One publisher process's scheduler: its own pool and broker connection.
async fn scheduler_context(
    settings: &Arc<Settings>,
    location: &Location,
    shutdown: &CancellationToken,
) -> Arc<ServiceContext> {
    let store = Store::open(location, 4, "publisher", smez_publisher::MIGRATIONS)
        .await
        .expect("the publisher schema");
    let auth = Arc::new(InternalAuth::from_settings(settings, &["publisher"]).expect("internal auth"));
    Arc::new(ServiceContext {
        name: "publisher",
        settings: settings.clone(),
        store,
        bus: Bus::from_settings(&settings.bus).await.expect("RabbitMQ"),
        shutdown: shutdown.clone(),
        peers: Arc::new(Peers::new(ClientFactory::new(auth, "publisher"), HashMap::new())),
        platforms: smez_platforms::Adapters::default(),
    })
}

/// `count` posts of one target each (`target-<i>`), due far ahead until a phase sets their time.
async fn insert_targets(repo: &PostRepo, count: usize) {
    let later = now_ms() + 3_600_000;
    let mut inserts = tokio::task::JoinSet::new();
    for chunk in 0..8 {
        let repo = repo.clone();
        inserts.spawn(async move {
            for i in (chunk..count).step_by(8) {
                let post = PostRow {
                    post_id: format!("post-{i}"),
                    workspace_id: format!("ws-{}", i % 50),
                    publish_at_ms: later,
                    schedule_kind: "instant".into(),
                    time_zone: None,
                    local_time: None,
                    resolution: "exact".into(),
                    created_by: None,
                    created_at_ms: now_ms(),
                    updated_at_ms: now_ms(),
                };
                let target = NewTarget {
                    target_id: format!("target-{i}"),
                    connection_id: format!("connection-{}", i % 200),
                    platform: ["tiktok", "instagram", "youtube"][i % 3].into(),
                    package_id: format!("package-{i}"),
                };
                repo.insert(&post, &[target]).await.expect("a post");
            }
        });
    }
    while inserts.join_next().await.is_some() {}
}

/// One run over every target: their due times spread evenly over
/// `spread_ms`, starting a moment from now.
struct Phase {
    name: &'static str,
    spread_ms: i64,
}

struct Outcome {
    dispatched: usize,
    twice: usize,
    lag: Histogram<u64>,
    /// From the first due time until the last job arrived.
    all_out_ms: i64,
}

impl Phase {
    async fn run(&self, store: &Store, arrivals: &Arrivals, targets: usize) -> Outcome {
        arrivals.lock().expect("arrivals").clear();
        let first_due = now_ms() + 2_000;
        let count = i64::try_from(targets).expect("a count");
        let spread = self.spread_ms;
        let due = move |index: i64| first_due + index * spread / count;
        // `target-<i>` is due at due(i).
        store
            .execute_scoped(
                Scope::CrossTenant,
                "UPDATE post_targets SET state = 'scheduled', enqueued_at_ms = NULL, \
                 dispatch_at_ms = ? + CAST(SUBSTRING(target_id FROM 8) AS BIGINT) * ? / ?",
                [first_due.into(), spread.into(), count.into()],
            )
            .await
            .expect("setting the due times");
        let patience = Duration::from_millis(u64::try_from(spread).unwrap_or(0)) + Duration::from_secs(300);
        let deadline = Instant::now() + patience;
        while arrivals.lock().expect("arrivals").len() < targets && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Late duplicates would show in this second.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let arrivals = arrivals.lock().expect("arrivals").clone();
        let mut lag = Histogram::<u64>::new(3).expect("a histogram");
        let mut per_target: HashMap<&str, usize> = HashMap::new();
        for (target, at) in &arrivals {
            *per_target.entry(target).or_default() += 1;
            let index: i64 = target.trim_start_matches("target-").parse().expect("a target index");
            lag.record(u64::try_from(at - due(index)).unwrap_or(0)).expect("a lag");
        }
        Outcome {
            dispatched: per_target.len(),
            twice: per_target.values().filter(|n| **n > 1).count(),
            lag,
            all_out_ms: arrivals.iter().map(|(_, at)| at - first_due).max().unwrap_or(0),
        }
    }
}

#[tokio::main]
async fn main() {
    let targets = env_number("BENCH_TARGETS", 10_000);
    let schedulers = env_number("BENCH_SCHEDULERS", 3);
    let postgres = env_or("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres");
    let amqp = env_or("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("smez-bench.{run}");
    let data_dir = std::env::temp_dir().join(format!("smez-dispatch-{run}"));
    let env = HashMap::from([
        ("SMEZ_DATA_DIR".to_owned(), data_dir.display().to_string()),
        ("SMEZ_BUS__URL".to_owned(), amqp.clone()),
        ("SMEZ_BUS__PREFIX".to_owned(), prefix.clone()),
        ("SMEZ_TELEMETRY__LOG_LEVEL".to_owned(), "warn".to_owned()),
        // No worker takes the jobs on here, so the reconciler must not count
        // the queued targets as lost while a phase runs.
        ("SMEZ_PUBLISHING__QUEUED_PATIENCE_SECS".to_owned(), "3600".to_owned()),
    ]);
    let sources = Sources {
        env: Some(env),
        ..Sources::default()
    };
    let settings = Arc::new(Settings::load(&sources).expect("settings"));
    let schema = format!("smez_bench_{run}");
    let location = Location::Postgres {
        url: postgres,
        owner_url: None,
        schema: schema.clone(),
    };
    let shutdown = CancellationToken::new();

    let setup = scheduler_context(&settings, &location, &shutdown).await;
    let began = Instant::now();
    insert_targets(&PostRepo::new(setup.store.clone()), targets).await;
    println!("{targets} targets inserted in {:.1} s", began.elapsed().as_secs_f64());

    // The consumer: when each job arrived.
    let arrivals: Arrivals = Arc::default();
    let seen = arrivals.clone();
    let options = WorkerOptions {
        concurrency: 256,
        grace: Duration::from_secs(1),
    };
    let consuming = tokio::spawn(run_worker(
        Bus::from_settings(&settings.bus).await.expect("RabbitMQ"),
        "publish.run".to_owned(),
        options,
        Metrics::new(),
        shutdown.clone(),
        move |job: smez_bus::Job| {
            let seen = seen.clone();
            async move {
                let run = PublishRun::decode(job.payload.as_ref()).expect("a publish.run");
                seen.lock().expect("arrivals").push((run.target_id, now_ms()));
                Ok::<(), smez_bus::JobError>(())
            }
        },
    ));
    for _ in 0..schedulers {
        let ctx = scheduler_context(&settings, &location, &shutdown).await;
        spawn_scheduler(ctx.clone(), PostRepo::new(ctx.store.clone()), Metrics::new());
    }

    let phases = [
        Phase {
            name: "due across one minute",
            spread_ms: 60_000,
        },
        Phase {
            name: "due at one instant",
            spread_ms: 0,
        },
    ];
    let mut failures = Vec::new();
    for phase in &phases {
        let outcome = phase.run(&setup.store, &arrivals, targets).await;
        println!(
            "{}: {} of {targets} dispatched by {schedulers} schedulers (tick {} ms, batch {}), {} twice; lag from \
             the due time p50 {} ms, p99 {} ms, max {} ms; the last out {:.2} s after the first was due",
            phase.name,
            outcome.dispatched,
            settings.publishing.scheduler_tick_ms,
            settings.publishing.dispatch_batch,
            outcome.twice,
            outcome.lag.value_at_quantile(0.5),
            outcome.lag.value_at_quantile(0.99),
            outcome.lag.max(),
            outcome.all_out_ms as f64 / 1000.0,
        );
        if outcome.dispatched != targets || outcome.twice != 0 {
            failures.push(phase.name);
        }
    }
    shutdown.cancel();
    let _ = consuming.await;

    setup
        .store
        .execute_scoped(
            Scope::CrossTenant,
            &format!("DROP SCHEMA \"{schema}\" CASCADE"),
            Vec::<smez_store::sea_orm::Value>::new(),
        )
        .await
        .expect("dropping the bench schema");
    let bus = smez_bus::rabbit::RabbitBackend::connect(&amqp, &prefix)
        .await
        .expect("RabbitMQ");
    let delays: Vec<Duration> = settings
        .bus
        .retry_delays_ms
        .iter()
        .map(|ms| Duration::from_millis(*ms))
        .collect();
    let _ = bus.delete_kind("publish.run", &delays).await;
    let _ = bus.delete_exchanges().await;
    let _ = std::fs::remove_dir_all(&data_dir);
    assert!(failures.is_empty(), "targets lost or sent twice in: {failures:?}");
}
