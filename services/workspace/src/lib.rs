//! The workspace service. It owns workspaces, memberships, roles and invitations.
//!
//! Today it answers `GetServiceInfo`; its own queries, jobs and tables land
//! with their issues.

/// This service's own migrations (`migrations/workspace/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[];

smez_service::define_service!(
    workspace::{WorkspaceApi, workspace_service_server::{WorkspaceService, WorkspaceServiceServer}, workspace_service_client::WorkspaceServiceClient},
    MIGRATIONS
);
