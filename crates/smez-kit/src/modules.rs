//! Module states of a process, and the HTTP endpoints every process serves:
//! `/healthz` (liveness), `/readyz` (readiness, 503 until every module runs)
//! and `/metrics` (Prometheus).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde::Serialize;

use crate::metrics::{HttpLabels, Metrics};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModuleState {
    Starting,
    Running,
    Stopping,
    Stopped,
    Failed,
    /// A worker pool whose broker link is down: it takes no jobs until it is back.
    Reconnecting,
}

/// The state of every module of this process, shared with `/readyz`.
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    modules: Arc<RwLock<BTreeMap<String, ModuleState>>>,
}

impl Readiness {
    pub fn set(&self, module: &str, state: ModuleState) {
        tracing::debug!(module, ?state, "module state");
        self.modules
            .write()
            .expect("readiness lock")
            .insert(module.to_owned(), state);
    }

    pub fn snapshot(&self) -> BTreeMap<String, ModuleState> {
        self.modules.read().expect("readiness lock").clone()
    }

    /// Ready when there is at least one module and every module runs.
    pub fn is_ready(&self) -> bool {
        let modules = self.modules.read().expect("readiness lock");
        !modules.is_empty() && modules.values().all(|s| *s == ModuleState::Running)
    }
}

#[derive(Serialize)]
struct ReadyBody {
    status: &'static str,
    modules: BTreeMap<String, ModuleState>,
}

#[derive(Clone)]
struct OpsState {
    readiness: Readiness,
    metrics: Metrics,
}

/// `/healthz`, `/readyz` and `/metrics`.
pub fn ops_router(readiness: Readiness, metrics: Metrics) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(ready))
        .route("/metrics", get(prometheus))
        .with_state(OpsState { readiness, metrics })
}

async fn ready(State(state): State<OpsState>) -> Response {
    let ready = state.readiness.is_ready();
    let body = ReadyBody {
        status: if ready { "ready" } else { "not_ready" },
        modules: state.readiness.snapshot(),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn prometheus(State(state): State<OpsState>) -> Response {
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Runs every HTTP request in a span that continues the caller's trace (a
/// frontend may send `traceparent`), and records it by its route template
/// (never the raw path, which would explode label cardinality).
pub async fn record_http(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let span = tracing::info_span!("http.request", http.method = %method, http.route = %route);
    crate::telemetry::set_parent(&span, crate::telemetry::extract_headers(request.headers()));
    let response = next.run(request).instrument(span).await;
    metrics.observe_http(
        HttpLabels {
            method,
            route,
            status: response.status().as_u16(),
        },
        started.elapsed(),
    );
    response
}
