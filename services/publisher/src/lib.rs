//! The publisher service. It owns platform connections (metadata only: the
//! tokens live in the vault), posts, schedules and publish attempts.
//!
//! - [`connect`]: OAuth connect — the signed, stored, single-use state
//!   ([`state`]), PKCE, the callback, the account choice.
//! - [`manage`]: list, inspect, disconnect; a deleted account's connections.
//! - [`refresh`]: usable access tokens, refreshed as a single flight per
//!   connection across processes; the sweep that refreshes ahead of expiry.
//! - [`posts`]: posts and their targets, schedules in a time zone;
//!   [`publish`]: the scheduler, the reconciler and the publish workers.
//! - [`view`]: connections as callers see them; [`repo`]: the tables;
//!   [`vault`]: the vault client.

pub mod api;
mod connect;
mod core;
mod manage;
mod posts;
mod publish;
mod refresh;
mod repo;
pub mod state;
mod vault;
mod view;

use std::sync::Arc;

use smez_kit::grpc::BoxedServer;

/// What the dispatch benchmark (`benches/dispatch.rs`) drives: the posts'
/// table and the scheduler, without the rest of the service.
#[doc(hidden)]
pub mod dispatch_bench {
    pub use crate::posts::repo::{NewTarget, PostRepo, PostRow};
    pub use crate::publish::scheduler::spawn as spawn_scheduler;
}
use smez_service::ServiceContext;

/// This service's own migrations (`migrations/publisher/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[
    smez_store::Migration::new(
        1,
        "connections",
        include_str!("../../../migrations/publisher/0001_connections.sql"),
    ),
    smez_store::Migration::new(2, "posts", include_str!("../../../migrations/publisher/0002_posts.sql")),
];

async fn build(ctx: Arc<ServiceContext>) -> anyhow::Result<BoxedServer> {
    let core = Arc::new(core::Core::new(ctx.clone())?);
    smez_service::events::spawn_outbox_relay(ctx.clone());
    // A deleted workspace: drop its rows (the vault drops its tokens).
    // A deleted account: its connections are disconnected first (manage).
    smez_service::purge::spawn_holder(
        ctx.clone(),
        smez_service::purge::Holds {
            workspaces: true,
            users: false,
        },
    );
    manage::spawn_user_deleted_subscriber(core.clone());
    refresh::spawn_sweeper(core.clone());
    Ok(smez_service::boxed(
        smez_proto::publisher::v1::publisher_service_server::PublisherServiceServer::new(api::PublisherApi::new(
            core.clone(),
            Arc::new(posts::Posts::new(core)),
        )),
    ))
}

smez_service::service_def!(
    publisher,
    publisher_service_server::PublisherServiceServer,
    publisher_service_client::PublisherServiceClient,
    MIGRATIONS,
    build,
    worker = publish::start
);
