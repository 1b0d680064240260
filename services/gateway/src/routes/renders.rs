//! Renders of the active workspace's plans: ask for one, follow it (JSON or
//! a live stream of server-sent events), cancel it, download it.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::render::v1::{CreateRenderRequest, ReadRenderContentRequest, Render, RenderRef};
use utoipa::ToSchema;

use super::media::content_response;
use super::{rfc3339, upstream};
use crate::authn::Authenticated;
use crate::authz::{Member, for_member};
use crate::client::Client;
use crate::state::Gateway;

/// How often a followed render is looked at (its worker records progress every second).
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

#[derive(Deserialize, ToSchema)]
pub(crate) struct RenderRequest {
    /// The edit plan to render, as it is now (later edits do not change this render).
    plan_id: String,
}

/// What a finished render's file is, as probed.
#[derive(Serialize, ToSchema)]
pub(crate) struct OutputBody {
    size_bytes: u64,
    duration_ms: i64,
    width: u32,
    height: u32,
    frame_rate: String,
    video_codec: String,
    video_profile: String,
    pixel_format: String,
    audio_codec: String,
    sample_rate: u32,
    channels: u32,
    /// Integrated loudness (EBU R128); absent for silence.
    loudness_lufs: Option<f64>,
    sha256: String,
    has_poster: bool,
}

/// A render as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct RenderBody {
    id: String,
    plan_id: String,
    plan_revision: i64,
    /// queued, running, succeeded, failed or canceled.
    status: String,
    /// 0 to 1.
    progress: f64,
    /// Why it failed.
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    attempts: i64,
    duration_ms: i64,
    created_by: String,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    output: Option<OutputBody>,
}

impl From<Render> for RenderBody {
    fn from(render: Render) -> Self {
        Self {
            output: render.output.map(|o| OutputBody {
                size_bytes: o.size_bytes,
                duration_ms: o.duration_us / 1000,
                width: o.width,
                height: o.height,
                frame_rate: o.frame_rate,
                video_codec: o.video_codec,
                video_profile: o.video_profile,
                pixel_format: o.pixel_format,
                audio_codec: o.audio_codec,
                sample_rate: o.sample_rate,
                channels: o.channels,
                loudness_lufs: o.loudness_lufs,
                sha256: o.sha256,
                has_poster: o.has_poster,
            }),
            id: render.id,
            plan_id: render.plan_id,
            plan_revision: render.plan_revision,
            status: render.status,
            progress: render.progress,
            error: render.error,
            attempts: render.attempts,
            duration_ms: render.duration_us / 1000,
            created_by: render.created_by,
            created_at: rfc3339(render.created_at_ms),
            started_at: render.started_at_ms.map(rfc3339),
            finished_at: render.finished_at_ms.map(rfc3339),
        }
    }
}

fn is_final(status: &str) -> bool {
    matches!(status, "succeeded" | "failed" | "canceled")
}

async fn fetch(gateway: &Gateway, member: &Member, id: &str) -> Result<Render, Error> {
    Ok(gateway
        .render
        .clone()
        .get_render(for_member(
            RenderRef {
                render_id: id.to_owned(),
            },
            member,
        ))
        .await
        .map_err(upstream)?
        .into_inner())
}

/// Render an edit plan (owners, admins, editors): **202**, queued for a
/// render worker; follow it at `/v1/renders/{id}/events`.
#[utoipa::path(post, path = "/v1/renders", tag = "renders", request_body = RenderRequest,
    responses((status = 202, body = RenderBody), (status = 404, description = "no such plan"),
        (status = 422, description = "the plan no longer checks (its media was deleted): `errors` says where")))]
pub(crate) async fn create(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Json(body): Json<RenderRequest>,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    let render = gateway
        .render
        .clone()
        .create_render(for_member(CreateRenderRequest { plan_id: body.plan_id }, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    let location = HeaderValue::from_str(&format!("/v1/renders/{}", render.id)).map_err(Error::internal)?;
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(RenderBody::from(render)),
    )
        .into_response())
}

/// One render: status, progress, and once done what the file is.
#[utoipa::path(get, path = "/v1/renders/{id}", tag = "renders",
    params(("id" = String, Path, description = "render id")),
    responses((status = 200, body = RenderBody), (status = 404)))]
pub(crate) async fn get(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<RenderBody>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    Ok(Json(fetch(&gateway, &member, &id).await?.into()))
}

/// Cancel a queued or running render (**200**, now `canceled`; its worker
/// stops within a second and keeps nothing), or remove a finished one with
/// its file (**204**).
#[utoipa::path(delete, path = "/v1/renders/{id}", tag = "renders",
    params(("id" = String, Path, description = "render id")),
    responses((status = 200, body = RenderBody), (status = 204, description = "removed with its file"), (status = 404)))]
