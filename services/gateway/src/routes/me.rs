//! The signed-in user: profile, password, account deletion.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::auth::v1::{ChangePasswordRequest, DeleteAccountRequest, GetUserRequest};
use smez_proto::workspace::v1::GetWorkspaceRequest;
use utoipa::ToSchema;

use super::{UserBody, WorkspaceBody, upstream};
use crate::authn::Authenticated;
use crate::authz::for_member;
use crate::client::Client;
use crate::state::Gateway;

#[derive(Serialize, ToSchema)]
pub(crate) struct MeBody {
    user: UserBody,
    /// The active workspace (cookie or `X-Smez-Workspace`), if the user is still a member.
    active_workspace: Option<WorkspaceBody>,
}

/// The signed-in user and the active workspace.
#[utoipa::path(get, path = "/v1/me", tag = "me", responses((status = 200, body = MeBody), (status = 401)))]
pub(crate) async fn get_me(
    State(gateway): State<Gateway>,
    user: Authenticated,
    headers: axum::http::HeaderMap,
) -> Result<Json<MeBody>, Error> {
    let profile = gateway
        .auth
        .clone()
        .get_user(GetUserRequest {
            user_id: user.user_id.clone(),
        })
        .await
        .map_err(|status| match upstream(status) {
            e if e.code == smez_kit::ErrorCode::NotFound => Error::unauthenticated("the account no longer exists"),
            e => e,
        })?
        .into_inner();
    let active = gateway.active_workspace(&headers);
    let active_workspace = match active {
        Some(workspace_id) => match gateway
            .check_permission(&user, &workspace_id, Permission::ContentRead)
            .await
        {
            Ok(member) => Some(
                gateway
                    .workspace
                    .clone()
                    .get_workspace(for_member(GetWorkspaceRequest { workspace_id }, &member))
                    .await
                    .map_err(upstream)?
                    .into_inner()
                    .into(),
            ),
            // No longer a member (or gone): no active workspace.
            Err(e) if e.code == smez_kit::ErrorCode::NotFound => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    Ok(Json(MeBody {
        user: profile.into(),
        active_workspace,
    }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct DeleteMeBody {
    /// The current password, to confirm.
    password: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DeletionBody {
    /// "deleted": the account is gone; its data in other services follows shortly.
    status: &'static str,
}

/// Delete the account: memberships, the workspaces the user alone owns and
/// everything in them, sessions and security events. Needs the password.
#[utoipa::path(delete, path = "/v1/me", tag = "me", request_body = DeleteMeBody,
    responses((status = 202, body = DeletionBody), (status = 422, description = "wrong password")))]
pub(crate) async fn delete_me(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Json(body): Json<DeleteMeBody>,
) -> Result<Response, Error> {
    gateway
        .auth
        .clone()
        .delete_account(DeleteAccountRequest {
            user_id: user.user_id.clone(),
            password: body.password,
            client: Some(client.info()),
        })
        .await
        .map_err(upstream)?;
    gateway.sessions.forget(&user.session_id);
    let mut response = (StatusCode::ACCEPTED, Json(DeletionBody { status: "deleted" })).into_response();
    gateway.cookies.clear_all(response.headers_mut());
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct ChangePasswordBody {
    current_password: String,
    new_password: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PasswordChangedBody {
    /// Sessions on other devices that were signed out.
    revoked_sessions: u32,
}

/// Change the password; every other session is signed out.
#[utoipa::path(post, path = "/v1/me/password", tag = "me", request_body = ChangePasswordBody,
    responses((status = 200, body = PasswordChangedBody), (status = 422, description = "wrong current password or weak new one")))]
pub(crate) async fn change_password(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Json(body): Json<ChangePasswordBody>,
) -> Result<Json<PasswordChangedBody>, Error> {
    let answer = gateway
        .auth
        .clone()
        .change_password(ChangePasswordRequest {
            user_id: user.user_id.clone(),
            current_password: body.current_password,
            new_password: body.new_password,
            keep_session_id: user.session_id.clone(),
            client: Some(client.info()),
        })
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(Json(PasswordChangedBody {
        revoked_sessions: answer.revoked_sessions,
    }))
}
