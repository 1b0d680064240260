//! The vault service. It owns versioned encryption keys and sealed credentials: the only place token plaintext exists.
//!
//! Today it answers `GetServiceInfo`; its own queries, jobs and tables land
//! with their issues.

/// This service's own migrations (`migrations/vault/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[];

smez_service::define_service!(
    vault::{VaultApi, vault_service_server::{VaultService, VaultServiceServer}, vault_service_client::VaultServiceClient},
    MIGRATIONS
);
