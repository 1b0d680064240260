//! TikTok: Login Kit v2 OAuth, the Content Posting API (creator info, Direct
//! Post init with FILE_UPLOAD, chunked PUTs to the opaque `upload_url`, status
//! fetch) and the Display API's video query for metrics (platforms.md §2).
//!
//! Error mapping (TikTok's shapes: OAuth `{error, error_description, log_id}`,
//! business `{data, error: {code, message, log_id}}` where `code == "ok"` is
//! success whatever the HTTP status, and some errors come with HTTP 200):
//!
//! | TikTok | class |
//! |---|---|
//! | `access_token_invalid` | AuthExpired, or AuthRevoked when the message says revoked (TikTok uses one code for both; refreshing tells them apart anyway: a revoked grant's refresh answers `invalid_grant`) |
//! | `scope_not_authorized`, `scope_permission_missed`, `auth_removed` | AuthRevoked (the user must reconnect granting the scope) |
//! | refresh `invalid_grant` | AuthRevoked (rotated, expired or revoked refresh token) |
//! | `rate_limit_exceeded` / HTTP 429 | RateLimited, `retry_after` from `Retry-After` or [`DEFAULT_RETRY_AFTER`] |
//! | `spam_risk_too_many_posts`, `reached_active_user_cap` | QuotaExhausted, `reset_at` = now + 24 h (rolling window; TikTok gives no reset time) |
//! | `fail_reason` `file_format_check_failed`, `duration_check_failed`, `frame_rate_check_failed`, `picture_size_check_failed` | InvalidMedia with that reason as `platform_code` |
//! | `invalid_param` naming a `post_info` field, `privacy_level_option_mismatch`, `spam_risk_text` | InvalidMetadata with the field |
//! | `invalid_param` on `source_info.video_size` | InvalidMedia |
//! | `internal_error`, HTTP 5xx, timeouts, dropped connections | Transient |
//! | anything else | Permanent |
//!
//! Before init, `publish` asks creator info and respects it: the post's privacy
//! must map into `privacy_level_options` (else InvalidMetadata `privacy_level`,
//! no init), and an MP4/MOV longer than `max_video_post_duration_sec` (or 10 min),
//! read from its `mvhd` box, is refused as InvalidMedia `duration_check_failed`
//! without uploading (other containers are left to TikTok's own check). A
//! private post has no public id: `publish_status` then reports the publish id
//! as the post id, with no URL.
//!
//! Uploads: chunks of [`CHUNK_BYTES`] (10 MB decimal, valid whether TikTok's
//! "MB" is 10^6 or 2^20), the final chunk absorbing the rest; a video under
//! 5 MB goes whole. Each chunk streams from the file; a chunk whose PUT fails
//! in transit (dropped connection, timeout, 5xx) is re-sent up to
//! [`CHUNK_ATTEMPTS`] times, resynchronising on a 416's `Content-Range`.

mod api;
mod errors;
mod metrics;
mod mp4;
mod publish;
mod upload;

use std::time::Duration;

use serde_json::json;

use crate::http::client;
use crate::oauth::{authorize_url, code_grant, refresh_grant};
use crate::{
    AccountProfile, AuthorizeRequest, CommentPage, Endpoints, ErrorClass, Platform, PlatformAdapter, PlatformError,
    PostMetadata, PostMetrics, PublishHandle, PublishJournal, PublishProgress, PublishStatus, TokenSet, VideoFile,
};

use metrics::{VIDEO_FIELDS, metrics_of};
use publish::{failure, public_post_id};

pub use crate::upload::CHUNK_TIMEOUT;
pub use mp4::mp4_duration_secs;
pub use upload::ChunkPlan;

const P: Platform = Platform::TikTok;
/// The chunk size the adapter plans with.
pub const CHUNK_BYTES: u64 = 10_000_000;
/// Under this, a video goes as one chunk (5 MB, decimal: a smaller binary MB would be refused).
pub const MIN_CHUNK_BYTES: u64 = 5_000_000;
pub const MAX_VIDEO_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Developer-sent maximum duration (10 min), before the creator's own maximum.
pub const MAX_DURATION_SECS: f64 = 600.0;
/// Attempts per chunk before the publish fails Transient.
pub const CHUNK_ATTEMPTS: u32 = 4;
/// When TikTok says `rate_limit_exceeded` without `Retry-After` (its limits are per minute).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// TikTok's post caps roll over 24 h; it gives no reset time.
pub const QUOTA_WINDOW_SECS: i64 = 86_400;

pub struct TikTok {
    endpoints: Endpoints,
    http: reqwest::Client,
}

