//! YouTube (Data API v3) with Google OAuth 2.0, per `shared/design/platforms.md` §4.
//!
//! - OAuth: web-server flow with `access_type=offline`, `prompt=consent` and a
//!   PKCE S256 challenge. Google does not rotate refresh tokens: [`YouTube::refresh`]
//!   returns `refresh_token: None` (keep the old one).
//! - Publish: a resumable `videos.insert` session, then the bytes in chunks
//!   of [`DEFAULT_CHUNK_SIZE`] streamed from the file, each answered `308 Resume
//!   Incomplete` until the last. After a broken connection or a 5xx the session
//!   is asked where it stands (`Content-Range: bytes */total`) and the upload
//!   resumes from there; a session that expired (404) is replaced by a new one,
//!   once, and the bytes are sent again from the start. Only Shorts are published: a video wider than square or
//!   longer than 180 s is refused locally before any upload.
//! - Errors: Google's envelope `{"error":{"code","message","errors":[{"reason",…}]}}`
//!   and the OAuth `{"error","error_description"}` are mapped to [`ErrorClass`]es.
//!
//! Hosts: `auth_base` serves the consent page (`/o/oauth2/v2/auth`),
//! `token_base` `/token` and `/revoke`, `api_base` `/youtube/v3/…`,
//! `upload_base` `/upload/youtube/v3/videos`.

mod api;
mod comments;
mod errors;
mod metrics;
mod oauth;
mod probe;
mod publish;
mod upload;

use std::time::Duration;

use crate::http::client;
use crate::oauth::{authorize_url, code_grant, refresh_grant};
use crate::{
    AccountProfile, AuthorizeRequest, CommentPage, Endpoints, ErrorClass, Platform, PlatformAdapter, PlatformError,
    PostMetadata, PostMetrics, PublishHandle, PublishJournal, PublishProgress, PublishStatus, TokenSet, VideoFile,
};

use comments::comment_page_of;
use metrics::metrics_of;
use publish::{publish_status_of, refuse_non_short};

pub use crate::upload::CHUNK_TIMEOUT;
pub use errors::next_quota_reset;

pub const GOOGLE_AUTH_HOST: &str = "https://accounts.google.com";
pub const GOOGLE_TOKEN_HOST: &str = "https://oauth2.googleapis.com";
pub const GOOGLE_API_HOST: &str = "https://www.googleapis.com";

/// The scopes Smez asks for: upload, read channels/videos/statistics, read comments.
pub const DEFAULT_SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.readonly",
];

/// Chunks are multiples of this (Google's rule for every chunk but the last).
pub const CHUNK_GRANULARITY: u64 = 256 * 1024;
/// Default chunk size: 8 MiB.
pub const DEFAULT_CHUNK_SIZE: u64 = 32 * CHUNK_GRANULARITY;
/// How many times one upload asks the session where it stands and resumes.
pub const MAX_RESUMES: u32 = 8;
/// First wait before resuming; doubles each time (capped at 32 × this).
pub const DEFAULT_RESUME_BACKOFF: Duration = Duration::from_millis(500);
/// When a rate-limit answer gives no `Retry-After` (UNVERIFIED: Google rarely sends one).
pub const DEFAULT_RATE_LIMIT_RETRY: Duration = Duration::from_secs(60);
/// Quotas reset at midnight Pacific, taken as a fixed UTC-8 (daylight saving time ignored).
pub const PACIFIC_OFFSET_SECS: i64 = -8 * 3600;
/// A Short: square or vertical, at most this long.
pub const SHORT_MAX_SECS: f64 = 180.0;
/// `categoryId` sent with every upload: People & Blogs.
pub const DEFAULT_CATEGORY_ID: &str = "22";
/// Comments fetched per page (YouTube's maximum).
pub const COMMENTS_PAGE_SIZE: u32 = 100;

const P: Platform = Platform::YouTube;
/// The code of a [`PlatformError`] for an expired resumable session (HTTP 404).
const SESSION_EXPIRED: &str = "uploadSessionExpired";
/// The code of a [`PlatformError`] for an upload whose session ended after
/// its last bytes were sent: the video may exist.
pub const UPLOAD_UNCONFIRMED: &str = "uploadUnconfirmed";

pub struct YouTube {
    endpoints: Endpoints,
    http: reqwest::Client,
    chunk_size: u64,
    resume_backoff: Duration,
}

impl YouTube {
    pub fn new(endpoints: Endpoints) -> Self {
        Self {
            endpoints,
            http: client(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            resume_backoff: DEFAULT_RESUME_BACKOFF,
        }
    }

    /// Google's real hosts.
    pub fn real_endpoints(client_id: &str, client_secret: &str) -> Endpoints {
        Endpoints {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            auth_base: GOOGLE_AUTH_HOST.to_owned(),
            token_base: GOOGLE_TOKEN_HOST.to_owned(),
            api_base: GOOGLE_API_HOST.to_owned(),
            upload_base: GOOGLE_API_HOST.to_owned(),
        }
    }

    /// Upload chunk size, rounded down to a multiple of 256 KiB (at least 256 KiB).
    pub fn with_chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = (bytes / CHUNK_GRANULARITY).max(1) * CHUNK_GRANULARITY;
        self
    }

