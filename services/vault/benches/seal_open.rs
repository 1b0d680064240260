//! Seal + open over gRPC (a vault on loopback, 64 concurrent callers) beside
//! the same AES-256-GCM work done in-process with ring, as a ratio.
//!
//! `cargo bench -p smez-vault` (env: `BENCH_OPS` default 20000 seal+open
//! pairs, `BENCH_CALLERS` default 64).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use smez_kit::Settings;
use smez_kit::config::Sources;
use smez_proto::vault::v1::vault_service_client::VaultServiceClient;
use smez_proto::vault::v1::{Binding, OpenRequest, SealRequest};
use smez_service::sandbox::Sandbox;
use smez_store::Location;

const TOKEN: &[u8] = b"act.example-access-token-of-a-realistic-length-0123456789abcdefghijklmnopqrstuvwxyz";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn over_grpc(ops: usize, callers: usize) -> (Duration, Histogram<u64>) {
    let dir = std::env::temp_dir().join(format!("smez-vault-bench-{}", uuid::Uuid::new_v4().simple()));
    let env = HashMap::from([
        ("SMEZ_DATA_DIR".to_owned(), dir.display().to_string()),
        ("SMEZ_VAULT__ROOT_KEY".to_owned(), smez_vault::generate_root_key()),
        ("SMEZ_TELEMETRY__LOG_LEVEL".to_owned(), "warn".to_owned()),
    ]);
    let settings = Settings::load(&Sources {
        env: Some(env),
        ..Sources::default()
    })
    .unwrap();
    let sandbox = Sandbox::start(
        smez_vault::definition(),
        settings,
        &Location::SqliteFile(dir.join("vault.sqlite")),
    )
    .await
    .unwrap();
    let transport = sandbox.transport_as("publisher", "vault");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let mut client = VaultServiceClient::new(transport.clone());
        let share = ops / callers + usize::from(caller < ops % callers);
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new(3).unwrap();
            let binding = Binding {
                workspace_id: "ws-bench".into(),
                owner_id: format!("state-{caller}"),
                field: "pkce_verifier".into(),
            };
            for _ in 0..share {
                let begun = Instant::now();
                let sealed = client
                    .seal(SealRequest {
                        binding: Some(binding.clone()),
                        plaintext: TOKEN.to_vec(),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .ciphertext;
                let opened = client
                    .open(OpenRequest {
                        binding: Some(binding.clone()),
                        ciphertext: sealed,
                    })
                    .await
                    .unwrap()
                    .into_inner();
                assert_eq!(opened.plaintext, TOKEN);
                latency.record(begun.elapsed().as_micros() as u64).unwrap();
            }
            latency
        }));
    }
    let mut latency = Histogram::<u64>::new(3).unwrap();
    for task in tasks {
        latency.add(task.await.unwrap()).unwrap();
    }
    let elapsed = started.elapsed();
    sandbox.stop().await;
    let _ = std::fs::remove_dir_all(dir);
    (elapsed, latency)
}

fn in_process(ops: usize) -> Duration {
    let rng = SystemRandom::new();
    let mut key_bytes = [0u8; 32];
    rng.fill(&mut key_bytes).unwrap();
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key_bytes).unwrap());
    let aad = b"smez-vault/aad/v1|payloads|1|ws-bench|state-0|pkce_verifier".to_vec();
    let started = Instant::now();
    for _ in 0..ops {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce).unwrap();
        let mut buffer = TOKEN.to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&aad), &mut buffer)
            .unwrap();
        let opened = key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(&aad), &mut buffer)
            .unwrap();
        assert_eq!(opened, TOKEN);
    }
    started.elapsed()
}

fn main() {
    let ops = env_number("BENCH_OPS", 20_000);
    let callers = env_number("BENCH_CALLERS", 64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // Warm-up: connections, SQLite, the key's first seal reservation.
    runtime.block_on(over_grpc(2_000, callers));
    let (grpc_elapsed, latency) = runtime.block_on(over_grpc(ops, callers));
    let ring_elapsed = in_process(ops);
    let grpc_rate = ops as f64 / grpc_elapsed.as_secs_f64();
    let ring_rate = ops as f64 / ring_elapsed.as_secs_f64();
    println!(
        "seal+open pairs, {}-byte token, {callers} concurrent gRPC callers on loopback",
        TOKEN.len()
    );
    println!(
        "over gRPC    {grpc_rate:>10.0} pairs/s ({:.0} RPCs/s)   p50 {:.2} ms   p99 {:.2} ms   ({ops} pairs in {grpc_elapsed:.2?})",
        grpc_rate * 2.0,
        latency.value_at_quantile(0.50) as f64 / 1000.0,
        latency.value_at_quantile(0.99) as f64 / 1000.0,
    );
    println!("in-process   {ring_rate:>10.0} pairs/s (ring, one thread)   ({ops} pairs in {ring_elapsed:.2?})");
    println!("gRPC / in-process: {:.4}", grpc_rate / ring_rate);
}
