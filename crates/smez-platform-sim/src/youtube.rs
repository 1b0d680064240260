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
struct Quota {
    day: i64,
    uploads: u64,
    units: u64,
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
        .route("/o/oauth2/v2/auth", get(authorize))
        .route("/token", post(token))
        .route("/revoke", post(revoke))
        .route("/youtube/v3/channels", get(channels))
        .route("/upload/youtube/v3/videos", post(insert).put(upload))
        .route("/youtube/v3/videos", get(videos))
        .route("/youtube/v3/commentThreads", get(comment_threads))
        .route("/_sim/videos/{id}", get(sim_video))
        .with_state(yt)
}

fn random(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
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

fn pacific_day(now: DateTime<Utc>) -> i64 {
    (now.timestamp() + PACIFIC_OFFSET_SECS).div_euclid(86_400)
}

enum Bucket {
    Uploads,
    Units(u64),
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

    /// Charges the project's quota (every request costs, even an invalid one).
    #[allow(clippy::result_large_err, reason = "the error is the handler's early answer")]
    fn charge(&self, bucket: Bucket) -> Result<(), Response> {
        let day = pacific_day(self.now());
        let mut state = self.state.lock().expect("youtube lock");
        let quota = &mut state.quota;
        if quota.day != day {
            *quota = Quota {
                day,
                ..Quota::default()
            };
        }
        let exceeded = match bucket {
            Bucket::Uploads if quota.uploads >= UPLOAD_CALLS_PER_DAY => true,
            Bucket::Uploads => {
                quota.uploads += 1;
                false
            }
            Bucket::Units(n) if quota.units + n > UNITS_PER_DAY => true,
            Bucket::Units(n) => {
                quota.units += n;
                false
            }
        };
        if exceeded {
            return Err(google_error(
                403,
                "quotaExceeded",
                "youtube.quota",
                concat!(
                    "The request cannot be completed because you have exceeded your ",
                    "<a href=\"/youtube/v3/getting-started#quota\">quota</a>."
                ),
            ));
        }
        Ok(())
    }
}

async fn authorize(State(yt): State<Yt>, Query(q): Query<HashMap<String, String>>) -> Response {
    crate::inject!(yt.core, "youtube.authorize");
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (
            StatusCode::UNAUTHORIZED,
            "Error 401: invalid_client. The OAuth client was not found.",
        )
            .into_response();
    }
    let Some(redirect) = q.get("redirect_uri").and_then(|r| url::Url::parse(r).ok()) else {
        return (StatusCode::BAD_REQUEST, "Error 400: redirect_uri_mismatch").into_response();
    };
    if !matches!(redirect.scheme(), "http" | "https") {
        return (StatusCode::BAD_REQUEST, "Error 400: redirect_uri_mismatch").into_response();
    }
    let state_param = q.get("state").cloned();
    let back = |pairs: &[(&str, &str)]| {
        let mut url = redirect.clone();
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in pairs {
                query.append_pair(k, v);
            }
            if let Some(s) = &state_param {
                query.append_pair("state", s);
            }
        }
        (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return back(&[("error", "unsupported_response_type")]);
    }
    let requested: Vec<String> = q
        .get("scope")
        .map(|s| s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    if requested.is_empty() {
        return back(&[("error", "invalid_scope")]);
    }
    let challenge = match (
        q.get("code_challenge"),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(c), Some("S256")) => Some((c.clone(), "S256".to_owned())),
        (Some(c), Some("plain") | None) => Some((c.clone(), "plain".to_owned())),
        (Some(_), Some(_)) => return back(&[("error", "invalid_request")]),
        (None, _) => None,
    };
    let consent = yt.core.consent.take(PLATFORM);
    if consent.deny {
        return back(&[("error", "access_denied")]);
    }
    let scopes: Vec<String> = requested.into_iter().filter(|s| !consent.untick.contains(s)).collect();
    let channels = (1..=consent.accounts.unwrap_or(1).max(1))
        .map(|i| {
            let suffix = random(6);
            Channel {
                id: format!("UC{}", random(22)),
                title: format!("Sim Channel {i}"),
                handle: format!("@simchannel{i}-{suffix}"),
            }
        })
        .collect();
    let code = format!("4/0{}", random(40));
    yt.core.records.issued(PLATFORM, "code", &code);
    let scope_string = scopes.join(" ");
    yt.state.lock().expect("youtube lock").codes.insert(
        code.clone(),
        PendingCode {
            redirect_uri: q["redirect_uri"].clone(),
            scopes,
            channels,
            challenge,
            offline: q.get("access_type").map(String::as_str) == Some("offline"),
            expires_at: yt.now() + Duration::seconds(CODE_LIFETIME_SECS),
            used: false,
        },
    );
    back(&[("code", &code), ("scope", &scope_string)])
}

