//! The vault: the only service that ever holds keys or opens a token.
//!
//! - [`keyring`]: the root key (server-side configuration only), per-purpose
//!   working keys derived with HKDF, versions, rotation, retirement, seal counts.
//! - [`envelope`]: the versioned ciphertext format and the associated data that
//!   binds a ciphertext to its workspace, owner row and field.
//! - [`policy`]: which calling service may do what.
//! - [`api`]: the gRPC API; [`rewrap`]: moving stored ciphertexts to new versions.

pub mod api;
mod credentials;
pub mod envelope;
pub mod error;
pub mod keyring;
pub mod policy;
mod repo;
pub mod rewrap;

use std::sync::Arc;
use std::time::Duration;

use smez_kit::grpc::BoxedServer;
use smez_service::ServiceContext;

pub use keyring::generate_root_key;

/// This service's own migrations (`migrations/vault/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[smez_store::Migration::new(
    1,
    "keys_and_credentials",
    include_str!("../../../migrations/vault/0001_keys_and_credentials.sql"),
)];

async fn build(ctx: Arc<ServiceContext>) -> anyhow::Result<BoxedServer> {
    let settings = ctx.settings.vault.clone();
    let root = keyring::RootKey::from_settings(&ctx.settings)?;
    let repo = repo::Repo::new(ctx.store.clone());
    let keyring = Arc::new(keyring::Keyring::load(root, repo.clone(), settings.max_seals_per_version).await?);
    rewrap::spawn(
        keyring.clone(),
        repo.clone(),
        Duration::from_secs(settings.rewrap_interval_secs),
        settings.rewrap_batch,
        ctx.shutdown.clone(),
    );
    smez_service::events::spawn_outbox_relay(ctx.clone());
    smez_service::purge::spawn_holder(
        ctx.clone(),
        smez_service::purge::Holds {
            workspaces: true,
            users: true,
        },
    );
    let api = api::VaultApi {
        ctx,
        keyring,
        access_log: repo::AccessLog::spawn(repo.clone()),
        repo,
        rewrap_batch: settings.rewrap_batch,
    };
    Ok(smez_service::boxed(
        smez_proto::vault::v1::vault_service_server::VaultServiceServer::new(api),
    ))
}

smez_service::service_def!(
    vault,
    vault_service_server::VaultServiceServer,
    vault_service_client::VaultServiceClient,
    MIGRATIONS,
    build
);
