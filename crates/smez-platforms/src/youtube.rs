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

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::http::{client, retry_after, transport_error};
use crate::{
    AccountProfile, AuthorizeRequest, Comment, CommentPage, ErrorClass, Platform, PlatformAdapter, PlatformError,
    PostMetadata, PostMetrics, Privacy, PublishHandle, PublishStatus, TokenSet, VideoFile,
};

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
/// How long one chunk may take (uploads outlive [`crate::http::CALL_TIMEOUT`]).
pub const CHUNK_TIMEOUT: Duration = Duration::from_secs(600);
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

pub struct YouTube {
    endpoints: Endpoints,
    http: reqwest::Client,
    chunk_size: u64,
    resume_backoff: Duration,
}

use crate::Endpoints;

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

    fn auth_base(&self) -> &str {
        self.endpoints.auth_base.trim_end_matches('/')
    }

    fn token_base(&self) -> &str {
        self.endpoints.token_base.trim_end_matches('/')
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.endpoints.api_base.trim_end_matches('/'))
    }

    async fn token_request(&self, what: &str, form: &[(&str, &str)]) -> Result<Value, PlatformError> {
        let response = self
            .http
            .post(format!("{}/token", self.token_base()))
            .form(form)
            .send()
            .await
            .map_err(|e| transport_error(P, what, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() && body["access_token"].is_string() {
            return Ok(body);
        }
        Err(oauth_error(what, status.as_u16(), &headers, &body))
    }

    /// A GET of the Data API, classified.
    async fn get(&self, what: &str, token: &str, path: &str, query: &[(&str, &str)]) -> Result<Value, PlatformError> {
        let response = self
            .http
            .get(self.api(path))
            .bearer_auth(token)
            .query(query)
            .send()
            .await
            .map_err(|e| transport_error(P, what, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body: Result<Value, _> = response.json().await;
        match body {
            Ok(body) if status.is_success() => Ok(body),
            Ok(body) => Err(api_error(what, status.as_u16(), &headers, &body)),
            Err(e) if status.is_success() => Err(transport_error(P, what, e)),
            Err(_) => Err(api_error(what, status.as_u16(), &headers, &Value::Null)),
        }
    }

    /// Starts a resumable session; returns its URI.
    async fn start_session(
        &self,
        token: &str,
        video: &VideoFile,
        post: &PostMetadata,
    ) -> Result<String, PlatformError> {
        let what = "videos.insert";
        let response = self
            .http
            .post(format!(
                "{}/upload/youtube/v3/videos",
                self.endpoints.upload_base.trim_end_matches('/')
            ))
            .query(&[("uploadType", "resumable"), ("part", "snippet,status")])
            .bearer_auth(token)
            .header("X-Upload-Content-Length", video.size().to_string())
            .header("X-Upload-Content-Type", upload_content_type(video))
            .json(&video_resource(post))
            .send()
            .await
            .map_err(|e| transport_error(P, what, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            return headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| {
                    PlatformError::new(P, ErrorClass::Transient, "videos.insert: no session URI in the answer")
                });
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        Err(api_error(what, status.as_u16(), &headers, &body))
    }

    /// Sends the bytes to `session`, resuming after broken connections and 5xx;
    /// returns the video resource.
    async fn send_bytes(&self, session: &str, video: &VideoFile) -> Result<Value, PlatformError> {
        let total = video.size();
        let mut offset = 0u64;
        let mut resumes = 0u32;
        loop {
            let step = if offset >= total {
                // Everything sent but no final answer seen: ask.
                self.query_session(session, total).await
            } else {
                self.send_chunk(session, video, offset).await
            };
            let failure = match step {
                Ok(Step::Done(resource)) => return Ok(resource),
                Ok(Step::Received(next)) => {
                    if next <= offset && offset < total {
                        // No progress: count it as a failure to resume from.
                        PlatformError::new(P, ErrorClass::Transient, "upload: the session accepted no bytes")
                    } else {
                        offset = next;
                        continue;
                    }
                }
                Err(e) if e.class == ErrorClass::Transient && !session_expired(&e) => e,
                Err(e) => return Err(e),
            };
            // Broken connection or 5xx: back off, ask where the session stands, resume.
            loop {
                resumes += 1;
                if resumes > MAX_RESUMES {
                    return Err(failure);
                }
                tokio::time::sleep(self.resume_backoff * 2u32.pow((resumes - 1).min(5))).await;
                match self.query_session(session, total).await {
                    Ok(Step::Done(resource)) => return Ok(resource),
                    Ok(Step::Received(next)) => {
                        tracing::info!(received = next, total, "youtube upload resuming");
                        offset = next;
                        break;
                    }
                    Err(e) if e.class == ErrorClass::Transient && !session_expired(&e) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }

    async fn send_chunk(&self, session: &str, video: &VideoFile, offset: u64) -> Result<Step, PlatformError> {
        let total = video.size();
        let len = self.chunk_size.min(total - offset);
        let body = video
            .body(offset, len)
            .await
            .map_err(|e| PlatformError::new(P, ErrorClass::Permanent, format!("reading the video: {e}")))?;
        let response = self
            .http
            .put(session)
            .timeout(CHUNK_TIMEOUT)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(reqwest::header::CONTENT_TYPE, upload_content_type(video))
            .header(
                reqwest::header::CONTENT_RANGE,
                format!("bytes {offset}-{}/{total}", offset + len - 1),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(P, "upload", e))?;
        session_answer(response).await
    }

    async fn query_session(&self, session: &str, total: u64) -> Result<Step, PlatformError> {
        let response = self
            .http
            .put(session)
            .header(reqwest::header::CONTENT_LENGTH, 0)
            .header(reqwest::header::CONTENT_RANGE, format!("bytes */{total}"))
            .send()
            .await
            .map_err(|e| transport_error(P, "upload status", e))?;
        session_answer(response).await
    }
}

enum Step {
    /// The session holds bytes `0..n`.
    Received(u64),
    /// The upload completed: the video resource.
    Done(Value),
}

/// A 308 (with `Range`), a 200/201 (with the resource), or an error.
async fn session_answer(response: reqwest::Response) -> Result<Step, PlatformError> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    match status {
        308 => {
            let received = headers
                .get(reqwest::header::RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().strip_prefix("bytes="))
                .and_then(|v| v.split_once('-'))
                .and_then(|(_, last)| last.parse::<u64>().ok())
                .map_or(0, |last| last + 1);
            Ok(Step::Received(received))
        }
        200 | 201 => {
            let body: Value = response.json().await.map_err(|e| transport_error(P, "upload", e))?;
            if body["id"].is_string() {
                Ok(Step::Done(body))
            } else {
                Err(PlatformError::new(
                    P,
                    ErrorClass::Transient,
                    "upload: the answer named no video",
                ))
            }
        }
        404 => Err(PlatformError::new(
            P,
            ErrorClass::Transient,
            "upload: the resumable session expired; start the publish again",
        )
        .with_code(SESSION_EXPIRED)),
        _ => {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            Err(api_error("upload", status, &headers, &body))
        }
    }
}

/// A 404 from a resumable session: it expired; resuming cannot help, a new one can.
fn session_expired(error: &PlatformError) -> bool {
    error.platform_code.as_deref() == Some(SESSION_EXPIRED)
}

fn upload_content_type(video: &VideoFile) -> &str {
    if video.content_type.starts_with("video/") {
        &video.content_type
    } else {
        "application/octet-stream"
    }
}

/// Hashtags of the caption, as tags (without `#`).
fn hashtags(caption: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for word in caption.split_whitespace() {
        if let Some(tag) = word.strip_prefix('#') {
            let tag: String = tag.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !tag.is_empty() && !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    tags
}

/// The `videos.insert` body for a post.
fn video_resource(post: &PostMetadata) -> Value {
    let title = post
        .title
        .clone()
        .unwrap_or_else(|| post.caption.lines().next().unwrap_or("").trim().to_owned());
    let privacy = match post.privacy {
        Privacy::Public => "public",
        Privacy::FollowersOnly => "unlisted",
        Privacy::Private => "private",
    };
    json!({
        "snippet": {
            "title": title,
            "description": post.caption,
            "tags": hashtags(&post.caption),
            "categoryId": DEFAULT_CATEGORY_ID,
        },
        "status": {
            "privacyStatus": privacy,
            "selfDeclaredMadeForKids": false,
            "containsSyntheticMedia": false,
        },
    })
}

/// The next midnight Pacific (fixed UTC-8) after `now`.
pub fn next_quota_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    let day = (now.timestamp() + PACIFIC_OFFSET_SECS).div_euclid(86_400);
    DateTime::from_timestamp((day + 1) * 86_400 - PACIFIC_OFFSET_SECS, 0).expect("a valid time")
}

/// Which field a metadata reason is about.
fn metadata_field(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "invalidTitle" => "snippet.title",
        "invalidDescription" => "snippet.description",
        "invalidTags" => "snippet.tags",
        "invalidCategoryId" => "snippet.categoryId",
        "invalidPublishAt" => "status.publishAt",
        "defaultLanguageNotSet" => "snippet.defaultLanguage",
        "invalidFilename" => "filename",
        "invalidVideoMetadata" => "metadata",
        _ => return None,
    })
}

/// Classifies an answer in Google's API error envelope.
fn api_error(what: &str, status: u16, headers: &reqwest::header::HeaderMap, body: &Value) -> PlatformError {
    let error = &body["error"];
    let reason = error["errors"][0]["reason"]
        .as_str()
        .or_else(|| error["status"].as_str())
        .unwrap_or("")
        .to_owned();
    let message = error["message"].as_str().unwrap_or("").to_owned();
    let text = if message.is_empty() {
        format!("{what}: HTTP {status} {reason}")
    } else {
        format!("{what}: HTTP {status} {reason}: {message}")
    };
    let base = |class| {
        let e = PlatformError::new(P, class, text.clone());
        if reason.is_empty() {
            e
        } else {
            e.with_code(reason.clone())
        }
    };
    match (status, reason.as_str()) {
        (_, "quotaExceeded" | "dailyLimitExceeded" | "uploadLimitExceeded") => {
            base(ErrorClass::QuotaExhausted).with_reset_at(next_quota_reset(Utc::now()))
        }
        (_, "rateLimitExceeded" | "userRateLimitExceeded" | "RESOURCE_EXHAUSTED") | (429, _) => {
            base(ErrorClass::RateLimited).with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RATE_LIMIT_RETRY))
        }
        (_, r) if metadata_field(r).is_some() => {
            base(ErrorClass::InvalidMetadata).with_field(metadata_field(r).unwrap_or(""))
        }
        (_, "mediaBodyRequired" | "badContent" | "invalidFile") => base(ErrorClass::InvalidMedia),
        (401, "youtubeSignupRequired") => base(ErrorClass::Permanent),
        (401, _) => base(ErrorClass::AuthExpired),
        (500..=599, _) | (_, "backendError" | "internalError") => base(ErrorClass::Transient),
        _ => base(ErrorClass::Permanent),
    }
}

/// Classifies an answer of the OAuth token endpoint.
fn oauth_error(what: &str, status: u16, headers: &reqwest::header::HeaderMap, body: &Value) -> PlatformError {
    let code = body["error"].as_str().unwrap_or("").to_owned();
    let description = body["error_description"].as_str().unwrap_or("");
    let text = format!("{what}: HTTP {status} {code} {description}")
        .trim_end()
        .to_owned();
    let class = match (status, code.as_str()) {
        (_, "invalid_grant") => ErrorClass::AuthRevoked,
        (429, _) => ErrorClass::RateLimited,
        (500..=599, _) => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    let mut e = PlatformError::new(P, class, text);
    if !code.is_empty() {
        e = e.with_code(code);
    }
    if class == ErrorClass::RateLimited {
        e = e.with_retry_after(retry_after(headers).unwrap_or(DEFAULT_RATE_LIMIT_RETRY));
    }
    e
}

fn token_set(body: &Value) -> TokenSet {
    TokenSet {
        access_token: body["access_token"].as_str().unwrap_or("").to_owned(),
        refresh_token: body["refresh_token"].as_str().map(str::to_owned),
        access_expires_in_secs: body["expires_in"].as_u64(),
        refresh_expires_in_secs: body["refresh_token_expires_in"].as_u64(),
        scopes: body["scope"]
            .as_str()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        subject: None,
    }
}

/// What a local ffprobe says about the video: `(width, height, duration)`, or
/// `None` when it cannot tell (then the platform decides).
async fn local_probe(video: &VideoFile) -> Option<(u64, u64, f64)> {
    let output = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(video.path())
        .output()
        .await
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let json: Value = serde_json::from_slice(&output.stdout).ok()?;
    let stream = json["streams"]
        .as_array()?
        .iter()
        .find(|s| s["codec_type"] == "video")?;
    let (mut width, mut height) = (stream["width"].as_u64()?, stream["height"].as_u64()?);
    // A rotated stream displays the other way round.
    let rotation = stream["side_data_list"]
        .as_array()
        .and_then(|l| l.iter().find_map(|d| d["rotation"].as_i64()))
        .or_else(|| stream["tags"]["rotate"].as_str().and_then(|r| r.parse().ok()))
        .unwrap_or(0);
    if rotation.rem_euclid(180) == 90 {
        std::mem::swap(&mut width, &mut height);
    }
    let duration = json["format"]["duration"].as_str()?.parse::<f64>().ok()?;
    Some((width, height, duration))
}

fn count(value: &Value) -> Option<u64> {
    value.as_str().and_then(|s| s.parse().ok()).or_else(|| value.as_u64())
}

fn comment_of(value: &Value, parent: Option<&str>) -> Comment {
    let snippet = &value["snippet"];
    Comment {
        id: value["id"].as_str().unwrap_or("").to_owned(),
        text: snippet["textOriginal"]
            .as_str()
            .or_else(|| snippet["textDisplay"].as_str())
            .unwrap_or("")
            .to_owned(),
        author: snippet["authorDisplayName"].as_str().unwrap_or("").to_owned(),
        published_at: snippet["publishedAt"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc)),
        parent_id: parent
            .map(str::to_owned)
            .or_else(|| snippet["parentId"].as_str().map(str::to_owned)),
    }
}

#[async_trait::async_trait]
impl PlatformAdapter for YouTube {
    fn platform(&self) -> Platform {
        P
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> Result<String, PlatformError> {
        let mut url = url::Url::parse(&format!("{}/o/oauth2/v2/auth", self.auth_base()))
            .map_err(|e| PlatformError::new(P, ErrorClass::Permanent, format!("auth base URL: {e}")))?;
        let scopes = if request.scopes.is_empty() {
            DEFAULT_SCOPES.join(" ")
        } else {
            request.scopes.join(" ")
        };
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.endpoints.client_id)
                .append_pair("redirect_uri", &request.redirect_uri)
                .append_pair("response_type", "code")
                .append_pair("scope", &scopes)
                .append_pair("state", &request.state)
                .append_pair("access_type", "offline")
                .append_pair("prompt", "consent")
                .append_pair("include_granted_scopes", "true");
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
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", self.endpoints.client_id.as_str()),
            ("client_secret", self.endpoints.client_secret.as_str()),
        ];
        if let Some(v) = pkce_verifier {
            form.push(("code_verifier", v));
        }
        let body = self.token_request("code exchange", &form).await?;
        Ok(token_set(&body))
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, PlatformError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", self.endpoints.client_id.as_str()),
            ("client_secret", self.endpoints.client_secret.as_str()),
        ];
        let body = self.token_request("token refresh", &form).await?;
        // Google does not rotate: no refresh_token in the answer means "keep yours".
        Ok(token_set(&body))
    }

    /// Revokes the grant (all its tokens). A token Google no longer knows
    /// (`invalid_token`: already revoked or expired) counts as revoked.
    async fn revoke(&self, token: &str) -> Result<(), PlatformError> {
        let response = self
            .http
            .post(format!("{}/revoke", self.token_base()))
            .form(&[("token", token)])
            .send()
            .await
            .map_err(|e| transport_error(P, "revoke", e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let headers = response.headers().clone();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if body["error"] == "invalid_token" {
            return Ok(());
        }
        Err(oauth_error("revoke", status, &headers, &body))
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

    async fn publish(
        &self,
        access_token: &str,
        account_id: &str,
        video: &VideoFile,
        post: &PostMetadata,
    ) -> Result<PublishHandle, PlatformError> {
        if video.size() == 0 {
            return Err(
                PlatformError::new(P, ErrorClass::InvalidMedia, "the video file is empty").with_code("emptyFile"),
            );
        }
        if let Some((width, height, duration)) = local_probe(video).await
            && (width > height || duration > SHORT_MAX_SECS)
        {
            return Err(PlatformError::new(
                P,
                ErrorClass::InvalidMedia,
                format!(
                    "not a Short: {width}x{height}, {duration:.1} s \
                     (a Short is square or vertical and at most {SHORT_MAX_SECS} s)"
                ),
            )
            .with_code("notShort"));
        }
        let session = self.start_session(access_token, video, post).await?;
        let resource = match self.send_bytes(&session, video).await {
            // The session is gone (Google answers 404): start again from byte 0, once.
            Err(e) if session_expired(&e) => {
                tracing::info!("youtube upload session expired; starting a new one");
                let session = self.start_session(access_token, video, post).await?;
                self.send_bytes(&session, video).await?
            }
            other => other?,
        };
        let id = resource["id"].as_str().unwrap_or("").to_owned();
        Ok(PublishHandle {
            id,
            account_id: account_id.to_owned(),
        })
    }

    async fn publish_status(&self, access_token: &str, handle: &PublishHandle) -> Result<PublishStatus, PlatformError> {
        let body = self
            .get(
                "videos.list",
                access_token,
                "/youtube/v3/videos",
                &[("part", "status,processingDetails"), ("id", handle.id.as_str())],
            )
            .await?;
        let Some(item) = body["items"].as_array().and_then(|i| i.first()) else {
            return Ok(PublishStatus::Failed {
                error: format!("video {} not found (deleted?)", handle.id),
                class: ErrorClass::Permanent,
            });
        };
        let status = &item["status"];
        let processing = item["processingDetails"]["processingStatus"].as_str().unwrap_or("");
        Ok(match status["uploadStatus"].as_str().unwrap_or("") {
            "processed" => PublishStatus::Published {
                post_id: handle.id.clone(),
                url: Some(format!("https://www.youtube.com/shorts/{}", handle.id)),
            },
            "failed" => PublishStatus::Failed {
                error: format!(
                    "failureReason: {}",
                    status["failureReason"].as_str().unwrap_or("unknown")
                ),
                class: ErrorClass::InvalidMedia,
            },
            "rejected" => {
                let reason = status["rejectionReason"].as_str().unwrap_or("unknown");
                PublishStatus::Failed {
                    error: format!("rejectionReason: {reason}"),
                    class: if reason == "length" {
                        ErrorClass::InvalidMedia
                    } else {
                        ErrorClass::Permanent
                    },
                }
            }
            "deleted" => PublishStatus::Failed {
                error: "the video was deleted".into(),
                class: ErrorClass::Permanent,
            },
            other => PublishStatus::Processing {
                detail: if processing.is_empty() {
                    other.to_owned()
                } else {
                    format!("{other}; {processing}")
                },
            },
        })
    }

    async fn metrics(&self, access_token: &str, post_ids: &[String]) -> Result<Vec<PostMetrics>, PlatformError> {
        let mut metrics = Vec::new();
        for ids in post_ids.chunks(50) {
            let ids = ids.join(",");
            let body = self
                .get(
                    "videos.list",
                    access_token,
                    "/youtube/v3/videos",
                    &[("part", "statistics"), ("id", ids.as_str())],
                )
                .await?;
            for item in body["items"].as_array().into_iter().flatten() {
                let stats = &item["statistics"];
                metrics.push(PostMetrics {
                    post_id: item["id"].as_str().unwrap_or("").to_owned(),
                    views: count(&stats["viewCount"]),
                    likes: count(&stats["likeCount"]),
                    comments: count(&stats["commentCount"]),
                    shares: None,
                    saves: None,
                    reach: None,
                    watch_time_secs: None,
                    raw: stats.clone(),
                });
            }
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
        let mut comments = Vec::new();
        for thread in body["items"].as_array().into_iter().flatten() {
            let top = &thread["snippet"]["topLevelComment"];
            let top_id = top["id"].as_str().unwrap_or("").to_owned();
            comments.push(comment_of(top, None));
            for reply in thread["replies"]["comments"].as_array().into_iter().flatten() {
                comments.push(comment_of(reply, Some(&top_id)));
            }
        }
        Ok(CommentPage {
            comments,
            next_cursor: body["nextPageToken"].as_str().map(str::to_owned),
        })
    }
}
