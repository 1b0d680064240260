//! Documents about the API itself: the JWKS, the OpenAPI document, and the
//! status of every service behind the gateway.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use futures_util::future::join_all;
use serde::Serialize;
use smez_kit::{Error, ErrorCode};
use smez_proto::auth::v1::GetJwksRequest;
use utoipa::ToSchema;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::upstream;
use crate::state::Gateway;

/// How long `/v1/status` waits for one service.
const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

/// Titles, version and the two ways to authenticate.
pub(crate) fn finish(mut openapi: OpenApi) -> OpenApi {
    openapi.info.title = "Smez API".into();
    openapi.info.version = env!("CARGO_PKG_VERSION").into();
    openapi.info.description = Some(
        "REST API for Smez web and mobile frontends. Web clients authenticate with HttpOnly cookies and send \
         `X-CSRF-Token` (the `smez_csrf` cookie's value) on writes; mobile clients send `X-Smez-Client: mobile` \
         to sign in and then `Authorization: Bearer <access token>`. Errors are RFC 9457 problem+json with a \
         stable `code`."
            .into(),
    );
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    components.add_security_scheme(
        "cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("smez_access"))),
    );
    openapi
}

pub(crate) fn openapi_json(openapi: &OpenApi) -> Response {
    match serde_json::to_vec(openapi) {
        Ok(body) => ([(http::header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => Error::internal(format!("serialising the OpenAPI document: {e}")).into_response(),
    }
}

/// The public keys that verify Smez access tokens (RFC 7517).
#[utoipa::path(get, path = "/v1/.well-known/jwks.json", tag = "meta",
    responses((status = 200, description = "a JWKS document", content_type = "application/json")))]
pub(crate) async fn jwks(State(gateway): State<Gateway>) -> Result<Response, Error> {
    let jwks = gateway
        .auth
        .clone()
        .get_jwks(GetJwksRequest {})
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(([(http::header::CONTENT_TYPE, "application/jwk-set+json")], jwks.json).into_response())
}

#[derive(Serialize, ToSchema)]
pub(crate) struct StatusBody {
    /// "ok" when every service answered, else "degraded".
    status: &'static str,
    services: Vec<ServiceStatus>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ServiceStatus {
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

/// Asks every service to describe itself, in parallel.
#[utoipa::path(get, path = "/v1/status", tag = "meta", responses((status = 200, body = StatusBody)))]
pub(crate) async fn status(State(gateway): State<Gateway>) -> Json<StatusBody> {
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
