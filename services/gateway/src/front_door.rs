//! What every request goes through first: the client address, the rate
//! limit per address, security headers, and the request log line (method,
//! route template, status, latency, address, user agent — never a body, a
//! query string or the raw path, which may hold an invitation token).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http::header::{CACHE_CONTROL, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS};
use smez_kit::config::Environment;
use smez_kit::{Error, ErrorCode};

use crate::client::Client;
use crate::state::Gateway;

/// Routes that take a password or a refresh token: their own, stricter limit.
const CREDENTIAL_ROUTES: &[&str] = &["/v1/auth/signup", "/v1/auth/login", "/v1/auth/refresh"];
/// Public, cacheable documents.
const PUBLIC_DOCUMENTS: &[&str] = &["/v1/openapi.json", "/v1/.well-known/jwks.json"];

pub(crate) async fn front_door(State(gateway): State<Gateway>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    let client = Client::resolve(&parts, &gateway.trusted_proxies);
    parts.extensions.insert(client.clone());
    let method = parts.method.clone();
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let bucket = smez_kit::net::address_bucket(&client.ip);
    let limited = gateway.per_ip.check(&bucket).and_then(|()| {
        if CREDENTIAL_ROUTES.contains(&route.as_str()) {
            gateway.auth_per_ip.check(&bucket)
        } else {
            Ok(())
        }
    });
    let mut response = match limited {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(wait) => Error::new(ErrorCode::RateLimited, "too many requests from this address")
            .with_retry_after(wait)
            .into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !headers.contains_key(CACHE_CONTROL) {
        let cache = if PUBLIC_DOCUMENTS.contains(&route.as_str()) {
            "public, max-age=300"
        } else {
            "no-store"
        };
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    if gateway.settings.environment == Environment::Production {
        headers.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    tracing::info!(
        target: "smez::http",
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        ip = %client.ip,
        user_agent = %client.user_agent,
        "request"
    );
    response
}
