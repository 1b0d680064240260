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

/// How a platform's window runs.
enum Span {
    /// The last `ms`: a slot frees when the oldest call in it leaves.
    Rolling { ms: i64 },
    /// The current day, up to `reset_ms`, when every slot frees at once.
    UntilReset { reset_ms: i64 },
}

/// A window a platform counts publishes in.
struct Window {
    /// Calls allowed in it.
    allowed: u32,
    span: Span,
    /// The whole platform (a project-wide bucket), not one account.
    platform_wide: bool,
}

impl Window {
    /// Where the window starts, as of `now_ms`.
    fn since_ms(&self, now_ms: i64) -> i64 {
        match self.span {
            Span::Rolling { ms } => now_ms - ms,
            Span::UntilReset { reset_ms } => reset_ms - 24 * 3600 * 1000,
        }
    }
}

fn window(platform: Platform, settings: &PublishingSettings, now: DateTime<Utc>) -> Window {
    match platform {
        Platform::Instagram => Window {
            allowed: settings.instagram_posts_per_24h,
            span: Span::Rolling { ms: 24 * 3600 * 1000 },
            platform_wide: false,
        },
        Platform::TikTok => Window {
            allowed: settings.tiktok_inits_per_minute,
            span: Span::Rolling { ms: 60 * 1000 },
            platform_wide: false,
        },
        Platform::YouTube => Window {
            allowed: settings.youtube_uploads_per_day,
            span: Span::UntilReset {
                reset_ms: smez_platforms::youtube::next_quota_reset(now).timestamp_millis(),
            },
            platform_wide: true,
        },
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
            window.since_ms(now.timestamp_millis()),
        )
        .await?;
    if calls.len() < window.allowed as usize {
        return Ok(None);
    }
    let until = match window.span {
        Span::UntilReset { reset_ms } => reset_ms,
        // The slot frees when the call `allowed` places back leaves the window.
        Span::Rolling { ms } => calls[calls.len() - window.allowed as usize] + ms,
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
