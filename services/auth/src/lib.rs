//! The auth service. It owns users, password hashes, sessions and refresh-token families, security events.
//!
//! Today it answers `GetServiceInfo`; its own queries, jobs and tables land
//! with their issues.

/// This service's own migrations (`migrations/auth/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[];

smez_service::define_service!(
    auth::{AuthApi, auth_service_server::{AuthService, AuthServiceServer}, auth_service_client::AuthServiceClient},
    MIGRATIONS
);
