//! The auth service: accounts, passwords (Argon2id), sessions whose refresh
//! tokens rotate on every use, access tokens (EdDSA JWTs with a `kid`, JWKS
//! published), login throttling, and security events.
//!
//! - [`passwords`]: hashing and verifying off the async threads, bounded.
//! - [`signup`]: the rules a new account must meet.
//! - [`sessions`], [`throttle`], [`security_log`], [`users`]: the tables.
//! - [`api`]: the gRPC API.

mod api;
mod keys;
mod passwords;
mod security_log;
mod sessions;
mod signup;
mod throttle;
mod tokens;
mod users;

use std::sync::Arc;

use smez_kit::grpc::BoxedServer;
use smez_service::ServiceContext;

/// This service's own migrations (`migrations/auth/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[smez_store::Migration::new(
    1,
    "users_sessions_events",
    include_str!("../../../migrations/auth/0001_users_sessions_events.sql"),
)];

async fn build(ctx: Arc<ServiceContext>) -> anyhow::Result<BoxedServer> {
    let signer = keys::access_token_signer(&ctx.settings)?;
    let passwords = passwords::Passwords::new(ctx.settings.auth.hashing_concurrency).await?;
    smez_service::events::spawn_outbox_relay(ctx.clone());
    smez_service::purge::spawn_coordinator(ctx.clone());
    // Security events of a deleted workspace go with it; accounts are
    // deleted here synchronously, so user announcements are not for us.
    smez_service::purge::spawn_holder(
        ctx.clone(),
        smez_service::purge::Holds {
            workspaces: true,
            users: false,
        },
    );
    spawn_session_pruning(ctx.clone());
    let api = api::AuthApi::new(ctx, Arc::new(signer), Arc::new(passwords));
    Ok(smez_service::boxed(
        smez_proto::auth::v1::auth_service_server::AuthServiceServer::new(api),
    ))
}

/// How often ended sessions are deleted, and how long a revoked session and a
/// rotated refresh token are kept (so reuse shortly after is still caught).
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
const KEEP_ENDED_MS: i64 = 24 * 3600 * 1000;

/// Deletes ended sessions and old rotated tokens every hour: they would
/// otherwise keep addresses and user agents for ever.
fn spawn_session_pruning(ctx: Arc<ServiceContext>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = ctx.shutdown.cancelled() => break,
                () = tokio::time::sleep(PRUNE_EVERY) => {}
            }
            let now = chrono::Utc::now().timestamp_millis();
            match sessions::prune(ctx.store.connection(), now, KEEP_ENDED_MS).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "ended sessions pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning sessions failed; trying again later"),
            }
        }
    });
}

smez_service::service_def!(
    auth,
    auth_service_server::AuthServiceServer,
    auth_service_client::AuthServiceClient,
    MIGRATIONS,
    build
);
