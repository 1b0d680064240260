//! Simulators of the three platforms Smez publishes to, on loopback, each
//! under its own base URL (`/tiktok`, `/instagram`, `/youtube` on one
//! listener), faithful to the contracts in `shared/design/platforms.md`,
//! warts included. Shared machinery:
//!
//! - [`clock`]: an injectable clock, so tests jump forward in time.
//! - [`faults`]: "the next N calls to endpoint E fail like this".
//! - [`records`]: every request, every code and token issued, every post
//!   accepted — for tests that assert "published exactly once" or "this token
//!   appears nowhere in Smez".
//! - [`consent`]: what the next authorize does (approve, deny, untick scopes,
//!   offer several accounts).
//! - [`probe`]: what an uploaded video really is (ffprobe on the bytes).
//! - [`admin`]: all of the above over HTTP under `/admin`.
//!
//! And what the three simulators do alike:
//!
//! - [`uploads`]: the temp files uploads stream to.
//! - [`windows`]: rolling-window rate limits and posting caps.
//! - [`wire`]: form bodies, redirects and random secrets, read and written alike.
//! - [`refusal`]: `checked!`, a handler's early answer when a check fails.

pub mod admin;
pub mod clock;
pub mod consent;
pub mod faults;
pub mod instagram;
pub mod probe;
pub mod records;
pub mod refusal;
pub mod tiktok;
pub mod uploads;
pub mod windows;
pub mod wire;
pub mod youtube;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;

/// The one app every simulator knows: use these as client id and secret.
pub const CLIENT_ID: &str = "sim-client";
pub const CLIENT_SECRET: &str = "sim-secret";
/// The platforms, by the prefix they live under.
pub const PLATFORMS: [&str; 3] = ["tiktok", "instagram", "youtube"];

/// What every platform simulator shares.
pub struct Core {
    pub clock: clock::SimClock,
    pub faults: faults::Faults,
    pub records: records::Records,
    pub consent: consent::Consent,
    /// The simulator's own origin, e.g. `http://127.0.0.1:4100`, for URLs it hands out.
    pub origin: String,
    /// Every rate limit, posting cap and quota is multiplied by this (1: the
    /// platforms' own figures). Load tests raise it to publish hundreds of
    /// posts through a few accounts.
    pub limit_scale: std::sync::atomic::AtomicUsize,
}

impl Core {
    /// A documented limit, scaled by [`Core::limit_scale`].
    pub fn limit(&self, documented: usize) -> usize {
        documented.saturating_mul(self.limit_scale.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// [`Core::limit`] for the limits counted in `u64`.
    pub fn limit_u64(&self, documented: u64) -> u64 {
        let scale = self.limit_scale.load(std::sync::atomic::Ordering::Relaxed);
        documented.saturating_mul(u64::try_from(scale).unwrap_or(u64::MAX))
    }
}

pub type Shared = Arc<Core>;

/// A running simulator.
pub struct Sim {
    pub addr: SocketAddr,
    pub core: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Sim {
    /// Serves every platform on `listener` until dropped or stopped.
    pub async fn serve(listener: tokio::net::TcpListener) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        let core = Arc::new(Core {
            clock: clock::SimClock::default(),
            faults: faults::Faults::default(),
            records: records::Records::default(),
            consent: consent::Consent::default(),
            origin: format!("http://{addr}"),
            limit_scale: std::sync::atomic::AtomicUsize::new(1),
        });
        let app = router(core.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "platform simulator stopped");
            }
        });
        tracing::info!(%addr, "platform simulators listening");
        Ok(Self { addr, core, task })
    }

    /// Binds `127.0.0.1:0` and serves.
    pub async fn start() -> anyhow::Result<Self> {
        Self::serve(tokio::net::TcpListener::bind("127.0.0.1:0").await?).await
    }

    /// The base URL of one platform, e.g. `http://127.0.0.1:4100/tiktok`.
    pub fn base_url(&self, platform: &str) -> String {
        format!("{}/{platform}", self.core.origin)
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every platform under its prefix, the admin API, and a record of every request.
pub fn router(core: Shared) -> Router {
    Router::new()
        .nest("/tiktok", tiktok::router(core.clone()))
        .nest("/instagram", instagram::router(core.clone()))
        .nest("/youtube", youtube::router(core.clone()))
        .nest("/admin", admin::router(core.clone()))
        .layer(axum::middleware::from_fn_with_state(core, records::record_request))
}
