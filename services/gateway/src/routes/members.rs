//! Members and invitations.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::auth::v1::{GetUserRequest, LookupUsersRequest};
use smez_proto::workspace::v1::{
    AcceptInvitationRequest, ChangeRoleRequest, CreateInvitationRequest, ListMembersRequest, RemoveMemberRequest,
};
use utoipa::ToSchema;

use super::{WorkspaceBody, rfc3339, upstream};
use crate::authn::Authenticated;
use crate::authz::{Note, for_member, for_user};
use crate::client::Client;
use crate::state::Gateway;

#[derive(Serialize, ToSchema)]
pub(crate) struct MemberBody {
    user_id: String,
    display_name: String,
    email: String,
    role: String,
    joined_at: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MemberList {
    members: Vec<MemberBody>,
}

/// The workspace's members (any member may see them).
#[utoipa::path(get, path = "/v1/workspaces/{id}/members", tag = "members",
    params(("id" = String, Path, description = "workspace id")),
    responses((status = 200, body = MemberList), (status = 404)))]
pub(crate) async fn list(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<MemberList>, Error> {
    let member = gateway.authorize(&user, &client, &id, Permission::ContentRead).await?;
    let members = gateway
        .workspace
        .clone()
        .list_members(for_member(ListMembersRequest { workspace_id: id }, &member))
        .await
        .map_err(upstream)?
        .into_inner()
        .members;
    let users: HashMap<String, smez_proto::auth::v1::User> = gateway
        .auth
        .clone()
        .lookup_users(LookupUsersRequest {
            user_ids: members.iter().map(|m| m.user_id.clone()).collect(),
        })
        .await
        .map_err(upstream)?
        .into_inner()
        .users
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    Ok(Json(MemberList {
        members: members
            .into_iter()
            .map(|m| {
                let profile = users.get(&m.user_id);
                MemberBody {
                    display_name: profile.map(|u| u.display_name.clone()).unwrap_or_default(),
                    email: profile.map(|u| u.email.clone()).unwrap_or_default(),
                    joined_at: rfc3339(m.joined_at_ms),
                    user_id: m.user_id,
                    role: m.role,
                }
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct RoleBody {
    /// owner, admin, editor or viewer.
    role: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RoleChanged {
    user_id: String,
    role: String,
}

/// Change a member's role (owners and admins; only owners touch owners).
#[utoipa::path(patch, path = "/v1/workspaces/{id}/members/{user_id}", tag = "members", request_body = RoleBody,
    params(("id" = String, Path, description = "workspace id"), ("user_id" = String, Path, description = "member")),
    responses((status = 200, body = RoleChanged), (status = 403), (status = 404), (status = 409, description = "the last owner")))]
pub(crate) async fn change_role(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Path((id, user_id)): Path<(String, String)>,
    Json(body): Json<RoleBody>,
) -> Result<Json<RoleChanged>, Error> {
    let member = gateway
        .authorize(&user, &client, &id, Permission::MembersManage)
        .await?;
    let changed = gateway
        .workspace
        .clone()
        .change_role(for_member(
            ChangeRoleRequest {
                workspace_id: id.clone(),
                user_id: user_id.clone(),
                role: body.role,
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    let note = Note::success("member_role_changed", format!("role set to {}", changed.role));
    gateway
        .membership_changed(&user, &client, note.in_workspace(&id).about(&user_id))
        .await;
    Ok(Json(RoleChanged {
        user_id: changed.user_id,
        role: changed.role,
    }))
}

/// Remove a member, or leave (`me` or your own id). The last owner can do neither.
#[utoipa::path(delete, path = "/v1/workspaces/{id}/members/{user_id}", tag = "members",
    params(("id" = String, Path, description = "workspace id"), ("user_id" = String, Path, description = "member, or `me`")),
    responses((status = 204), (status = 403), (status = 404), (status = 409, description = "the last owner")))]
pub(crate) async fn remove(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    let leaving = user_id == "me" || user_id == user.user_id;
    let target = if leaving { user.user_id.clone() } else { user_id };
    let needed = if leaving {
        Permission::ContentRead
    } else {
        Permission::MembersManage
    };
    let member = gateway.authorize(&user, &client, &id, needed).await?;
    gateway
        .workspace
        .clone()
        .remove_member(for_member(
            RemoveMemberRequest {
                workspace_id: id.clone(),
                user_id: target.clone(),
            },
            &member,
        ))
        .await
        .map_err(upstream)?;
    let note = if leaving {
        Note::success("member_left", "left the workspace")
    } else {
        Note::success("member_removed", "member removed")
    };
    gateway
        .membership_changed(&user, &client, note.in_workspace(&id).about(&target))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct InviteBody {
    email: String,
    /// admin, editor or viewer.
    role: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct InvitationBody {
    id: String,
    workspace_id: String,
    email: String,
    role: String,
    expires_at: String,
    /// Single-use; shown once. The invitee accepts with POST /v1/invitations/{token}/accept.
    token: String,
}

/// Invite someone by email (owners and admins).
#[utoipa::path(post, path = "/v1/workspaces/{id}/invitations", tag = "members", request_body = InviteBody,
    params(("id" = String, Path, description = "workspace id")),
    responses((status = 201, body = InvitationBody), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn invite(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Path(id): Path<String>,
    Json(body): Json<InviteBody>,
) -> Result<(StatusCode, Json<InvitationBody>), Error> {
    let member = gateway
        .authorize(&user, &client, &id, Permission::MembersManage)
        .await?;
    let invitation = gateway
        .workspace
        .clone()
        .create_invitation(for_member(
            CreateInvitationRequest {
                workspace_id: id.clone(),
                email: body.email,
                role: body.role,
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    let note = Note::success(
        "invitation_created",
        format!("invitation {} as {}", invitation.id, invitation.role),
    );
    gateway.record_event(&user, &client, note.in_workspace(&id)).await;
    Ok((
        StatusCode::CREATED,
        Json(InvitationBody {
            id: invitation.id,
            workspace_id: invitation.workspace_id,
            email: invitation.email,
            role: invitation.role,
            expires_at: rfc3339(invitation.expires_at_ms),
            token: invitation.token,
        }),
    ))
}

/// Accept an invitation sent to the signed-in user's email.
#[utoipa::path(post, path = "/v1/invitations/{token}/accept", tag = "members",
    params(("token" = String, Path, description = "the invitation token")),
    responses((status = 200, body = WorkspaceBody), (status = 403, description = "sent to another email"),
              (status = 404, description = "unknown, used or expired")))]
pub(crate) async fn accept(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    Path(token): Path<String>,
) -> Result<Json<WorkspaceBody>, Error> {
    let email = gateway
        .auth
        .clone()
        .get_user(GetUserRequest {
            user_id: user.user_id.clone(),
        })
        .await
        .map_err(upstream)?
        .into_inner()
        .email;
    let workspace = gateway
        .workspace
        .clone()
        .accept_invitation(for_user(AcceptInvitationRequest { token, email }, &user))
        .await
        .map_err(upstream)?
        .into_inner();
    let note = Note::success("invitation_accepted", format!("joined as {}", workspace.role));
    gateway
        .membership_changed(&user, &client, note.in_workspace(&workspace.id))
        .await;
    Ok(Json(workspace.into()))
}
