//! Contract tests: each adapter against its simulator, over real HTTP on
//! loopback, for every flow and every failure class.

mod instagram;
mod support;
mod tiktok;
mod youtube;

use std::path::PathBuf;

use serde_json::{Value, json};
use smez_platform_sim::Sim;

/// An HTTP client (reqwest uses rustls; the test process needs a crypto provider first).
pub fn http() -> reqwest::Client {
    http_builder().build().expect("an HTTP client")
}

pub fn http_builder() -> reqwest::ClientBuilder {
    smez_platforms::install_crypto_provider();
    reqwest::Client::builder()
}

/// A simulator for one test, with its admin API at hand.
pub struct Harness {
    pub sim: Sim,
    http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Self {
        Self {
            sim: Sim::start().await.expect("the simulator starts"),
            http: crate::http(),
        }
    }

    pub fn base(&self, platform: &str) -> String {
        self.sim.base_url(platform)
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/admin{path}", self.sim.core.origin))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "admin {path}: {}", response.status());
        response.json().await.unwrap()
    }

    pub async fn advance(&self, secs: i64) {
        self.admin("/clock/advance", json!({ "secs": secs })).await;
    }

    /// Arms a fault: `fault` is e.g. `{"kind": "drop"}` or `{"kind": "status", "status": 500, "body": {…}}`.
    pub async fn fault(&self, endpoint: &str, fault: Value, times: u32) {
        self.admin(
            "/faults",
            json!({ "endpoint": endpoint, "fault": fault, "times": times }),
        )
        .await;
    }

    /// After `skip` matching requests, loses the answer of the next one that
    /// `method` sends to a path containing `path_contains` (it is handled in full).
    pub async fn lose_answer(&self, method: &str, path_contains: &str, skip: u32) {
        self.admin(
            "/faults/lost-answers",
            json!({ "path_contains": path_contains, "method": method, "skip": skip, "times": 1 }),
        )
        .await;
    }

    pub async fn consent(&self, platform: &str, next: Value) {
        self.admin(&format!("/consent/{platform}"), next).await;
    }

    pub async fn records(&self) -> Value {
        json_answer(self.http.get(format!("{}/admin/records", self.sim.core.origin))).await
    }

    /// Follows an authorize URL like a browser whose user consents (or not,
    /// per [`Self::consent`]): returns the query of the redirect back.
    pub async fn authorize(&self, url: &str) -> url::Url {
        let client = crate::http_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let response = client.get(url).send().await.unwrap();
        assert!(
            response.status().is_redirection(),
            "authorize answered {}",
            response.status()
        );
        let location = response.headers()["location"].to_str().unwrap();
        url::Url::parse(location).unwrap()
    }
}

/// Sends `request` and reads the answer as JSON, whatever its status
/// (for calls made by hand, past the adapters).
pub async fn json_answer(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Query parameter `name` of `url`.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// A test video made with ffmpeg (cached per process): `spec` is e.g.
/// `("vertical", "-f lavfi -i testsrc=size=1080x1920:rate=30 -f lavfi -i sine -t 4 -c:v libx264 -pix_fmt yuv420p -c:a aac")`.
pub async fn video(name: &str, ffmpeg_args: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("smez-platforms-videos");
    std::fs::create_dir_all(&dir).unwrap();
    let extension = if ffmpeg_args.contains("-f webm") { "webm" } else { "mp4" };
    let path = dir.join(format!("{name}.{extension}"));
    if path.is_file() {
        return path;
    }
    let partial = dir.join(format!("{name}.{}.partial.{extension}", uuid::Uuid::new_v4().simple()));
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-y", "-v", "error"])
        .args(ffmpeg_args.split_whitespace())
        .arg(&partial)
        .status()
        .await
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {ffmpeg_args}");
    std::fs::rename(&partial, &path).unwrap();
    path
}

/// A 4 s 1080×1920 30 fps H.264/AAC MP4 with the moov atom first: within every platform's rules.
pub async fn good_vertical_video() -> PathBuf {
    video(
        "good-vertical",
        "-f lavfi -i testsrc=size=1080x1920:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 4 \
         -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 128k -ar 48000 -movflags +faststart -shortest",
    )
    .await
}
