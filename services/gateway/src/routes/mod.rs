//! The REST routes and their OpenAPI descriptions, registered together so
//! the document cannot drift from the router.

mod auth;
mod edit_plans;
mod integrations;
mod me;
mod media;
mod media_body;
mod members;
pub(crate) mod meta;
mod packages;
mod posts;
mod renders;
mod uploads;
mod workspaces;

use serde::Serialize;
use smez_kit::Error;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::Gateway;

pub(crate) fn api() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new()
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(me::get_me, me::delete_me))
        .routes(routes!(me::change_password))
        .routes(routes!(workspaces::list, workspaces::create))
        .routes(routes!(workspaces::rename, workspaces::delete))
        .routes(routes!(workspaces::activate))
        .routes(routes!(workspaces::transfer))
        .routes(routes!(workspaces::security_events))
        .routes(routes!(members::list))
        .routes(routes!(members::change_role, members::remove))
        .routes(routes!(members::invite))
        .routes(routes!(members::accept))
        .routes(routes!(integrations::list))
        .routes(routes!(integrations::get, integrations::disconnect))
        .routes(routes!(integrations::connect))
        .routes(routes!(integrations::callback))
        .routes(routes!(integrations::outcome))
        .routes(routes!(integrations::pending))
        .routes(routes!(integrations::select))
        .routes(routes!(media::upload, media::list))
        .routes(routes!(media::get, media::delete))
        .routes(routes!(media::content))
        .routes(routes!(media::poster))
        .routes(routes!(media::attach_transcript, media::transcript))
        .routes(routes!(edit_plans::create))
        .routes(routes!(edit_plans::generate))
        .routes(routes!(edit_plans::get, edit_plans::replace))
        .routes(routes!(edit_plans::otio))
        .routes(routes!(renders::create))
        .routes(routes!(renders::get, renders::cancel))
        .routes(routes!(renders::events))
        .routes(routes!(renders::content))
        .routes(routes!(renders::poster))
        .routes(routes!(packages::create, packages::list))
        .routes(routes!(packages::get))
        .routes(routes!(posts::create, posts::list))
        .routes(routes!(posts::get, posts::update))
        .routes(routes!(posts::cancel))
        .routes(routes!(posts::retry))
        .routes(routes!(uploads::options, uploads::create))
        .routes(routes!(uploads::status, uploads::append, uploads::terminate))
        .routes(routes!(meta::jwks))
        .routes(routes!(meta::status))
}

/// A gRPC failure of an upstream service, as the client should see it.
pub(crate) fn upstream(status: tonic::Status) -> Error {
    Error::from_status(&status)
}

/// A small JSON request body as text: at most `max` bytes of UTF-8.
pub(crate) async fn json_text(body: axum::body::Body, max: usize, what: &str) -> Result<String, Error> {
    let bytes = axum::body::to_bytes(body, max).await.map_err(|_| {
        Error::new(
            smez_kit::ErrorCode::PayloadTooLarge,
            format!("{what} is at most {max} bytes"),
        )
    })?;
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::invalid_field("body", format!("{what} is UTF-8 JSON")))
}

/// Milliseconds since the epoch as RFC 3339.
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A user as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct UserBody {
    pub id: String,
    pub email: String,
    pub display_name: String,
    /// ISO 8601 date.
    pub date_of_birth: String,
    pub created_at: String,
}

impl From<smez_proto::auth::v1::User> for UserBody {
    fn from(user: smez_proto::auth::v1::User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            display_name: user.display_name,
            date_of_birth: user.date_of_birth,
            created_at: rfc3339(user.created_at_ms),
        }
    }
}

/// A workspace with the caller's role in it.
#[derive(Serialize, ToSchema)]
pub(crate) struct WorkspaceBody {
    pub id: String,
    pub name: String,
    /// owner, admin, editor or viewer.
    pub role: String,
    pub created_at: String,
}

impl From<smez_proto::workspace::v1::Workspace> for WorkspaceBody {
    fn from(workspace: smez_proto::workspace::v1::Workspace) -> Self {
        Self {
            id: workspace.id,
            name: workspace.name,
            role: workspace.role,
            created_at: rfc3339(workspace.created_at_ms),
        }
    }
}