fn s256(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
}

async fn token(State(yt): State<Yt>, body: axum::body::Bytes) -> Response {
    crate::inject!(yt.core, "youtube.token");
    let f = form(&body);
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }
    let now = yt.now();
    let bad_grant = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let mut state = yt.state.lock().expect("youtube lock");
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").map(String::as_str).unwrap_or("");
            let Some(pending) = state.codes.get_mut(code) else {
                return bad_grant("Malformed auth code.");
            };
            if pending.used || pending.expires_at <= now {
                return bad_grant("Bad Request");
            }
            if f.get("redirect_uri") != Some(&pending.redirect_uri) {
                return oauth_error(StatusCode::BAD_REQUEST, "redirect_uri_mismatch", "Bad Request");
            }
            if let Some((challenge, method)) = &pending.challenge {
                let verifier = f.get("code_verifier").map(String::as_str).unwrap_or("");
                let ok = match method.as_str() {
                    "S256" => &s256(verifier) == challenge,
                    _ => verifier == challenge,
                };
                if verifier.is_empty() {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing code verifier.");
                }
                if !ok {
                    return bad_grant("Invalid code verifier.");
                }
            }
            pending.used = true;
            let (scopes, channels, offline) = (pending.scopes.clone(), pending.channels.clone(), pending.offline);
            state.grants.push(Grant {
                scopes: scopes.clone(),
                channels,
                revoked: false,
            });
            let grant = state.grants.len() - 1;
            let access = format!("ya29.sim{}", random(60));
            state.access.insert(
                access.clone(),
                AccessToken {
                    grant,
                    expires_at: now + Duration::seconds(ACCESS_TOKEN_LIFETIME_SECS),
                },
            );
            let mut body = json!({
                "access_token": access,
                "expires_in": ACCESS_TOKEN_LIFETIME_SECS,
                "scope": scopes.join(" "),
                "token_type": "Bearer",
            });
            yt.core.records.issued(PLATFORM, "access_token", &access);
            if offline {
                let refresh = format!("1//0sim{}", random(60));
                state.refresh.insert(
                    refresh.clone(),
                    RefreshToken {
                        grant,
                        expires_at: now + Duration::seconds(REFRESH_TOKEN_TESTING_LIFETIME_SECS),
                    },
                );
                yt.core.records.issued(PLATFORM, "refresh_token", &refresh);
                body["refresh_token"] = json!(refresh);
            }
            axum::Json(body).into_response()
        }
        Some("refresh_token") => {
            let token = f.get("refresh_token").map(String::as_str).unwrap_or("");
            let Some(refresh) = state.refresh.get(token) else {
                return bad_grant("Token has been expired or revoked.");
            };
            let grant = refresh.grant;
            if refresh.expires_at <= now || state.grants[grant].revoked {
                return bad_grant("Token has been expired or revoked.");
            }
            let access = format!("ya29.sim{}", random(60));
            state.access.insert(
                access.clone(),
                AccessToken {
                    grant,
                    expires_at: now + Duration::seconds(ACCESS_TOKEN_LIFETIME_SECS),
                },
            );
            yt.core.records.issued(PLATFORM, "access_token", &access);
            // No refresh_token: Google does not rotate.
            axum::Json(json!({
                "access_token": access,
                "expires_in": ACCESS_TOKEN_LIFETIME_SECS,
                "scope": state.grants[grant].scopes.join(" "),
                "token_type": "Bearer",
            }))
            .into_response()
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Invalid grant_type"),
    }
}

