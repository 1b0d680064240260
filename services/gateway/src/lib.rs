//! The gateway: REST/JSON for web and mobile frontends. It owns no data; it
//! resolves the caller (and the caller's membership of the workspace a route
//! names) and asks the owning services over gRPC.
//!
//! - [`front_door`]: every request — client address, rate limit per address,
//!   request log, security headers.
//! - [`authn`]: who is calling (access token from a Bearer header or cookie),
//!   CSRF for cookie-authenticated writes, per-user rate limit.
//! - [`authz`]: `CheckPermission` with a short cache, and denials recorded.
//! - [`routes`]: the REST routes, each with its OpenAPI description.

mod authn;
mod authz;
mod body_stream;
mod client;
mod cookies;
mod front_door;
mod limits;
mod range;
mod routes;
mod state;
mod ttl_cache;

use std::sync::Arc;

use axum::Router;
use smez_kit::{Error, ErrorCode, Settings};

pub use state::Upstream;

/// The REST routes. Ops routes (`/healthz`, `/readyz`, `/metrics`) are added by the binary.
pub fn router(upstreams: Vec<Upstream>, settings: Arc<Settings>) -> anyhow::Result<Router> {
    let gateway = state::Gateway::new(upstreams, settings)?;
    let (api, openapi) = routes::api().split_for_parts();
    let openapi = Arc::new(routes::meta::finish(openapi));
    Ok(api
        .route(
            "/v1/openapi.json",
            axum::routing::get(move || {
                let openapi = openapi.clone();
                async move { routes::meta::openapi_json(&openapi) }
            }),
        )
        .fallback(|| async { Error::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            Error::new(ErrorCode::MethodNotAllowed, "this route does not take that method")
        })
        .layer(axum::middleware::from_fn_with_state(
            gateway.clone(),
            front_door::front_door,
        ))
        .with_state(gateway))
}
