//! Limits known before calling, checked so a target waits for its window
//! instead of burning an attempt on a refusal it could predict:
//!
//! - Instagram: posts per account in a rolling 24 h (`content_publishing_limit`, 50 by default).
//! - YouTube: `videos.insert` calls per day for the whole project (its own
//!   bucket of 100), reset at midnight Pacific.
//! - TikTok: publish inits per account per minute (6).
//!
//! Counted from Smez's own record of the platform calls it made
//! (`publish_attempts.platform_call_at_ms`); the platform's own answer
//! (`QuotaExhausted`, `RateLimited`) remains the final word.

use chrono::{DateTime, Utc};
use smez_kit::config::PublishingSettings;
use smez_platforms::Platform;
use smez_store::sea_orm::DbErr;

use crate::posts::repo::PostRepo;

/// A window a platform counts publishes in.
struct Window {
    /// Calls allowed in it.
    allowed: u32,
    /// Start of the window as of now (rolling), or of the current fixed period.
    since_ms: i64,
    /// Rolling windows free a slot when the oldest call leaves them; fixed
    /// ones all at once at this instant.
    fixed_reset_ms: Option<i64>,
    rolling_ms: i64,
    /// The whole platform (a project-wide bucket), not one account.
    platform_wide: bool,
}

fn window(platform: Platform, settings: &PublishingSettings, now: DateTime<Utc>) -> Window {
    let now_ms = now.timestamp_millis();
    match platform {
        Platform::Instagram => Window {
            allowed: settings.instagram_posts_per_24h,
            since_ms: now_ms - 24 * 3600 * 1000,
            fixed_reset_ms: None,
            rolling_ms: 24 * 3600 * 1000,
            platform_wide: false,
        },
        Platform::TikTok => Window {
            allowed: settings.tiktok_inits_per_minute,
            since_ms: now_ms - 60 * 1000,
            fixed_reset_ms: None,
            rolling_ms: 60 * 1000,
            platform_wide: false,
        },
        Platform::YouTube => {
            let reset = smez_platforms::youtube::next_quota_reset(now);
            Window {
                allowed: settings.youtube_uploads_per_day,
                since_ms: (reset - chrono::Duration::days(1)).timestamp_millis(),
                fixed_reset_ms: Some(reset.timestamp_millis()),
                rolling_ms: 0,
                platform_wide: true,
            }
        }
    }
}

/// When the target may call the platform, if not now: the instant a slot
/// frees up, and why it waits.
pub async fn wait_until(
    repo: &PostRepo,
    settings: &PublishingSettings,
    workspace_id: &str,
    connection_id: &str,
    platform: Platform,
    now: DateTime<Utc>,
) -> Result<Option<(i64, String)>, DbErr> {
    let window = window(platform, settings, now);
    if window.allowed == 0 {
        return Ok(None);
    }
    let calls = repo
        .platform_calls_since(
            workspace_id,
            platform.as_str(),
            (!window.platform_wide).then_some(connection_id),
            window.since_ms,
        )
        .await?;
    if calls.len() < window.allowed as usize {
        return Ok(None);
    }
    let until = match window.fixed_reset_ms {
        Some(reset) => reset,
        // The slot frees when the call `allowed` places back leaves the window.
        None => calls[calls.len() - window.allowed as usize] + window.rolling_ms,
    };
    let why = format!(
        "{platform}'s limit of {} publishes {} is reached; waiting for the window",
        window.allowed,
        match platform {
            Platform::Instagram => "per account in 24 h",
            Platform::TikTok => "per account per minute",
            Platform::YouTube => "per day for this project",
        }
    );
    Ok(Some((until.max(now.timestamp_millis() + 1000), why)))
}
