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

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::http::{client, retry_after, transport_error};
use crate::{
    AccountProfile, AuthorizeRequest, CommentPage, Endpoints, ErrorClass, Platform, PlatformAdapter, PlatformError,
    PostMetadata, PostMetrics, Privacy, PublishHandle, PublishStatus, TokenSet, VideoFile,
};

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
/// How long one chunk PUT may take.
pub const CHUNK_TIMEOUT: Duration = Duration::from_secs(600);
/// When TikTok says `rate_limit_exceeded` without `Retry-After` (its limits are per minute).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// TikTok's post caps roll over 24 h; it gives no reset time.
pub const QUOTA_WINDOW_SECS: i64 = 86_400;
/// Metrics fields asked of `/v2/video/query/`.
const VIDEO_FIELDS: &str = "id,title,create_time,duration,share_url,view_count,like_count,comment_count,share_count";

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

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.endpoints.api_base.trim_end_matches('/'))
    }

    fn oauth(&self, path: &str) -> String {
        format!("{}{path}", self.endpoints.token_base.trim_end_matches('/'))
    }

    /// A token-endpoint call (code exchange or refresh).
    async fn token_call(&self, what: &str, form: &[(&str, &str)], refreshing: bool) -> Result<TokenSet, PlatformError> {
        let response = self
            .http
            .post(self.oauth("/v2/oauth/token/"))
            .form(form)
            .send()
            .await
            .map_err(|e| transport_error(P, what, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body: Value = read_json(response, what).await?;
        if let Some(error) = body["error"].as_str().filter(|e| !e.is_empty()) {
            return Err(oauth_error(what, status, &headers, error, &body, refreshing));
        }
        if !status.is_success() {
            return Err(status_error(what, status, &headers));
        }
        let Some(access) = body["access_token"].as_str() else {
            return Err(PlatformError::new(
                P,
                ErrorClass::Permanent,
                format!("{what}: no access_token in the answer"),
            ));
        };
        Ok(TokenSet {
            access_token: access.to_owned(),
            refresh_token: body["refresh_token"].as_str().map(str::to_owned),
            access_expires_in_secs: body["expires_in"].as_u64(),
            refresh_expires_in_secs: body["refresh_expires_in"].as_u64(),
            scopes: body["scope"]
                .as_str()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            subject: body["open_id"].as_str().map(str::to_owned),
        })
    }

    /// A business-API call: returns `data` when `error.code == "ok"`.
    async fn business(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
        token: &str,
    ) -> Result<Value, PlatformError> {
        let response = request
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| transport_error(P, what, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = match read_json(response, what).await {
            Ok(body) => body,
            Err(error) if !status.is_success() => {
                let mut mapped = status_error(what, status, &headers);
                if mapped.class == ErrorClass::Permanent && error.class == ErrorClass::Transient {
                    mapped.class = ErrorClass::Transient;
                }
                return Err(mapped);
            }
            Err(error) => return Err(error),
        };
        let code = body["error"]["code"].as_str().unwrap_or("");
        if code == "ok" && status.is_success() {
            return Ok(body["data"].clone());
        }
        if code.is_empty() || code == "ok" {
            return Err(status_error(what, status, &headers));
        }
        let message = body["error"]["message"].as_str().unwrap_or("");
        Err(business_error(what, status, &headers, code, message))
    }

    async fn creator_info(&self, token: &str) -> Result<Value, PlatformError> {
        let request = self
            .http
            .post(self.api("/v2/post/publish/creator_info/query/"))
            .header(reqwest::header::CONTENT_TYPE, "application/json; charset=UTF-8");
        self.business("creator info", request, token).await
    }

    /// PUTs every chunk, re-sending one that fails in transit.
    async fn upload(&self, upload_url: &str, video: &VideoFile, plan: &ChunkPlan) -> Result<(), PlatformError> {
        let total = video.size();
        let mut offset = 0u64;
        let mut attempts = 0u32;
        while offset < total {
            let (first, last) = plan.chunk_at(offset);
            let len = last - first + 1;
            let body = video.body(first, len).await.map_err(|e| {
                PlatformError::new(P, ErrorClass::Permanent, format!("reading the video for upload: {e}"))
            })?;
            let sent = self
                .http
                .put(upload_url)
                .timeout(CHUNK_TIMEOUT)
                .header(reqwest::header::CONTENT_TYPE, upload_content_type(video))
                .header(reqwest::header::CONTENT_LENGTH, len)
                .header(reqwest::header::CONTENT_RANGE, format!("bytes {first}-{last}/{total}"))
                .body(body)
                .send()
                .await;
            let failure = match sent {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    // Read the answer fully: a connection dropped mid-answer is a failed chunk.
                    let read = response.bytes().await;
                    match (status.as_u16(), read) {
                        (201 | 206, Ok(_)) => {
                            offset = last + 1;
                            attempts = 0;
                            continue;
                        }
                        (416, _) => {
                            // Resume from what TikTok says it has, when that is a chunk boundary.
                            if let Some(have) = uploaded_from(&headers).filter(|h| plan.is_boundary(*h)) {
                                offset = have;
                            }
                            PlatformError::new(P, ErrorClass::Transient, "upload: Content-Range out of step")
                        }
                        (403, _) => PlatformError::new(
                            P,
                            ErrorClass::Transient,
                            "upload: the upload_url expired (valid 1 h); publish again",
                        )
                        .with_code("upload_url_expired"),
                        (404, _) => PlatformError::new(P, ErrorClass::Permanent, "upload: no such upload task"),
                        (400, _) => PlatformError::new(P, ErrorClass::Permanent, "upload: malformed chunk request"),
                        (s, _) if s >= 500 => PlatformError::new(P, ErrorClass::Transient, format!("upload: HTTP {s}")),
                        (s, Err(e)) => PlatformError::new(
                            P,
                            ErrorClass::Transient,
                            format!("upload: HTTP {s}, answer broken: {}", e.without_url()),
                        ),
                        (s, Ok(_)) => {
                            PlatformError::new(P, ErrorClass::Transient, format!("upload: unexpected HTTP {s}"))
                        }
                    }
                }
                Err(e) => transport_error(P, "upload", e),
            };
            if failure.class != ErrorClass::Transient || failure.platform_code.as_deref() == Some("upload_url_expired")
            {
                return Err(failure);
            }
            attempts += 1;
            if attempts >= CHUNK_ATTEMPTS {
                return Err(failure);
            }
            tracing::warn!(offset, attempt = attempts, "tiktok chunk failed, re-sending it");
            tokio::time::sleep(Duration::from_millis(20 * u64::from(attempts))).await;
        }
        Ok(())
    }
}

/// How a file is cut into chunks, by TikTok's media transfer rules: chunks
/// of `chunk_size`, `count = floor(size / chunk_size)`, the last absorbing the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkPlan {
    pub video_size: u64,
    pub chunk_size: u64,
    pub chunk_count: u64,
}

