//! Upload throughput: the TikTok adapter streaming a 50 MB file (a real
//! MP4 padded with zeros, so the simulator's probe accepts it) into the
//! TikTok simulator (creator info, init, 10 MB chunked PUTs; the simulator
//! writes to disk and probes the bytes), beside a plain loopback
//! HTTP PUT of the same file into a server that only writes it to disk.
//! Then a 1 GB upload, to show memory stays flat: peak RSS of this process
//! (adapter and simulator both) before and after.
//!
//! Run: `cargo bench -p smez-platforms --bench upload` (needs ffmpeg).

use std::path::{Path, PathBuf};
use std::time::Instant;

use smez_platform_sim::Sim;
use smez_platform_sim::tiktok::{CLIENT_KEY, CLIENT_SECRET};
use smez_platforms::tiktok::TikTok;
use smez_platforms::{AuthorizeRequest, Endpoints, Pkce, PlatformAdapter, PostMetadata, Privacy, VideoFile};

const MB: f64 = 1_000_000.0;
const REDIRECT: &str = "http://127.0.0.1:9999/oauth/tiktok/callback";

/// Peak resident memory of this process so far, in MiB (Linux).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn make_video(dir: &Path) -> PathBuf {
    let path = dir.join("bench-base.mp4");
    if !path.is_file() {
        let status = tokio::process::Command::new("ffmpeg")
            .args([
                "-y",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=1080x1920:rate=30",
                "-t",
                "10",
            ])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-b:v",
                "40M",
                "-maxrate",
                "40M",
            ])
            .args(["-bufsize", "80M", "-pix_fmt", "yuv420p", "-movflags", "+faststart"])
            .arg(&path)
            .status()
            .await
            .expect("ffmpeg runs");
        assert!(status.success());
    }
    path
}

/// The same video followed by zeros up to `size` bytes (written in blocks):
/// a valid MP4 (moov first, so the simulator's probe reads it) of any size.
async fn padded(video: &Path, size: u64, path: PathBuf) -> PathBuf {
    use tokio::io::AsyncWriteExt;
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
        return path;
    }
    tokio::fs::copy(video, &path).await.unwrap();
    let mut file = tokio::fs::OpenOptions::new().append(true).open(&path).await.unwrap();
    let mut left = size - tokio::fs::metadata(video).await.unwrap().len();
    let zeros = vec![0u8; 4 << 20];
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n]).await.unwrap();
        left -= n as u64;
    }
    file.flush().await.unwrap();
    path
}

/// Connects the simulated creator (authorize with PKCE, consent, exchange the code): an access token.
async fn connect(adapter: &TikTok) -> String {
    let pkce = Pkce::generate();
    let url = adapter
        .authorize_url(&AuthorizeRequest {
            redirect_uri: REDIRECT.into(),
            state: "bench".into(),
            scopes: ["user.info.basic", "video.publish", "video.upload"]
                .map(String::from)
                .into(),
            pkce_challenge: Some(pkce.challenge()),
        })
        .unwrap();
    let browser = http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = browser.get(url).send().await.unwrap();
    let location = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    adapter
        .exchange_code(&code, REDIRECT, Some(&pkce.verifier))
        .await
        .unwrap()
        .access_token
}

/// MB/s of publishing `path` through the adapter (init + every chunk).
async fn adapter_upload(adapter: &TikTok, token: &str, account: &str, path: &Path) -> f64 {
    let video = VideoFile::open(path, "video/mp4").await.unwrap();
    let post = PostMetadata {
        caption: "bench".into(),
        title: None,
        privacy: Privacy::Private,
        cover_timestamp_ms: None,
    };
    let started = Instant::now();
    adapter
        .publish(token, account, &video, &post)
        .await
        .expect("the upload goes through");
    video.size() as f64 / MB / started.elapsed().as_secs_f64()
}

/// MB/s of one streamed PUT of `path` into a server that writes it to a file.
async fn plain_copy(path: &Path, dir: &Path) -> f64 {
    use axum::body::Body;
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let target = dir.join("plain-copy.bin");
    let app = axum::Router::new().route(
        "/put",
        axum::routing::put(move |body: Body| {
            let target = target.clone();
            async move {
                let mut file = tokio::fs::File::create(&target).await.unwrap();
                let mut stream = body.into_data_stream();
                while let Some(chunk) = stream.next().await {
                    file.write_all(&chunk.unwrap()).await.unwrap();
                }
                file.flush().await.unwrap();
                let _ = tokio::fs::remove_file(&target).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let video = VideoFile::open(path, "video/mp4").await.unwrap();
    let started = Instant::now();
    let response = http()
        .put(format!("http://{addr}/put"))
        .header("content-length", video.size())
        .body(video.body(0, video.size()).await.unwrap())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    video.size() as f64 / MB / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join("smez-upload-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let base_video = make_video(&dir).await;
    let video = padded(&base_video, 50_000_000, dir.join("bench-50mb.mp4")).await;
    let size = std::fs::metadata(&video).unwrap().len();
    let sim = Sim::start().await.unwrap();
    let base = sim.base_url("tiktok");
    let adapter = TikTok::new(Endpoints {
        client_id: CLIENT_KEY.into(),
        client_secret: CLIENT_SECRET.into(),
        auth_base: base.clone(),
        token_base: base.clone(),
        api_base: base.clone(),
        upload_base: base,
    });
    let token = connect(&adapter).await;
    let account = adapter.accounts(&token).await.unwrap().remove(0).id;

    println!("upload of {:.1} MB on loopback (best of 3)", size as f64 / MB);
    let mut best_adapter: f64 = 0.0;
    let mut best_plain: f64 = 0.0;
    for _ in 0..3 {
        best_plain = best_plain.max(plain_copy(&video, &dir).await);
        best_adapter = best_adapter.max(adapter_upload(&adapter, &token, &account, &video).await);
    }
    println!("  plain HTTP PUT to a file:           {best_plain:>8.1} MB/s");
    println!(
        "  TikTok adapter into the simulator:  {best_adapter:>8.1} MB/s ({:.0} % of plain)",
        best_adapter / best_plain * 100.0
    );

    let big = padded(&base_video, 1 << 30, dir.join("bench-1gib.mp4")).await;
    let before = peak_rss_mib();
    let rate = adapter_upload(&adapter, &token, &account, &big).await;
    let after = peak_rss_mib();
    println!(
        "1 GiB upload: {rate:.1} MB/s; peak RSS {before:.1} MiB before, {after:.1} MiB after (adapter and simulator in this process)"
    );
    let _ = std::fs::remove_file(big);
}

fn http() -> reqwest::Client {
    http_builder().build().expect("an HTTP client")
}

/// reqwest uses rustls with no provider of its own: install ring first.
fn http_builder() -> reqwest::ClientBuilder {
    smez_platforms::install_crypto_provider();
    reqwest::Client::builder()
}
