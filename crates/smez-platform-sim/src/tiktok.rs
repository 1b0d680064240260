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

use std::collections::{HashMap, VecDeque};
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
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::Shared;
use crate::records::AcceptedPost;

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
    rate: HashMap<String, VecDeque<i64>>,
    daily: HashMap<String, VecDeque<i64>>,
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
        .route("/v2/auth/authorize/", get(authorize))
        .route("/v2/oauth/token/", post(token))
        .route("/v2/oauth/revoke/", post(revoke))
        .route("/v2/user/info/", get(user_info))
        .route("/v2/post/publish/creator_info/query/", post(creator_info))
        .route("/v2/post/publish/video/init/", post(init))
        .route("/upload/{id}", put(upload))
        .route("/v2/post/publish/status/fetch/", post(status))
        .route("/v2/video/query/", post(video_query))
        .with_state(sim)
}

fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
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

fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

impl State_ {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Counts a call in a rolling minute; `Err(retry_after_secs)` beyond `limit`.
    fn hit(&mut self, key: String, limit: usize, now: i64) -> Result<(), i64> {
        let window = self.rate.entry(key).or_default();
        while window.front().is_some_and(|t| *t <= now - 60) {
            window.pop_front();
        }
        if window.len() >= limit {
            return Err(window.front().map(|t| t + 60 - now).unwrap_or(60));
        }
        window.push_back(now);
        Ok(())
    }

    fn posts_today(&mut self, open_id: &str, now: i64) -> usize {
        let window = self.daily.entry(open_id.to_owned()).or_default();
        while window.front().is_some_and(|t| *t <= now - 86_400) {
            window.pop_front();
        }
        window.len()
    }

    fn issue(&mut self, core: &Shared, grant: u64, now: i64) -> (String, String) {
        let access = random_token("act.");
        let refresh = random_token("rft.");
        self.access.insert(
            access.clone(),
            AccessToken {
                grant,
                expires_at: now + ACCESS_TTL_SECS,
            },
        );
        self.refresh.insert(
            refresh.clone(),
            RefreshToken {
                grant,
                expires_at: now + REFRESH_TTL_SECS,
                rotated: false,
            },
        );
        core.records.issued("tiktok", "access_token", &access);
        core.records.issued("tiktok", "refresh_token", &refresh);
        (access, refresh)
    }