impl TikTok {
    pub fn new(endpoints: Endpoints) -> Self {
        Self {
            endpoints,
            http: client(),
        }
    }

    /// TikTok's real hosts (the upload host comes back in `upload_url`).
    pub fn real_endpoints(client_id: &str, client_secret: &str) -> Endpoints {
        Endpoints {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            auth_base: "https://www.tiktok.com".into(),
            token_base: "https://open.tiktokapis.com".into(),
            api_base: "https://open.tiktokapis.com".into(),
            upload_base: "https://open-upload.tiktokapis.com".into(),
        }
    }
}

#[async_trait::async_trait]
impl PlatformAdapter for TikTok {
    fn platform(&self) -> Platform {
        P
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> Result<String, PlatformError> {
        let scopes = request.scopes.join(",");
        authorize_url(
            P,
            &self.endpoints.auth_url("/v2/auth/authorize/"),
            &[
                ("client_key", &self.endpoints.client_id),
                ("response_type", "code"),
                ("scope", &scopes),
                ("redirect_uri", &request.redirect_uri),
                ("state", &request.state),
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
        let form = code_grant("client_key", &self.endpoints, code, redirect_uri, pkce_verifier);
        self.token_call("code exchange", &form, false).await
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, PlatformError> {
        let form = refresh_grant("client_key", &self.endpoints, refresh_token);
        self.token_call("refresh", &form, true).await
    }

    async fn revoke(&self, token: &str) -> Result<(), PlatformError> {
        let form = [
            ("client_key", self.endpoints.client_id.as_str()),
            ("client_secret", self.endpoints.client_secret.as_str()),
            ("token", token),
        ];
        self.oauth_call("revoke", "/v2/oauth/revoke/", &form, false, false)
            .await
            .map(|_| ())
    }

    async fn accounts(&self, access_token: &str) -> Result<Vec<AccountProfile>, PlatformError> {
        let request = self
            .http
            .get(self.endpoints.api_url("/v2/user/info/"))
            .query(&[("fields", "open_id,union_id,avatar_url,display_name,username")]);
        let data = self.business("user info", request, access_token).await?;
        let user = &data["user"];
        let text = |k: &str| user[k].as_str().unwrap_or_default().to_owned();
        Ok(vec![AccountProfile {
            id: text("open_id"),
            username: text("username"),
            display_name: text("display_name"),
            avatar_url: user["avatar_url"].as_str().map(str::to_owned),
        }])
    }

    async fn publish_resumable(
        &self,
        access_token: &str,
        account_id: &str,
        video: &VideoFile,
        post: &PostMetadata,
        progress: PublishProgress,
        journal: &dyn PublishJournal,
    ) -> Result<PublishHandle, PlatformError> {
        let publish_id = self.post_video(access_token, video, post, progress, journal).await?;
        Ok(PublishHandle {
            id: publish_id,
            account_id: account_id.to_owned(),
        })
    }

    async fn publish_status(&self, access_token: &str, handle: &PublishHandle) -> Result<PublishStatus, PlatformError> {
        let request = self
            .json_post("/v2/post/publish/status/fetch/")
            .body(json!({ "publish_id": handle.id }).to_string());
        let data = self.business("publish status", request, access_token).await?;
        Ok(match data["status"].as_str().unwrap_or_default() {
            "PUBLISH_COMPLETE" => match public_post_id(&data) {
                Some(post_id) => {
                    let url = self.share_url(access_token, &post_id).await;
                    PublishStatus::Published { post_id, url }
                }
                // Private (or not yet moderated) posts have no public id: the publish id stands for it.
                None => PublishStatus::Published {
                    post_id: handle.id.clone(),
                    url: None,
                },
            },
            "FAILED" => failure(&data),
            other => PublishStatus::Processing {
                detail: other.to_owned(),
            },
        })
    }

    async fn metrics(&self, access_token: &str, post_ids: &[String]) -> Result<Vec<PostMetrics>, PlatformError> {
        let mut out = Vec::new();
        for batch in post_ids.chunks(20) {
            let request = self
                .json_post("/v2/video/query/")
                .query(&[("fields", VIDEO_FIELDS)])
                .body(json!({ "filters": { "video_ids": batch } }).to_string());
            let data = self.business("video query", request, access_token).await?;
            out.extend(data["videos"].as_array().into_iter().flatten().map(metrics_of));
        }
        Ok(out)
    }

    async fn comments(
        &self,
        _access_token: &str,
        _post_id: &str,
        _cursor: Option<&str>,
    ) -> Result<CommentPage, PlatformError> {
        Err(PlatformError::new(
            P,
            ErrorClass::Permanent,
            "TikTok offers comment text only to its Research API; Smez never asks for it",
        ))
    }
}
