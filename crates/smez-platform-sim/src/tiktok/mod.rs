//! The TikTok simulator: Login Kit v2 OAuth and the Content Posting / Display
//! APIs, under `/tiktok` with TikTok's real paths below it (platforms.md §2).
//!
//! One test client is registered: client key [`CLIENT_KEY`] (`sim-client`),
//! secret [`CLIENT_SECRET`] (`sim-secret`). Every login is the one simulated
//! creator [`OPEN_ID`] (TikTok logins hold one account).
//!
//! Paths (all under `/tiktok`) and their fault-injection endpoint names:
//!
//! | path | fault endpoint |
//! |---|---|
//! | `GET /v2/auth/authorize/` | `tiktok.authorize` |
//! | `POST /v2/oauth/token/` (code and refresh grants) | `tiktok.token` |
//! | `POST /v2/oauth/revoke/` | `tiktok.revoke` |
//! | `GET /v2/user/info/` | `tiktok.user_info` |
//! | `POST /v2/post/publish/creator_info/query/` | `tiktok.creator_info` |
//! | `POST /v2/post/publish/video/init/` | `tiktok.init` |
//! | `PUT /upload/{id}?upload_token=…` (the opaque `upload_url`) | `tiktok.upload` |
//! | `POST /v2/post/publish/status/fetch/` | `tiktok.status` |
//! | `POST /v2/video/query/` | `tiktok.video_query` |
//!
//! Consent: deny and unticked scopes are honoured; `accounts` is ignored (a
//! TikTok login is one account).
//!
//! Behaviour, on the core clock:
//! - codes live [`CODE_TTL_SECS`] and work once; PKCE S256 is verified when the
//!   authorize sent a challenge (base64url or hex of SHA-256 both accepted, as
//!   TikTok's own samples disagree);
//! - access tokens live [`ACCESS_TTL_SECS`] (2 h), refresh tokens
//!   [`REFRESH_TTL_SECS`] (180 d) and ROTATE: a refresh issues a new refresh
//!   token and the old one answers `invalid_grant`;
//! - revoking a token revokes the whole grant (access and refresh tokens);
//! - an expired access token answers 401 `access_token_invalid` with the message
//!   "The access token has expired."; a revoked one the same code with
//!   "The access token has been revoked." (TikTok uses one code for both: the
//!   message is the only difference);
//! - per-token rate limits per rolling minute: creator_info 20, init 6, status 30,
//!   user info and video query 600 → HTTP 429 `rate_limit_exceeded` with `Retry-After`;
//! - a creator may post [`DAILY_POST_CAP`] times per rolling 24 h (UNVERIFIED
//!   number): beyond, creator_info answers HTTP **200** with
//!   `spam_risk_too_many_posts` and init answers 403 with the same code;
//! - uploads: the chunk plan is checked at init (`invalid_param`), chunks are
//!   streamed to a temp file and checked against the plan (206 / 201, 416 when
//!   out of order, 403 once the 1 h `upload_url` expired, 404 unknown); the
//!   complete file is probed (container, codec, duration, frame rate, size) and
//!   deleted; the publish stays `PROCESSING_UPLOAD` for [`PROCESSING_SECS`],
//!   then is `PUBLISH_COMPLETE` (or `FAILED` with the `fail_reason`);
//! - metrics of a post grow with the clock after publishing.

mod creator;
mod media_rules;
mod oauth;
mod publishing;
mod upload;
mod videos;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::Shared;
use crate::records::AcceptedPost;
use crate::windows::RollingWindows;
use crate::wire::{form, found, secret};

pub const CLIENT_KEY: &str = "sim-client";
pub const CLIENT_SECRET: &str = "sim-secret";
/// The simulated creator every login is.
pub const OPEN_ID: &str = "sim-open-id-0001";
pub const USERNAME: &str = "sim.creator";
pub const NICKNAME: &str = "Sim Creator";
/// Authorization codes' lifetime (UNVERIFIED: TikTok does not document it).
pub const CODE_TTL_SECS: i64 = 600;
pub const ACCESS_TTL_SECS: i64 = 7200;
pub const REFRESH_TTL_SECS: i64 = 15_552_000;
/// The simulated creator's `max_video_post_duration_sec` (all creators: 3 min).
pub const CREATOR_MAX_DURATION_SECS: i64 = 180;
/// Developer-sent maximum duration.
pub const MAX_DURATION_SECS: f64 = 600.0;
pub const MAX_VIDEO_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Chunk bounds: "MB" is unverified (10^6 or 2^20), so the simulator accepts
/// both: the lower bound in decimal, the upper ones in binary.
pub const MIN_CHUNK_BYTES: u64 = 5_000_000;
pub const MAX_CHUNK_BYTES: u64 = 64 * 1024 * 1024;
pub const MAX_FINAL_CHUNK_BYTES: u64 = 128 * 1024 * 1024;
pub const MAX_CHUNKS: u64 = 1000;
pub const UPLOAD_URL_TTL_SECS: i64 = 3600;
/// How long processing takes after the last chunk.
pub const PROCESSING_SECS: i64 = 30;
/// Posts per creator per rolling 24 h before `spam_risk_too_many_posts` (UNVERIFIED; third parties say ~15).
pub const DAILY_POST_CAP: usize = 15;
pub const TITLE_MAX_UTF16: usize = 2200;
const RATE_CREATOR_INFO: usize = 20;
const RATE_INIT: usize = 6;
const RATE_STATUS: usize = 30;
const RATE_DISPLAY: usize = 600;

