//! The analytics service. It owns metric snapshots and comments.
//!
//! Today it answers `GetServiceInfo`; its own queries, jobs and tables land
//! with their issues.

/// This service's own migrations (`migrations/analytics/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[];

smez_service::define_service!(
    analytics::{AnalyticsApi, analytics_service_server::{AnalyticsService, AnalyticsServiceServer}, analytics_service_client::AnalyticsServiceClient},
    MIGRATIONS
);
