//! The YouTube simulator: Google OAuth 2.0 (web-server flow) and the parts of
//! the YouTube Data API v3 Smez uses, under `{origin}/youtube` with the real
//! paths below that prefix (`shared/design/platforms.md` §4).
//!
//! Routes, with their fault-injection endpoint names:
//!
//! - `GET  /o/oauth2/v2/auth` (fault: `youtube.authorize`): redirects straight back
//!   with `code`, `scope` and `state` (or `error=access_denied`), per
//!   [`crate::consent`]; `accounts: N` gives the login N channels.
//! - `POST /token` (fault: `youtube.token`): `authorization_code` and
//!   `refresh_token` grants (form). Google does **not** rotate refresh tokens:
//!   a refresh answers without `refresh_token` and the old one keeps working,
//!   until [`REFRESH_TOKEN_TESTING_LIFETIME_SECS`] after it was issued (apps in
//!   "testing"), then `invalid_grant`.
//! - `POST /revoke` (fault: `youtube.revoke`): revokes the whole grant.
//! - `GET  /youtube/v3/channels?mine=true` (fault: `youtube.channels`).
//! - `POST /upload/youtube/v3/videos?uploadType=resumable` (fault: `youtube.insert`):
//!   starts a resumable session (metadata validated here), answers 200 with
//!   `Location`.
//! - `PUT  /upload/youtube/v3/videos?upload_id=…` (fault: `youtube.upload`): the
//!   bytes, whole or in chunks with `Content-Range` (308 `Resume Incomplete`
//!   with `Range` until complete, then 201 with the video resource), and
//!   `bytes */total` status queries. A `drop` fault on `youtube.upload` takes
//!   half of that chunk's bytes, then breaks the connection (an upload cut
//!   mid-chunk); a `status` fault reads (and discards) the chunk, then
//!   answers. Bytes stream to a temp file, probed at completion, then deleted
//!   (those of abandoned sessions when they expire or the sim stops).
//! - `GET  /youtube/v3/videos?part=…&id=…` (fault: `youtube.videos`): status,
//!   processing details, snippet, statistics (growing with simulated time).
//! - `GET  /youtube/v3/commentThreads?videoId=…` (fault: `youtube.comment_threads`):
//!   threads with replies, paginated with `pageToken`.
//! - `GET  /_sim/videos/{id}` (not YouTube; no fault hook): the simulator's own
//!   record of a video, e.g. whether it counts as a Short (`is_short`).
//!
//! Test client: [`CLIENT_ID`] / [`CLIENT_SECRET`]. Any absolute `http(s)`
//! redirect URI is accepted (the sim has no console to register them in), but
//! the token request must repeat it exactly.
//!
//! Quota: uploads (`videos.insert`) have their own bucket of
//! [`UPLOAD_CALLS_PER_DAY`] calls; every other method costs its units out of
//! [`UNITS_PER_DAY`]. Both reset at midnight Pacific, taken as fixed UTC-8
//! (daylight saving time ignored).
//!
//! Processing takes [`PROCESSING_SECS`] of simulated time after the last byte
//! (`uploadStatus: uploaded`, `processingStatus: processing`), then the probed
//! bytes decide: `processed`, `failed` (`invalidFile` when ffprobe cannot read
//! them, `codec` without a video stream) or `rejected` (`length`, over 12 h).
//!
//! Not modelled: the channel's own `uploadLimitExceeded`, the "unaudited
//! project → locked private" rule, rate limits (inject them as faults), and
//! the choice of channel on upload (a video goes to the login's first channel).

mod channels;
mod comments;
mod metadata;
mod oauth;
mod quota;
mod upload;
mod videos;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::Shared;
use crate::faults::FaultKind;
use crate::probe::VideoFacts;
use crate::records::AcceptedPost;
use crate::wire::{form, found, random_hex};

use quota::{Bucket, Quota};

