//! Edit plans of the active workspace: the body of a create or replace is
//! the plan document itself (`smez.edit_plan/1`, or an OpenTimelineIO
//! timeline to import), so the render service's parse errors point at the
//! client's own lines and columns. The revision travels as the `ETag`; a
//! replace may send it back in `If-Match`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::render::v1::create_edit_plan_request::Source;
use smez_proto::render::v1::{
    CreateEditPlanRequest, EditPlan, EditPlanRef, GenerateEditPlanRequest, UpdateEditPlanRequest,
};
use utoipa::{IntoParams, ToSchema};

use super::{rfc3339, upstream};
use crate::authn::Authenticated;
use crate::authz::for_member;
use crate::client::Client;
use crate::state::Gateway;

/// The media type of an OpenTimelineIO timeline in a request body.
const OTIO: &str = "application/vnd.opentimelineio+json";
/// Plans are small; this is far above any real one.
const MAX_PLAN_BYTES: usize = 2 * 1024 * 1024;

#[derive(Deserialize, IntoParams)]
pub(crate) struct NameQuery {
    /// The plan's display name ("Untitled plan" when absent on create; unchanged on replace).
    name: Option<String>,
}

/// An edit plan as the API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct EditPlanBody {
    id: String,
    name: String,
    /// 1 when created, one more on every replace (also the `ETag`).
    revision: i64,
    /// The timeline's length, in milliseconds.
    duration_ms: i64,
    /// The `smez.edit_plan/1` document, with every default written out.
    #[schema(value_type = Object)]
    plan: serde_json::Value,
    /// Who made it (empty once that account is deleted).
    created_by: String,
    created_at: String,
    updated_at: String,
    /// What an OpenTimelineIO import could not carry over.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

impl TryFrom<EditPlan> for EditPlanBody {
    type Error = Error;

    fn try_from(plan: EditPlan) -> Result<Self, Error> {
        Ok(Self {
            plan: serde_json::from_str(&plan.plan_json).map_err(Error::internal)?,
            id: plan.id,
            name: plan.name,
            revision: plan.revision,
            duration_ms: plan.duration_us / 1000,
            created_by: plan.created_by,
            created_at: rfc3339(plan.created_at_ms),
            updated_at: rfc3339(plan.updated_at_ms),
            warnings: plan.warnings,
        })
    }
}

/// The plan with its revision as the `ETag`.
fn answer(status: StatusCode, plan: EditPlan) -> Result<Response, Error> {
    let etag = HeaderValue::from_str(&format!("\"{}\"", plan.revision)).map_err(Error::internal)?;
    let location = HeaderValue::from_str(&format!("/v1/edit-plans/{}", plan.id)).map_err(Error::internal)?;
    let mut response = (status, Json(EditPlanBody::try_from(plan)?)).into_response();
    response.headers_mut().insert(header::ETAG, etag);
    if status == StatusCode::CREATED {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn document(body: Body) -> Result<String, Error> {
    super::json_text(body, MAX_PLAN_BYTES, "a plan document").await
}

fn is_otio(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case(OTIO)))
}

/// Create an edit plan (owners, admins, editors). The body is a
/// `smez.edit_plan/1` document, or an OpenTimelineIO timeline with
/// `Content-Type: application/vnd.opentimelineio+json`. It is checked whole
/// against the workspace's media: **422** lists every problem in `errors`,
/// each with its field, and nothing is stored.
#[utoipa::path(post, path = "/v1/edit-plans", tag = "edit plans", params(NameQuery),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 201, body = EditPlanBody), (status = 422, description = "not a valid plan: `errors` has every problem")))]
pub(crate) async fn create(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<NameQuery>,
    body: Body,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    let json = document(body).await?;
    let source = if is_otio(&headers) {
        Source::OtioJson(json)
    } else {
        Source::PlanJson(json)
    };
    let request = CreateEditPlanRequest {
        name: query.name.unwrap_or_default(),
        source: Some(source),
    };
    let plan = gateway
        .render
        .clone()
        .create_edit_plan(for_member(request, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    answer(StatusCode::CREATED, plan)
}

/// Generate an edit plan from clips (owners, admins, editors), no model
/// needed: dead air is cut (ffmpeg's silence detection), the spoken parts
/// kept in order up to `target_seconds`, captions paged from each clip's
/// transcript (the one attached, or `transcript_id`), and `hook_title` shown
/// over the first seconds. The body: `{"name", "clips": [{"media_id",
/// "transcript_id"?}], "target_seconds"?: 60, "hook_title"?, "output"?, "fit"?,
/// "caption_style"?, "targets"?, "silence"?: {"noise_db": -35, "min_silence_ms": 500}}`.
/// **201** with an ordinary plan (its `generator` says what was cut).
#[utoipa::path(post, path = "/v1/edit-plans/generate", tag = "edit plans",
    request_body(content = Object, content_type = "application/json"),
    responses((status = 201, body = EditPlanBody), (status = 422, description = "the request or the resulting plan is not valid")))]
pub(crate) async fn generate(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    let request = GenerateEditPlanRequest {
        request_json: document(body).await?,
    };
    let plan = gateway
        .render
        .clone()
        .generate_edit_plan(for_member(request, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    answer(StatusCode::CREATED, plan)
}

/// One edit plan of the active workspace (any member).
#[utoipa::path(get, path = "/v1/edit-plans/{id}", tag = "edit plans",
    params(("id" = String, Path, description = "edit plan id")),
    responses((status = 200, body = EditPlanBody), (status = 404)))]
pub(crate) async fn get(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    let plan = gateway
        .render
        .clone()
        .get_edit_plan(for_member(EditPlanRef { plan_id: id }, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    answer(StatusCode::OK, plan)
}

/// Replace an edit plan (owners, admins, editors): the body is the whole new
/// document, checked like a new one. With `If-Match: "<revision>"`, a plan
/// changed meanwhile is not overwritten (**409**).
#[utoipa::path(put, path = "/v1/edit-plans/{id}", tag = "edit plans", params(NameQuery,
        ("id" = String, Path, description = "edit plan id"),
        ("If-Match" = Option<String>, Header, description = "the revision the edit started from")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = EditPlanBody), (status = 404), (status = 409, description = "changed meanwhile"),
        (status = 422, description = "not a valid plan: `errors` has every problem")))]
pub(crate) async fn replace(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<NameQuery>,
    body: Body,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentWrite)
        .await?;
    let expected_revision = match headers.get(header::IF_MATCH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| Error::invalid_field("If-Match", "the plan's ETag, e.g. \"3\""))?,
        ),
    };
    let request = UpdateEditPlanRequest {
        plan_id: id,
        name: query.name,
        plan_json: document(body).await?,
        expected_revision,
    };
    let plan = gateway
        .render
        .clone()
        .update_edit_plan(for_member(request, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    answer(StatusCode::OK, plan)
}

/// The plan as an OpenTimelineIO timeline (`.otio`), for desktop editors.
#[utoipa::path(get, path = "/v1/edit-plans/{id}/otio", tag = "edit plans",
    params(("id" = String, Path, description = "edit plan id")),
    responses((status = 200, content_type = "application/vnd.opentimelineio+json", body = Object), (status = 404)))]
pub(crate) async fn otio(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    let exported = gateway
        .render
        .clone()
        .export_edit_plan_otio(for_member(EditPlanRef { plan_id: id.clone() }, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    let disposition = format!(
        "attachment; filename=\"edit-plan-{}.otio\"",
        id.replace(['"', '\\'], "")
    );
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(OTIO)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(Error::internal)?,
            ),
        ],
        exported.otio_json,
    )
        .into_response())
}
