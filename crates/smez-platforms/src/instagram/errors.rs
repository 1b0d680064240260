//! Meta's failures mapped to [`ErrorClass`]es: the Graph error envelope's
//! `code` / `error_subcode`, the OAuth host's and rupload's own shapes.

use std::time::Duration;

use chrono::Utc;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{DEFAULT_QUOTA_WINDOW_SECS, DEFAULT_RATE_LIMIT_WAIT, P};
use crate::http::retry_after;
use crate::{ErrorClass, PlatformError};

/// Maps any Instagram failure to its class (§3C).
pub fn classify(status: u16, headers: &HeaderMap, body: &Value, what: &str) -> PlatformError {
    let error = &body["error"];
    if let Some(code) = error["code"].as_i64() {
        let subcode = error["error_subcode"].as_i64();
        let message = error["message"].as_str().unwrap_or("no message");
        let user_msg = error["error_user_msg"].as_str();
        let text = match user_msg {
            Some(user) => format!("{what}: {message} ({user})"),
            None => format!("{what}: {message}"),
        };
        let platform_code = match subcode {
            Some(sub) => format!("{code}/{sub}"),
            None => code.to_string(),
        };
        let new = |class| PlatformError::new(P, class, text.clone()).with_code(platform_code.clone());
        let now = Utc::now();
        return match (code, subcode) {
            (190, Some(463)) => new(ErrorClass::AuthExpired),
            (190, _) | (102, _) | (200..=299, _) => new(ErrorClass::AuthRevoked),
            (9, _) | (_, Some(2207042)) => new(ErrorClass::QuotaExhausted)
                .with_reset_at(now + chrono::Duration::seconds(DEFAULT_QUOTA_WINDOW_SECS)),
            // Activity restricted (spam): a long wait.
            (4, Some(2207051)) => new(ErrorClass::RateLimited).with_retry_after(Duration::from_secs(3600)),
            (4 | 17 | 32 | 613 | 80001..=80009, _) => {
                new(ErrorClass::RateLimited).with_retry_after(rate_limit_wait(headers))
            }
            (36004, _) | (_, Some(2207010 | 2207040)) => new(ErrorClass::InvalidMetadata).with_field("caption"),
            (352 | 9004 | 36000..=36003, _) | (_, Some(2207026 | 2207023 | 2207052 | 2207004 | 2207005 | 2207009)) => {
                new(ErrorClass::InvalidMedia)
            }
            (9007, _) | (_, Some(2207027)) => new(ErrorClass::Transient),
            (_, Some(2207020 | 2207006 | 2207008)) | (24, _) => new(ErrorClass::Permanent),
            (1 | 2 | -1 | -2, _) => new(ErrorClass::Transient),
            _ if error["is_transient"].as_bool() == Some(true) || status >= 500 => new(ErrorClass::Transient),
            _ => new(ErrorClass::Permanent),
        };
    }
    // The OAuth host's own shape: {"error_type","code","error_message"}.
    if let Some(message) = body["error_message"].as_str() {
        let class = if status >= 500 {
            ErrorClass::Transient
        } else {
            ErrorClass::Permanent
        };
        let code = body["error_type"].as_str().unwrap_or("OAuthException");
        return PlatformError::new(P, class, format!("{what}: {message}")).with_code(code);
    }
    // rupload's shape: {"debug_info":{"retriable","type","message"}}.
    if let Some(info) = body["debug_info"].as_object() {
        let class = if info.get("retriable").and_then(Value::as_bool) == Some(true) || status >= 500 {
            ErrorClass::Transient
        } else {
            ErrorClass::Permanent
        };
        let message = info.get("message").and_then(Value::as_str).unwrap_or("no message");
        let kind = info.get("type").and_then(Value::as_str).unwrap_or("upload error");
        return PlatformError::new(P, class, format!("{what}: {message}")).with_code(kind);
    }
    let class = match status {
        429 => ErrorClass::RateLimited,
        408 | 500..=599 => ErrorClass::Transient,
        200..=299 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    let error = PlatformError::new(P, class, format!("{what}: HTTP {status}"));
    if class == ErrorClass::RateLimited {
        error.with_retry_after(rate_limit_wait(headers))
    } else {
        error
    }
}

/// `Retry-After`, else the Business Use Case header's
/// `estimated_time_to_regain_access` (minutes), else [`DEFAULT_RATE_LIMIT_WAIT`].
fn rate_limit_wait(headers: &HeaderMap) -> Duration {
    if let Some(after) = retry_after(headers) {
        return after;
    }
    let minutes = headers
        .get("x-business-use-case-usage")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str::<Value>(v).ok())
        .and_then(|usage| {
            usage
                .as_object()?
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(|entry| entry["estimated_time_to_regain_access"].as_u64())
                .max()
        })
        .unwrap_or(0);
    if minutes > 0 {
        Duration::from_secs(minutes * 60)
    } else {
        DEFAULT_RATE_LIMIT_WAIT
    }
}
