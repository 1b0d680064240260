//! Smez's clients for the platforms it publishes to: one trait,
//! [`PlatformAdapter`], over TikTok, Instagram and YouTube, each speaking the
//! platform's real HTTP contract (see `shared/design/platforms.md`) against a
//! configurable base URL — the real hosts by default, the simulators
//! (`smez-platform-sim`) in development and tests.
//!
//! Every failure is a [`PlatformError`] with an [`ErrorClass`]: the publisher's
//! retry logic rests on that classification.

mod catalogue;
mod directory;
mod error;
mod http;
mod model;
mod oauth;
mod pkce;
mod upload;
mod video;

pub mod instagram;
pub mod tiktok;
pub mod youtube;

pub use catalogue::{Feature, UnknownPlatform};
pub use directory::Adapters;
pub use error::{ErrorClass, PlatformError};
pub use http::install_crypto_provider;
pub use model::*;
pub use pkce::Pkce;
pub use video::VideoFile;

/// What Smez does with a platform. Implemented once per platform.
#[async_trait::async_trait]
pub trait PlatformAdapter: Send + Sync {
    fn platform(&self) -> Platform;

    /// The URL to send the browser to. PKCE is used where the platform supports it.
    fn authorize_url(&self, request: &AuthorizeRequest) -> Result<String, PlatformError>;

    /// Exchanges an authorization code (once) for tokens.
    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<TokenSet, PlatformError>;

    /// Refreshes tokens. A platform that rotates refresh tokens returns the
    /// new one; one that does not returns `refresh_token: None` (keep the old).
    async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, PlatformError>;

    /// Revokes a token at the platform (where it offers that).
    async fn revoke(&self, token: &str) -> Result<(), PlatformError>;

    /// The accounts the token can act for (a Google login may hold several
    /// channels, a Facebook login several Instagram accounts).
    async fn accounts(&self, access_token: &str) -> Result<Vec<AccountProfile>, PlatformError>;

    /// Starts publishing `video` to `account_id`: every step up to handing
    /// the bytes over, which stream from the file (never all in memory).
    /// Each step the platform cannot take back is given to `journal` before
    /// the next one; `progress` is what an earlier attempt recorded, and the
    /// publish resumes from it (same publish id, container or upload session).
    async fn publish_resumable(
        &self,
        access_token: &str,
        account_id: &str,
        video: &VideoFile,
        post: &PostMetadata,
        progress: PublishProgress,
        journal: &dyn PublishJournal,
    ) -> Result<PublishHandle, PlatformError>;

    /// [`PlatformAdapter::publish_resumable`] from scratch, keeping nothing.
    async fn publish(
        &self,
        access_token: &str,
        account_id: &str,
        video: &VideoFile,
        post: &PostMetadata,
    ) -> Result<PublishHandle, PlatformError> {
        self.publish_resumable(
            access_token,
            account_id,
            video,
            post,
            PublishProgress::default(),
            &Forget,
        )
        .await
    }

    /// Where a publish stands on the platform's side.
    async fn publish_status(&self, access_token: &str, handle: &PublishHandle) -> Result<PublishStatus, PlatformError>;

    /// Counters of published posts, mapped to one model.
    async fn metrics(&self, access_token: &str, post_ids: &[String]) -> Result<Vec<PostMetrics>, PlatformError>;

    /// Comments of a post, where the platform offers them to apps like Smez
    /// (Instagram, YouTube). TikTok answers [`ErrorClass::Permanent`]: Smez
    /// never asks TikTok for comment text.
    async fn comments(
        &self,
        access_token: &str,
        post_id: &str,
        cursor: Option<&str>,
    ) -> Result<CommentPage, PlatformError>;
}

/// Where a publish's [`PublishProgress`] is kept between attempts.
#[async_trait::async_trait]
pub trait PublishJournal: Send + Sync {
    /// Keeps `progress` durably before the adapter takes its next step; an
    /// error stops the publish there.
    async fn record(&self, progress: &PublishProgress) -> Result<(), PlatformError>;
}

/// A journal that keeps nothing: for one-shot publishes (tools, tests).
pub struct Forget;

#[async_trait::async_trait]
impl PublishJournal for Forget {
    async fn record(&self, _progress: &PublishProgress) -> Result<(), PlatformError> {
        Ok(())
    }
}
