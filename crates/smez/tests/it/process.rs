//! Starting `smez` processes and talking to them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SERVICES: [(&str, &str); 7] = [
    ("auth", "smez.auth.v1.AuthService"),
    ("workspace", "smez.workspace.v1.WorkspaceService"),
    ("media", "smez.media.v1.MediaService"),
    ("render", "smez.render.v1.RenderService"),
    ("publisher", "smez.publisher.v1.PublisherService"),
    ("analytics", "smez.analytics.v1.AnalyticsService"),
    ("vault", "smez.vault.v1.VaultService"),
];

/// An HTTP client (reqwest uses rustls; the test process needs a crypto provider first).
pub fn http() -> reqwest::Client {
    http_builder().build().expect("an HTTP client")
}

pub fn http_builder() -> reqwest::ClientBuilder {
    smez_kit::tls::install_default_provider();
    reqwest::Client::builder()
}

pub fn postgres_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Two distinct ports free right now (the OS picks them; the child binds them moments later).
pub fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (a.local_addr().unwrap().port(), b.local_addr().unwrap().port())
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("smez-it-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `smez` child; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Smez {
    pub name: String,
    child: Option<Child>,
    pub http_port: u16,
    pub grpc_port: u16,
    log: PathBuf,
}

impl Smez {
    pub fn start(name: &str, args: &[&str], env: &HashMap<String, String>, workdir: &std::path::Path) -> Self {
        let (http_port, grpc_port) = free_ports();
        let log = workdir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_smez"))
            .args(args)
            .current_dir(workdir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .env("SMEZ_HTTP__LISTEN", format!("127.0.0.1:{http_port}"))
            .env("SMEZ_GRPC__LISTEN", format!("127.0.0.1:{grpc_port}"))
            .env("SMEZ_TELEMETRY__LOG_FORMAT", "json")
            // Many processes run at once: their platform simulators take any free port.
            .env("SMEZ_PLATFORMS__SIMULATOR_LISTEN", "127.0.0.1:0")
            .env("SMEZ_SHUTDOWN__GRACE_SECS", "5")
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(std::fs::File::options().append(true).open(&log).unwrap()))
            .spawn()
            .expect("the smez binary starts");
        Self {
            name: name.to_owned(),
            child: Some(child),
            http_port,
            grpc_port,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    pub fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for `/readyz` to say 200, failing with the process log if it never does.
    pub async fn wait_ready(&mut self) -> serde_json::Value {
        let client = crate::process::http();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "{} exited with {status} before it was ready:\n{}",
                    self.name,
                    self.log()
                );
            }
            if let Ok(response) = client.get(self.url("/readyz")).send().await {
                let code = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                if code == 200 {
                    return body;
                }
                assert_eq!(code, 503, "readyz answers 200 or 503, got {code}: {body}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} not ready within 60 s:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The exit status, if the process has stopped.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().expect("not terminated").try_wait().unwrap()
    }

    /// Sends SIGTERM without waiting.
    pub fn send_term(&self) {
        let id = self.child.as_ref().expect("still running").id();
        let _ = Command::new("kill").args(["-TERM", &id.to_string()]).status();
    }

    /// SIGKILL: the process dies on the spot, running no shutdown at all.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("still running");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM and the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.send_term();
        let mut child = self.child.take().expect("still running");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("{} ignored SIGTERM for 20 s:\n{}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Smez {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `smez` to completion and returns (exit code, stdout, stderr).
pub fn run(args: &[&str], env: &[(&str, &str)], workdir: &std::path::Path) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_smez"))
        .args(args)
        .current_dir(workdir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Asks `grpc.health.v1` about `service` ("" for the whole server).
pub async fn grpc_health(endpoint: &str, service: &str) -> i32 {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let channel = tonic::transport::Channel::from_shared(endpoint.to_owned())
        .unwrap()
        .connect()
        .await
        .expect("gRPC listener up");
    let mut client = HealthClient::new(channel);
    client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .unwrap_or_else(|e| panic!("health check of `{service}` at {endpoint}: {e}"))
        .into_inner()
        .status
}

pub const SERVING: i32 = 1;

pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The services a gRPC server lists through server reflection.
pub async fn reflected_services(endpoint: &str) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let channel = tonic::transport::Channel::from_shared(endpoint.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(futures_util::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    match responses.message().await.unwrap().and_then(|r| r.message_response) {
        Some(MessageResponse::ListServicesResponse(list)) => list.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected reflection answer: {other:?}"),
    }
}

/// Removes what a run left in RabbitMQ under `prefix`: every subscription
/// the services make, every job kind they consume, the exchanges (quorum
/// queues left behind pile up and slow the broker down for every later run).
pub async fn clean_bus(prefix: &str, extra_subscriptions: &[&str]) {
    let bus = smez_bus::rabbit::RabbitBackend::connect(&amqp_url(), prefix)
        .await
        .unwrap();
    let subscriptions = SERVICES
        .iter()
        .flat_map(|(name, _)| {
            [
                format!("{name}.purge"),
                format!("{name}.purge-confirmations"),
                format!("{name}.users"),
            ]
        })
        .chain(extra_subscriptions.iter().map(|s| (*s).to_owned()));
    for subscription in subscriptions {
        let _ = bus.delete_subscription(&subscription).await;
    }
    let delays: Vec<Duration> = [1, 10, 60, 300].map(Duration::from_secs).into();
    for kind in [
        "render.run",
        "package.build",
        "publish.run",
        "analytics.collect",
        "media.probe",
    ] {
        let _ = bus.delete_kind(kind, &delays).await;
    }
    let _ = bus.delete_exchanges().await;
}
