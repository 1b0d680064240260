//! What every adapter shares about HTTP: one client, transport failures
//! classified the same way, and answers read to their end.

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

/// An answer with its body read to the end. A body that broke off
/// mid-answer is kept as [`Answer::broken`] rather than failing the call:
/// some callers classify such an answer by its status alone.
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON, `None` when it is not JSON (an HTML error page,
    /// empty) or did not arrive whole.
    pub json: Option<serde_json::Value>,
    /// The transport failure that cut the body short, if one did.
    pub broken: Option<PlatformError>,
}

impl Answer {
    /// Sends `request` and reads the answer; a request that gets no answer
    /// at all is a classified transport failure.
    pub async fn fetch(
        platform: Platform,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Self, PlatformError> {
        let response = request.send().await.map_err(|e| transport_error(platform, what, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let (json, broken) = match response.bytes().await {
            Ok(bytes) => (serde_json::from_slice(&bytes).ok(), None),
            Err(e) => (None, Some(transport_error(platform, what, e))),
        };
        Ok(Self {
            status,
            headers,
            json,
            broken,
        })
    }

    /// The answer, or the transport failure when its body broke off.
    pub fn complete(self) -> Result<Self, PlatformError> {
        match self.broken {
            Some(error) => Err(error),
            None => Ok(self),
        }
    }

    /// The JSON body, or a transient failure when there is none (a body
    /// broken off, a proxy's page: worth retrying).
    pub fn json_or_transient(&self, platform: Platform, what: &str) -> Result<&serde_json::Value, PlatformError> {
        match (&self.json, &self.broken) {
            (Some(json), _) => Ok(json),
            (None, Some(broken)) => Err(broken.clone()),
            (None, None) => Err(not_json(platform, what)),
        }
    }

    /// The JSON body, `null` when there is none (error mappers read fields of it).
    pub fn json_or_null(&self) -> &serde_json::Value {
        self.json.as_ref().unwrap_or(&serde_json::Value::Null)
    }
}

/// An answer that should be JSON and is not.
fn not_json(platform: Platform, what: &str) -> PlatformError {
    PlatformError::new(
        platform,
        ErrorClass::Transient,
        format!("{what}: the answer is not JSON"),
    )
}
