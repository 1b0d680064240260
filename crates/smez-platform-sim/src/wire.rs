//! What every simulator reads and writes the same way on the wire: form
//! bodies, the redirect back to a client, and random secrets.

use std::collections::HashMap;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An `application/x-www-form-urlencoded` body (or query string) as a map;
/// a repeated name keeps its last value.
pub fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// `302 Found` to `to`: how every consent dialog answers.
pub fn found(to: &url::Url) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

/// `len` random lowercase hex digits: the random part of every code, token and id.
pub fn random_hex(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

/// A secret (code or token) as TikTok and Instagram shape them: `prefix` and 64 hex digits.
pub fn secret(prefix: &str) -> String {
    format!("{prefix}{}", random_hex(64))
}
