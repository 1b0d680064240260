//! Connections as callers see them: the stored status refined by time
//! (`expiring`), the scopes each feature still lacks, and never a token.

use smez_platforms::{Feature, Platform};
use smez_proto::events::v1::event::Payload;
use smez_proto::events::v1::{ConnectionStatusChanged, Event};
use smez_proto::publisher::v1::Connection;

use crate::repo::ConnectionRow;

pub const ACTIVE: &str = "active";
pub const EXPIRING: &str = "expiring";
pub const REAUTHORIZATION_REQUIRED: &str = "reauthorization_required";
pub const REVOKED: &str = "revoked";

/// `expiring`: active, but the grant itself (the refresh token) ends within
/// `warning_ms`, after which only the user can renew it by reconnecting.
pub fn status(row: &ConnectionRow, now_ms: i64, warning_ms: i64) -> &str {
    match row.refresh_expires_at_ms {
        Some(ends) if row.status == ACTIVE && ends - now_ms < warning_ms => EXPIRING,
        _ => &row.status,
    }
}

pub fn connection(row: &ConnectionRow, now_ms: i64, warning_ms: i64) -> Connection {
    let platform: Option<Platform> = row.platform.parse().ok();
    let missing = |feature| {
        platform
            .map(|p| p.missing_for(feature, &row.scopes))
            .unwrap_or_default()
    };
    Connection {
        id: row.connection_id.clone(),
        platform: row.platform.clone(),
        account_id: row.account_id.clone(),
        username: row.username.clone(),
        display_name: row.display_name.clone(),
        avatar_url: row.avatar_url.clone(),
        status: status(row, now_ms, warning_ms).to_owned(),
        status_reason: row.status_reason.clone(),
        scopes: row.scopes.clone(),
        missing_for_publishing: missing(Feature::Publishing),
        missing_for_analytics: missing(Feature::Analytics),
        access_expires_at_ms: row.access_expires_at_ms,
        refresh_expires_at_ms: row.refresh_expires_at_ms,
        connected_by_user_id: row.connected_by.clone().unwrap_or_default(),
        connected_at_ms: row.connected_at_ms,
        updated_at_ms: row.updated_at_ms,
    }
}

/// `connection.status_changed` for a connection of `workspace_id`.
pub struct StatusChange<'a> {
    pub workspace_id: &'a str,
    pub connection_id: &'a str,
    pub platform: &'a str,
    pub account_id: &'a str,
    pub status: &'a str,
    pub previous_status: &'a str,
    pub reason: &'a str,
}

impl StatusChange<'_> {
    pub fn event(&self) -> Event {
        smez_service::events::new_event(
            "connection.status_changed",
            Some(self.workspace_id),
            Payload::ConnectionStatusChanged(ConnectionStatusChanged {
                connection_id: self.connection_id.to_owned(),
                platform: self.platform.to_owned(),
                account_id: self.account_id.to_owned(),
                status: self.status.to_owned(),
                previous_status: self.previous_status.to_owned(),
                reason: self.reason.to_owned(),
            }),
        )
    }

    /// From a stored connection to `status`.
    pub fn of<'a>(row: &'a ConnectionRow, status: &'a str, reason: &'a str) -> StatusChange<'a> {
        StatusChange {
            workspace_id: &row.workspace_id,
            connection_id: &row.connection_id,
            platform: &row.platform,
            account_id: &row.account_id,
            status,
            previous_status: &row.status,
            reason,
        }
    }
}
