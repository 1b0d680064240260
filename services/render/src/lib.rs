//! The render service. It owns edit plans, renders and platform packages.
//!
//! Today it answers `GetServiceInfo` and holds the edit-plan model
//! ([`plan`]: schema, validation, OpenTimelineIO); its queries, jobs and
//! tables land with the rest of their issue.

pub mod plan;

/// This service's own migrations (`migrations/render/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[];

smez_service::define_service!(
    render::{RenderApi, render_service_server::{RenderService, RenderServiceServer}, render_service_client::RenderServiceClient},
    MIGRATIONS
);
