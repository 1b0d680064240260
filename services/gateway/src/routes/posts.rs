//! Posts of the active workspace: one video to one or more connected
//! accounts, now or at a scheduled time, each target with its own state.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::publisher::v1::{ListPostsRequest, PostDocument, PostRef, TargetRef, UpdatePostRequest};
use utoipa::{IntoParams, ToSchema};

use super::{json_text, upstream};
use crate::authn::Authenticated;
use crate::authz::for_member;
use crate::client::Client;
use crate::state::Gateway;

/// A post request is small; this is far above a real one.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A post as the publisher wrote it (JSON text).
fn parsed(json: &str) -> Result<Value, Error> {
    serde_json::from_str(json).map_err(Error::internal)
}

/// The publisher's answer about one post, as its JSON.
fn post_json(reply: Result<tonic::Response<PostDocument>, tonic::Status>) -> Result<Value, Error> {
    parsed(&reply.map_err(upstream)?.into_inner().json)
}

/// Schedule a post (owners, admins, editors: `posts.publish`). The body:
/// `{"targets": [{"connection_id", "package_id"}, …]}` (one target per
/// account; each package made for its connection's platform and ready),
/// and when: nothing or `"publish_at": "now"` (now), `"publish_at"` as an
/// RFC 3339 instant, or `"local_time": "2027-03-14T02:30"` with an IANA
/// `"time_zone"`. A wall time the clocks skip (spring forward) is read with
/// the offset before the change (it lands as far past the gap as it was
/// into it); one that happens twice (fall back) is the first of the two;
/// `schedule.resolution` and `schedule.note` say which applied. Times in the
/// past are refused (**422**, with the field).
#[utoipa::path(post, path = "/v1/posts", tag = "posts",
    request_body(content = Object, content_type = "application/json"),
    responses((status = 201, body = Object, description = "the post: `state`, `schedule`, `targets`"),
        (status = 422, description = "a field is invalid: `errors` lists every target problem")))]
pub(crate) async fn create(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::PostsPublish)
        .await?;
    let json = json_text(body, MAX_REQUEST_BYTES, "a post request").await?;
    let post = post_json(
        gateway
            .publisher
            .clone()
            .create_post(for_member(PostDocument { json }, &member))
            .await,
    )?;
    let id = post["id"].as_str().unwrap_or_default();
    let location = HeaderValue::from_str(&format!("/v1/posts/{id}")).map_err(Error::internal)?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(post)).into_response())
}

/// One post, with each target's state, outcome (platform post id, public
/// URL, when it went live; or the error, its class, field and whether a
/// retry can help) and attempt history.
#[utoipa::path(get, path = "/v1/posts/{id}", tag = "posts",
    params(("id" = String, Path, description = "post id")),
    responses((status = 200, body = Object), (status = 404)))]
pub(crate) async fn get(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    Ok(Json(post_json(
        gateway
            .publisher
            .clone()
            .get_post(for_member(PostRef { post_id: id }, &member))
            .await,
    )?))
}

/// Reschedule (`publish_at`, or `local_time` with `time_zone`) and/or
/// replace the `targets`, while no target has started publishing (**409**
/// after).
#[utoipa::path(patch, path = "/v1/posts/{id}", tag = "posts",
    params(("id" = String, Path, description = "post id")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = Object), (status = 404), (status = 409, description = "publishing has started"),
        (status = 422)))]
pub(crate) async fn update(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Value>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::PostsPublish)
        .await?;
    let json = json_text(body, MAX_REQUEST_BYTES, "a post update").await?;
    Ok(Json(post_json(
        gateway
            .publisher
            .clone()
            .update_post(for_member(UpdatePostRequest { post_id: id, json }, &member))
            .await,
    )?))
}

/// Cancel every target that has not started publishing (**409** when none is left to cancel).
#[utoipa::path(post, path = "/v1/posts/{id}/cancel", tag = "posts",
    params(("id" = String, Path, description = "post id")),
    responses((status = 200, body = Object), (status = 404), (status = 409)))]
pub(crate) async fn cancel(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::PostsPublish)
        .await?;
    Ok(Json(post_json(
        gateway
            .publisher
            .clone()
            .cancel_post(for_member(PostRef { post_id: id }, &member))
            .await,
    )?))
}

/// Retry a failed target whose error says a retry can help (after a
/// reconnect, a transient failure that used up its attempts). An
/// `unconfirmed` target is never retried: check the account first (**409**).
#[utoipa::path(post, path = "/v1/posts/{id}/targets/{target_id}/retry", tag = "posts",
    params(("id" = String, Path, description = "post id"), ("target_id" = String, Path, description = "target id")),
    responses((status = 200, body = Object), (status = 404), (status = 409)))]
pub(crate) async fn retry(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path((id, target_id)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::PostsPublish)
        .await?;
    Ok(Json(post_json(
        gateway
            .publisher
            .clone()
            .retry_target(for_member(TargetRef { post_id: id, target_id }, &member))
            .await,
    )?))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// The post's state: scheduled, publishing, published, partially_published, failed or canceled.
    state: Option<String>,
    /// Posts with a target on this platform (tiktok, instagram, youtube).
    platform: Option<String>,
    /// Posts with a target on this connection.
    connection_id: Option<String>,
    /// Due at or after this instant (RFC 3339).
    from: Option<String>,
    /// Due before this instant (RFC 3339).
    until: Option<String>,
    /// 50 by default, 200 at most.
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PostPage {
    #[schema(value_type = Vec<Object>)]
    posts: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

fn instant_ms(field: &str, value: Option<&str>) -> Result<i64, Error> {
    value.map_or(Ok(0), |text| {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_millis())
            .map_err(|e| Error::invalid_field(field, format!("`{text}` is not an RFC 3339 instant: {e}")))
    })
}

/// The workspace's posts, latest due first.
#[utoipa::path(get, path = "/v1/posts", tag = "posts", params(ListQuery),
    responses((status = 200, body = PostPage)))]
pub(crate) async fn list(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Json<PostPage>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    let request = ListPostsRequest {
        from_ms: instant_ms("from", query.from.as_deref())?,
        until_ms: instant_ms("until", query.until.as_deref())?,
        state: query.state.unwrap_or_default(),
        platform: query.platform.unwrap_or_default(),
        connection_id: query.connection_id.unwrap_or_default(),
        limit: query.limit.unwrap_or(0),
        cursor: query.cursor.unwrap_or_default(),
    };
    let listed = gateway
        .publisher
        .clone()
        .list_posts(for_member(request, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    let posts = listed.posts.iter().map(|json| parsed(json)).collect::<Result<_, _>>()?;
    Ok(Json(PostPage {
        posts,
        next_cursor: (!listed.next_cursor.is_empty()).then_some(listed.next_cursor),
    }))
}