impl ChunkPlan {
    pub fn for_size(video_size: u64) -> Self {
        let chunk_size = if video_size < MIN_CHUNK_BYTES {
            video_size
        } else {
            CHUNK_BYTES.min(video_size)
        };
        let chunk_count = (video_size / chunk_size.max(1)).max(1);
        Self {
            video_size,
            chunk_size,
            chunk_count,
        }
    }

    /// The chunk starting at `offset`: `(first, last)` byte.
    pub fn chunk_at(&self, offset: u64) -> (u64, u64) {
        let index = offset / self.chunk_size.max(1);
        if index + 1 >= self.chunk_count {
            (offset, self.video_size - 1)
        } else {
            (offset, offset + self.chunk_size - 1)
        }
    }

    fn is_boundary(&self, offset: u64) -> bool {
        offset < self.video_size && offset.is_multiple_of(self.chunk_size.max(1))
    }
}

fn upload_content_type(video: &VideoFile) -> &str {
    match video.content_type.as_str() {
        "video/quicktime" | "video/webm" | "video/mp4" => &video.content_type,
        _ => "video/mp4",
    }
}

/// `Content-Range: bytes 0-N/T` → N + 1.
fn uploaded_from(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let value = headers.get(reqwest::header::CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes ")?.split('/').next()?;
    let (_, last) = range.split_once('-')?;
    last.parse::<u64>().ok().map(|n| n + 1)
}

async fn read_json(response: reqwest::Response, what: &str) -> Result<Value, PlatformError> {
    let bytes = response.bytes().await.map_err(|e| transport_error(P, what, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| PlatformError::new(P, ErrorClass::Transient, format!("{what}: the answer is not JSON")))
}

/// A failure known only by its HTTP status.
fn status_error(what: &str, status: StatusCode, headers: &reqwest::header::HeaderMap) -> PlatformError {
    let message = format!("{what}: HTTP {}", status.as_u16());
    match status.as_u16() {
        429 => PlatformError::new(P, ErrorClass::RateLimited, message)
            .with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RETRY_AFTER)),
        401 => PlatformError::new(P, ErrorClass::AuthExpired, message),
        408 | 500..=599 => PlatformError::new(P, ErrorClass::Transient, message),
        _ => PlatformError::new(P, ErrorClass::Permanent, message),
    }
}