    /// First wait before resuming a broken upload.
    pub fn with_resume_backoff(mut self, backoff: Duration) -> Self {
        self.resume_backoff = backoff;
        self
    }
}

#[async_trait::async_trait]
impl PlatformAdapter for YouTube {
    fn platform(&self) -> Platform {
        P
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> Result<String, PlatformError> {
        let scopes = if request.scopes.is_empty() {
            DEFAULT_SCOPES.join(" ")
        } else {
            request.scopes.join(" ")
        };
        authorize_url(
            P,
            &self.endpoints.auth_url("/o/oauth2/v2/auth"),
            &[
                ("client_id", &self.endpoints.client_id),
                ("redirect_uri", &request.redirect_uri),
                ("response_type", "code"),
                ("scope", &scopes),
                ("state", &request.state),
                ("access_type", "offline"),
                ("prompt", "consent"),
                ("include_granted_scopes", "true"),
            ],
            request.pkce_challenge.as_deref(),
        )
    }

    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<TokenSet, PlatformError> {
        let form = code_grant("client_id", &self.endpoints, code, redirect_uri, pkce_verifier);
        self.token_request("code exchange", &form).await
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, PlatformError> {
        let form = refresh_grant("client_id", &self.endpoints, refresh_token);
        // Google does not rotate: no refresh_token in the answer means "keep yours".
        self.token_request("token refresh", &form).await
    }

    /// Revokes the grant (all its tokens). A token Google no longer knows
    /// (`invalid_token`: already revoked or expired) counts as revoked.
    async fn revoke(&self, token: &str) -> Result<(), PlatformError> {
        self.revoke_grant(token).await
    }

    async fn accounts(&self, access_token: &str) -> Result<Vec<AccountProfile>, PlatformError> {
        let body = self
            .get(
                "channels.list",
                access_token,
                "/youtube/v3/channels",
                &[("part", "snippet"), ("mine", "true"), ("maxResults", "50")],
            )
            .await?;
        let items = body["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return Err(
                PlatformError::new(P, ErrorClass::Permanent, "this Google account has no YouTube channel")
                    .with_code("youtubeSignupRequired"),
            );
        }
        Ok(items
            .iter()
            .map(|c| {
                let s = &c["snippet"];
                let title = s["title"].as_str().unwrap_or("").to_owned();
                AccountProfile {
                    id: c["id"].as_str().unwrap_or("").to_owned(),
                    username: s["customUrl"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| title.clone()),
                    display_name: title,
                    avatar_url: s["thumbnails"]["default"]["url"].as_str().map(str::to_owned),
                }
            })
            .collect())
    }

    async fn publish_resumable(
        &self,
        access_token: &str,
        account_id: &str,
        video: &VideoFile,
        post: &PostMetadata,
        mut progress: PublishProgress,
        journal: &dyn PublishJournal,
    ) -> Result<PublishHandle, PlatformError> {
        let handle = |id: String| PublishHandle {
            id,
            account_id: account_id.to_owned(),
        };
        if let Some(video_id) = progress.video_id.clone() {
            return Ok(handle(video_id));
        }
        if progress.upload_url.is_none() {
            refuse_non_short(video).await?;
        }
        let resource = self.upload(access_token, video, post, &mut progress, journal).await?;
        let video_id = resource["id"].as_str().unwrap_or("").to_owned();
        progress.video_id = Some(video_id.clone());
        progress.uploaded = true;
        journal.record(&progress).await?;
        Ok(handle(video_id))
    }

    async fn publish_status(&self, access_token: &str, handle: &PublishHandle) -> Result<PublishStatus, PlatformError> {
        let query = [("part", "status,processingDetails"), ("id", handle.id.as_str())];
        let body = self
            .get("videos.list", access_token, "/youtube/v3/videos", &query)
            .await?;
        Ok(publish_status_of(handle, &body))
    }

    async fn metrics(&self, access_token: &str, post_ids: &[String]) -> Result<Vec<PostMetrics>, PlatformError> {
        let mut metrics = Vec::new();
        for ids in post_ids.chunks(50) {
            let ids = ids.join(",");
            let query = [("part", "statistics"), ("id", ids.as_str())];
            let body = self
                .get("videos.list", access_token, "/youtube/v3/videos", &query)
                .await?;
            metrics.extend(body["items"].as_array().into_iter().flatten().map(metrics_of));
        }
        Ok(metrics)
    }

    async fn comments(
        &self,
        access_token: &str,
        post_id: &str,
        cursor: Option<&str>,
    ) -> Result<CommentPage, PlatformError> {
        let page_size = COMMENTS_PAGE_SIZE.to_string();
        let mut query = vec![
            ("part", "snippet,replies"),
            ("videoId", post_id),
            ("maxResults", page_size.as_str()),
            ("order", "time"),
            ("textFormat", "plainText"),
        ];
        if let Some(c) = cursor {
            query.push(("pageToken", c));
        }
        let body = self
            .get(
                "commentThreads.list",
                access_token,
                "/youtube/v3/commentThreads",
                &query,
            )
            .await?;
        Ok(comment_page_of(&body))
    }
}
