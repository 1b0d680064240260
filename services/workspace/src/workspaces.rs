//! The workspace operations, one per RPC, for a known acting user: input
//! validation, then the checks in the order that keeps workspaces invisible
//! to non-members (NOT_FOUND before anything else; PERMISSION_DENIED only for
//! members whose role lacks the permission), then one transaction per change.

use std::sync::Arc;

use ring::rand::SystemRandom;
use smez_kit::roles::{Permission, Role};
use smez_proto::workspace::v1::{
    AcceptInvitationRequest, ChangeRoleRequest, CheckPermissionRequest, CheckPermissionResponse,
    CreateInvitationRequest, CreateWorkspaceRequest, DeleteWorkspaceRequest, DeleteWorkspaceResponse,
    GetWorkspaceRequest, Invitation, ListMembersRequest, ListMembersResponse, ListMyWorkspacesResponse, Member,
    RemoveMemberRequest, RemoveMemberResponse, RenameWorkspaceRequest, TransferOwnershipRequest, Workspace,
};
use smez_service::ServiceContext;
use smez_service::purge::{self, Subject};

use crate::error::WorkspaceError;
use crate::repo::{InvitationRow, MemberRow, Repo, WorkspaceRow, WorkspaceTxn, now_ms};
use crate::rules;
use crate::token;

/// The operations, over the service's store and settings.
pub struct Workspaces {
    ctx: Arc<ServiceContext>,
    repo: Repo,
    random: SystemRandom,
    invitation_ttl_ms: i64,
}

fn required<'a>(field: &'static str, value: &'a str) -> Result<&'a str, WorkspaceError> {
    if value.is_empty() {
        Err(WorkspaceError::invalid(field, format!("{field} is required")))
    } else {
        Ok(value)
    }
}

/// What a non-member is told about any workspace, existing or not.
fn unknown_workspace() -> WorkspaceError {
    WorkspaceError::NotFound("workspace")
}

/// Locks the workspace for the transaction and returns it with the caller's
/// membership; NOT_FOUND when either is missing.
async fn enter(txn: &WorkspaceTxn, user_id: &str) -> Result<(WorkspaceRow, MemberRow), WorkspaceError> {
    let workspace = txn.lock().await?.ok_or_else(unknown_workspace)?;
    let me = txn.member(user_id).await?.ok_or_else(unknown_workspace)?;
    Ok((workspace, me))
}

fn workspace_message(workspace: WorkspaceRow, role: Role) -> Workspace {
    Workspace {
        id: workspace.id,
        name: workspace.name,
        created_at_ms: workspace.created_at_ms,
        role: role.as_str().to_owned(),
    }
}

fn member_message(member: MemberRow) -> Member {
    Member {
        user_id: member.user_id,
        role: member.role.as_str().to_owned(),
        joined_at_ms: member.joined_at_ms,
    }
}

impl Workspaces {
    pub fn new(ctx: Arc<ServiceContext>) -> Self {
        let ttl_secs = ctx.settings.workspace.invitation_ttl_secs;
        Self {
            repo: Repo::new(ctx.store.clone()),
            random: SystemRandom::new(),
            invitation_ttl_ms: i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            ctx,
        }
    }

    pub async fn check_permission(
        &self,
        request: CheckPermissionRequest,
    ) -> Result<CheckPermissionResponse, WorkspaceError> {
        let permission: Permission = request.permission.parse().map_err(|_| {
            let known: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
            WorkspaceError::invalid("permission", format!("unknown permission; one of {}", known.join(", ")))
        })?;
        let workspace_id = required("workspace_id", &request.workspace_id)?;
        let user_id = required("user_id", &request.user_id)?;
        let role = self
            .repo
            .role_of(workspace_id, user_id)
            .await?
            .ok_or_else(unknown_workspace)?;
        rules::require(role, permission)?;
        Ok(CheckPermissionResponse {
            role: role.as_str().to_owned(),
        })
    }

    pub async fn create_workspace(
        &self,
        user_id: &str,
        request: CreateWorkspaceRequest,
    ) -> Result<Workspace, WorkspaceError> {
        let name = rules::workspace_name(&request.name)?;
        let workspace = WorkspaceRow {
            id: uuid::Uuid::now_v7().to_string(),
            name,
            created_at_ms: now_ms(),
        };
        let txn = self.repo.begin(&workspace.id).await?;
        txn.insert_workspace(&workspace.name, workspace.created_at_ms).await?;
        txn.insert_member(&MemberRow {
            user_id: user_id.to_owned(),
            role: Role::Owner,
            joined_at_ms: workspace.created_at_ms,
        })
        .await?;
        txn.commit().await?;
        tracing::info!(workspace_id = %workspace.id, user_id, "workspace created");
        Ok(workspace_message(workspace, Role::Owner))
    }

