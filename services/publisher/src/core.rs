//! What the publisher's connection features share: its tables, the vault,
//! the platforms, the state signer and its settings.

use std::sync::Arc;

use smez_kit::Error;
use smez_kit::config::IntegrationsSettings;
use smez_platforms::{Platform, PlatformAdapter};
use smez_service::ServiceContext;

use crate::repo::Repo;
use crate::state::StateSigner;
use crate::vault::Vault;

pub struct Core {
    pub ctx: Arc<ServiceContext>,
    pub repo: Repo,
    pub vault: Vault,
    pub signer: StateSigner,
}

pub use smez_service::member::Member;

impl Core {
    pub fn new(ctx: Arc<ServiceContext>) -> anyhow::Result<Self> {
        Ok(Self {
            repo: Repo::new(ctx.store.clone()),
            vault: Vault::new(ctx.peers.clone()),
            signer: StateSigner::from_settings(&ctx.settings)?,
            ctx,
        })
    }

    pub fn settings(&self) -> &IntegrationsSettings {
        &self.ctx.settings.integrations
    }

    pub fn warning_ms(&self) -> i64 {
        secs_to_ms(self.settings().expiring_warning_secs)
    }

    /// The adapter of a platform this process may call.
    pub fn adapter(&self, platform: Platform) -> Result<Arc<dyn PlatformAdapter>, Error> {
        self.ctx.platforms.get(platform).ok_or_else(|| {
            Error::new(
                smez_kit::ErrorCode::Conflict,
                format!("{platform} is not configured on this server (platforms.{platform} client credentials)"),
            )
        })
    }
}

pub fn parse_platform(name: &str) -> Result<Platform, Error> {
    name.parse()
        .map_err(|e: smez_platforms::UnknownPlatform| Error::invalid_field("platform", e.to_string()))
}

/// A storage failure, as callers see it (the cause is logged by the caller's error path).
pub fn storage(error: smez_store::sea_orm::DbErr) -> Error {
    Error::internal(format!("publisher storage: {error}"))
}

/// A failed call to another Smez service.
pub fn upstream(status: tonic::Status) -> Error {
    Error::from_status(&status)
}

pub fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// When something `expires_in` seconds from `now_ms` ends.
pub fn expiry(now_ms: i64, expires_in: Option<u64>) -> Option<i64> {
    expires_in.map(|secs| now_ms.saturating_add(secs_to_ms(secs)))
}
