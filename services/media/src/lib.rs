//! The media service. It owns uploaded clips, images, audio and transcripts, their probe metadata and storage keys.
//!
//! Today it answers `GetServiceInfo`; its own queries, jobs and tables land
//! with their issues.

/// This service's own migrations (`migrations/media/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[];

smez_service::define_service!(
    media::{MediaApi, media_service_server::{MediaService, MediaServiceServer}, media_service_client::MediaServiceClient},
    MIGRATIONS
);