fn oauth_error(
    what: &str,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    error: &str,
    body: &Value,
    refreshing: bool,
) -> PlatformError {
    let description = body["error_description"].as_str().unwrap_or("");
    let message = format!("{what}: {error}: {description}");
    let class = match error {
        "invalid_grant" if refreshing => ErrorClass::AuthRevoked,
        "access_denied" => ErrorClass::AuthRevoked,
        "rate_limit_exceeded" => ErrorClass::RateLimited,
        "internal_error" | "server_error" | "temporarily_unavailable" => ErrorClass::Transient,
        _ if status.as_u16() == 429 => ErrorClass::RateLimited,
        _ if status.is_server_error() => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    let mut e = PlatformError::new(P, class, message).with_code(error);
    if class == ErrorClass::RateLimited {
        e = e.with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RETRY_AFTER));
    }
    e
}

/// The `post_info` / `source_info` field a message names.
fn field_in(message: &str) -> Option<&'static str> {
    [
        "title",
        "privacy_level",
        "video_cover_timestamp_ms",
        "disable_duet",
        "disable_stitch",
        "disable_comment",
        "brand_content_toggle",
        "brand_organic_toggle",
        "is_aigc",
        "video_size",
        "chunk_size",
        "total_chunk_count",
    ]
    .into_iter()
    .find(|f| message.contains(f))
}

fn business_error(
    what: &str,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    code: &str,
    message: &str,
) -> PlatformError {
    let text = format!("{what}: {code}: {message}");
    let e = |class| PlatformError::new(P, class, text.clone()).with_code(code);
    match code {
        "access_token_invalid" if message.to_ascii_lowercase().contains("revoked") => e(ErrorClass::AuthRevoked),
        "access_token_invalid" => e(ErrorClass::AuthExpired),
        "scope_not_authorized" | "scope_permission_missed" | "auth_removed" => e(ErrorClass::AuthRevoked),
        "rate_limit_exceeded" => {
            e(ErrorClass::RateLimited).with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RETRY_AFTER))
        }
        "spam_risk_too_many_posts" | "reached_active_user_cap" | "spam_risk_too_many_pending_share" => {
            e(ErrorClass::QuotaExhausted)
                .with_reset_at(chrono::Utc::now() + chrono::Duration::seconds(QUOTA_WINDOW_SECS))
        }
        "privacy_level_option_mismatch" => e(ErrorClass::InvalidMetadata).with_field("privacy_level"),
        "invalid_param" | "invalid_params" => match field_in(message) {
            Some("video_size") => e(ErrorClass::InvalidMedia).with_field("video_size"),
            Some(f @ ("chunk_size" | "total_chunk_count")) => e(ErrorClass::Permanent).with_field(f),
            Some(f) => e(ErrorClass::InvalidMetadata).with_field(f),
            None => e(ErrorClass::Permanent),
        },
        "internal_error" => e(ErrorClass::Transient),
        _ if status.as_u16() == 429 => {
            e(ErrorClass::RateLimited).with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RETRY_AFTER))
        }
        _ if status.is_server_error() => e(ErrorClass::Transient),
        _ => e(ErrorClass::Permanent),
    }
}

