//! The media service. It owns uploaded clips, images, audio and transcripts:
//! their objects in the media store, their probe metadata, and uploads in
//! progress.
//!
//! - [`intake`]: receiving a file (streamed to disk), deciding what it is
//!   from its content ([`sniff`], [`isobmff`], [`exif`], [`probe`],
//!   [`transcript`]), drawing its [`poster`], storing it — or refusing it.
//! - [`resumable`]: uploads that survive dropped connections (tus 1.0 at the gateway).
//! - [`library`]: list, get, read (ranges), delete, transcripts for clips.
//! - [`storage`]: the object store; [`repo`]: the tables; [`cleanup`]:
//!   purges, expired uploads, stray files.

pub mod api;
mod cleanup;
pub mod content;
mod core;
mod exif;
mod file_name;
mod intake;
mod isobmff;
mod library;
mod poster;
mod probe;
mod repo;
mod resumable;
mod sniff;
pub mod storage;
mod transcript;
mod view;

use std::sync::Arc;

use smez_kit::grpc::BoxedServer;
use smez_service::ServiceContext;

/// This service's own migrations (`migrations/media/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[smez_store::Migration::new(
    1,
    "media",
    include_str!("../../../migrations/media/0001_media.sql"),
)];

async fn build(ctx: Arc<ServiceContext>) -> anyhow::Result<BoxedServer> {
    let core = Arc::new(core::Core::new(ctx.clone()).await?);
    smez_service::events::spawn_outbox_relay(ctx.clone());
    // A deleted workspace: its objects, upload files and rows go. A deleted
    // account: its unfinished uploads go; its media stays the workspace's.
    smez_service::purge::spawn_holder_with(
        ctx.clone(),
        smez_service::purge::Holds {
            workspaces: true,
            users: true,
        },
        Some(cleanup::before_drop(core.clone())),
    );
    cleanup::spawn_sweeper(core.clone());
    Ok(smez_service::boxed(
        smez_proto::media::v1::media_service_server::MediaServiceServer::new(api::MediaApi::new(core)),
    ))
}

smez_service::service_def!(
    media,
    media_service_server::MediaServiceServer,
    media_service_client::MediaServiceClient,
    MIGRATIONS,
    build
);
