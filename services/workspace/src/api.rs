//! The gRPC API: who is calling, then the operation in [`crate::workspaces`].
//!
//! Every RPC but `CheckPermission` and `GetServiceInfo` is the gateway acting
//! for a user, who comes from the caller's internal token, never the request.

use std::sync::Arc;

use smez_proto::common::v1::{GetServiceInfoRequest, ServiceInfo};
use smez_proto::workspace::v1::workspace_service_server::WorkspaceService;
use smez_proto::workspace::v1::{
    AcceptInvitationRequest, ChangeRoleRequest, CheckPermissionRequest, CheckPermissionResponse,
    CreateInvitationRequest, CreateWorkspaceRequest, DeleteWorkspaceRequest, DeleteWorkspaceResponse,
    GetWorkspaceRequest, Invitation, ListMembersRequest, ListMembersResponse, ListMyWorkspacesRequest,
    ListMyWorkspacesResponse, Member, RemoveMemberRequest, RemoveMemberResponse, RenameWorkspaceRequest,
    TransferOwnershipRequest, Workspace,
};
use smez_service::ServiceContext;
use tonic::{Request, Response, Status};

use crate::error::WorkspaceError;
use crate::workspaces::Workspaces;

/// The one service that acts for users here (the browser-facing edge).
const GATEWAY: &str = "gateway";

pub struct WorkspaceApi {
    ctx: Arc<ServiceContext>,
    workspaces: Workspaces,
}

impl WorkspaceApi {
    pub fn new(ctx: Arc<ServiceContext>) -> Self {
        Self {
            workspaces: Workspaces::new(ctx.clone()),
            ctx,
        }
    }
}

/// The user the gateway acts for. Other services may not act for users here.
fn acting_user<T>(request: &Request<T>, rpc: &'static str) -> Result<String, Status> {
    let caller = smez_kit::grpc::caller(request)?;
    if caller.service != GATEWAY {
        tracing::warn!(caller = %caller.service, rpc, "authz_fail: only the gateway may act for users here");
        return Err(WorkspaceError::CallerNotAllowed {
            service: caller.service.chars().take(64).collect(),
            rpc,
        }
        .into());
    }
    match caller.on_behalf_of.as_ref().map(|user| user.user_id.as_str()) {
        Some(user_id) if !user_id.is_empty() => Ok(user_id.to_owned()),
        _ => Err(WorkspaceError::Unauthenticated("this call must name the user it is made for").into()),
    }
}

fn respond<T>(outcome: Result<T, WorkspaceError>) -> Result<Response<T>, Status> {
    outcome.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl WorkspaceService for WorkspaceApi {
    async fn get_service_info(&self, request: Request<GetServiceInfoRequest>) -> Result<Response<ServiceInfo>, Status> {
        self.ctx.service_info(&request).await
    }

    async fn check_permission(
        &self,
        request: Request<CheckPermissionRequest>,
    ) -> Result<Response<CheckPermissionResponse>, Status> {
        // Any Smez service may ask (the guard proved which one); the user is in the request.
        smez_kit::grpc::caller(&request)?;
        respond(self.workspaces.check_permission(request.into_inner()).await)
    }

    async fn create_workspace(&self, request: Request<CreateWorkspaceRequest>) -> Result<Response<Workspace>, Status> {
        let user_id = acting_user(&request, "CreateWorkspace")?;
        respond(self.workspaces.create_workspace(&user_id, request.into_inner()).await)
    }

    async fn list_my_workspaces(
        &self,
        request: Request<ListMyWorkspacesRequest>,
    ) -> Result<Response<ListMyWorkspacesResponse>, Status> {
        let user_id = acting_user(&request, "ListMyWorkspaces")?;
        respond(self.workspaces.list_my_workspaces(&user_id).await)
    }

    async fn get_workspace(&self, request: Request<GetWorkspaceRequest>) -> Result<Response<Workspace>, Status> {
        let user_id = acting_user(&request, "GetWorkspace")?;
        respond(self.workspaces.get_workspace(&user_id, request.into_inner()).await)
    }

    async fn rename_workspace(&self, request: Request<RenameWorkspaceRequest>) -> Result<Response<Workspace>, Status> {
        let user_id = acting_user(&request, "RenameWorkspace")?;
        respond(self.workspaces.rename_workspace(&user_id, request.into_inner()).await)
    }

    async fn delete_workspace(
        &self,
        request: Request<DeleteWorkspaceRequest>,
    ) -> Result<Response<DeleteWorkspaceResponse>, Status> {
        let user_id = acting_user(&request, "DeleteWorkspace")?;
        respond(self.workspaces.delete_workspace(&user_id, request.into_inner()).await)
    }

    async fn transfer_ownership(
        &self,
        request: Request<TransferOwnershipRequest>,
    ) -> Result<Response<Workspace>, Status> {
        let user_id = acting_user(&request, "TransferOwnership")?;
        respond(self.workspaces.transfer_ownership(&user_id, request.into_inner()).await)
    }

    async fn list_members(
        &self,
        request: Request<ListMembersRequest>,
    ) -> Result<Response<ListMembersResponse>, Status> {
        let user_id = acting_user(&request, "ListMembers")?;
        respond(self.workspaces.list_members(&user_id, request.into_inner()).await)
    }

    async fn change_role(&self, request: Request<ChangeRoleRequest>) -> Result<Response<Member>, Status> {
        let user_id = acting_user(&request, "ChangeRole")?;
        respond(self.workspaces.change_role(&user_id, request.into_inner()).await)
    }

    async fn remove_member(
        &self,
        request: Request<RemoveMemberRequest>,
    ) -> Result<Response<RemoveMemberResponse>, Status> {
        let user_id = acting_user(&request, "RemoveMember")?;
        respond(self.workspaces.remove_member(&user_id, request.into_inner()).await)
    }

    async fn create_invitation(
        &self,
        request: Request<CreateInvitationRequest>,
    ) -> Result<Response<Invitation>, Status> {
        let user_id = acting_user(&request, "CreateInvitation")?;
        respond(self.workspaces.create_invitation(&user_id, request.into_inner()).await)
    }

    async fn accept_invitation(
        &self,
        request: Request<AcceptInvitationRequest>,
    ) -> Result<Response<Workspace>, Status> {
        let user_id = acting_user(&request, "AcceptInvitation")?;
        respond(self.workspaces.accept_invitation(&user_id, request.into_inner()).await)
    }
}