async fn revoke(State(yt): State<Yt>, Query(q): Query<HashMap<String, String>>, body: axum::body::Bytes) -> Response {
    crate::inject!(yt.core, "youtube.revoke");
    let f = form(&body);
    let token = f.get("token").or_else(|| q.get("token")).cloned().unwrap_or_default();
    let mut state = yt.state.lock().expect("youtube lock");
    let grant = state
        .access
        .get(&token)
        .map(|a| a.grant)
        .or_else(|| state.refresh.get(&token).map(|r| r.grant));
    match grant {
        Some(g) if !state.grants[g].revoked => {
            state.grants[g].revoked = true;
            StatusCode::OK.into_response()
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "invalid_token", "Token expired or revoked"),
    }
}

async fn channels(State(yt): State<Yt>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    crate::inject!(yt.core, "youtube.channels");
    let grant = match yt.authenticate(&headers, &[SCOPE_READONLY, SCOPE_YOUTUBE, SCOPE_FORCE_SSL]) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = yt.charge(Bucket::Units(1)) {
        return e;
    }
    if q.get("mine").map(String::as_str) != Some("true") {
        return google_error(
            400,
            "missingRequiredParameter",
            "youtube.parameter",
            "No filter selected. Expected one of: mine, id, forHandle, forUsername, managedByMe, categoryId",
        );
    }
    let state = yt.state.lock().expect("youtube lock");
    let items: Vec<Value> = state.grants[grant]
        .channels
        .iter()
        .map(|c| {
            json!({
                "kind": "youtube#channel",
                "id": c.id,
                "snippet": {
                    "title": c.title,
                    "description": "",
                    "customUrl": c.handle,
                    "thumbnails": {"default": {
                        "url": format!("{}/youtube/_sim/avatars/{}.jpg", yt.core.origin, c.id),
                        "width": 88,
                        "height": 88,
                    }},
                },
            })
        })
        .collect();
    axum::Json(json!({
        "kind": "youtube#channelListResponse",
        "pageInfo": {"totalResults": items.len(), "resultsPerPage": 5},
        "items": items,
    }))
    .into_response()
}

/// YouTube's tag length: commas between tags count, a tag with a space counts as quoted.
fn tags_length(tags: &[Value]) -> usize {
    let lengths: Vec<usize> = tags
        .iter()
        .filter_map(Value::as_str)
        .map(|t| t.chars().count() + if t.contains(' ') { 2 } else { 0 })
        .collect();
    lengths.iter().sum::<usize>() + lengths.len().saturating_sub(1)
}

/// The metadata checks of `videos.insert`: Google's reason and message.
fn validate_metadata(metadata: &Value) -> Result<(), (&'static str, String)> {
    let snippet = &metadata["snippet"];
    let title = snippet["title"].as_str().unwrap_or("");
    if title.trim().is_empty() || title.chars().count() > 100 || title.contains(['<', '>']) {
        return Err((
            "invalidTitle",
            "The request metadata specifies an invalid or empty video title.".into(),
        ));
    }
    let description = snippet["description"].as_str().unwrap_or("");
    if description.len() > 5000 || description.contains(['<', '>']) {
        return Err((
            "invalidDescription",
            "The request metadata specifies an invalid video description.".into(),
        ));
    }
    if let Some(tags) = snippet["tags"].as_array()
        && tags_length(tags) > 500
    {
        return Err((
            "invalidTags",
            "The request metadata specifies invalid video keywords.".into(),
        ));
    }
    if let Some(category) = snippet.get("categoryId")
        && !category
            .as_str()
            .is_some_and(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_digit()))
    {
        return Err((
            "invalidCategoryId",
            "The snippet.categoryId property specifies an invalid category ID.".into(),
        ));
    }
    let status = &metadata["status"];
    if let Some(privacy) = status.get("privacyStatus")
        && !matches!(privacy.as_str(), Some("private" | "public" | "unlisted"))
    {
        return Err(("invalidVideoMetadata", "The request metadata is invalid.".into()));
    }
    if let Some(at) = status.get("publishAt") {
        let valid = at.as_str().is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok());
        if !valid || status["privacyStatus"].as_str() != Some("private") {
            return Err((
                "invalidPublishAt",
                "The request metadata specifies an invalid scheduled publishing time.".into(),
            ));
        }
    }
    Ok(())
}

