//! Each behaviour is one async fn over a [`Harness`]; the macro at the end
//! runs every one on both backends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use smez_bus::{JobError, WorkerOptions, run_worker};
use smez_kit::CancellationToken;
use smez_kit::metrics::Metrics;

use crate::harness::{Harness, MAX_ATTEMPTS, RETRY_DELAYS, next_within};

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(500);

pub async fn acked_jobs_are_gone(mut h: Harness) {
    let kind = h.kind("media.probe");
    let id = h.bus.enqueue(&kind, &b"payload"[..]).await.unwrap();
    let mut deliveries = h.bus.consume(&kind, 4).await.unwrap();
    let delivery = next_within(&mut deliveries, WAIT).await.expect("the job arrives");
    assert_eq!(delivery.job.id, id);
    assert_eq!(delivery.job.attempt, 1);
    assert_eq!(&delivery.job.payload[..], b"payload");
    assert!(!delivery.job.redelivered);
    delivery.ack().await.unwrap();
    assert!(
        next_within(&mut deliveries, QUIET).await.is_none(),
        "an acked job never comes back"
    );
    assert_eq!(h.bus.ready_count(&kind).await.unwrap(), 0);
    drop(deliveries);
    h.cleanup().await;
}

pub async fn a_job_whose_consumer_dies_is_redelivered(mut h: Harness) {
    let kind = h.kind("render.run");
    let id = h.bus.enqueue(&kind, &b"x"[..]).await.unwrap();
    {
        // A worker takes the job and dies without settling it.
        let doomed = h.second_connection().await;
        let mut deliveries = doomed.consume(&kind, 1).await.unwrap();
        let taken = next_within(&mut deliveries, WAIT)
            .await
            .expect("the first worker gets it");
        assert_eq!(taken.job.id, id);
        if h.is_rabbit() {
            std::mem::forget(taken); // no ack, no nack: the process vanished...
            doomed.close().await; // ...and its connection with it
        } else {
            drop(taken); // in one process, an unsettled delivery dropped is the dead worker
            drop(deliveries);
        }
    }
    let mut deliveries = h.bus.consume(&kind, 1).await.unwrap();
    let again = next_within(&mut deliveries, WAIT)
        .await
        .expect("the job is delivered again");
    assert_eq!(again.job.id, id);
    assert!(again.job.redelivered);
    assert_eq!(again.job.attempt, 1, "a crash is not a failed attempt");
    again.ack().await.unwrap();
    drop(deliveries);
    h.cleanup().await;
}

pub async fn a_failed_job_is_retried_after_a_delay(mut h: Harness) {
    let kind = h.kind("publish.run");
    let id = h.bus.enqueue(&kind, &b"x"[..]).await.unwrap();
    let mut deliveries = h.bus.consume(&kind, 1).await.unwrap();
    let first = next_within(&mut deliveries, WAIT).await.unwrap();
    let failed_at = Instant::now();
    first.fail("platform timed out").await.unwrap();
    let retry = next_within(&mut deliveries, WAIT).await.expect("the retry arrives");
    assert!(
        failed_at.elapsed() >= RETRY_DELAYS[0],
        "retried after {:?}",
        failed_at.elapsed()
    );
    assert_eq!(retry.job.id, id, "a retry keeps the job id");
    assert_eq!(retry.job.attempt, 2);
    assert_eq!(retry.job.last_error.as_deref(), Some("platform timed out"));
    retry.ack().await.unwrap();
    assert!(next_within(&mut deliveries, QUIET).await.is_none());
    drop(deliveries);
    h.cleanup().await;
}

pub async fn a_job_failing_every_attempt_is_dead_lettered_with_the_reason(mut h: Harness) {
    let kind = h.kind("analytics.collect");
    let id = h.bus.enqueue(&kind, &b"x"[..]).await.unwrap();
    let mut deliveries = h.bus.consume(&kind, 1).await.unwrap();
    for attempt in 1..=MAX_ATTEMPTS {
        let delivery = next_within(&mut deliveries, WAIT).await.expect("each attempt arrives");
        assert_eq!(delivery.job.attempt, attempt);
        delivery.fail(&format!("boom #{attempt}")).await.unwrap();
    }
    assert!(
        next_within(&mut deliveries, QUIET).await.is_none(),
        "no attempt after the last"
    );
    let dead = h.bus.take_dead_letters(&kind, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.id, id);
    assert_eq!(dead[0].job.attempt, MAX_ATTEMPTS);
    assert_eq!(dead[0].reason, format!("boom #{MAX_ATTEMPTS}"));
    drop(deliveries);
    h.cleanup().await;
}