    /// Moves publishes whose processing ended to their final state, and
    /// drops the bytes of uploads whose `upload_url` expired.
    fn settle(&mut self, core: &Shared, now: i64) {
        for upload in self
            .uploads
            .values_mut()
            .filter(|u| u.expires_at <= now && !u.discarded)
        {
            let _ = std::fs::remove_file(&upload.path);
            upload.discarded = true;
        }
        let due: Vec<String> = self
            .publishes
            .iter()
            .filter(|(_, p)| p.post_id.is_none() && matches!(p.outcome, Some((at, Ok(_))) if at <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for publish_id in due {
            let post_id = 7_300_000_000_000_000_000 + self.id();
            let publish = self.publishes.get_mut(&publish_id).expect("a due publish");
            let Some((at, Ok((duration, width, height)))) = publish.outcome.clone() else {
                continue;
            };
            publish.post_id = Some(post_id);
            self.posts.insert(
                post_id,
                Post {
                    open_id: publish.open_id.clone(),
                    title: publish.title.clone(),
                    created_at: at,
                    duration,
                    width,
                    height,
                },
            );
            core.records.post(AcceptedPost {
                platform: "tiktok".into(),
                post_id: post_id.to_string(),
                account_id: publish.open_id.clone(),
                caption: publish.title.clone(),
                bytes: publish.uploaded_bytes,
            });
        }
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

async fn authorize(State(sim): State<Sim>, Query(q): Query<HashMap<String, String>>) -> Response {
    crate::inject!(sim.core, "tiktok.authorize");
    if q.get("client_key").map(String::as_str) != Some(CLIENT_KEY) {
        return (StatusCode::BAD_REQUEST, "client_key: unknown client").into_response();
    }
    let Some(redirect) = q.get("redirect_uri").and_then(|r| url::Url::parse(r).ok()) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri: missing or not absolute").into_response();
    };
    if redirect.fragment().is_some() || redirect.query().is_some() {
        return (StatusCode::BAD_REQUEST, "redirect_uri: must be static").into_response();
    }
    let state_param = q.get("state").cloned().unwrap_or_default();
    let mut back = redirect.clone();
    if q.get("response_type").map(String::as_str) != Some("code") {
        back.query_pairs_mut()
            .append_pair("error", "unsupported_response_type")
            .append_pair("error_description", "response_type must be code")
            .append_pair("state", &state_param);
        return redirect_to(&back);
    }
    let challenge = q.get("code_challenge").cloned();
    if challenge.is_some() && q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        back.query_pairs_mut()
            .append_pair("error", "invalid_request")
            .append_pair("error_description", "code_challenge_method must be S256")
            .append_pair("state", &state_param);
        return redirect_to(&back);
    }
    let consent = sim.core.consent.take("tiktok");
    if consent.deny {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "The user denied the authorization request.")
            .append_pair("state", &state_param);
        return redirect_to(&back);
    }
    let scopes: Vec<String> = q
        .get("scope")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let granted: Vec<String> = scopes.into_iter().filter(|s| !consent.untick.contains(s)).collect();
    let code = random_token("");
    {
        let mut state = sim.state.lock().expect("tiktok state");
        let grant = state.id();
        state.grants.insert(
            grant,
            Grant {
                open_id: OPEN_ID.into(),
                scopes: granted.clone(),
                revoked: false,
            },
        );
        state.codes.insert(
            code.clone(),
            CodeGrant {
                grant,
                redirect_uri: redirect.to_string(),
                challenge,
                expires_at: sim.core.clock.now_secs() + CODE_TTL_SECS,
            },
        );
    }
    sim.core.records.issued("tiktok", "code", &code);
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("scopes", &granted.join(","))
        .append_pair("state", &state_param);
    redirect_to(&back)
}

fn redirect_to(url: &url::Url) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    challenge == b64 || challenge.eq_ignore_ascii_case(&hex)
}

async fn token(State(sim): State<Sim>, body: Bytes) -> Response {
    crate::inject!(sim.core, "tiktok.token");
    let f = form(&body);
    if f.get("client_key").map(String::as_str) != Some(CLIENT_KEY)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client key or secret is invalid.",
        );
    }
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let grant_id = match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(code) = f.get("code") else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "code is required.");
            };
            // A code works once, whatever happens next.
            let Some(issued) = state.codes.remove(code) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Authorization code is expired.",
                );
            };
            if issued.expires_at <= now {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Authorization code is expired.",
                );
            }
            if f.get("redirect_uri")
                .map(|r| url::Url::parse(r).map(|u| u.to_string()).unwrap_or_default())
                != Some(issued.redirect_uri.clone())
            {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri does not match.");
            }
            if let Some(challenge) = &issued.challenge {
                match f.get("code_verifier") {
                    Some(verifier) if pkce_matches(challenge, verifier) => {}
                    _ => {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_request",
                            "Code verifier or code challenge is invalid.",
                        );
                    }
                }
            }
            issued.grant
        }
        Some("refresh_token") => {
            let Some(refresh) = f.get("refresh_token") else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is required.");
            };
            let Some(record) = state.refresh.get_mut(refresh) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Refresh token is invalid.");
            };
            if record.rotated || record.expires_at <= now {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Refresh token is invalid or expired.",
                );
            }
            record.rotated = true;
            let grant = record.grant;
            if state.grants[&grant].revoked {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Refresh token is revoked.");
            }
            grant
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type is not supported.",
            );
        }
    };
    let (access, refresh) = state.issue(&sim.core, grant_id, now);
    let grant = &state.grants[&grant_id];
    axum::Json(json!({
        "open_id": grant.open_id,
        "scope": grant.scopes.join(","),
        "access_token": access,
        "expires_in": ACCESS_TTL_SECS,
        "refresh_token": refresh,
        "refresh_expires_in": REFRESH_TTL_SECS,
        "token_type": "Bearer",
    }))
    .into_response()
}