async fn insert(
    State(yt): State<Yt>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    crate::inject!(yt.core, "youtube.insert");
    let grant = match yt.authenticate(&headers, &[SCOPE_UPLOAD, SCOPE_YOUTUBE, SCOPE_FORCE_SSL]) {
        Ok(g) => g,
        Err(e) => return e,
    };
    if let Err(e) = yt.charge(Bucket::Uploads) {
        return e;
    }
    if q.get("uploadType").map(String::as_str) != Some("resumable") {
        return google_error(
            400,
            "mediaBodyRequired",
            "youtube.video",
            "The request does not include the video content.",
        );
    }
    let metadata: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return google_error(400, "parseError", "global", "Parse Error"),
        }
    };
    if let Err((reason, message)) = validate_metadata(&metadata) {
        return google_error(400, reason, "youtube.video", &message);
    }
    let total = headers
        .get("x-upload-content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(total) = total.filter(|t| *t > 0 && *t <= MAX_UPLOAD_BYTES) else {
        return google_error(
            400,
            "badContent",
            "youtube.video",
            "The X-Upload-Content-Length is missing or invalid.",
        );
    };
    let content_type = headers
        .get("x-upload-content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    if !(content_type.starts_with("video/") || content_type == "application/octet-stream") {
        return google_error(400, "badContent", "youtube.video", "Media type not supported.");
    }
    let upload_id = random(32);
    let dir = std::env::temp_dir().join("smez-sim-youtube");
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        return google_error(500, "internalError", "global", &format!("temp dir: {e}"));
    }
    let now = yt.now();
    let mut state = yt.state.lock().expect("youtube lock");
    // Expired sessions go, with their bytes.
    let expired: Vec<String> = state
        .sessions
        .iter()
        .filter(|(_, s)| s.expires_at <= now)
        .map(|(id, _)| id.clone())
        .collect();
    for id in expired {
        if let Some(s) = state.sessions.remove(&id) {
            let _ = std::fs::remove_file(s.path);
        }
    }
    let channel_id = state.grants[grant].channels[0].id.clone();
    state.sessions.insert(
        upload_id.clone(),
        Session {
            channel_id,
            metadata,
            total,
            received: 0,
            path: dir.join(&upload_id),
            expires_at: now + Duration::seconds(UPLOAD_SESSION_LIFETIME_SECS),
            result: None,
        },
    );
    let part = q.get("part").cloned().unwrap_or_else(|| "snippet,status".into());
    let location = format!(
        "{}/youtube/upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}&part={part}",
        yt.core.origin
    );
    (StatusCode::OK, [(header::LOCATION, location)]).into_response()
}

/// `308 Resume Incomplete` with the received range (none when nothing arrived).
fn resume_incomplete(received: u64) -> Response {
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if received > 0 {
        let range = format!("bytes=0-{}", received - 1);
        response.headers_mut().insert(
            header::RANGE,
            header::HeaderValue::from_str(&range).expect("a header value"),
        );
    }
    response
}

enum ContentRange {
    /// `bytes */total`: where does the session stand?
    Query(u64),
    /// `bytes a-b/total`.
    Chunk(u64, u64, u64),
}

fn content_range(headers: &HeaderMap) -> Option<Result<ContentRange, ()>> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let parse = || -> Option<ContentRange> {
        let rest = value.trim().strip_prefix("bytes ")?;
        let (range, total) = rest.split_once('/')?;
        let total = total.parse().ok()?;
        if range == "*" {
            return Some(ContentRange::Query(total));
        }
        let (a, b) = range.split_once('-')?;
        Some(ContentRange::Chunk(a.parse().ok()?, b.parse().ok()?, total))
    };
    Some(parse().ok_or(()))
}

