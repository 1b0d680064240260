//! What only a real broker can do to us.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smez_bus::{JobError, WorkerOptions, run_worker};
use smez_kit::CancellationToken;
use smez_kit::metrics::Metrics;

use crate::harness::Harness;

/// `rabbitmqctl close_all_connections`, as an operator (or a broker restart) would.
fn close_all_connections() {
    let output = std::process::Command::new("rabbitmqctl")
        .args(["close_all_connections", "smez bus test"])
        .output()
        .expect("rabbitmqctl must be installed where RabbitMQ tests run");
    assert!(
        output.status.success(),
        "rabbitmqctl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn work_resumes_after_the_broker_closes_every_connection() {
    let _exclusive = crate::harness::BROKER.write().await;
    let mut h = Harness::rabbit_exclusive().await;
    let kind = h.kind("publish.run");
    let handled: Arc<Mutex<HashSet<String>>> = Arc::default();
    let shutdown = CancellationToken::new();
    let worker = {
        let handled = handled.clone();
        tokio::spawn(run_worker(
            h.bus.clone(),
            kind.clone(),
            WorkerOptions {
                concurrency: 4,
                grace: Duration::from_secs(5),
            },
            Metrics::new(),
            shutdown.clone(),
            move |job| {
                let handled = handled.clone();
                async move {
                    handled.lock().unwrap().insert(job.id);
                    Ok::<(), JobError>(())
                }
            },
        ))
    };
    let before = h.bus.enqueue(&kind, &b"before"[..]).await.unwrap();
    wait_until("the first job", || handled.lock().unwrap().contains(&before)).await;

    assert!(h.bus.consuming());
    close_all_connections();
    // The consumer waits at least 100 ms before its first reconnect: in the
    // meantime the bus says it is not consuming (what readiness reports).
    let started = Instant::now();
    while h.bus.consuming() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the lost consumer was never noticed"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    // The publisher reconnects on its own; so does the worker's consumer.
    let mut after = Vec::new();
    for _ in 0..5 {
        after.push(h.bus.enqueue(&kind, &b"after"[..]).await.expect("publishing resumes"));
    }
    wait_until("the jobs sent after the broker dropped us", || {
        let handled = handled.lock().unwrap();
        after.iter().all(|id| handled.contains(id))
    })
    .await;
    assert!(h.bus.consuming(), "consuming again");
    shutdown.cancel();
    worker.await.unwrap().unwrap();
    h.cleanup().await;
}

#[tokio::test]
async fn a_work_queue_deleted_under_a_running_publisher_is_declared_again() {
    // Publishing is mandatory and confirmed: the broker returns a job it cannot
    // route, and the publisher declares the queue again instead of losing it.
    let mut h = Harness::rabbit().await;
    let kind = h.kind("media.probe");
    h.bus.enqueue(&kind, &b"first"[..]).await.unwrap();
    let Some(rabbit) = h.rabbit_backend() else {
        unreachable!()
    };
    rabbit.delete_kind(&kind, &[]).await.unwrap();
    h.bus
        .enqueue(&kind, &b"second"[..])
        .await
        .expect("the job lands in a new queue");
    assert_eq!(h.bus.ready_count(&kind).await.unwrap(), 1);
    h.cleanup().await;
}
