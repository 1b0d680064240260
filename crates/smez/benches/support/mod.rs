//! What the benchmarks share: a `smez serve all` of this build, and a client.
#![allow(dead_code)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

impl Server {
    /// The process id (for memory readings).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

pub struct Server {
    child: Child,
    pub base: String,
    pub dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A number from the environment, or `default` when unset or unreadable.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `smez serve all` from this build, on its own ports and data folder, ready.
pub async fn start(extra: &[(&str, &str)]) -> Server {
    let dir = std::env::temp_dir().join(format!("smez-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (http_port, grpc_port) = (free_port(), free_port());
    let mut env: HashMap<&str, String> = HashMap::from([
        ("SMEZ_HTTP__LISTEN", format!("127.0.0.1:{http_port}")),
        ("SMEZ_GRPC__LISTEN", format!("127.0.0.1:{grpc_port}")),
        ("SMEZ_DATA_DIR", dir.join("data").display().to_string()),
        ("SMEZ_TELEMETRY__LOG_LEVEL", "warn".into()),
        ("SMEZ_PLATFORMS__SIMULATOR_LISTEN", "127.0.0.1:0".into()),
        // The limits protect production; here they would measure themselves.
        ("SMEZ_GATEWAY__RATE_LIMIT_PER_IP_PER_MINUTE", "100000000".into()),
        ("SMEZ_GATEWAY__RATE_LIMIT_PER_USER_PER_MINUTE", "100000000".into()),
        ("SMEZ_GATEWAY__AUTH_RATE_LIMIT_PER_IP_PER_MINUTE", "100000000".into()),
        ("SMEZ_AUTH__MAX_FAILED_LOGINS_PER_IP", "100000000".into()),
    ]);
    for (key, value) in extra {
        env.insert(key, (*value).to_owned());
    }
    // A caller may choose the address (to name it in the configuration too).
    let listen = env["SMEZ_HTTP__LISTEN"].clone();
    let child = Command::new(env!("CARGO_BIN_EXE_smez"))
        .args(["serve", "all"])
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the smez binary starts");
    let server = Server {
        child,
        base: format!("http://{listen}"),
        dir: dir.clone(),
    };
    let client = http();
    let started = Instant::now();
    while client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .map(|r| r.status().as_u16() != 200)
        .unwrap_or(true)
    {
        assert!(started.elapsed() < Duration::from_secs(60), "smez did not get ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server
}

pub async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = client.post(url).header("x-smez-client", "mobile").json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

pub fn http() -> reqwest::Client {
    http_builder().build().expect("an HTTP client")
}

/// reqwest uses rustls with no provider of its own: install ring first.
pub fn http_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