pub async fn a_permanent_failure_goes_straight_to_the_dead_letters(mut h: Harness) {
    let kind = h.kind("package.build");
    h.bus.enqueue(&kind, &b"x"[..]).await.unwrap();
    let mut deliveries = h.bus.consume(&kind, 1).await.unwrap();
    next_within(&mut deliveries, WAIT)
        .await
        .unwrap()
        .dead("render row is gone")
        .await
        .unwrap();
    let dead = h.bus.take_dead_letters(&kind, 10).await.unwrap();
    assert_eq!((dead.len(), dead[0].job.attempt), (1, 1));
    assert_eq!(dead[0].reason, "render row is gone");
    drop(deliveries);
    h.cleanup().await;
}

pub async fn events_reach_every_matching_subscription(mut h: Harness) {
    let renders = h.subscription("dash-renders");
    let everything = h.subscription("dash-all");
    let mut render_events = h.bus.subscribe(&renders, &["render.*"], 8).await.unwrap();
    let mut all_events = h.bus.subscribe(&everything, &["#"], 8).await.unwrap();
    h.bus.emit("render.completed", &b"r1"[..]).await.unwrap();
    h.bus.emit("post.published", &b"p1"[..]).await.unwrap();

    let got = next_within(&mut render_events, WAIT).await.unwrap();
    assert_eq!(
        (got.job.kind.as_str(), &got.job.payload[..]),
        ("render.completed", &b"r1"[..])
    );
    got.ack().await.unwrap();
    assert!(
        next_within(&mut render_events, QUIET).await.is_none(),
        "post.* does not match render.*"
    );
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let event = next_within(&mut all_events, WAIT).await.unwrap();
        kinds.push(event.job.kind.clone());
        event.ack().await.unwrap();
    }
    kinds.sort();
    assert_eq!(kinds, ["post.published", "render.completed"]);
    drop((render_events, all_events));
    h.cleanup().await;
}

pub async fn a_worker_holds_at_most_its_concurrency_and_finishes_in_flight_jobs_at_shutdown(mut h: Harness) {
    let kind = h.kind("render.run");
    for _ in 0..6 {
        h.bus.enqueue(&kind, &b"x"[..]).await.unwrap();
    }
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let shutdown = CancellationToken::new();
    let worker = {
        let (running, peak, done) = (running.clone(), peak.clone(), done.clone());
        tokio::spawn(run_worker(
            h.bus.clone(),
            kind.clone(),
            WorkerOptions {
                concurrency: 2,
                grace: Duration::from_secs(10),
            },
            Metrics::new(),
            shutdown.clone(),
            move |_job| {
                let (running, peak, done) = (running.clone(), peak.clone(), done.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), JobError>(())
                }
            },
        ))
    };
    // Let the first pair start, then ask the worker to stop.
    let started = Instant::now();
    while running.load(Ordering::SeqCst) < 2 && started.elapsed() < WAIT {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    worker.await.unwrap().unwrap();
    assert_eq!(
        peak.load(Ordering::SeqCst),
        2,
        "never more than the concurrency at once"
    );
    let finished = done.load(Ordering::SeqCst);
    assert!(finished >= 2, "in-flight jobs finished before the worker returned");
    assert_eq!(running.load(Ordering::SeqCst), 0);
    // Everything not handled is still there for the next worker.
    let mut deliveries = h.bus.consume(&kind, 8).await.unwrap();
    let mut left = 0;
    while let Some(delivery) = next_within(&mut deliveries, QUIET * 2).await {
        delivery.ack().await.unwrap();
        left += 1;
    }
    assert_eq!(finished + left, 6, "no job lost at shutdown");
    drop(deliveries);
    h.cleanup().await;
}

