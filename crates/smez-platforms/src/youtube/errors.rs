//! Google's failures mapped to [`ErrorClass`]es: the API error envelope and
//! the OAuth token endpoint's answers.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{DEFAULT_RATE_LIMIT_RETRY, P, PACIFIC_OFFSET_SECS};
use crate::http::retry_after;
use crate::{ErrorClass, PlatformError};

/// The next midnight Pacific (fixed UTC-8) after `now`.
pub fn next_quota_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    let day = (now.timestamp() + PACIFIC_OFFSET_SECS).div_euclid(86_400);
    DateTime::from_timestamp((day + 1) * 86_400 - PACIFIC_OFFSET_SECS, 0).expect("a valid time")
}

/// Which field a metadata reason is about.
fn metadata_field(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "invalidTitle" => "snippet.title",
        "invalidDescription" => "snippet.description",
        "invalidTags" => "snippet.tags",
        "invalidCategoryId" => "snippet.categoryId",
        "invalidPublishAt" => "status.publishAt",
        "defaultLanguageNotSet" => "snippet.defaultLanguage",
        "invalidFilename" => "filename",
        "invalidVideoMetadata" => "metadata",
        _ => return None,
    })
}

/// Classifies an answer in Google's API error envelope.
pub(super) fn api_error(what: &str, status: u16, headers: &HeaderMap, body: &Value) -> PlatformError {
    let error = &body["error"];
    let reason = error["errors"][0]["reason"]
        .as_str()
        .or_else(|| error["status"].as_str())
        .unwrap_or("")
        .to_owned();
    let message = error["message"].as_str().unwrap_or("").to_owned();
    let text = if message.is_empty() {
        format!("{what}: HTTP {status} {reason}")
    } else {
        format!("{what}: HTTP {status} {reason}: {message}")
    };
    let base = |class| {
        let e = PlatformError::new(P, class, text.clone());
        if reason.is_empty() {
            e
        } else {
            e.with_code(reason.clone())
        }
    };
    match (status, reason.as_str()) {
        (_, "quotaExceeded" | "dailyLimitExceeded" | "uploadLimitExceeded") => {
            base(ErrorClass::QuotaExhausted).with_reset_at(next_quota_reset(Utc::now()))
        }
        (_, "rateLimitExceeded" | "userRateLimitExceeded" | "RESOURCE_EXHAUSTED") | (429, _) => {
            base(ErrorClass::RateLimited).with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RATE_LIMIT_RETRY))
        }
        (_, r) if metadata_field(r).is_some() => {
            base(ErrorClass::InvalidMetadata).with_field(metadata_field(r).unwrap_or(""))
        }
        (_, "mediaBodyRequired" | "badContent" | "invalidFile") => base(ErrorClass::InvalidMedia),
        (401, "youtubeSignupRequired") => base(ErrorClass::Permanent),
        // A scope the user unticked: only a new consent (reconnecting) helps.
        (403, "insufficientPermissions" | "ACCESS_TOKEN_SCOPE_INSUFFICIENT") => base(ErrorClass::AuthRevoked),
        (401, _) => base(ErrorClass::AuthExpired),
        (500..=599, _) | (_, "backendError" | "internalError") => base(ErrorClass::Transient),
        _ => base(ErrorClass::Permanent),
    }
}

/// Classifies an answer of the OAuth token endpoint.
pub(super) fn oauth_error(what: &str, status: u16, headers: &HeaderMap, body: &Value) -> PlatformError {
    let code = body["error"].as_str().unwrap_or("").to_owned();
    let description = body["error_description"].as_str().unwrap_or("");
    let text = format!("{what}: HTTP {status} {code} {description}")
        .trim_end()
        .to_owned();
    let class = match (status, code.as_str()) {
        (_, "invalid_grant") => ErrorClass::AuthRevoked,
        (429, _) => ErrorClass::RateLimited,
        (500..=599, _) => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    let mut e = PlatformError::new(P, class, text);
    if !code.is_empty() {
        e = e.with_code(code);
    }
    if class == ErrorClass::RateLimited {
        e = e.with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RATE_LIMIT_RETRY));
    }
    e
}
