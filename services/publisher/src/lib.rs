//! The publisher service. It owns platform connections (metadata only), posts, schedules and publish attempts.
//!
//! Today it answers `GetServiceInfo`; its own queries, jobs and tables land
//! with their issues.

/// This service's own migrations (`migrations/publisher/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[];

smez_service::define_service!(
    publisher::{PublisherApi, publisher_service_server::{PublisherService, PublisherServiceServer}, publisher_service_client::PublisherServiceClient},
    MIGRATIONS
);