/// The one registered OAuth client.
pub const CLIENT_ID: &str = "sim-client";
pub const CLIENT_SECRET: &str = "sim-secret";
/// Access tokens: about one hour, as Google answers (`expires_in: 3599`).
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 3599;
/// Refresh tokens of an app in "testing" publishing status expire after 7 days.
pub const REFRESH_TOKEN_TESTING_LIFETIME_SECS: i64 = 7 * 86_400;
/// Authorization codes (UNVERIFIED: Google documents them as short-lived).
pub const CODE_LIFETIME_SECS: i64 = 600;
/// Resumable sessions (UNVERIFIED: finite but undocumented; about a week is observed).
pub const UPLOAD_SESSION_LIFETIME_SECS: i64 = 7 * 86_400;
/// How long processing takes after the last byte, on the simulated clock.
pub const PROCESSING_SECS: i64 = 30;
/// Daily `videos.insert` calls (their own bucket since 2026-06-01).
pub const UPLOAD_CALLS_PER_DAY: u64 = 100;
/// Daily units for every other method.
pub const UNITS_PER_DAY: u64 = 10_000;
/// Pacific time as a fixed offset (UTC-8; daylight saving time ignored).
pub const PACIFIC_OFFSET_SECS: i64 = -8 * 3600;
/// Non-final chunks must be multiples of this.
pub const CHUNK_GRANULARITY: u64 = 256 * 1024;
/// YouTube's own caps: 256 GB, 12 h.
pub const MAX_UPLOAD_BYTES: u64 = 256 * 1024 * 1024 * 1024;
pub const MAX_DURATION_SECS: f64 = 12.0 * 3600.0;
/// Shorts: square or vertical and at most this long.
pub const SHORT_MAX_SECS: f64 = 180.0;
/// Simulated audience: a view every this many seconds after processing.
const SECS_PER_VIEW: i64 = 6;
/// A new comment thread every this many seconds after processing (at most [`MAX_THREADS`]).
const SECS_PER_COMMENT: i64 = 600;
const MAX_THREADS: i64 = 500;

const SCOPE_UPLOAD: &str = "https://www.googleapis.com/auth/youtube.upload";
const SCOPE_READONLY: &str = "https://www.googleapis.com/auth/youtube.readonly";
const SCOPE_FORCE_SSL: &str = "https://www.googleapis.com/auth/youtube.force-ssl";
const SCOPE_YOUTUBE: &str = "https://www.googleapis.com/auth/youtube";

const PLATFORM: &str = "youtube";

#[derive(Clone)]
struct Channel {
    id: String,
    title: String,
    handle: String,
}

struct PendingCode {
    redirect_uri: String,
    scopes: Vec<String>,
    channels: Vec<Channel>,
    challenge: Option<(String, String)>,
    offline: bool,
    expires_at: DateTime<Utc>,
    used: bool,
}

struct Grant {
    scopes: Vec<String>,
    channels: Vec<Channel>,
    revoked: bool,
}

struct AccessToken {
    grant: usize,
    expires_at: DateTime<Utc>,
}

struct RefreshToken {
    grant: usize,
    expires_at: DateTime<Utc>,
}

#[derive(Clone)]
struct Session {
    channel_id: String,
    metadata: Value,
    total: u64,
    received: u64,
    path: PathBuf,
    expires_at: DateTime<Utc>,
    /// The final answer, repeated to later status queries.
    result: Option<Value>,
}

struct Video {
    id: String,
    channel_id: String,
    metadata: Value,
    bytes: u64,
    uploaded_at: DateTime<Utc>,
    facts: Result<VideoFacts, String>,
    is_short: bool,
}

impl Video {
    fn processed_at(&self) -> DateTime<Utc> {
        self.uploaded_at + Duration::seconds(PROCESSING_SECS)
    }