pub async fn a_job_continues_the_trace_of_whoever_enqueued_it(mut h: Harness) {
    smez_kit::telemetry::init_for_tests();
    let kind = h.kind("media.probe");
    let span = tracing::info_span!("upload");
    let sent = smez_kit::telemetry::trace_id(&span).expect("tracing installed");
    {
        let _entered = span.enter();
        h.bus.enqueue(&kind, &b"x"[..]).await.unwrap();
    }
    let seen = Arc::new(std::sync::Mutex::new(None));
    let shutdown = CancellationToken::new();
    let worker = {
        let (seen, shutdown) = (seen.clone(), shutdown.clone());
        tokio::spawn(run_worker(
            h.bus.clone(),
            kind.clone(),
            WorkerOptions {
                concurrency: 1,
                grace: Duration::from_secs(5),
            },
            Metrics::new(),
            shutdown.clone(),
            move |_job| {
                let (seen, shutdown) = (seen.clone(), shutdown.clone());
                async move {
                    *seen.lock().unwrap() = smez_kit::telemetry::trace_id(&tracing::Span::current());
                    shutdown.cancel();
                    Ok::<(), JobError>(())
                }
            },
        ))
    };
    tokio::time::timeout(WAIT, worker)
        .await
        .expect("handled in time")
        .unwrap()
        .unwrap();
    assert_eq!(seen.lock().unwrap().as_deref(), Some(sent.as_str()));
    h.cleanup().await;
}

pub async fn a_failed_event_comes_back_to_its_own_subscription(mut h: Harness) {
    let name = h.subscription("dash-retry");
    let mut events = h.bus.subscribe(&name, &["post.*"], 4).await.unwrap();
    let id = h.bus.emit("post.published", &b"p"[..]).await.unwrap();
    let first = next_within(&mut events, WAIT).await.unwrap();
    first.fail("dashboard database down").await.unwrap();
    let again = next_within(&mut events, WAIT)
        .await
        .expect("the event comes back to the subscriber");
    assert_eq!(
        (again.job.id.as_str(), again.job.kind.as_str()),
        (id.as_str(), "post.published")
    );
    again.ack().await.unwrap();
    assert!(next_within(&mut events, QUIET).await.is_none());
    drop(events);
    h.cleanup().await;
}

pub async fn a_panicking_handler_is_a_failed_attempt_not_an_endless_loop(mut h: Harness) {
    let kind = h.kind("render.run");
    let id = h.bus.enqueue(&kind, &b"x"[..]).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let shutdown = CancellationToken::new();
    let worker = {
        let calls = calls.clone();
        tokio::spawn(run_worker(
            h.bus.clone(),
            kind.clone(),
            WorkerOptions {
                concurrency: 2,
                grace: Duration::from_secs(5),
            },
            Metrics::new(),
            shutdown.clone(),
            move |_job| {
                let calls = calls.clone();
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    panic!("bug in a handler");
                    #[allow(unreachable_code)]
                    Ok::<(), JobError>(())
                }
            },
        ))
    };
    let started = Instant::now();
    let dead = loop {
        let dead = h.bus.take_dead_letters(&kind, 10).await.unwrap();
        if !dead.is_empty() {
            break dead;
        }
        assert!(
            started.elapsed() < WAIT,
            "no dead letter after {} calls",
            calls.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    shutdown.cancel();
    worker.await.unwrap().unwrap();
    assert_eq!(dead[0].job.id, id);
    assert_eq!(dead[0].reason, "the handler panicked");
    assert_eq!(calls.load(Ordering::SeqCst), MAX_ATTEMPTS as usize);
    h.cleanup().await;
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(crate::harness::Harness::memory()).await;
                }
            )*
        }
        mod rabbitmq {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(crate::harness::Harness::rabbit().await).await;
                }
            )*
        }
    };
}

on_both_backends!(
    acked_jobs_are_gone,
    a_job_whose_consumer_dies_is_redelivered,
    a_failed_job_is_retried_after_a_delay,
    a_job_failing_every_attempt_is_dead_lettered_with_the_reason,
    a_permanent_failure_goes_straight_to_the_dead_letters,
    events_reach_every_matching_subscription,
    a_worker_holds_at_most_its_concurrency_and_finishes_in_flight_jobs_at_shutdown,
    a_job_continues_the_trace_of_whoever_enqueued_it,
    a_failed_event_comes_back_to_its_own_subscription,
    a_panicking_handler_is_a_failed_attempt_not_an_endless_loop,
);
