//! Upload throughput through the gateway: a 1 GiB file (a WAV: real media,
//! so it is probed and stored like any upload) sent to `POST /v1/media` of
//! `smez serve all`, beside a plain local copy of the same file, and the
//! server process's resident memory sampled throughout (it must stay flat:
//! the bytes stream to disk, never into memory).
//!
//! Run: `cargo bench -p smez --bench media_upload` (`UPLOAD_MB`, default 1024).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use support::{http_builder, post, start};

#[path = "support/mod.rs"]
mod support;

/// A WAV (PCM s16le, stereo, 48 kHz) of `data_bytes` of noise.
fn write_wav(path: &std::path::Path, data_bytes: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let (rate, channels, bits) = (48_000u32, 2u16, 16u16);
    let block = channels * bits / 8;
    file.write_all(b"RIFF").unwrap();
    file.write_all(&((36 + data_bytes) as u32).to_le_bytes()).unwrap();
    file.write_all(b"WAVEfmt ").unwrap();
    file.write_all(&16u32.to_le_bytes()).unwrap();
    file.write_all(&1u16.to_le_bytes()).unwrap();
    file.write_all(&channels.to_le_bytes()).unwrap();
    file.write_all(&rate.to_le_bytes()).unwrap();
    file.write_all(&(rate * u32::from(block)).to_le_bytes()).unwrap();
    file.write_all(&block.to_le_bytes()).unwrap();
    file.write_all(&bits.to_le_bytes()).unwrap();
    file.write_all(b"data").unwrap();
    file.write_all(&(data_bytes as u32).to_le_bytes()).unwrap();
    let mut noise = vec![0u8; 1 << 20];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for byte in noise.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    let mut left = data_bytes;
    while left > 0 {
        let n = left.min(noise.len() as u64) as usize;
        file.write_all(&noise[..n]).unwrap();
        left -= n as u64;
    }
    file.flush().unwrap();
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let megabytes: u64 = support::env_number("UPLOAD_MB", 1024);
    let server = start(&[]).await;
    let client = http_builder().build().unwrap();
    let session = post(
        &client,
        format!("{}/v1/auth/signup", server.base),
        None,
        json!({"email": format!("upload.{}@example.com", std::process::id()), "password": "benchmark passphrase",
               "display_name": "Bench", "date_of_birth": "1990-01-01"}),
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
    let workspace = workspace["id"].as_str().unwrap().to_owned();

    let source = server.dir.join("upload.wav");
    write_wav(&source, megabytes << 20);
    let size = std::fs::metadata(&source).unwrap().len();
    let mb = size as f64 / (1u64 << 20) as f64;

    // The baseline: the same bytes copied on the same disk.
    let copy = server.dir.join("copy.wav");
    let started = Instant::now();
    std::fs::copy(&source, &copy).unwrap();
    let copy_secs = started.elapsed().as_secs_f64();
    std::fs::remove_file(&copy).unwrap();

    // Resident memory of the server, sampled while the upload runs.
    let pid = server.pid();
    let before = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(before));
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, running) = (peak.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let file = tokio::fs::File::open(&source).await.unwrap();
    let body = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0u8; 256 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(buffer), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let started = Instant::now();
    let response = client
        .post(format!("{}/v1/media?file_name=upload.wav", server.base))
        .header("x-smez-client", "mobile")
        .header("x-smez-workspace", &workspace)
        .header("content-length", size)
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: serde_json::Value = response.json().await.unwrap();
    let upload_secs = started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    sampler.await.unwrap();
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["kind"], "audio", "{answer}");
    let peak = peak.load(Ordering::Relaxed);

    println!("media upload, smez serve all (SQLite, local store), loopback, one {mb:.0} MiB WAV");
    println!(
        "  POST /v1/media     {:8.1} MiB/s  ({upload_secs:.2} s, stored and probed, kind {})",
        mb / upload_secs,
        answer["kind"]
    );
    println!("  local file copy    {:8.1} MiB/s  ({copy_secs:.2} s)", mb / copy_secs);
    println!("  ratio              {:8.2}  (upload / copy)", copy_secs / upload_secs);
    println!(
        "  server RSS         {:8.1} MiB before, {:.1} MiB peak during (+{:.1} MiB for a {mb:.0} MiB file)",
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        (peak.saturating_sub(before)) as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&server.dir);
}
