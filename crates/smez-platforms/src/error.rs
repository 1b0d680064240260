//! One classification of every platform failure.

use std::time::Duration;

use crate::Platform;

/// What a failure means for whoever retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The access token expired: refresh, then retry.
    AuthExpired,
    /// The grant is gone (revoked, refresh token dead): the user must reconnect.
    AuthRevoked,
    /// Too many requests: retry after [`PlatformError::retry_after`].
    RateLimited,
    /// A quota or posting cap is used up until [`PlatformError::reset_at`].
    QuotaExhausted,
    /// The platform refused the video itself (format, codec, duration, size…).
    InvalidMedia,
    /// The platform refused the post's metadata ([`PlatformError::field`] says which).
    InvalidMetadata,
    /// Worth retrying as is (timeouts, dropped connections, 5xx).
    Transient,
    /// Will never succeed as is.
    Permanent,
}

/// A platform call that did not succeed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{platform} {class:?}: {message}")]
pub struct PlatformError {
    pub platform: Platform,
    pub class: ErrorClass,
    /// Human-readable, safe to log and show: never a token.
    pub message: String,
    /// The platform's own code, e.g. `spam_risk_too_many_posts`, `190`, `quotaExceeded`.
    pub platform_code: Option<String>,
    /// For invalid metadata: the field at fault.
    pub field: Option<String>,
    /// For rate limits: when a retry may succeed.
    pub retry_after: Option<Duration>,
    /// For quotas: when the quota resets.
    pub reset_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl PlatformError {
    pub fn new(platform: Platform, class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            platform,
            class,
            message: message.into(),
            platform_code: None,
            field: None,
            retry_after: None,
            reset_at: None,
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.platform_code = Some(code.into());
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub fn with_reset_at(mut self, at: chrono::DateTime<chrono::Utc>) -> Self {
        self.reset_at = Some(at);
        self
    }

    /// Whether retrying later, unchanged, can help.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.class,
            ErrorClass::AuthExpired | ErrorClass::RateLimited | ErrorClass::QuotaExhausted | ErrorClass::Transient
        )
    }
}
