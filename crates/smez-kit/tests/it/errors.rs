use std::time::Duration;

use axum::response::IntoResponse;
use smez_kit::{Error, ErrorCode, Problem};

/// A service's own error type, as each service will have.
#[derive(Debug)]
enum MediaError {
    NotFound(String),
    TooBig { limit: u64 },
    Throttled,
}

impl From<MediaError> for Error {
    fn from(error: MediaError) -> Self {
        match error {
            MediaError::NotFound(id) => Error::not_found(format!("media {id} does not exist")),
            MediaError::TooBig { limit } => {
                Error::new(ErrorCode::PayloadTooLarge, format!("larger than {limit} bytes")).with_field("file")
            }
            MediaError::Throttled => {
                Error::new(ErrorCode::RateLimited, "slow down").with_retry_after(Duration::from_secs(30))
            }
        }
    }
}

async fn problem_of(error: Error) -> (u16, String, Option<String>, Problem) {
    let response = error.into_response();
    let status = response.status().as_u16();
    let content_type = response.headers()[http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    (
        status,
        content_type,
        retry_after,
        serde_json::from_slice(&body).unwrap(),
    )
}

#[tokio::test]
async fn domain_error_to_status_to_problem_json_keeps_code_field_and_retry() {
    // domain → Error → tonic::Status (crosses the wire) → Error → problem+json
    let status: tonic::Status = Error::from(MediaError::TooBig { limit: 10 }).into();
    assert_eq!(status.code(), tonic::Code::OutOfRange);
    let (code, content_type, _, problem) = problem_of(Error::from_status(&status)).await;
    assert_eq!(code, 413);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem.code, ErrorCode::PayloadTooLarge);
    assert_eq!(problem.field.as_deref(), Some("file"));
    assert_eq!(problem.detail, "larger than 10 bytes");
    assert_eq!(problem.problem_type, "https://smez.co/problems/payload-too-large");

    let status: tonic::Status = Error::from(MediaError::Throttled).into();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    let (code, _, retry_after, problem) = problem_of(Error::from_status(&status)).await;
    assert_eq!((code, retry_after.as_deref()), (429, Some("30")));
    assert_eq!(problem.code, ErrorCode::RateLimited);

    let status: tonic::Status = Error::from(MediaError::NotFound("m1".into())).into();
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(problem_of(Error::from_status(&status)).await.0, 404);
}

#[test]
fn every_code_round_trips_through_grpc_and_has_a_distinct_string() {
    let mut seen = std::collections::HashSet::new();
    for code in ErrorCode::ALL {
        assert!(seen.insert(code.as_str()), "duplicate code string {}", code.as_str());
        assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        let status: tonic::Status = Error::new(code, "x").into();
        assert_eq!(Error::from_status(&status).code, code);
        assert_eq!(ErrorCode::from_grpc(code.grpc_code()), code);
    }
}

#[test]
fn statuses_from_outside_smez_still_map_sensibly() {
    let plain = tonic::Status::unavailable("tcp connect error: 10.0.3.7:50051 refused");
    let error = Error::from_status(&plain);
    assert_eq!(error.code, ErrorCode::Unavailable);
    assert!(
        !error.message.contains("10.0.3.7"),
        "transport internals stay out of answers: {}",
        error.message
    );
    assert_eq!(error.code.http_status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        Error::from_status(&tonic::Status::unknown("?")).code,
        ErrorCode::Internal
    );
}

#[test]
fn internal_errors_hide_their_cause() {
    let error = Error::internal("password column missing in users table");
    assert_eq!(error.code, ErrorCode::Internal);
    assert!(!error.message.contains("password"), "{}", error.message);
    assert!(error.message.contains("reference"));
}
