//! Publish throughput end to end: `smez serve all` (this build, embedded
//! default) with the platform simulators in-process, three accounts
//! connected through real OAuth redirects, one rendered clip packaged for
//! each, then `PUBLISH_POSTS` posts (default 40, three targets each) made
//! due at once. Measured per `publishing.worker_concurrency` (1, 2, 4):
//! targets published per second, from the due time until the last is
//! live. The simulators' clock is moved 31 s every 250 ms so their
//! processing ends (that cadence is part of each target's time), and their
//! limits are scaled up (three accounts could not take this many posts).
//!
//! `cargo bench -p smez --bench publish` (needs ffmpeg).

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{free_port, http_builder, start};

const PLATFORMS: [&str; 3] = ["tiktok", "instagram", "youtube"];

/// A browser session: cookies by name, the CSRF header, redirects one hop at a time.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            http: http_builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            base: base.to_owned(),
            cookies: HashMap::new(),
        }
    }

    fn with_cookies(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = request.header("cookie", cookie);
        match self.cookies.get("smez_csrf") {
            Some(token) => request.header("x-csrf-token", token),
            None => request,
        }
    }

    fn remember(&mut self, response: &reqwest::Response) {
        for line in response.headers().get_all("set-cookie") {
            let line = line.to_str().unwrap_or_default();
            if let Some((name, value)) = line.split(';').next().and_then(|pair| pair.split_once('=')) {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Value {
        let response = self.with_cookies(request).send().await.expect("the gateway answers");
        self.remember(&response);
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "{status}: {body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    async fn post(&mut self, path: &str, body: Value) -> Value {
        let request = self.http.post(format!("{}{path}", self.base)).json(&body);
        self.send(request).await
    }

    async fn get(&mut self, path: &str) -> Value {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Follows redirects from `url` until a page answers; returns its JSON.
    async fn navigate(&mut self, url: &str) -> Value {
        let mut current = url.to_owned();
        for _ in 0..10 {
            let ours = current.starts_with(&self.base);
            let request = self.http.get(&current);
            let request = if ours { self.with_cookies(request) } else { request };
            let response = request.send().await.expect("an answer");
            if ours {
                self.remember(&response);
            }
            let Some(location) = response.headers().get("location") else {
                return response.json().await.unwrap_or(Value::Null);
            };
            let next = reqwest::Url::parse(&current)
                .and_then(|u| u.join(location.to_str().unwrap_or_default()))
                .expect("a redirect target");
            current = next.to_string();
        }
        panic!("too many redirects from {url}");
    }
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// A 4 s vertical clip with sound, made by ffmpeg.
fn make_clip(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("clip.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1080x1920:rate=30:duration=4",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-shortest"])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        ])
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made the clip");
    path
}

/// One run: a fresh server with `workers` publishes at once. Returns
/// (targets, seconds from the due time until the last one was live).
async fn run(workers: usize, posts: usize, clip: &std::path::Path) -> (usize, f64) {
    let sim_port = free_port();
    let sim = format!("http://127.0.0.1:{sim_port}");
    let http_port = free_port();
    let base = format!("http://127.0.0.1:{http_port}");
    let concurrency = workers.to_string();
    let server = start(&[
        ("SMEZ_HTTP__LISTEN", &format!("127.0.0.1:{http_port}")),
        ("SMEZ_GATEWAY__PUBLIC_ORIGIN", &base),
        ("SMEZ_PLATFORMS__SIMULATOR_LISTEN", &format!("127.0.0.1:{sim_port}")),
        ("SMEZ_PUBLISHING__WORKER_CONCURRENCY", &concurrency),
        ("SMEZ_PUBLISHING__SCHEDULER_TICK_MS", "100"),
        ("SMEZ_PUBLISHING__POLL_INTERVAL_MS", "200"),
        ("SMEZ_PUBLISHING__INSTAGRAM_POSTS_PER_24H", "100000"),
        ("SMEZ_PUBLISHING__YOUTUBE_UPLOADS_PER_DAY", "100000"),
        ("SMEZ_PUBLISHING__TIKTOK_INITS_PER_MINUTE", "100000"),
    ])
    .await;
    assert_eq!(server.base, base);
    let admin = support::http();
    admin
        .post(format!("{sim}/admin/limits"))
        .json(&json!({"scale": 1000}))
        .send()
        .await
        .expect("the simulators answer");

    let mut browser = Browser::new(&base);
    browser
        .post(
            "/v1/auth/signup",
            json!({"email": "bench@example.com", "password": "a long bench passphrase", "display_name": "Bench",
                   "date_of_birth": "1990-01-01"}),
        )
        .await;
    let workspace = id(&browser.post("/v1/workspaces", json!({"name": "Bench"})).await);
    browser
        .post(&format!("/v1/workspaces/{workspace}/activate"), json!({}))
        .await;
    let mut connections = HashMap::new();
    for platform in PLATFORMS {
        let started = browser
            .post(&format!("/v1/integrations/{platform}/connect"), json!({}))
            .await;
        let outcome = browser
            .navigate(started["authorize_url"].as_str().expect("an authorize URL"))
            .await;
        assert_eq!(outcome["outcome"], "connected", "{outcome}");
        connections.insert(platform, outcome["connection_id"].as_str().unwrap().to_owned());
    }
    let upload = browser
        .http
        .post(format!("{base}/v1/media?file_name=clip.mp4"))
        .body(std::fs::read(clip).expect("the clip"));
    let media = id(&browser.send(upload).await);
    let cut = json!({"value": 4000, "rate": 1000});
    let plan = browser
        .post(
            "/v1/edit-plans",
            json!({"schema": "smez.edit_plan/1",
                   "video": [{"media_id": media, "source_in": {"value": 0, "rate": 1000}, "source_out": cut}]}),
        )
        .await;
    let render = id(&browser.post("/v1/renders", json!({"plan_id": id(&plan)})).await);
    loop {
        let now = browser.get(&format!("/v1/renders/{render}")).await;
        match now["status"].as_str() {
            Some("succeeded") => break,
            Some("failed" | "canceled") => panic!("the render did not succeed: {now}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let mut targets = Vec::new();
    for platform in PLATFORMS {
        let mut request = json!({"render_id": render, "platform": platform, "caption": "Bench #smez"});
        if platform == "youtube" {
            request["title"] = json!("Bench");
            request["youtube"] = json!({"made_for_kids": false});
        }
        let package = browser.post("/v1/packages", request).await;
        assert_eq!(package["status"], "ready", "{package}");
        targets.push(json!({"connection_id": connections[platform], "package_id": id(&package)}));
    }

    // Every post due at one moment, a little after the last is created.
    let lead = Duration::from_millis(500 + 60 * posts as u64);
    let due = chrono::Utc::now() + chrono::Duration::from_std(lead).expect("a lead");
    let due_text = due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut post_ids = Vec::new();
    for _ in 0..posts {
        let created = browser
            .post("/v1/posts", json!({"targets": targets, "publish_at": due_text}))
            .await;
        post_ids.push(id(&created));
    }
    assert!(chrono::Utc::now() < due, "the posts were created before they were due");
    let clock = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let _ = admin
                .post(format!("{sim}/admin/clock/advance"))
                .json(&json!({"secs": 31}))
                .send()
                .await;
        }
    });
    let mut last_live = due;
    for post_id in &post_ids {
        loop {
            let post = browser.get(&format!("/v1/posts/{post_id}")).await;
            if post["state"] == "published" {
                for target in post["targets"].as_array().expect("targets") {
                    let live: chrono::DateTime<chrono::Utc> = target["published_at"]
                        .as_str()
                        .and_then(|t| t.parse().ok())
                        .expect("a publish time");
                    last_live = last_live.max(live);
                }
                break;
            }
            assert!(
                !matches!(
                    post["state"].as_str(),
                    Some("failed" | "partially_published" | "canceled")
                ),
                "{post}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    clock.abort();
    let seconds = (last_live - due).num_milliseconds() as f64 / 1000.0;
    drop(server);
    (posts * PLATFORMS.len(), seconds)
}

#[tokio::main]
async fn main() {
    let posts: usize = support::env_number("PUBLISH_POSTS", 40);
    let dir = std::env::temp_dir().join(format!("smez-bench-publish-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clip = make_clip(&dir);
    println!("| workers | targets | seconds | targets/s |");
    println!("|---|---|---|---|");
    for workers in [1, 2, 4] {
        let began = Instant::now();
        let (targets, seconds) = run(workers, posts, &clip).await;
        println!(
            "| {workers} | {targets} | {seconds:.1} | {:.2} |   (run {:.0} s with setup)",
            targets as f64 / seconds,
            began.elapsed().as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