async fn revoke(State(sim): State<Sim>, body: Bytes) -> Response {
    crate::inject!(sim.core, "tiktok.revoke");
    let f = form(&body);
    if f.get("client_key").map(String::as_str) != Some(CLIENT_KEY)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client key or secret is invalid.",
        );
    }
    let Some(token) = f.get("token") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "token is required.");
    };
    let mut state = sim.state.lock().expect("tiktok state");
    let grant = state
        .access
        .get(token)
        .map(|a| a.grant)
        .or_else(|| state.refresh.get(token).map(|r| r.grant));
    if let Some(grant) = grant.and_then(|g| state.grants.get_mut(&g)) {
        grant.revoked = true;
    }
    axum::Json(json!({})).into_response()
}

async fn user_info(State(sim): State<Sim>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    crate::inject!(sim.core, "tiktok.user_info");
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let (token, open_id) = match bearer(&sim, &state, &headers, "user.info.basic") {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if let Err(after) = state.hit(format!("user_info:{token}"), RATE_DISPLAY, now) {
        return rate_limited(after);
    }
    let user = json!({
        "open_id": open_id,
        "union_id": format!("union-{open_id}"),
        "avatar_url": format!("{}/tiktok/avatar/{open_id}.jpg", sim.core.origin),
        "display_name": NICKNAME,
        "username": USERNAME,
    });
    let fields: Vec<&str> = q.get("fields").map(|f| f.split(',').collect()).unwrap_or_default();
    if fields.is_empty() {
        return biz_error(StatusCode::BAD_REQUEST, "invalid_params", "fields is required.");
    }
    let picked: serde_json::Map<String, Value> = fields
        .iter()
        .filter_map(|f| user.get(*f).map(|v| ((*f).to_owned(), v.clone())))
        .collect();
    ok(json!({ "user": picked }))
}

async fn creator_info(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    crate::inject!(sim.core, "tiktok.creator_info");
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let (token, open_id) = match bearer(&sim, &state, &headers, "video.publish") {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if let Err(after) = state.hit(format!("creator_info:{token}"), RATE_CREATOR_INFO, now) {
        return rate_limited(after);
    }
    if state.posts_today(&open_id, now) >= DAILY_POST_CAP {
        // HTTP 200, intentionally, as TikTok documents.
        return biz_error(
            StatusCode::OK,
            "spam_risk_too_many_posts",
            "The daily post cap from the API is reached for the current user.",
        );
    }
    ok(json!({
        "creator_avatar_url": format!("{}/tiktok/avatar/{open_id}.jpg", sim.core.origin),
        "creator_username": USERNAME,
        "creator_nickname": NICKNAME,
        "privacy_level_options": ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
        "comment_disabled": false,
        "duet_disabled": false,
        "stitch_disabled": false,
        "max_video_post_duration_sec": CREATOR_MAX_DURATION_SECS,
    }))
}

fn invalid_param(message: &str) -> Response {
    biz_error(StatusCode::BAD_REQUEST, "invalid_param", message)
}

/// Checks a FILE_UPLOAD chunk plan against the media transfer rules.
fn check_plan(video_size: u64, chunk_size: u64, count: u64) -> Result<(), String> {
    if video_size == 0 || chunk_size == 0 || count == 0 {
        return Err("source_info: video_size, chunk_size and total_chunk_count must be positive.".into());
    }
    if video_size > MAX_VIDEO_BYTES {
        return Err(format!("source_info.video_size: {video_size} exceeds the 4 GB limit."));
    }
    if video_size < MIN_CHUNK_BYTES {
        if chunk_size != video_size || count != 1 {
            return Err("source_info.chunk_size: a video under 5 MB must be uploaded as one chunk.".into());
        }
        return Ok(());
    }
    if !(MIN_CHUNK_BYTES..=MAX_CHUNK_BYTES).contains(&chunk_size) {
        return Err(format!(
            "source_info.chunk_size: {chunk_size} is outside 5 MB to 64 MB."
        ));
    }
    if chunk_size > video_size {
        return Err("source_info.chunk_size: larger than video_size.".into());
    }
    if count != video_size / chunk_size {
        return Err(format!(
            "source_info.total_chunk_count: {count} should be floor(video_size / chunk_size) = {}.",
            video_size / chunk_size
        ));
    }
    if count > MAX_CHUNKS {
        return Err("source_info.total_chunk_count: at most 1000 chunks.".into());
    }
    let last = video_size - (count - 1) * chunk_size;
    if last > MAX_FINAL_CHUNK_BYTES {
        return Err("source_info.chunk_size: the final chunk would exceed 128 MB.".into());
    }
    Ok(())
}

async fn init(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    crate::inject!(sim.core, "tiktok.init");
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let (token, open_id) = match bearer(&sim, &state, &headers, "video.publish") {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if let Err(after) = state.hit(format!("init:{token}"), RATE_INIT, now) {
        return rate_limited(after);
    }
    state.settle(&sim.core, now);
    if state.posts_today(&open_id, now) >= DAILY_POST_CAP {
        return biz_error(
            StatusCode::FORBIDDEN,
            "spam_risk_too_many_posts",
            "The daily post cap from the API is reached for the current user.",
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return invalid_param("The request body is not valid JSON.");
    };
    let info = &request["post_info"];
    let privacy = info["privacy_level"].as_str().unwrap_or_default();
    if !["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"].contains(&privacy) {
        return biz_error(
            StatusCode::FORBIDDEN,
            "privacy_level_option_mismatch",
            "post_info.privacy_level is missing or not one of the creator's privacy_level_options.",
        );
    }
    let title = info["title"].as_str().unwrap_or_default().to_owned();
    let units = title.encode_utf16().count();
    if units > TITLE_MAX_UTF16 {
        return invalid_param(&format!(
            "post_info.title: {units} UTF-16 code units exceed the limit of {TITLE_MAX_UTF16}."
        ));
    }
    let source = &request["source_info"];
    if source["source"].as_str() != Some("FILE_UPLOAD") {
        return invalid_param("source_info.source: only FILE_UPLOAD is supported by this simulator.");
    }
    let number = |k: &str| source[k].as_u64().unwrap_or(0);
    let (video_size, chunk_size, count) = (number("video_size"), number("chunk_size"), number("total_chunk_count"));
    if let Err(message) = check_plan(video_size, chunk_size, count) {
        return invalid_param(&message);
    }
    state.daily.entry(open_id.clone()).or_default().push_back(now);
    let n = state.id();
    let publish_id = format!("v_pub_file~v2-1.{n}");
    let upload_id = format!("{n}{}", uuid::Uuid::new_v4().simple());
    let upload_token = random_token("");
    let path = std::env::temp_dir().join(format!("smez-sim-tiktok-{upload_id}.upload"));
    state.uploads.insert(
        upload_id.clone(),
        Upload {
            publish_id: publish_id.clone(),
            token: upload_token.clone(),
            expires_at: now + UPLOAD_URL_TTL_SECS,
            video_size,
            chunk_size,
            chunk_count: count,
            received: 0,
            path,
            discarded: false,
        },
    );
    state.publishes.insert(
        publish_id.clone(),
        Publish {
            open_id,
            title,
            public: privacy == "PUBLIC_TO_EVERYONE",
            uploaded_bytes: 0,
            outcome: None,
            post_id: None,
        },
    );
    ok(json!({
        "publish_id": publish_id,
        "upload_url": format!("{}/tiktok/upload/{upload_id}?upload_token={upload_token}", sim.core.origin),
    }))
}

fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?, total.parse().ok()?))
}

fn upload_answer(status: StatusCode, received: u64, total: u64, message: &str) -> Response {
    let mut response = (status, message.to_owned()).into_response();
    if received > 0 {
        let range = format!("bytes 0-{}/{total}", received - 1);
        response
            .headers_mut()
            .insert(header::CONTENT_RANGE, range.parse().expect("a header value"));
    }
    response
}

async fn upload(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    crate::inject!(sim.core, "tiktok.upload");
    let now = sim.core.clock.now_secs();
    let (first, last, total, path) = {
        let mut state = sim.state.lock().expect("tiktok state");
        let Some(upload) = state.uploads.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, "no such upload task").into_response();
        };
        if q.get("upload_token") != Some(&upload.token) {
            return (StatusCode::FORBIDDEN, "upload_token is invalid").into_response();
        }
        if upload.expires_at <= now {
            let _ = std::fs::remove_file(&upload.path);
            return (StatusCode::FORBIDDEN, "upload_url has expired").into_response();
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !["video/mp4", "video/quicktime", "video/webm"].contains(&content_type) {
            return (
                StatusCode::BAD_REQUEST,
                "Content-Type must be video/mp4, video/quicktime or video/webm",
            )
                .into_response();
        }
        let Some((first, last, total)) = headers
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_content_range)
        else {
            return (StatusCode::BAD_REQUEST, "Content-Range is missing or malformed").into_response();
        };
        let index = upload.received / upload.chunk_size;
        let expected_last = if index + 1 >= upload.chunk_count {
            upload.video_size - 1
        } else {
            upload.received + upload.chunk_size - 1
        };
        if total != upload.video_size || first != upload.received || last != expected_last {
            return upload_answer(
                StatusCode::RANGE_NOT_SATISFIABLE,
                upload.received,
                upload.video_size,
                "Content-Range does not match the upload progress",
            );
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n != last - first + 1) {
            return (StatusCode::BAD_REQUEST, "Content-Length does not match Content-Range").into_response();
        }
        (first, last, total, upload.path.clone())
    };
    let written = write_chunk(&path, first, last - first + 1, body).await;
    let (publish_id, received, finished) = {
        let mut state = sim.state.lock().expect("tiktok state");
        let Some(upload) = state.uploads.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, "no such upload task").into_response();
        };
        if let Err(message) = written {
            return upload_answer(StatusCode::BAD_REQUEST, upload.received, total, &message);
        }
        upload.received = last + 1;
        let publish_id = upload.publish_id.clone();
        let received = upload.received;
        if let Some(publish) = state.publishes.get_mut(&publish_id) {
            publish.uploaded_bytes = received;
        }
        let finished = if received >= total {
            state.uploads.remove(&id)
        } else {
            None
        };
        (publish_id, received, finished)
    };
    let Some(finished) = finished else {
        return upload_answer(StatusCode::PARTIAL_CONTENT, received, total, "");
    };
    let outcome = check_video(&finished.path).await;
    let _ = tokio::fs::remove_file(&finished.path).await;
    if let Some(publish) = sim.state.lock().expect("tiktok state").publishes.get_mut(&publish_id) {
        publish.outcome = Some((now + PROCESSING_SECS, outcome));
    }
    upload_answer(StatusCode::CREATED, received, total, "")
}