pub(crate) async fn cancel(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    let render = gateway
        .render
        .clone()
        .cancel_render(for_member(RenderRef { render_id: id }, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    if render.removed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(RenderBody::from(render)).into_response())
}

/// The render's progress as server-sent events: `progress` events
/// (`{"status", "progress"}`) as it moves, then one final event named by
/// the outcome (`succeeded`, `failed` or `canceled`) carrying the render,
/// and the stream ends. A client that reconnects simply starts again.
#[utoipa::path(get, path = "/v1/renders/{id}/events", tag = "renders",
    params(("id" = String, Path, description = "render id")),
    responses((status = 200, content_type = "text/event-stream", description = "progress, then the outcome"), (status = 404)))]
pub(crate) async fn events(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    // 404 now rather than an empty stream.
    let first = fetch(&gateway, &member, &id).await?;
    let state = Follow {
        gateway,
        member,
        id,
        next: Some(first),
        told: None,
        done: false,
    };
    Ok(Sse::new(futures_util::stream::unfold(state, follow)).keep_alive(KeepAlive::default()))
}

struct Follow {
    gateway: Gateway,
    member: Member,
    id: String,
    next: Option<Render>,
    told: Option<(String, i64)>,
    done: bool,
}

/// The next event worth sending: a change of status or progress, or the end.
async fn follow(mut state: Follow) -> Option<(Result<Event, Infallible>, Follow)> {
    if state.done {
        return None;
    }
    loop {
        let render = match state.next.take() {
            Some(render) => render,
            None => {
                tokio::time::sleep(FOLLOW_EVERY).await;
                match fetch(&state.gateway, &state.member, &state.id).await {
                    Ok(render) => render,
                    Err(e) => {
                        // Gone (removed) or unreachable: say so and end.
                        state.done = true;
                        let event = Event::default().event("error").data(e.message);
                        return Some((Ok(event), state));
                    }
                }
            }
        };
        if is_final(&render.status) {
            state.done = true;
            let event = Event::default()
                .event(render.status.clone())
                .json_data(RenderBody::from(render))
                .unwrap_or_else(|_| Event::default().event("error"));
            return Some((Ok(event), state));
        }
        let now = (render.status.clone(), (render.progress * 1000.0).round() as i64);
        if state.told.as_ref() != Some(&now) {
            state.told = Some(now);
            let event = Event::default()
                .event("progress")
                .json_data(serde_json::json!({"status": render.status, "progress": render.progress}))
                .unwrap_or_else(|_| Event::default().event("error"));
            return Some((Ok(event), state));
        }
    }
}

/// The rendered MP4 (`Range` answers 206).
#[utoipa::path(get, path = "/v1/renders/{id}/content", tag = "renders",
    params(("id" = String, Path, description = "render id")),
    responses((status = 200, content_type = "video/mp4"), (status = 206, description = "the range asked for"), (status = 404),
        (status = 409, description = "not finished: no file yet"), (status = 416, description = "outside the file")))]
pub(crate) async fn content(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    let render = fetch(&gateway, &member, &id).await?;
    let Some(output) = render.output else {
        return Err(Error::new(
            smez_kit::ErrorCode::Conflict,
            format!("the render is {}: it has no file yet", render.status),
        ));
    };
    let range = match crate::range::requested(&headers, output.size_bytes) {
        Ok(range) => range,
        Err(unsatisfiable) => return Ok(unsatisfiable.into_response()),
    };
    read(&gateway, &member, id, "", range, true).await
}

/// A frame of the render (JPEG).
#[utoipa::path(get, path = "/v1/renders/{id}/poster", tag = "renders",
    params(("id" = String, Path, description = "render id")),
    responses((status = 200, content_type = "image/jpeg"), (status = 404), (status = 409, description = "not finished")))]
pub(crate) async fn poster(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    read(&gateway, &member, id, "poster", None, false).await
}

async fn read(
    gateway: &Gateway,
    member: &Member,
    render_id: String,
    variant: &str,
    range: Option<(u64, u64)>,
    attachment: bool,
) -> Result<Response, Error> {
    let parts = gateway
        .render
        .clone()
        .read_render_content(for_member(
            ReadRenderContentRequest {
                render_id,
                variant: variant.to_owned(),
                offset: range.map_or(0, |(start, _)| start),
                length: range.map(|(start, end)| end - start + 1),
            },
            member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    content_response(parts, range, attachment).await
}
