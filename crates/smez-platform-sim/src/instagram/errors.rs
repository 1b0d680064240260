//! The error shapes Instagram answers with: the Graph envelope (§3C) and
//! the OAuth host's own.

use super::*;

/// The Graph error envelope (§3C).
pub(super) fn graph_error(
    status: u16,
    code: i64,
    subcode: Option<i64>,
    message: &str,
    user_msg: Option<&str>,
) -> Response {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "is_transient": matches!(code, 1 | 2 | -1 | -2),
        "fbtrace_id": format!("A{}", &uuid::Uuid::new_v4().simple().to_string()[..22]),
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    if let Some(user_msg) = user_msg {
        error["error_user_title"] = json!("Error");
        error["error_user_msg"] = json!(user_msg);
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(json!({ "error": error })),
    )
        .into_response()
}

/// No token at all on a Graph call.
pub(super) fn no_token_error() -> Response {
    graph_error(
        400,
        2500,
        None,
        "An active access token must be used to query information about the current user.",
        None,
    )
}

/// A token the simulator never issued.
pub(super) fn unknown_token_error() -> Response {
    graph_error(
        400,
        190,
        None,
        "Invalid OAuth access token - Cannot parse access token",
        None,
    )
}

/// A token issued before its user removed the app.
pub(super) fn revoked_token_error() -> Response {
    graph_error(
        400,
        190,
        Some(458),
        "Error validating access token: The user has not authorized application.",
        None,
    )
}

pub(super) fn expired_token_error() -> Response {
    graph_error(
        400,
        190,
        Some(463),
        "Error validating access token: Session has expired.",
        None,
    )
}

/// The OAuth host's own error shape (`api.instagram.com`).
pub(super) fn oauth_error(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error_type": "OAuthException", "code": 400, "error_message": message})),
    )
        .into_response()
}