/// The class of a status `fail_reason`.
fn fail_class(reason: &str) -> ErrorClass {
    match reason {
        "file_format_check_failed"
        | "duration_check_failed"
        | "frame_rate_check_failed"
        | "picture_size_check_failed" => ErrorClass::InvalidMedia,
        "internal" | "video_pull_failed" | "photo_pull_failed" => ErrorClass::Transient,
        "spam_risk_too_many_posts" => ErrorClass::QuotaExhausted,
        "auth_removed" => ErrorClass::AuthRevoked,
        "spam_risk_text" => ErrorClass::InvalidMetadata,
        _ => ErrorClass::Permanent,
    }
}

/// Smez's privacy in the creator's options.
fn privacy_level(privacy: Privacy, options: &[&str]) -> Option<&'static str> {
    let wanted: &[&'static str] = match privacy {
        Privacy::Public => &["PUBLIC_TO_EVERYONE"],
        Privacy::FollowersOnly => &["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS"],
        Privacy::Private => &["SELF_ONLY"],
    };
    wanted.iter().copied().find(|w| options.contains(w))
}

/// An MP4/MOV's duration from its `mvhd` box, reading box headers only.
/// `None` when the file is not MP4-like or has no readable `mvhd` (WebM).
pub async fn mp4_duration_secs(video: &VideoFile) -> Option<f64> {
    let mut file = tokio::fs::File::open(video.path()).await.ok()?;
    let size = video.size();
    let moov = find_box(&mut file, 0, size, b"moov").await?;
    let (start, end) = moov;
    let (mvhd, _) = find_box(&mut file, start, end, b"mvhd").await?;
    file.seek(std::io::SeekFrom::Start(mvhd)).await.ok()?;
    let version = file.read_u8().await.ok()?;
    let mut skip = [0u8; 3];
    file.read_exact(&mut skip).await.ok()?;
    if version == 1 {
        file.seek(std::io::SeekFrom::Current(16)).await.ok()?;
        let timescale = file.read_u32().await.ok()?;
        let duration = file.read_u64().await.ok()?;
        (timescale > 0).then(|| duration as f64 / f64::from(timescale))
    } else {
        file.seek(std::io::SeekFrom::Current(8)).await.ok()?;
        let timescale = file.read_u32().await.ok()?;
        let duration = file.read_u32().await.ok()?;
        (timescale > 0).then(|| f64::from(duration) / f64::from(timescale))
    }
}

/// The payload range `(start, end)` of the first box of `kind` within `[from, to)`.
async fn find_box(file: &mut tokio::fs::File, from: u64, to: u64, kind: &[u8; 4]) -> Option<(u64, u64)> {
    let mut at = from;
    while at + 8 <= to {
        file.seek(std::io::SeekFrom::Start(at)).await.ok()?;
        let size32 = u64::from(file.read_u32().await.ok()?);
        let mut name = [0u8; 4];
        file.read_exact(&mut name).await.ok()?;
        let (header, size) = match size32 {
            1 => (16, file.read_u64().await.ok()?),
            0 => (8, to - at),
            n => (8, n),
        };
        if size < header {
            return None;
        }
        if &name == kind {
            return Some((at + header, (at + size).min(to)));
        }
        at += size;
    }
    None
}

