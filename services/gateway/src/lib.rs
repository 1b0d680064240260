//! The gateway: REST/JSON for web and mobile frontends. It owns no data; it
//! resolves the caller and asks the owning services over gRPC.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::future::join_all;
use serde::Serialize;
use smez_kit::grpc::Transport;
use smez_kit::{Error, ErrorCode};
use smez_service::ServiceDef;

/// How long `/v1/status` waits for one service.
const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

/// A service the gateway calls, and the transport to it (in-process or gRPC).
#[derive(Clone)]
pub struct Upstream {
    pub service: ServiceDef,
    pub transport: Transport,
}

#[derive(Clone)]
struct Gateway {
    upstreams: Arc<Vec<Upstream>>,
}

/// The REST routes. Ops routes (`/healthz`, `/readyz`, `/metrics`) are added by the binary.
pub fn router(upstreams: Vec<Upstream>) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .fallback(|| async { Error::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            Error::new(ErrorCode::MethodNotAllowed, "this route does not take that method")
        })
        .with_state(Gateway {
            upstreams: Arc::new(upstreams),
        })
}

#[derive(Serialize)]
struct StatusBody {
    /// "ok" when every service answered, else "degraded".
    status: &'static str,
    services: Vec<ServiceStatus>,
}

#[derive(Serialize)]
struct ServiceStatus {
    service: &'static str,
    /// "serving" or the stable error code of the failure.
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_backend: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bus_backend: Option<String>,
    /// The caller identity the service verified (always the gateway here).
    #[serde(skip_serializing_if = "Option::is_none")]
    seen_caller: Option<String>,
}

/// `GET /v1/status`: asks every service to describe itself, in parallel.
async fn status(State(gateway): State<Gateway>) -> Json<StatusBody> {
    let calls = gateway.upstreams.iter().map(|upstream| async move {
        let name = upstream.service.name;
        let call = (upstream.service.describe)(upstream.transport.clone());
        match tokio::time::timeout(STATUS_TIMEOUT, call).await {
            Ok(Ok(info)) => ServiceStatus {
                service: name,
                state: "serving".into(),
                detail: None,
                version: Some(info.version),
                database_backend: Some(info.database_backend),
                schema_version: Some(info.schema_version),
                bus_backend: Some(info.bus_backend),
                seen_caller: info.caller.map(|c| c.service),
            },
            Ok(Err(status)) => failed(name, Error::from_status(&status)),
            Err(_) => failed(
                name,
                Error::new(ErrorCode::Timeout, format!("no answer within {STATUS_TIMEOUT:?}")),
            ),
        }
    });
    let services = join_all(calls).await;
    let all_serving = services.iter().all(|s| s.state == "serving");
    Json(StatusBody {
        status: if all_serving { "ok" } else { "degraded" },
        services,
    })
}

fn failed(service: &'static str, error: Error) -> ServiceStatus {
    ServiceStatus {
        service,
        state: error.code.as_str().to_owned(),
        detail: Some(error.message),
        version: None,
        database_backend: None,
        schema_version: None,
        bus_backend: None,
        seen_caller: None,
    }
}
