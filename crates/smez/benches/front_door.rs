//! The front door under load: `smez serve all` (release build, embedded
//! default) on loopback, driven at fixed request rates (open loop: requests
//! leave on schedule whether or not earlier ones answered, and latency counts
//! from the scheduled time, so a stall is not hidden).
//!
//! Prints p50/p99 of an authenticated `GET /v1/me` and of a workspace-scoped
//! list (`GET /v1/workspaces/{id}/members`) at rising rates, the highest rate
//! that holds p99 < 25 ms, and login throughput with Argon2id.
//!
//! Run: `cargo bench -p smez --bench front_door` (`BENCH_SECS` per step, default 5).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

use support::{http_builder, post, start};

#[path = "support/mod.rs"]
mod support;

const TARGET_P99_MS: f64 = 25.0;
const RATES: [u64; 8] = [250, 500, 1000, 1500, 2000, 3000, 4000, 6000];

/// One rate step: `rate` requests per second for `secs`, latency from schedule.
async fn step(client: &reqwest::Client, url: &str, token: &str, rate: u64, secs: u64) -> (Histogram<u64>, u64, f64) {
    let total = rate * secs;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now() + Duration::from_millis(50);
    let histogram = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
        let (histogram, errors) = (histogram.clone(), errors.clone());
        tasks.spawn(async move {
            let ok = client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            let micros = scheduled.elapsed().as_micros() as u64;
            histogram.lock().unwrap().record(micros.max(1)).unwrap();
            if !ok {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let achieved = total as f64 / start.elapsed().as_secs_f64();
    let histogram = histogram.lock().unwrap().clone();
    (histogram, errors.load(std::sync::atomic::Ordering::Relaxed), achieved)
}

async fn sweep(client: &reqwest::Client, name: &str, url: &str, token: &str, secs: u64) {
    println!("\n{name}");
    println!(
        "{:>8} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "rate/s", "achieved", "p50 ms", "p99 ms", "max ms", "errors"
    );
    let mut best = None;
    for rate in RATES {
        let (histogram, errors, achieved) = step(client, url, token, rate, secs).await;
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{rate:>8} {achieved:>10.0} {:>9.2} {:>9.2} {:>9.2} {errors:>7}",
            ms(0.5),
            ms(0.99),
            histogram.max() as f64 / 1000.0
        );
        if ms(0.99) < TARGET_P99_MS && errors == 0 {
            best = Some(rate);
        } else {
            break;
        }
    }
    match best {
        Some(rate) => println!("highest rate holding p99 < {TARGET_P99_MS} ms: {rate}/s"),
        None => println!("no tested rate held p99 < {TARGET_P99_MS} ms"),
    }
}

async fn logins(client: &reqwest::Client, base: &str, email: &str, secs: u64) {
    let concurrency = 8;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let histogram = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for _ in 0..concurrency {
        let (client, url, email, histogram) = (
            client.clone(),
            format!("{base}/v1/auth/login"),
            email.to_owned(),
            histogram.clone(),
        );
        tasks.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let sent = Instant::now();
                post(
                    &client,
                    url.clone(),
                    None,
                    json!({"email": email, "password": PASSWORD}),
                )
                .await;
                histogram
                    .lock()
                    .unwrap()
                    .record(sent.elapsed().as_micros() as u64)
                    .unwrap();
                done += 1;
            }
            done
        });
    }
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        total += done.unwrap();
    }
    let histogram = histogram.lock().unwrap();
    println!(
        "\nlogin (Argon2id m=19 MiB t=2 p=1, {concurrency} clients): {:.1} logins/s, p50 {:.1} ms, p99 {:.1} ms",
        total as f64 / started.elapsed().as_secs_f64(),
        histogram.value_at_quantile(0.5) as f64 / 1000.0,
        histogram.value_at_quantile(0.99) as f64 / 1000.0
    );
}

const PASSWORD: &str = "benchmark passphrase";

#[tokio::main]
async fn main() {
    let secs: u64 = support::env_number("BENCH_SECS", 5);
    let server = start(&[]).await;
    let client = http_builder().pool_max_idle_per_host(512).build().unwrap();
    let email = format!("bench.{}@example.com", std::process::id());
    let session = post(
        &client,
        format!("{}/v1/auth/signup", server.base),
        None,
        json!({"email": email, "password": PASSWORD, "display_name": "Bench", "date_of_birth": "1990-01-01"}),
    )
    .await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let workspace = post(
        &client,
        format!("{}/v1/workspaces", server.base),
        Some(&token),
        json!({"name": "Bench"}),
    )
    .await;
    let members = format!(
        "{}/v1/workspaces/{}/members",
        server.base,
        workspace["id"].as_str().unwrap()
    );
    println!("smez serve all (SQLite, in-process bus), loopback, {secs} s per step");
    sweep(&client, "GET /v1/me", &format!("{}/v1/me", server.base), &token, secs).await;
    sweep(&client, "GET /v1/workspaces/{id}/members", &members, &token, secs).await;
    logins(&client, &server.base, &email, secs).await;
}