    pub async fn list_my_workspaces(&self, user_id: &str) -> Result<ListMyWorkspacesResponse, WorkspaceError> {
        let mut workspaces = self.repo.workspaces_of(user_id).await?;
        // Sorted here rather than in SQL: PostgreSQL's collation and SQLite's
        // byte order would disagree; this is code-point order on both.
        workspaces.sort_by(|(a, _), (b, _)| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(ListMyWorkspacesResponse {
            workspaces: workspaces
                .into_iter()
                .map(|(workspace, role)| workspace_message(workspace, role))
                .collect(),
        })
    }

    pub async fn get_workspace(
        &self,
        user_id: &str,
        request: GetWorkspaceRequest,
    ) -> Result<Workspace, WorkspaceError> {
        let workspace_id = required("workspace_id", &request.workspace_id)?;
        let (workspace, role) = self
            .repo
            .workspace_of_member(workspace_id, user_id)
            .await?
            .ok_or_else(unknown_workspace)?;
        rules::require(role, Permission::ContentRead)?;
        Ok(workspace_message(workspace, role))
    }

    pub async fn rename_workspace(
        &self,
        user_id: &str,
        request: RenameWorkspaceRequest,
    ) -> Result<Workspace, WorkspaceError> {
        let workspace_id = required("workspace_id", &request.workspace_id)?;
        let name = rules::workspace_name(&request.name)?;
        let txn = self.repo.begin(workspace_id).await?;
        let (workspace, me) = enter(&txn, user_id).await?;
        rules::require(me.role, Permission::MembersManage)?;
        txn.rename(&name).await?;
        txn.commit().await?;
        tracing::info!(workspace_id, user_id, "workspace renamed");
        Ok(workspace_message(WorkspaceRow { name, ..workspace }, me.role))
    }

    pub async fn delete_workspace(
        &self,
        user_id: &str,
        request: DeleteWorkspaceRequest,
    ) -> Result<DeleteWorkspaceResponse, WorkspaceError> {
        let workspace_id = required("workspace_id", &request.workspace_id)?;
        let txn = self.repo.begin(workspace_id).await?;
        let (_, me) = enter(&txn, user_id).await?;
        rules::require(me.role, Permission::WorkspaceAdminister)?;
        // Our rows and the announcement to every other service commit together.
        let rows = txn.purge().await?;
        purge::request(txn.txn(), Subject::Workspace(workspace_id)).await?;
        txn.commit().await?;
        self.ctx.store.outbox_written();
        tracing::info!(workspace_id, user_id, rows, "workspace deleted; purge announced");
        Ok(DeleteWorkspaceResponse {})
    }

    pub async fn transfer_ownership(
        &self,
        user_id: &str,
        request: TransferOwnershipRequest,
    ) -> Result<Workspace, WorkspaceError> {
        let workspace_id = required("workspace_id", &request.workspace_id)?;
        let new_owner_id = required("new_owner_id", &request.new_owner_id)?;
        let txn = self.repo.begin(workspace_id).await?;
        let (workspace, me) = enter(&txn, user_id).await?;
        rules::require(me.role, Permission::WorkspaceAdminister)?;
        if new_owner_id == user_id {
            return Err(WorkspaceError::invalid(
                "new_owner_id",
                "the new owner must be another member",
            ));
        }
        txn.member(new_owner_id)
            .await?
            .ok_or(WorkspaceError::NotFound("member"))?;
        txn.set_role(new_owner_id, Role::Owner).await?;
        txn.set_role(user_id, Role::Admin).await?;
        txn.commit().await?;
        tracing::info!(workspace_id, user_id, new_owner_id, "ownership transferred");
        Ok(workspace_message(workspace, Role::Admin))
    }

    pub async fn list_members(
        &self,
        user_id: &str,
        request: ListMembersRequest,
    ) -> Result<ListMembersResponse, WorkspaceError> {
        let workspace_id = required("workspace_id", &request.workspace_id)?;
        // One read: the caller is a member exactly when they are in the list.
        let mut members = self.repo.members(workspace_id).await?;
        let my_role = members
            .iter()
            .find(|member| member.user_id == user_id)
            .map(|member| member.role)
            .ok_or_else(unknown_workspace)?;
        rules::require(my_role, Permission::ContentRead)?;
        // Strongest role first, then by seniority.
        members.sort_by(|a, b| (a.role, a.joined_at_ms, &a.user_id).cmp(&(b.role, b.joined_at_ms, &b.user_id)));
        Ok(ListMembersResponse {
            members: members.into_iter().map(member_message).collect(),
        })
    }

    pub async fn change_role(&self, user_id: &str, request: ChangeRoleRequest) -> Result<Member, WorkspaceError> {
        let workspace_id = required("workspace_id", &request.workspace_id)?;
        let target_id = required("user_id", &request.user_id)?;
        let new_role = rules::parse_role(&request.role, "role")?;
        let txn = self.repo.begin(workspace_id).await?;
        let (_, me) = enter(&txn, user_id).await?;
        rules::require(me.role, Permission::MembersManage)?;
        let target = txn.member(target_id).await?.ok_or(WorkspaceError::NotFound("member"))?;
        rules::check_role_change(me.role, target.role, new_role, txn.owners().await?)?;
        if target.role != new_role {
            txn.set_role(target_id, new_role).await?;
            txn.commit().await?;
            tracing::info!(
                workspace_id,
                user_id,
                member = target_id,
                from = %target.role,
                to = %new_role,
                "role changed"
            );
        }
        Ok(member_message(MemberRow {
            role: new_role,
            ..target
        }))
    }

    pub async fn remove_member(
        &self,
        user_id: &str,
        request: RemoveMemberRequest,
    ) -> Result<RemoveMemberResponse, WorkspaceError> {
        let workspace_id = required("workspace_id", &request.workspace_id)?;
        let target_id = required("user_id", &request.user_id)?;
        let txn = self.repo.begin(workspace_id).await?;
        let (_, me) = enter(&txn, user_id).await?;
        let leaving = target_id == user_id;
        let target_role = if leaving {
            me.role
        } else {
            txn.member(target_id)
                .await?
                .ok_or(WorkspaceError::NotFound("member"))?
                .role
        };
        rules::check_removal(me.role, target_role, leaving, txn.owners().await?)?;
        txn.remove_member(target_id).await?;
        txn.commit().await?;
        if leaving {
            tracing::info!(workspace_id, user_id, "member left");
        } else {
            tracing::info!(workspace_id, user_id, member = target_id, "member removed");
        }
        Ok(RemoveMemberResponse {})
    }

    pub async fn create_invitation(
        &self,
        user_id: &str,
        request: CreateInvitationRequest,
    ) -> Result<Invitation, WorkspaceError> {
        let workspace_id = required("workspace_id", &request.workspace_id)?;
        let email = rules::email("email", &request.email)?;
        let role = rules::invitable_role(&request.role)?;
        let txn = self.repo.begin(workspace_id).await?;
        let (_, me) = enter(&txn, user_id).await?;
        rules::require(me.role, Permission::MembersManage)?;
        // Expired invitations (and the addresses in them) go as new ones come.
        let expired = txn.delete_expired_invitations().await?;
        let issued = token::issue(&self.random).map_err(|e| WorkspaceError::Internal(e.to_string()))?;
        let created_at_ms = now_ms();
        let invitation = InvitationRow {
            id: uuid::Uuid::now_v7().to_string(),
            workspace_id: workspace_id.to_owned(),
            email,
            role,
            created_at_ms,
            expires_at_ms: created_at_ms.saturating_add(self.invitation_ttl_ms),
        };
        txn.insert_invitation(&invitation, &issued.hash).await?;
        txn.commit().await?;
        // Neither the token nor the address is logged.
        tracing::info!(
            workspace_id,
            user_id,
            invitation_id = %invitation.id,
            role = %role,
            expired_deleted = expired,
            "invitation created"
        );
        Ok(Invitation {
            id: invitation.id,
            workspace_id: invitation.workspace_id,
            email: invitation.email,
            role: role.as_str().to_owned(),
            expires_at_ms: invitation.expires_at_ms,
            token: issued.token.expose().to_owned(),
        })
    }

    pub async fn accept_invitation(
        &self,
        user_id: &str,
        request: AcceptInvitationRequest,
    ) -> Result<Workspace, WorkspaceError> {
        // Unknown, expired, used or orphaned: one answer, so tokens can't be probed.
        let gone = || WorkspaceError::NotFound("invitation");
        if request.token.is_empty() {
            return Err(gone());
        }
        let invitation = self
            .repo
            .live_invitation(&token::hash(&request.token))
            .await?
            .ok_or_else(gone)?;
        // An address that is not one cannot be the invited one either.
        if rules::email("email", &request.email).ok().as_deref() != Some(invitation.email.as_str()) {
            tracing::info!(invitation_id = %invitation.id, user_id, "invitation refused: sent to another address");
            return Err(WorkspaceError::Forbidden(
                "this invitation was sent to another email address".into(),
            ));
        }
        let txn = self.repo.begin(&invitation.workspace_id).await?;
        let workspace = txn.lock().await?.ok_or_else(gone)?;
        if !txn.claim_invitation(&invitation.id).await? {
            return Err(gone()); // accepted (or expired) meanwhile
        }
        let role = match txn.member(user_id).await? {
            Some(member) => {
                // Already a member: an invitation never demotes anyone.
                let role = rules::stronger(member.role, invitation.role);
                if role != member.role {
                    txn.set_role(user_id, role).await?;
                }
                role
            }
            None => {
                txn.insert_member(&MemberRow {
                    user_id: user_id.to_owned(),
                    role: invitation.role,
                    joined_at_ms: now_ms(),
                })
                .await?;
                invitation.role
            }
        };
        txn.commit().await?;
        tracing::info!(
            workspace_id = %workspace.id,
            user_id,
            invitation_id = %invitation.id,
            role = %role,
            "invitation accepted"
        );
        Ok(workspace_message(workspace, role))
    }
}
