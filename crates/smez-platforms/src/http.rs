//! What every adapter shares about HTTP: one client, and transport failures
//! classified the same way.

use std::time::Duration;

use crate::{ErrorClass, Platform, PlatformError};

/// How long one platform call may take before it counts as a transient
/// failure (uploads set their own, longer, per chunk).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Makes ring the process's TLS crypto provider (reqwest is built with
/// rustls and no provider of its own). Harmless when one is installed.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The client adapters use: TLS to the real hosts, timeouts set, no
/// redirects followed (a 308 is an answer in YouTube's resumable protocol,
/// not a redirect).
pub fn client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(CALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client builds")
}

/// A request that never got a complete answer: timeouts, refused or dropped
/// connections are worth retrying.
pub fn transport_error(platform: Platform, what: &str, error: reqwest::Error) -> PlatformError {
    // The URL may carry a token in its query string (TikTok's upload URL):
    // never print it.
    let error = error.without_url();
    let class = if error.is_builder() {
        ErrorClass::Permanent
    } else {
        ErrorClass::Transient
    };
    PlatformError::new(platform, class, format!("{what}: {error}"))
}

/// `Retry-After` in seconds, when a response gives it.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