struct Grant {
    open_id: String,
    scopes: Vec<String>,
    revoked: bool,
}

struct CodeGrant {
    grant: u64,
    redirect_uri: String,
    challenge: Option<String>,
    expires_at: i64,
}

struct AccessToken {
    grant: u64,
    expires_at: i64,
}

struct RefreshToken {
    grant: u64,
    expires_at: i64,
    rotated: bool,
}

struct Upload {
    publish_id: String,
    token: String,
    expires_at: i64,
    video_size: u64,
    chunk_size: u64,
    chunk_count: u64,
    received: u64,
    path: PathBuf,
    /// The URL expired and the bytes received were deleted.
    discarded: bool,
}

struct Publish {
    open_id: String,
    title: String,
    public: bool,
    uploaded_bytes: u64,
    /// Set when the last chunk arrived: when processing ends and how.
    outcome: Option<(i64, Checked)>,
    post_id: Option<u64>,
}

/// What processing found: `(duration, width, height)` or the `fail_reason`.
type Checked = Result<(f64, u32, u32), String>;

struct Post {
    open_id: String,
    title: String,
    created_at: i64,
    duration: f64,
    width: u32,
    height: u32,
}

#[derive(Default)]
struct State_ {
    next_id: u64,
    grants: HashMap<u64, Grant>,
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    uploads: HashMap<String, Upload>,
    publishes: HashMap<String, Publish>,
    posts: HashMap<u64, Post>,
    /// Calls per endpoint and token in the rolling minute the rate limits count.
    rate: RollingWindows<60>,
    /// Posts per creator in the rolling day [`DAILY_POST_CAP`] counts.
    daily: RollingWindows<86_400>,
}

pub struct TikTokSim {
    core: Shared,
    state: Mutex<State_>,
}

type Sim = Arc<TikTokSim>;

impl Drop for TikTokSim {
    fn drop(&mut self) {
        if let Ok(state) = self.state.lock() {
            for upload in state.uploads.values() {
                let _ = std::fs::remove_file(&upload.path);
            }
        }
    }
}

pub fn router(core: Shared) -> Router {
    let sim = Arc::new(TikTokSim {
        core,
        state: Mutex::new(State_ {
            next_id: 1,
            ..Default::default()
        }),
    });
    Router::new()
        .route("/v2/auth/authorize/", get(oauth::authorize))
        .route("/v2/oauth/token/", post(oauth::token))
        .route("/v2/oauth/revoke/", post(oauth::revoke))
        .route("/v2/user/info/", get(creator::user_info))
        .route("/v2/post/publish/creator_info/query/", post(creator::creator_info))
        .route("/v2/post/publish/video/init/", post(publishing::init))
        .route("/upload/{id}", put(upload::upload))
        .route("/v2/post/publish/status/fetch/", post(publishing::status))
        .route("/v2/video/query/", post(videos::video_query))
        .with_state(sim)
}

fn log_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description, "log_id": log_id()})),
    )
        .into_response()
}

fn ok(data: Value) -> Response {
    axum::Json(json!({"data": data, "error": {"code": "ok", "message": "", "log_id": log_id()}})).into_response()
}

fn biz_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"data": {}, "error": {"code": code, "message": message, "log_id": log_id()}})),
    )
        .into_response()
}

fn rate_limited(retry_after: i64) -> Response {
    let mut response = biz_error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_exceeded",
        "API rate limit was exceeded, please try again later.",
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        retry_after.max(1).to_string().parse().expect("a header value"),
    );
    response
}

impl State_ {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// The caller's grant, or the platform's 401.
fn bearer(
    sim: &TikTokSim,
    state: &State_,
    headers: &HeaderMap,
    scope: &str,
) -> Result<(String, String), Box<Response>> {
    let invalid = |message: &str| Box::new(biz_error(StatusCode::UNAUTHORIZED, "access_token_invalid", message));
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| invalid("The access token is invalid or not found in the request."))?;
    let access = state
        .access
        .get(token)
        .ok_or_else(|| invalid("The access token is invalid or not found in the request."))?;
    let grant = &state.grants[&access.grant];
    if grant.revoked {
        return Err(invalid("The access token has been revoked."));
    }
    if access.expires_at <= sim.core.clock.now_secs() {
        return Err(invalid("The access token has expired."));
    }
    if !grant.scopes.iter().any(|s| s == scope) {
        return Err(Box::new(biz_error(
            StatusCode::UNAUTHORIZED,
            "scope_not_authorized",
            &format!("The user did not authorize the scope required for completing this request: {scope}."),
        )));
    }
    Ok((token.to_owned(), grant.open_id.clone()))
}