/// Streams the body to `path` at `offset`; exactly `len` bytes must arrive.
async fn write_chunk(path: &std::path::Path, offset: u64, len: u64, body: Body) -> Result<(), String> {
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .await
        .map_err(|e| format!("storage: {e}"))?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(|e| format!("storage: {e}"))?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|_| "the chunk was interrupted".to_owned())?;
        written += piece.len() as u64;
        if written > len {
            return Err("the body is longer than Content-Range".into());
        }
        file.write_all(&piece).await.map_err(|e| format!("storage: {e}"))?;
    }
    file.flush().await.map_err(|e| format!("storage: {e}"))?;
    if written != len {
        return Err("the body is shorter than Content-Range".into());
    }
    Ok(())
}

/// What TikTok's checks find in the uploaded bytes: `(duration, width, height)` or the `fail_reason`.
async fn check_video(path: &std::path::Path) -> Checked {
    let Ok(facts) = crate::probe::probe(path).await else {
        return Err("file_format_check_failed".into());
    };
    let container_ok = facts.container.split(',').any(|f| ["mp4", "mov", "webm"].contains(&f));
    let codec_ok = facts
        .video_codec
        .as_deref()
        .is_some_and(|c| ["h264", "hevc", "vp8", "vp9"].contains(&c));
    if !container_ok || !codec_ok || facts.size_bytes > MAX_VIDEO_BYTES {
        return Err("file_format_check_failed".into());
    }
    if facts.duration_secs <= 0.0
        || facts.duration_secs > MAX_DURATION_SECS
        || facts.duration_secs > CREATOR_MAX_DURATION_SECS as f64
    {
        return Err("duration_check_failed".into());
    }
    if !(23.0..=60.0).contains(&facts.frame_rate) {
        return Err("frame_rate_check_failed".into());
    }
    if !(360..=4096).contains(&facts.width) || !(360..=4096).contains(&facts.height) {
        return Err("picture_size_check_failed".into());
    }
    Ok((facts.duration_secs, facts.width, facts.height))
}