#[async_trait::async_trait]
impl PlatformAdapter for TikTok {
    fn platform(&self) -> Platform {
        P
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> Result<String, PlatformError> {
        let base = format!("{}/v2/auth/authorize/", self.endpoints.auth_base.trim_end_matches('/'));
        let mut url = url::Url::parse(&base)
            .map_err(|e| PlatformError::new(P, ErrorClass::Permanent, format!("auth base URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_key", &self.endpoints.client_id)
                .append_pair("response_type", "code")
                .append_pair("scope", &request.scopes.join(","))
                .append_pair("redirect_uri", &request.redirect_uri)
                .append_pair("state", &request.state);
            if let Some(challenge) = &request.pkce_challenge {
                q.append_pair("code_challenge", challenge)
                    .append_pair("code_challenge_method", "S256");
            }
        }
        Ok(url.into())
    }

    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<TokenSet, PlatformError> {
        let mut form = vec![
            ("client_key", self.endpoints.client_id.as_str()),
            ("client_secret", self.endpoints.client_secret.as_str()),
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(verifier) = pkce_verifier {
            form.push(("code_verifier", verifier));
        }
        self.token_call("code exchange", &form, false).await
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, PlatformError> {
        let form = [
            ("client_key", self.endpoints.client_id.as_str()),
            ("client_secret", self.endpoints.client_secret.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.token_call("refresh", &form, true).await
    }

    async fn revoke(&self, token: &str) -> Result<(), PlatformError> {
        let what = "revoke";
        let form = [
            ("client_key", self.endpoints.client_id.as_str()),
            ("client_secret", self.endpoints.client_secret.as_str()),
            ("token", token),
        ];
        let response = self
            .http
            .post(self.oauth("/v2/oauth/revoke/"))
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error(P, what, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_json(response, what).await.unwrap_or(Value::Null);
        if let Some(error) = body["error"].as_str().filter(|e| !e.is_empty()) {
            return Err(oauth_error(what, status, &headers, error, &body, false));
        }
        if !status.is_success() {
            return Err(status_error(what, status, &headers));
        }
        Ok(())
    }

    async fn accounts(&self, access_token: &str) -> Result<Vec<AccountProfile>, PlatformError> {
        let request = self
            .http
            .get(self.api("/v2/user/info/"))
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

    async fn publish(
        &self,
        access_token: &str,
        account_id: &str,
        video: &VideoFile,
        post: &PostMetadata,
    ) -> Result<PublishHandle, PlatformError> {
        if video.size() == 0 || video.size() > MAX_VIDEO_BYTES {
            return Err(PlatformError::new(
                P,
                ErrorClass::InvalidMedia,
                format!("the video is {} bytes; TikTok takes 1 byte to 4 GB", video.size()),
            )
            .with_code("file_format_check_failed"));
        }
        let creator = self.creator_info(access_token).await?;
        let options: Vec<&str> = creator["privacy_level_options"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(privacy) = privacy_level(post.privacy, &options) else {
            return Err(PlatformError::new(
                P,
                ErrorClass::InvalidMetadata,
                format!(
                    "privacy {:?} is not among this creator's options {options:?}",
                    post.privacy
                ),
            )
            .with_code("privacy_level_option_mismatch")
            .with_field("privacy_level"));
        };
        let creator_max = creator["max_video_post_duration_sec"]
            .as_f64()
            .unwrap_or(MAX_DURATION_SECS);
        if let Some(duration) = mp4_duration_secs(video).await {
            let max = creator_max.min(MAX_DURATION_SECS);
            if duration > max {
                return Err(PlatformError::new(
                    P,
                    ErrorClass::InvalidMedia,
                    format!("the video lasts {duration:.1} s; this creator may post at most {max} s"),
                )
                .with_code("duration_check_failed"));
            }
        }
        let plan = ChunkPlan::for_size(video.size());
        let mut post_info = json!({
            "privacy_level": privacy,
            "title": post.caption,
            "disable_duet": false,
            "disable_stitch": false,
            "disable_comment": creator["comment_disabled"].as_bool().unwrap_or(false),
            "brand_content_toggle": false,
            "brand_organic_toggle": false,
            "is_aigc": false,
        });
        if let Some(ms) = post.cover_timestamp_ms {
            post_info["video_cover_timestamp_ms"] = json!(ms);
        }
        let body = json!({
            "post_info": post_info,
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": plan.video_size,
                "chunk_size": plan.chunk_size,
                "total_chunk_count": plan.chunk_count,
            },
        });
        let request = self
            .http
            .post(self.api("/v2/post/publish/video/init/"))
            .header(reqwest::header::CONTENT_TYPE, "application/json; charset=UTF-8")
            .body(body.to_string());
        let data = self.business("publish init", request, access_token).await?;
        let (Some(publish_id), Some(upload_url)) = (data["publish_id"].as_str(), data["upload_url"].as_str()) else {
            return Err(PlatformError::new(
                P,
                ErrorClass::Permanent,
                "publish init: no publish_id or upload_url",
            ));
        };
        self.upload(upload_url, video, &plan).await?;
        Ok(PublishHandle {
            id: publish_id.to_owned(),
            account_id: account_id.to_owned(),
        })
    }

    async fn publish_status(&self, access_token: &str, handle: &PublishHandle) -> Result<PublishStatus, PlatformError> {
        let request = self
            .http
            .post(self.api("/v2/post/publish/status/fetch/"))
            .header(reqwest::header::CONTENT_TYPE, "application/json; charset=UTF-8")
            .body(json!({ "publish_id": handle.id }).to_string());
        let data = self.business("publish status", request, access_token).await?;
        let status = data["status"].as_str().unwrap_or_default();
        Ok(match status {
            "PUBLISH_COMPLETE" => {
                // The vendor's spelling. A post id only comes for public posts.
                let id = data["publicaly_available_post_id"]
                    .as_array()
                    .and_then(|ids| ids.first())
                    .and_then(|v| {
                        v.as_u64()
                            .map(|n| n.to_string())
                            .or_else(|| v.as_str().map(str::to_owned))
                    });
                match id {
                    Some(post_id) => {
                        let url = self
                            .metrics(access_token, std::slice::from_ref(&post_id))
                            .await
                            .ok()
                            .and_then(|m| m.into_iter().next())
                            .and_then(|m| m.raw["share_url"].as_str().map(str::to_owned));
                        PublishStatus::Published { post_id, url }
                    }
                    // Private (or not yet moderated) posts have no public id: the publish id stands for it.
                    None => PublishStatus::Published {
                        post_id: handle.id.clone(),
                        url: None,
                    },
                }
            }
            "FAILED" => {
                let reason = data["fail_reason"].as_str().unwrap_or("unknown").to_owned();
                PublishStatus::Failed {
                    class: fail_class(&reason),
                    error: reason,
                }
            }
            other => PublishStatus::Processing {
                detail: other.to_owned(),
            },
        })
    }

    async fn metrics(&self, access_token: &str, post_ids: &[String]) -> Result<Vec<PostMetrics>, PlatformError> {
        let mut out = Vec::new();
        for batch in post_ids.chunks(20) {
            let request = self
                .http
                .post(self.api("/v2/video/query/"))
                .query(&[("fields", VIDEO_FIELDS)])
                .header(reqwest::header::CONTENT_TYPE, "application/json; charset=UTF-8")
                .body(json!({ "filters": { "video_ids": batch } }).to_string());
            let data = self.business("video query", request, access_token).await?;
            for video in data["videos"].as_array().cloned().unwrap_or_default() {
                let count = |k: &str| video[k].as_u64();
                out.push(PostMetrics {
                    post_id: video["id"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| video["id"].as_u64().map(|n| n.to_string()))
                        .unwrap_or_default(),
                    views: count("view_count"),
                    likes: count("like_count"),
                    comments: count("comment_count"),
                    shares: count("share_count"),
                    saves: None,
                    reach: None,
                    watch_time_secs: None,
                    raw: video.clone(),
                });
            }
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