    /// `(uploadStatus, processingStatus, failureReason, rejectionReason)` at `now`.
    fn state(&self, now: DateTime<Utc>) -> (&'static str, &'static str, Option<&'static str>, Option<&'static str>) {
        if now < self.processed_at() {
            return ("uploaded", "processing", None, None);
        }
        match &self.facts {
            Err(_) => ("failed", "failed", Some("invalidFile"), None),
            Ok(facts) if facts.video_codec.is_none() || facts.width == 0 || facts.height == 0 => {
                ("failed", "failed", Some("codec"), None)
            }
            Ok(facts) if facts.duration_secs > MAX_DURATION_SECS => ("rejected", "terminated", None, Some("length")),
            Ok(_) => ("processed", "succeeded", None, None),
        }
    }

    fn privacy(&self) -> &str {
        self.metadata["status"]["privacyStatus"].as_str().unwrap_or("private")
    }

    /// Seconds live (0 before processing succeeded or while private).
    fn live_secs(&self, now: DateTime<Utc>) -> i64 {
        if self.state(now).0 != "processed" || self.privacy() == "private" {
            return 0;
        }
        (now - self.processed_at()).num_seconds().max(0)
    }

    fn threads(&self, now: DateTime<Utc>) -> i64 {
        (self.live_secs(now) / SECS_PER_COMMENT).min(MAX_THREADS)
    }
}

#[derive(Default)]
struct State_ {
    codes: HashMap<String, PendingCode>,
    grants: Vec<Grant>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    sessions: HashMap<String, Session>,
    videos: HashMap<String, Video>,
    quota: Quota,
}

struct YouTubeSim {
    core: Shared,
    state: Mutex<State_>,
}

type Yt = Arc<YouTubeSim>;

impl Drop for YouTubeSim {
    /// Bytes of sessions never completed go with the simulator.
    fn drop(&mut self) {
        if let Ok(state) = self.state.lock() {
            for session in state.sessions.values().filter(|s| s.result.is_none()) {
                let _ = std::fs::remove_file(&session.path);
            }
        }
    }
}

pub fn router(core: Shared) -> Router {
    let yt = Arc::new(YouTubeSim {
        core,
        state: Mutex::new(State_::default()),
    });
    Router::new()
        .route("/o/oauth2/v2/auth", get(oauth::authorize))
        .route("/token", post(oauth::token))
        .route("/revoke", post(oauth::revoke))
        .route("/youtube/v3/channels", get(channels::channels))
        .route("/upload/youtube/v3/videos", post(upload::insert).put(upload::upload))
        .route("/youtube/v3/videos", get(videos::videos))
        .route("/youtube/v3/commentThreads", get(comments::comment_threads))
        .route("/_sim/videos/{id}", get(videos::sim_video))
        .with_state(yt)
}

/// Google's API error envelope.
fn google_error(status: u16, reason: &str, domain: &str, message: &str) -> Response {
    let status_text = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    let body = json!({"error": {
        "code": status,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
        "status": status_text,
    }});
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(body),
    )
        .into_response();
    if status == 401 {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\""),
        );
    }
    response
}

/// OAuth endpoint errors: `{"error", "error_description"}`.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

impl YouTubeSim {
    fn now(&self) -> DateTime<Utc> {
        self.core.clock.now()
    }

    /// The grant behind a bearer token with one of `scopes`, or Google's 401/403.
    #[allow(clippy::result_large_err, reason = "the error is the handler's early answer")]
    fn authenticate(&self, headers: &HeaderMap, scopes: &[&str]) -> Result<usize, Response> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let now = self.now();
        let state = self.state.lock().expect("youtube lock");
        let invalid = || {
            google_error(
                401,
                "authError",
                "global",
                concat!(
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, ",
                    "login cookie or other valid authentication credential."
                ),
            )
        };
        let Some(access) = state.access.get(token) else {
            return Err(invalid());
        };
        let grant = &state.grants[access.grant];
        if access.expires_at <= now || grant.revoked {
            return Err(invalid());
        }
        if !scopes.iter().any(|s| grant.scopes.iter().any(|g| g == s)) {
            return Err(google_error(
                403,
                "insufficientPermissions",
                "global",
                "Request had insufficient authentication scopes.",
            ));
        }
        Ok(access.grant)
    }
}