async fn status(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    crate::inject!(sim.core, "tiktok.status");
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let (token, open_id) = match bearer(&sim, &state, &headers, "video.publish") {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if let Err(after) = state.hit(format!("status:{token}"), RATE_STATUS, now) {
        return rate_limited(after);
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let publish_id = request["publish_id"].as_str().unwrap_or_default().to_owned();
    state.settle(&sim.core, now);
    let Some(publish) = state.publishes.get(&publish_id) else {
        return biz_error(
            StatusCode::BAD_REQUEST,
            "invalid_publish_id",
            "The publish_id does not exist.",
        );
    };
    if publish.open_id != open_id {
        return biz_error(
            StatusCode::BAD_REQUEST,
            "token_not_authorized_for_specified_publish_id",
            "The token is not authorized for this publish_id.",
        );
    }
    let (status, fail_reason, ids) = match (&publish.outcome, publish.post_id) {
        (Some((at, Err(reason))), _) if *at <= now => ("FAILED", reason.clone(), vec![]),
        (_, Some(id)) => (
            "PUBLISH_COMPLETE",
            String::new(),
            if publish.public { vec![id] } else { vec![] },
        ),
        _ => ("PROCESSING_UPLOAD", String::new(), vec![]),
    };
    ok(json!({
        "status": status,
        "fail_reason": fail_reason,
        "publicaly_available_post_id": ids,
        "uploaded_bytes": publish.uploaded_bytes,
        "downloaded_bytes": 0,
    }))
}

async fn video_query(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    crate::inject!(sim.core, "tiktok.video_query");
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let (token, open_id) = match bearer(&sim, &state, &headers, "video.list") {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if let Err(after) = state.hit(format!("video_query:{token}"), RATE_DISPLAY, now) {
        return rate_limited(after);
    }
    let fields: Vec<String> = q
        .get("fields")
        .map(|f| f.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    if fields.is_empty() {
        return biz_error(StatusCode::BAD_REQUEST, "invalid_params", "fields is required.");
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(ids) = request["filters"]["video_ids"].as_array() else {
        return biz_error(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            "filters.video_ids is required.",
        );
    };
    if ids.is_empty() || ids.len() > 20 {
        return biz_error(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            "filters.video_ids: 1 to 20 ids.",
        );
    }
    state.settle(&sim.core, now);
    let mut videos = Vec::new();
    for id in ids {
        let Some(id) = id.as_str().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        let Some(post) = state.posts.get(&id) else { continue };
        if post.open_id != open_id {
            continue;
        }
        // Counters grow with the clock: a view every 2 s, then likes, comments, shares in proportion.
        let views = ((now - post.created_at).max(0) / 2) as u64;
        let video = json!({
            "id": id.to_string(),
            "create_time": post.created_at,
            "title": post.title.chars().take(150).collect::<String>(),
            "video_description": post.title.chars().take(150).collect::<String>(),
            "duration": post.duration.round() as i64,
            "width": post.width,
            "height": post.height,
            "share_url": format!("https://www.tiktok.com/@{USERNAME}/video/{id}"),
            "view_count": views,
            "like_count": views / 10,
            "comment_count": views / 50,
            "share_count": views / 100,
        });
        let picked: serde_json::Map<String, Value> = fields
            .iter()
            .filter_map(|f| video.get(f).map(|v| (f.clone(), v.clone())))
            .collect();
        videos.push(Value::Object(picked));
    }
    ok(json!({ "videos": videos, "cursor": 0, "has_more": false }))
}
