//! One error model for every service.
//!
//! A service's own error type converts into [`Error`], which carries a stable
//! machine-readable [`ErrorCode`]. Inside Smez an [`Error`] travels as a
//! [`tonic::Status`] (the code string rides in the `smez-error-code` metadata
//! key); at the gateway it becomes an RFC 9457 `application/problem+json`.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use tonic::{Code, Status};

const CODE_KEY: &str = "smez-error-code";
const FIELD_KEY: &str = "smez-error-field";
const RETRY_AFTER_KEY: &str = "retry-after";
/// Several field problems at once: JSON of [`FieldViolation`]s (binary
/// metadata, since messages are not always ASCII).
const VIOLATIONS_KEY: &str = "smez-violations-bin";

/// Stable error codes. Their strings are public API: never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    MethodNotAllowed,
    AlreadyExists,
    Conflict,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
    Timeout,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 12] = [
        Self::InvalidArgument,
        Self::Unauthenticated,
        Self::PermissionDenied,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::AlreadyExists,
        Self::Conflict,
        Self::PayloadTooLarge,
        Self::RateLimited,
        Self::Unavailable,
        Self::Timeout,
        Self::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid_argument",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::AlreadyExists => "already_exists",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Internal => "internal",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }

    pub fn grpc_code(self) -> Code {
        match self {
            Self::InvalidArgument => Code::InvalidArgument,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::PermissionDenied => Code::PermissionDenied,
            Self::NotFound => Code::NotFound,
            Self::MethodNotAllowed => Code::Unimplemented,
            Self::AlreadyExists => Code::AlreadyExists,
            Self::Conflict => Code::FailedPrecondition,
            Self::PayloadTooLarge => Code::OutOfRange,
            Self::RateLimited => Code::ResourceExhausted,
            Self::Unavailable => Code::Unavailable,
            Self::Timeout => Code::DeadlineExceeded,
            Self::Internal => Code::Internal,
        }
    }

    /// The code for a status that carries no Smez code (e.g. from tonic itself).
    pub fn from_grpc(code: Code) -> Self {
        match code {
            Code::InvalidArgument => Self::InvalidArgument,
            Code::Unauthenticated => Self::Unauthenticated,
            Code::PermissionDenied => Self::PermissionDenied,
            Code::NotFound => Self::NotFound,
            Code::Unimplemented => Self::MethodNotAllowed,
            Code::AlreadyExists => Self::AlreadyExists,
            Code::FailedPrecondition | Code::Aborted => Self::Conflict,
            Code::OutOfRange => Self::PayloadTooLarge,
            Code::ResourceExhausted => Self::RateLimited,
            Code::Unavailable => Self::Unavailable,
            Code::DeadlineExceeded | Code::Cancelled => Self::Timeout,
            _ => Self::Internal,
        }
    }

    pub fn http_status(self) -> StatusCode {
        match self {
            Self::InvalidArgument => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::AlreadyExists | Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::InvalidArgument => "Invalid request",
            Self::Unauthenticated => "Authentication required",
            Self::PermissionDenied => "Permission denied",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::AlreadyExists => "Already exists",
            Self::Conflict => "Conflict with the current state",
            Self::PayloadTooLarge => "Payload too large",
            Self::RateLimited => "Too many requests",
            Self::Unavailable => "Service unavailable",
            Self::Timeout => "Timed out",
            Self::Internal => "Internal error",
        }
    }
}

/// An error any Smez service can return, with enough context to act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    /// Safe to show to the caller: never secrets, never internals.
    pub message: String,
    /// The request field at fault, for invalid arguments.
    pub field: Option<String>,
    /// When a retry can help, for rate limits and unavailability.
    pub retry_after: Option<Duration>,
    /// Every field at fault, when a request has several problems (a
    /// document checked as a whole); `field` is then the first of them.
    pub violations: Vec<FieldViolation>,
}

/// One problem with one field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldViolation {
    /// Where, as a path into the request body (`video[2].source_out`).
    pub field: String,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            violations: Vec::new(),
        }
    }

    /// An invalid request with several problems, each with its field.
    pub fn invalid_fields(message: impl Into<String>, violations: Vec<FieldViolation>) -> Self {
        let mut error = Self::new(ErrorCode::InvalidArgument, message);
        error.field = violations.first().map(|v| v.field.clone());
        error.violations = violations;
        error
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message).with_field(field)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// Logs the internal cause and returns an error that does not reveal it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let id = uuid::Uuid::new_v4();
        tracing::error!(error_id = %id, "internal error: {cause}");
        Self::new(ErrorCode::Internal, format!("internal error (reference {id})"))
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Reads an error back from a status, whether or not a Smez service made it.
    pub fn from_status(status: &Status) -> Self {
        let metadata = status.metadata();
        let text = |key: &str| metadata.get(key).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let smez_code = text(CODE_KEY).and_then(|c| ErrorCode::parse(&c));
        let code = smez_code.unwrap_or_else(|| ErrorCode::from_grpc(status.code()));
        // A status no Smez service wrote (a transport failure, a tonic
        // internal) may carry internals: keep it in the log, not the answer.
        let message = if smez_code.is_some() {
            status.message().to_owned()
        } else {
            tracing::warn!(grpc_code = ?status.code(), detail = %status.message(), "call failed below the service");
            code.title().to_owned()
        };
        Self {
            code,
            message,
            field: text(FIELD_KEY),
            retry_after: text(RETRY_AFTER_KEY)
                .and_then(|s| s.parse().ok())
                .map(Duration::from_secs),
            violations: metadata
                .get_bin(VIOLATIONS_KEY)
                .filter(|_| smez_code.is_some())
                .and_then(|v| v.to_bytes().ok())
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default(),
        }
    }

    pub fn to_problem(&self) -> Problem {
        Problem {
            problem_type: format!("https://smez.co/problems/{}", self.code.as_str().replace('_', "-")),
            title: self.code.title().to_owned(),
            status: self.code.http_status().as_u16(),
            detail: self.message.clone(),
            code: self.code,
            field: self.field.clone(),
            errors: self.violations.clone(),
        }
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Status {
        let mut status = Status::new(error.code.grpc_code(), error.message);
        let metadata = status.metadata_mut();
        metadata.insert(
            CODE_KEY,
            tonic::metadata::MetadataValue::from_static(error.code.as_str()),
        );
        if let Some(field) = error.field.as_deref().and_then(|f| f.parse().ok()) {
            metadata.insert(FIELD_KEY, field);
        }
        if let Some(after) = error.retry_after {
            metadata.insert(RETRY_AFTER_KEY, after.as_secs().max(1).into());
        }
        if !error.violations.is_empty()
            && let Ok(json) = serde_json::to_vec(&error.violations)
        {
            metadata.insert_bin(VIOLATIONS_KEY, tonic::metadata::MetadataValue::from_bytes(&json));
        }
        status
    }
}

impl From<Status> for Error {
    fn from(status: Status) -> Error {
        Error::from_status(&status)
    }
}

/// An RFC 9457 problem document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable machine-readable code (extension member).
    pub code: ErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every field at fault, when there are several (extension member).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldViolation>,
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let status = self.code.http_status();
        let body = serde_json::to_vec(&problem).expect("a problem always serialises");
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(after) = self.retry_after {
            headers.insert(header::RETRY_AFTER, after.as_secs().max(1).into());
        }
        response
    }
}
