//! Platform packages of the active workspace's renders.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::render::v1::{CreatePackageRequest, ListPackagesRequest, Package, PackageRef};
use utoipa::{IntoParams, ToSchema};

use super::{json_text, rfc3339, upstream};
use crate::authn::Authenticated;
use crate::authz::for_member;
use crate::client::Client;
use crate::state::Gateway;

/// A package request is small; this is far above a real one.
const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// A package as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct PackageBody {
    id: String,
    render_id: String,
    /// tiktok, instagram or youtube.
    platform: String,
    /// `building` (a re-encode runs), `ready` or `failed`.
    status: String,
    /// The request as checked, and `caption_sent`: the caption as it will be sent.
    #[schema(value_type = Object)]
    metadata: serde_json::Value,
    /// Why the video is re-encoded; empty: the render is sent as it is.
    #[schema(value_type = Vec<Object>)]
    reencode: serde_json::Value,
    /// What the video to send is, once ready.
    #[schema(value_type = Option<Object>)]
    video: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl TryFrom<Package> for PackageBody {
    type Error = Error;

    fn try_from(package: Package) -> Result<Self, Error> {
        let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).map_err(Error::internal);
        Ok(Self {
            metadata: json(&package.metadata_json)?,
            reencode: json(&package.reencode_json)?,
            video: if package.video_json.is_empty() {
                None
            } else {
                Some(json(&package.video_json)?)
            },
            id: package.id,
            render_id: package.render_id,
            platform: package.platform,
            status: package.status,
            error: package.error,
            created_by: package.created_by,
            created_at: rfc3339(package.created_at_ms),
            updated_at: rfc3339(package.updated_at_ms),
        })
    }
}

/// Package a succeeded render for one platform (owners, admins, editors).
/// The body: `{"render_id", "platform", "caption"?, "hashtags"?, "mentions"?,
/// "title"? (YouTube), "privacy"?, "cover_ms"?, "tiktok"?: {"allow_comments",
/// "allow_duet", "allow_stitch", "ai_generated", "branded_content",
/// "promotes_own_business"}, "instagram"?: {"share_to_feed"}, "youtube"?:
/// {"category_id", "made_for_kids", "tags", "contains_synthetic_media"}}`.
/// Every broken rule of the platform is reported with its field (**422**).
/// **201** `ready` when the render passes as it is; `building` while a
/// re-encode mends what it can (frame rate, frame size, bitrate).
#[utoipa::path(post, path = "/v1/packages", tag = "packages",
    request_body(content = Object, content_type = "application/json"),
    responses((status = 201, body = PackageBody), (status = 409, description = "the render has not succeeded"),
        (status = 422, description = "the platform's rules are broken: `errors` lists them")))]
pub(crate) async fn create(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    let request_json = json_text(body, MAX_REQUEST_BYTES, "a package request").await?;
    let package = gateway
        .render
        .clone()
        .create_package(for_member(CreatePackageRequest { request_json }, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    let location = HeaderValue::from_str(&format!("/v1/packages/{}", package.id)).map_err(Error::internal)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(PackageBody::try_from(package)?),
    )
        .into_response())
}

/// One package.
#[utoipa::path(get, path = "/v1/packages/{id}", tag = "packages",
    params(("id" = String, Path, description = "package id")),
    responses((status = 200, body = PackageBody), (status = 404)))]
pub(crate) async fn get(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<PackageBody>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    let package = gateway
        .render
        .clone()
        .get_package(for_member(PackageRef { package_id: id }, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(Json(package.try_into()?))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// Only this render's packages.
    render_id: Option<String>,
    /// 50 by default, 200 at most.
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PackageList {
    packages: Vec<PackageBody>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

/// The workspace's packages, newest first.
#[utoipa::path(get, path = "/v1/packages", tag = "packages", params(ListQuery),
    responses((status = 200, body = PackageList)))]
pub(crate) async fn list(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Json<PackageList>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    let listed = gateway
        .render
        .clone()
        .list_packages(for_member(
            ListPackagesRequest {
                render_id: query.render_id.unwrap_or_default(),
                limit: query.limit.unwrap_or(0),
                cursor: query.cursor.unwrap_or_default(),
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(Json(PackageList {
        packages: listed
            .packages
            .into_iter()
            .map(PackageBody::try_from)
            .collect::<Result<_, _>>()?,
        next_cursor: (!listed.next_cursor.is_empty()).then_some(listed.next_cursor),
    }))
}
