//! Workspaces: list, create, rename, delete, activate, transfer, and their
//! security events.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header::SET_COOKIE};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::auth::v1::ListSecurityEventsRequest;
use smez_proto::workspace::v1::{
    CreateWorkspaceRequest, DeleteWorkspaceRequest, GetWorkspaceRequest, ListMyWorkspacesRequest,
    RenameWorkspaceRequest, TransferOwnershipRequest,
};
use utoipa::{IntoParams, ToSchema};

use super::{WorkspaceBody, rfc3339, upstream};
use crate::authn::Authenticated;
use crate::authz::{Note, for_member, for_user};
use crate::client::Client;
use crate::state::Gateway;

#[derive(Serialize, ToSchema)]
pub(crate) struct WorkspaceList {
    workspaces: Vec<WorkspaceBody>,
}

/// The caller's workspaces, with the caller's role in each.
#[utoipa::path(get, path = "/v1/workspaces", tag = "workspaces", responses((status = 200, body = WorkspaceList)))]
pub(crate) async fn list(State(gateway): State<Gateway>, user: Authenticated) -> Result<Json<WorkspaceList>, Error> {
    let answer = gateway
        .workspace
        .clone()
        .list_my_workspaces(for_user(ListMyWorkspacesRequest {}, &user))
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(Json(WorkspaceList {
        workspaces: answer.workspaces.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct NameBody {
    /// 1 to 100 characters, kept verbatim.
    name: String,
}

/// Create a workspace; the caller becomes its owner.
#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces", request_body = NameBody,
    responses((status = 201, body = WorkspaceBody), (status = 422)))]
pub(crate) async fn create(
    State(gateway): State<Gateway>,
    user: Authenticated,
    Json(body): Json<NameBody>,
) -> Result<(StatusCode, Json<WorkspaceBody>), Error> {
    let workspace = gateway
        .workspace
        .clone()
        .create_workspace(for_user(CreateWorkspaceRequest { name: body.name }, &user))
        .await
        .map_err(upstream)?
        .into_inner();
    Ok((StatusCode::CREATED, Json(workspace.into())))
}

/// Rename a workspace (owners and admins).
#[utoipa::path(patch, path = "/v1/workspaces/{id}", tag = "workspaces", request_body = NameBody,
    params(("id" = String, Path, description = "workspace id")),
    responses((status = 200, body = WorkspaceBody), (status = 403), (status = 404)))]
pub(crate) async fn rename(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<NameBody>,
) -> Result<Json<WorkspaceBody>, Error> {
    let member = gateway
        .authorize(&user, &client, &id, Permission::MembersManage)
        .await?;
    let workspace = gateway
        .workspace
        .clone()
        .rename_workspace(for_member(
            RenameWorkspaceRequest {
                workspace_id: id,
                name: body.name,
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(Json(workspace.into()))
}

/// Delete a workspace and, in every service, everything in it (owners only).
#[utoipa::path(delete, path = "/v1/workspaces/{id}", tag = "workspaces",
    params(("id" = String, Path, description = "workspace id")),
    responses((status = 204), (status = 403), (status = 404)))]
pub(crate) async fn delete(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let member = gateway
        .authorize(&user, &client, &id, Permission::WorkspaceAdminister)
        .await?;
    gateway
        .workspace
        .clone()
        .delete_workspace(for_member(
            DeleteWorkspaceRequest {
                workspace_id: id.clone(),
            },
            &member,
        ))
        .await
        .map_err(upstream)?;
    // Recorded outside the workspace: its events go with it.
    gateway.forget_permissions(&id);
    let note = Note::success("workspace_deleted", format!("workspace {id} deleted"));
    gateway.record_event(&user, &client, note).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Make a workspace the active one (web: a cookie; mobile clients send
/// `X-Smez-Workspace` instead).
#[utoipa::path(post, path = "/v1/workspaces/{id}/activate", tag = "workspaces",
    params(("id" = String, Path, description = "workspace id")),
    responses((status = 200, body = WorkspaceBody), (status = 404)))]
pub(crate) async fn activate(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let member = gateway.authorize(&user, &client, &id, Permission::ContentRead).await?;
    let workspace = gateway
        .workspace
        .clone()
        .get_workspace(for_member(
            GetWorkspaceRequest {
                workspace_id: id.clone(),
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    let note = Note::success("workspace_switched", "active workspace set");
    gateway.record_event(&user, &client, note.in_workspace(&id)).await;
    let mut response = Json(WorkspaceBody::from(workspace)).into_response();
    let names = &gateway.cookies;
    let lifetime = gateway.settings.auth.refresh_token_ttl_secs as i64;
    response
        .headers_mut()
        .append(SET_COOKIE, names.set(&names.workspace, &id, lifetime, true));
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct TransferBody {
    /// A member who becomes owner; the caller becomes admin.
    new_owner_id: String,
}

/// Hand the workspace to another member (owners only).
#[utoipa::path(post, path = "/v1/workspaces/{id}/transfer", tag = "workspaces", request_body = TransferBody,
    params(("id" = String, Path, description = "workspace id")),
    responses((status = 200, body = WorkspaceBody), (status = 403), (status = 404)))]
pub(crate) async fn transfer(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<TransferBody>,
) -> Result<Json<WorkspaceBody>, Error> {
    let member = gateway
        .authorize(&user, &client, &id, Permission::WorkspaceAdminister)
        .await?;
    let workspace = gateway
        .workspace
        .clone()
        .transfer_ownership(for_member(
            TransferOwnershipRequest {
                workspace_id: id.clone(),
                new_owner_id: body.new_owner_id.clone(),
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    let note = Note::success("workspace_ownership_transferred", "ownership transferred");
    gateway
        .membership_changed(&user, &client, note.in_workspace(&id).about(&body.new_owner_id))
        .await;
    Ok(Json(workspace.into()))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct EventsQuery {
    /// Page size, at most 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SecurityEventBody {
    id: String,
    at: String,
    /// OWASP logging vocabulary name, e.g. `authz_fail`.
    event: String,
    user_id: Option<String>,
    subject_user_id: Option<String>,
    ip: String,
    user_agent: String,
    /// success or failure.
    outcome: String,
    detail: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SecurityEventPage {
    events: Vec<SecurityEventBody>,
    /// Pass as `cursor` for older events; absent on the last page.
    next_cursor: Option<String>,
}

/// The workspace's security events, newest first (owners and admins).
#[utoipa::path(get, path = "/v1/workspaces/{id}/security-events", tag = "workspaces",
    params(("id" = String, Path, description = "workspace id"), EventsQuery),
    responses((status = 200, body = SecurityEventPage), (status = 403), (status = 404)))]
pub(crate) async fn security_events(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<SecurityEventPage>, Error> {
    gateway
        .authorize(&user, &client, &id, Permission::SecurityEventsRead)
        .await?;
    let page = gateway
        .auth
        .clone()
        .list_security_events(ListSecurityEventsRequest {
            workspace_id: id,
            limit: query.limit.unwrap_or(0),
            before: query.cursor.unwrap_or_default(),
        })
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(Json(SecurityEventPage {
        events: page
            .events
            .into_iter()
            .map(|e| SecurityEventBody {
                id: e.id,
                at: rfc3339(e.at_ms),
                event: e.event,
                user_id: e.user_id,
                subject_user_id: e.subject_user_id,
                ip: e.ip,
                user_agent: e.user_agent,
                outcome: e.outcome,
                detail: e.detail,
            })
            .collect(),
        next_cursor: Some(page.next_before).filter(|c| !c.is_empty()),
    }))
}
