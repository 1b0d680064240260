//! The gRPC API: who is calling, then the operation on [`Core`].
//!
//! Connection RPCs are the gateway acting for a member of the active
//! workspace; the member (user, workspace, role) comes from the caller's
//! internal token, never the request. `GetUsableAccessToken` serves the
//! publisher's own workers and analytics.

use std::sync::Arc;

use smez_kit::Error;
use smez_kit::roles::Permission;
use smez_proto::common::v1::{GetServiceInfoRequest, ServiceInfo};
use smez_proto::publisher::v1::publisher_service_server::PublisherService;
use smez_proto::publisher::v1::{
    CompleteConnectRequest, CompleteConnectResponse, Connection, ConnectionRef, DisconnectResponse,
    ListConnectionsRequest, ListConnectionsResponse, ListPostsRequest, PendingChoice, PendingChoiceRef, PostDocument,
    PostList, PostRef, SelectPendingAccountRequest, StartConnectRequest, StartConnectResponse, TargetRef,
    UpdatePostRequest, UsableAccessToken, UsableAccessTokenRequest,
};
use tonic::{Request, Response, Status};

use smez_service::member::acting_member;

use crate::core::Core;
use crate::posts::Posts;

/// Who may have a usable access token: the publisher's workers and analytics.
const TOKEN_USERS: &[&str] = &["publisher", "analytics"];

pub struct PublisherApi {
    core: Arc<Core>,
    posts: Arc<Posts>,
}

impl PublisherApi {
    pub fn new(core: Arc<Core>, posts: Arc<Posts>) -> Self {
        Self { core, posts }
    }
}

fn document(outcome: Result<String, Error>) -> Result<Response<PostDocument>, Status> {
    respond(outcome.map(|json| PostDocument { json }))
}

fn respond<T>(outcome: Result<T, Error>) -> Result<Response<T>, Status> {
    outcome.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl PublisherService for PublisherApi {
    async fn get_service_info(&self, request: Request<GetServiceInfoRequest>) -> Result<Response<ServiceInfo>, Status> {
        self.core.ctx.service_info(&request).await
    }

    async fn start_connect(
        &self,
        request: Request<StartConnectRequest>,
    ) -> Result<Response<StartConnectResponse>, Status> {
        let member = acting_member(&request, "StartConnect", Permission::IntegrationsManage)?;
        respond(self.core.start_connect(&member, request.into_inner()).await)
    }

    async fn complete_connect(
        &self,
        request: Request<CompleteConnectRequest>,
    ) -> Result<Response<CompleteConnectResponse>, Status> {
        let member = acting_member(&request, "CompleteConnect", Permission::IntegrationsManage)?;
        respond(self.core.complete_connect(&member, request.into_inner()).await)
    }

    async fn get_pending_choice(&self, request: Request<PendingChoiceRef>) -> Result<Response<PendingChoice>, Status> {
        let member = acting_member(&request, "GetPendingChoice", Permission::IntegrationsManage)?;
        respond(self.core.pending_choice(&member, &request.get_ref().pending_id).await)
    }

    async fn select_pending_account(
        &self,
        request: Request<SelectPendingAccountRequest>,
    ) -> Result<Response<Connection>, Status> {
        let member = acting_member(&request, "SelectPendingAccount", Permission::IntegrationsManage)?;
        let choice = request.into_inner();
        respond(
            self.core
                .select_account(&member, &choice.pending_id, &choice.account_id)
                .await,
        )
    }

    async fn list_connections(
        &self,
        request: Request<ListConnectionsRequest>,
    ) -> Result<Response<ListConnectionsResponse>, Status> {
        let member = acting_member(&request, "ListConnections", Permission::ContentRead)?;
        let include_revoked = request.get_ref().include_revoked;
        respond(
            self.core
                .list(&member.workspace_id, include_revoked)
                .await
                .map(|connections| ListConnectionsResponse { connections }),
        )
    }

    async fn get_connection(&self, request: Request<ConnectionRef>) -> Result<Response<Connection>, Status> {
        let member = acting_member(&request, "GetConnection", Permission::ContentRead)?;
        respond(
            self.core
                .get(&member.workspace_id, &request.get_ref().connection_id)
                .await,
        )
    }

    async fn disconnect(&self, request: Request<ConnectionRef>) -> Result<Response<DisconnectResponse>, Status> {
        let member = acting_member(&request, "Disconnect", Permission::IntegrationsManage)?;
        let reason = format!("disconnected by user {}", member.user_id);
        respond(
            self.core
                .disconnect(&member.workspace_id, &request.get_ref().connection_id, &reason)
                .await,
        )
    }

    async fn get_usable_access_token(
        &self,
        request: Request<UsableAccessTokenRequest>,
    ) -> Result<Response<UsableAccessToken>, Status> {
        let caller = smez_kit::grpc::caller(&request)?;
        if !TOKEN_USERS.contains(&caller.service.as_str()) {
            tracing::warn!(caller = %caller.service, "authz_fail: access tokens are for the publisher and analytics");
            return Err(
                Error::permission_denied(format!("the {} service may not have access tokens", caller.service)).into(),
            );
        }
        respond(self.core.usable_token(request.get_ref()).await)
    }

    async fn create_post(&self, request: Request<PostDocument>) -> Result<Response<PostDocument>, Status> {
        let member = acting_member(&request, "CreatePost", Permission::PostsPublish)?;
        document(self.posts.create(&member, &request.get_ref().json).await)
    }

    async fn list_posts(&self, request: Request<ListPostsRequest>) -> Result<Response<PostList>, Status> {
        let member = acting_member(&request, "ListPosts", Permission::ContentRead)?;
        respond(self.posts.list(&member, request.get_ref()).await)
    }

    async fn get_post(&self, request: Request<PostRef>) -> Result<Response<PostDocument>, Status> {
        let member = acting_member(&request, "GetPost", Permission::ContentRead)?;
        document(self.posts.get(&member, &request.get_ref().post_id).await)
    }

    async fn update_post(&self, request: Request<UpdatePostRequest>) -> Result<Response<PostDocument>, Status> {
        let member = acting_member(&request, "UpdatePost", Permission::PostsPublish)?;
        let update = request.get_ref();
        document(self.posts.update(&member, &update.post_id, &update.json).await)
    }

    async fn cancel_post(&self, request: Request<PostRef>) -> Result<Response<PostDocument>, Status> {
        let member = acting_member(&request, "CancelPost", Permission::PostsPublish)?;
        document(self.posts.cancel(&member, &request.get_ref().post_id).await)
    }

    async fn retry_target(&self, request: Request<TargetRef>) -> Result<Response<PostDocument>, Status> {
        let member = acting_member(&request, "RetryTarget", Permission::PostsPublish)?;
        let target = request.get_ref();
        document(self.posts.retry(&member, &target.post_id, &target.target_id).await)
    }
}
