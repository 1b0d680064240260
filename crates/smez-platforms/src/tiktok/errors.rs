//! TikTok's failures mapped to [`ErrorClass`]es (the table in the module docs).

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{DEFAULT_RETRY_AFTER, P, QUOTA_WINDOW_SECS};
use crate::http::retry_after;
use crate::{ErrorClass, PlatformError};

/// A failure known only by its HTTP status.
pub(super) fn status_error(what: &str, status: StatusCode, headers: &HeaderMap) -> PlatformError {
    let message = format!("{what}: HTTP {}", status.as_u16());
    match status.as_u16() {
        429 => PlatformError::new(P, ErrorClass::RateLimited, message)
            .with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RETRY_AFTER)),
        401 => PlatformError::new(P, ErrorClass::AuthExpired, message),
        408 | 500..=599 => PlatformError::new(P, ErrorClass::Transient, message),
        _ => PlatformError::new(P, ErrorClass::Permanent, message),
    }
}

pub(super) fn oauth_error(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    error: &str,
    body: &Value,
    refreshing: bool,
) -> PlatformError {
    let description = body["error_description"].as_str().unwrap_or("");
    let message = format!("{what}: {error}: {description}");
    let class = match error {
        "invalid_grant" if refreshing => ErrorClass::AuthRevoked,
        "access_denied" => ErrorClass::AuthRevoked,
        "rate_limit_exceeded" => ErrorClass::RateLimited,
        "internal_error" | "server_error" | "temporarily_unavailable" => ErrorClass::Transient,
        _ if status.as_u16() == 429 => ErrorClass::RateLimited,
        _ if status.is_server_error() => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    let mut e = PlatformError::new(P, class, message).with_code(error);
    if class == ErrorClass::RateLimited {
        e = e.with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RETRY_AFTER));
    }
    e
}

/// The `post_info` / `source_info` field a message names.
fn field_in(message: &str) -> Option<&'static str> {
    [
        "title",
        "privacy_level",
        "video_cover_timestamp_ms",
        "disable_duet",
        "disable_stitch",
        "disable_comment",
        "brand_content_toggle",
        "brand_organic_toggle",
        "is_aigc",
        "video_size",
        "chunk_size",
        "total_chunk_count",
    ]
    .into_iter()
    .find(|f| message.contains(f))
}

pub(super) fn business_error(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    code: &str,
    message: &str,
) -> PlatformError {
    let text = format!("{what}: {code}: {message}");
    let e = |class| PlatformError::new(P, class, text.clone()).with_code(code);
    match code {
        "access_token_invalid" if message.to_ascii_lowercase().contains("revoked") => e(ErrorClass::AuthRevoked),
        "access_token_invalid" => e(ErrorClass::AuthExpired),
        "scope_not_authorized" | "scope_permission_missed" | "auth_removed" => e(ErrorClass::AuthRevoked),
        "rate_limit_exceeded" => {
            e(ErrorClass::RateLimited).with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RETRY_AFTER))
        }
        "spam_risk_too_many_posts" | "reached_active_user_cap" | "spam_risk_too_many_pending_share" => {
            e(ErrorClass::QuotaExhausted)
                .with_reset_at(chrono::Utc::now() + chrono::Duration::seconds(QUOTA_WINDOW_SECS))
        }
        "privacy_level_option_mismatch" => e(ErrorClass::InvalidMetadata).with_field("privacy_level"),
        "invalid_param" | "invalid_params" => match field_in(message) {
            Some("video_size") => e(ErrorClass::InvalidMedia).with_field("video_size"),
            Some(f @ ("chunk_size" | "total_chunk_count")) => e(ErrorClass::Permanent).with_field(f),
            Some(f) => e(ErrorClass::InvalidMetadata).with_field(f),
            None => e(ErrorClass::Permanent),
        },
        "internal_error" => e(ErrorClass::Transient),
        _ if status.as_u16() == 429 => {
            e(ErrorClass::RateLimited).with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RETRY_AFTER))
        }
        _ if status.is_server_error() => e(ErrorClass::Transient),
        _ => e(ErrorClass::Permanent),
    }
}

/// The class of a status `fail_reason`.
pub(super) fn fail_class(reason: &str) -> ErrorClass {
    match reason {
        "file_format_check_failed"
        | "duration_check_failed"
        | "frame_rate_check_failed"
        | "picture_size_check_failed" => ErrorClass::InvalidMedia,
        "internal" | "video_pull_failed" | "photo_pull_failed" => ErrorClass::Transient,
        "spam_risk_too_many_posts" => ErrorClass::QuotaExhausted,
        "auth_removed" => ErrorClass::AuthRevoked,
        "spam_risk_text" => ErrorClass::InvalidMetadata,
        _ => ErrorClass::Permanent,
    }
}