async fn upload(
    State(yt): State<Yt>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Not `inject!`: a `drop` fault takes part of the chunk first.
    let drop_mid_chunk = match yt.core.faults.take("youtube.upload") {
        Some(FaultKind::Drop) => true,
        Some(other) => {
            // Take the request in full first, so the client reliably reads the answer.
            let mut stream = body.into_data_stream();
            while let Some(Ok(_)) = stream.next().await {}
            return crate::faults::respond(other).await;
        }
        None => false,
    };
    let upload_id = q.get("upload_id").cloned().unwrap_or_default();
    let now = yt.now();
    let (session, expired) = {
        let mut state = yt.state.lock().expect("youtube lock");
        match state.sessions.get(&upload_id).cloned() {
            Some(s) if s.expires_at <= now => {
                state.sessions.remove(&upload_id);
                (None, Some(s.path))
            }
            other => (other, None),
        }
    };
    if let Some(path) = expired {
        let _ = tokio::fs::remove_file(path).await;
    }
    let Some(session) = session else {
        return google_error(
            404,
            "notFound",
            "global",
            "The upload session was not found or has expired.",
        );
    };
    if let Some(result) = session.result {
        return (StatusCode::CREATED, axum::Json(result)).into_response();
    }
    let (start, end) = match content_range(&headers) {
        None if session.received == 0 => (0, session.total - 1),
        None => return resume_incomplete(session.received),
        Some(Err(())) => return google_error(400, "badRequest", "global", "Invalid Content-Range header."),
        Some(Ok(ContentRange::Query(total))) if total == session.total => return resume_incomplete(session.received),
        Some(Ok(ContentRange::Chunk(a, b, total))) if total == session.total && a <= b && b < total => (a, b),
        Some(Ok(_)) => return google_error(400, "badRequest", "global", "Content-Range does not match the upload."),
    };
    if start != session.received {
        // A gap or an overlap: none of these bytes are accepted.
        return resume_incomplete(session.received);
    }
    let len = end - start + 1;
    if end + 1 < session.total && !len.is_multiple_of(CHUNK_GRANULARITY) {
        return google_error(
            400,
            "badRequest",
            "global",
            "Invalid chunk size: every chunk but the last must be a multiple of 256 KiB.",
        );
    }
    let limit = if drop_mid_chunk { len / 2 } else { len };
    let written = match append(&session.path, body, limit).await {
        Ok(n) => n,
        Err(e) => return google_error(500, "internalError", "global", &format!("storing bytes: {e}")),
    };
    let received = session.received + written;
    let still_open = {
        let mut state = yt.state.lock().expect("youtube lock");
        match state.sessions.get_mut(&upload_id) {
            Some(s) => {
                s.received = received;
                true
            }
            None => false,
        }
    };
    if !still_open {
        let _ = tokio::fs::remove_file(&session.path).await;
        return google_error(
            404,
            "notFound",
            "global",
            "The upload session was not found or has expired.",
        );
    }
    if drop_mid_chunk {
        return crate::faults::respond(FaultKind::Drop).await;
    }
    if received < session.total {
        return resume_incomplete(received);
    }
    finish(
        &yt,
        &upload_id,
        session.path,
        session.channel_id,
        session.metadata,
        session.total,
    )
    .await
}

/// Streams at most `limit` bytes of `body` onto the end of `path`; returns how many arrived
/// (fewer when the client broke off).
async fn append(path: &std::path::Path, body: Body, limit: u64) -> std::io::Result<u64> {
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while written < limit {
        let Some(chunk) = stream.next().await else { break };
        let Ok(chunk) = chunk else { break };
        let take = (limit - written).min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..take]).await?;
        written += take as u64;
    }
    file.flush().await?;
    Ok(written)
}

