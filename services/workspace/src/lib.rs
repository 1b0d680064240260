//! The workspace service: workspaces, memberships, roles and invitations,
//! and the answer to "may this user do that in this workspace?" for every
//! other service (from the one matrix in `smez_kit::roles`).
//!
//! - [`api`]: the gRPC adapter (who is calling); [`workspaces`]: the
//!   operations; [`rules`]: names, emails and who may change whose role.
//! - [`repo`]: the tables, always in a declared tenant scope.
//! - [`accounts`]: what a deleted account leaves behind here.
//! - It coordinates workspace deletion across services (`smez_service::purge`).

mod accounts;
pub mod api;
pub mod error;
mod repo;
mod rules;
mod token;
mod workspaces;

use std::sync::Arc;

use smez_kit::grpc::BoxedServer;
use smez_service::ServiceContext;

/// This service's own migrations (`migrations/workspace/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[smez_store::Migration::new(
    1,
    "workspaces",
    include_str!("../../../migrations/workspace/0001_workspaces.sql"),
)];

async fn build(ctx: Arc<ServiceContext>) -> anyhow::Result<BoxedServer> {
    smez_service::events::spawn_outbox_relay(ctx.clone());
    // Deleted workspaces: announced (again) until every data holder confirmed.
    smez_service::purge::spawn_coordinator(ctx.clone());
    // Deleted accounts: this service is one of the data holders.
    accounts::spawn_user_deleted_subscriber(ctx.clone());
    Ok(smez_service::boxed(
        smez_proto::workspace::v1::workspace_service_server::WorkspaceServiceServer::new(api::WorkspaceApi::new(ctx)),
    ))
}

smez_service::service_def!(
    workspace,
    workspace_service_server::WorkspaceServiceServer,
    workspace_service_client::WorkspaceServiceClient,
    MIGRATIONS,
    build
);
