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
    let api = api::AuthApi::new(ctx, Arc::new(signer), Arc::new(passwords));
    Ok(smez_service::boxed(
        smez_proto::auth::v1::auth_service_server::AuthServiceServer::new(api),
    ))
}

smez_service::service_def!(
    auth,
    auth_service_server::AuthServiceServer,
    auth_service_client::AuthServiceClient,
    MIGRATIONS,
    build
);