async fn finish(yt: &Yt, upload_id: &str, path: PathBuf, channel_id: String, metadata: Value, total: u64) -> Response {
    let facts = crate::probe::probe(&path).await;
    let _ = tokio::fs::remove_file(&path).await;
    let is_short = facts
        .as_ref()
        .is_ok_and(|f| f.width > 0 && f.width <= f.height && f.duration_secs <= SHORT_MAX_SECS);
    let id = random(11);
    let now = yt.now();
    let mut metadata = metadata;
    if metadata["status"]["privacyStatus"].is_null() {
        // UNVERIFIED default when omitted.
        metadata["status"]["privacyStatus"] = json!("public");
    }
    let video = Video {
        id: id.clone(),
        channel_id: channel_id.clone(),
        metadata,
        bytes: total,
        uploaded_at: now,
        facts,
        is_short,
    };
    let resource = video_resource(&yt.core.origin, &video, "snippet,status", now);
    if video.facts.is_ok() {
        yt.core.records.post(AcceptedPost {
            platform: PLATFORM.into(),
            post_id: id.clone(),
            account_id: channel_id,
            caption: video.metadata["snippet"]["description"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            bytes: total,
        });
    }
    let mut state = yt.state.lock().expect("youtube lock");
    if let Some(s) = state.sessions.get_mut(upload_id) {
        s.result = Some(resource.clone());
    }
    state.videos.insert(id, video);
    (StatusCode::CREATED, axum::Json(resource)).into_response()
}

fn video_resource(origin: &str, video: &Video, part: &str, now: DateTime<Utc>) -> Value {
    let parts: Vec<&str> = part.split(',').map(str::trim).collect();
    let mut item = json!({"kind": "youtube#video", "etag": random(16), "id": video.id});
    let (upload_status, processing_status, failure, rejection) = video.state(now);
    if parts.contains(&"snippet") {
        let mut snippet = video.metadata["snippet"].clone();
        snippet["channelId"] = json!(video.channel_id);
        snippet["publishedAt"] = json!(video.uploaded_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        snippet["thumbnails"] = json!({"default": {"url": format!("{origin}/youtube/_sim/thumbs/{}.jpg", video.id)}});
        item["snippet"] = snippet;
    }
    if parts.contains(&"status") {
        let mut status = video.metadata["status"].clone();
        status["uploadStatus"] = json!(upload_status);
        if let Some(f) = failure {
            status["failureReason"] = json!(f);
        }
        if let Some(r) = rejection {
            status["rejectionReason"] = json!(r);
        }
        status["madeForKids"] = status["selfDeclaredMadeForKids"]
            .as_bool()
            .map(Value::from)
            .unwrap_or(json!(false));
        item["status"] = status;
    }
    if parts.contains(&"processingDetails") {
        let mut details = json!({"processingStatus": processing_status});
        if processing_status == "processing" {
            let left = (video.processed_at() - now).num_milliseconds().max(0);
            details["processingProgress"] = json!({
                "partsTotal": "1000",
                "partsProcessed": (1000 - left * 1000 / (PROCESSING_SECS * 1000)).to_string(),
                "timeLeftMs": left.to_string(),
            });
        }
        if let Some(f) = failure {
            details["processingFailureReason"] = json!(if f == "invalidFile" {
                "uploadFailed"
            } else {
                "transcodeFailed"
            });
        }
        item["processingDetails"] = details;
    }
    if parts.contains(&"statistics") {
        let views = video.live_secs(now) / SECS_PER_VIEW;
        let threads = video.threads(now);
        let comments = threads + (threads + 2) / 3;
        item["statistics"] = json!({
            "viewCount": views.to_string(),
            "likeCount": (views / 25).to_string(),
            "favoriteCount": "0",
            "commentCount": comments.to_string(),
        });
    }
    item
}

async fn videos(State(yt): State<Yt>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    crate::inject!(yt.core, "youtube.videos");
    if let Err(e) = yt.authenticate(&headers, &[SCOPE_READONLY, SCOPE_YOUTUBE, SCOPE_FORCE_SSL]) {
        return e;
    }
    if let Err(e) = yt.charge(Bucket::Units(1)) {
        return e;
    }
    let Some(part) = q.get("part").filter(|p| !p.is_empty()) else {
        return google_error(400, "required", "global", "Required parameter: part");
    };
    let ids: Vec<&str> = q
        .get("id")
        .map(|s| s.split(',').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if ids.is_empty() {
        return google_error(
            400,
            "missingRequiredParameter",
            "youtube.parameter",
            "No filter selected.",
        );
    }
    if ids.len() > 50 {
        return google_error(
            400,
            "badRequest",
            "youtube.parameter",
            "The id parameter accepts at most 50 ids.",
        );
    }
    let now = yt.now();
    let state = yt.state.lock().expect("youtube lock");
    let items: Vec<Value> = ids
        .iter()
        .filter_map(|id| state.videos.get(*id))
        .map(|v| video_resource(&yt.core.origin, v, part, now))
        .collect();
    axum::Json(json!({
        "kind": "youtube#videoListResponse",
        "pageInfo": {"totalResults": items.len(), "resultsPerPage": items.len()},
        "items": items,
    }))
    .into_response()
}

fn comment(id: &str, video: &Video, author: usize, text: String, at: DateTime<Utc>, parent: Option<&str>) -> Value {
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut snippet = json!({
        "channelId": video.channel_id,
        "videoId": video.id,
        "authorDisplayName": format!("@viewer{author}"),
        "authorChannelId": {"value": format!("UCviewer{author:016}")},
        "textDisplay": text,
        "textOriginal": text,
        "canRate": true,
        "viewerRating": "none",
        "likeCount": author % 7,
        "publishedAt": at,
        "updatedAt": at,
    });
    if let Some(p) = parent {
        snippet["parentId"] = json!(p);
    }
    json!({"kind": "youtube#comment", "id": id, "snippet": snippet})
}

async fn comment_threads(
    State(yt): State<Yt>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    crate::inject!(yt.core, "youtube.comment_threads");
    if let Err(e) = yt.authenticate(&headers, &[SCOPE_READONLY, SCOPE_YOUTUBE, SCOPE_FORCE_SSL]) {
        return e;
    }
    if let Err(e) = yt.charge(Bucket::Units(1)) {
        return e;
    }
    let Some(video_id) = q.get("videoId") else {
        return google_error(
            400,
            "missingRequiredParameter",
            "youtube.parameter",
            "No filter selected.",
        );
    };
    let max = q.get("maxResults").and_then(|m| m.parse::<i64>().ok()).unwrap_or(20);
    if !(1..=100).contains(&max) {
        return google_error(
            400,
            "invalidParameter",
            "youtube.parameter",
            "Invalid value for maxResults.",
        );
    }
    let offset = match q.get("pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix("CDIQ").and_then(|n| n.parse::<i64>().ok()) {
            Some(n) => n,
            None => return google_error(400, "invalidPageToken", "youtube.commentThread", "Invalid page token."),
        },
    };
    let now = yt.now();
    let state = yt.state.lock().expect("youtube lock");
    let Some(video) = state.videos.get(video_id) else {
        return google_error(
            404,
            "videoNotFound",
            "youtube.commentThread",
            "The video identified by the videoId parameter could not be found.",
        );
    };
    let threads = video.threads(now);
    let processed = video.processed_at();
    let title = video.metadata["snippet"]["title"].as_str().unwrap_or("");
    // Newest first (order=time).
    let items: Vec<Value> = (0..threads)
        .rev()
        .skip(offset as usize)
        .take(max as usize)
        .map(|i| {
            let thread_id = format!("Ugz{}{i:05}", video.id);
            let at = processed + Duration::seconds((i + 1) * SECS_PER_COMMENT);
            let top = comment(
                &thread_id,
                video,
                i as usize,
                format!("Comment {i} on {title}"),
                at,
                None,
            );
            let replies: Vec<Value> = if i % 3 == 0 {
                vec![comment(
                    &format!("{thread_id}.reply0"),
                    video,
                    i as usize + 1,
                    format!("Reply to comment {i}"),
                    at + Duration::seconds(60),
                    Some(&thread_id),
                )]
            } else {
                Vec::new()
            };
            let mut thread = json!({
                "kind": "youtube#commentThread",
                "id": thread_id,
                "snippet": {
                    "channelId": video.channel_id,
                    "videoId": video.id,
                    "topLevelComment": top,
                    "canReply": true,
                    "totalReplyCount": replies.len(),
                    "isPublic": true,
                },
            });
            if !replies.is_empty() {
                thread["replies"] = json!({"comments": replies});
            }
            thread
        })
        .collect();
    let mut body = json!({
        "kind": "youtube#commentThreadListResponse",
        "pageInfo": {"totalResults": items.len(), "resultsPerPage": max},
        "items": items,
    });
    if offset + max < threads {
        body["nextPageToken"] = json!(format!("CDIQ{}", offset + max));
    }
    axum::Json(body).into_response()
}

async fn sim_video(State(yt): State<Yt>, Path(id): Path<String>) -> Response {
    let now = yt.now();
    let state = yt.state.lock().expect("youtube lock");
    let Some(video) = state.videos.get(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (upload_status, ..) = video.state(now);
    axum::Json(json!({
        "id": video.id,
        "channel_id": video.channel_id,
        "is_short": video.is_short,
        "bytes": video.bytes,
        "upload_status": upload_status,
        "facts": video.facts.as_ref().ok(),
        "probe_error": video.facts.as_ref().err(),
        "metadata": video.metadata,
    }))
    .into_response()
}
