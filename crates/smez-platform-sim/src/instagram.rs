//! The Instagram simulator: "Instagram API with Instagram Login" (platforms.md
//! §3A) and the Graph API paths Smez uses (§3C–§3E), all under `/instagram`
//! (in production these live on `api.instagram.com`, `graph.instagram.com` and
//! `rupload.facebook.com`; here one base URL serves all three).
//!
//! Test client: [`CLIENT_ID`] `sim-client`, [`CLIENT_SECRET`] `sim-secret`.
//! An Instagram Login token is one professional account ([`USER_ID`],
//! [`USERNAME`]). Choosing among several accounts belongs to the Facebook Login
//! flavour (§3B), also served: `GET /{version}/dialog/oauth` (consent
//! `accounts: N` gives the Facebook user [`FB_USER_ID`] N Pages, each with an
//! Instagram account [`account_id`]`(0..N)`), `GET /{version}/oauth/access_token`
//! (code → short-lived, `grant_type=fb_exchange_token` → long-lived 60 days; used
//! codes answer 100/36009), `GET /{version}/me/accounts` (needs `pages_show_list`)
//! and `GET /{version}/me/permissions`. Publishing, insights and comments take
//! either flavour's token; a Facebook token acts for any of its accounts.
//!
//! Paths (below `/instagram`) and their fault-injection endpoint names:
//!
//! | path | fault endpoint |
//! |---|---|
//! | `GET /oauth/authorize` | `instagram.authorize` |
//! | `POST /oauth/access_token` (code → short-lived token, 1 h) | `instagram.token` |
//! | `GET /access_token?grant_type=ig_exchange_token` (→ long-lived, 60 days) | `instagram.exchange` |
//! | `GET /refresh_access_token?grant_type=ig_refresh_token` | `instagram.refresh` |
//! | `DELETE /{version}/me/permissions` (revoke, see below) | `instagram.revoke` |
//! | `GET /{version}/me` | `instagram.me` |
//! | `POST /{version}/{ig-user-id}/media` (REELS container) | `instagram.create_container` |
//! | `POST /rupload/ig-api-upload/{version}/{container-id}` (bytes) | `instagram.upload` |
//! | `GET /rupload/ig-api-upload/{version}/{container-id}` (offset) | `instagram.upload_offset` |
//! | `GET /{version}/{container-id}?fields=status_code,status` | `instagram.container_status` |
//! | `POST /{version}/{ig-user-id}/media_publish?creation_id=…` | `instagram.publish` |
//! | `GET /{version}/{ig-media-id}` | `instagram.media` |
//! | `GET /{version}/{ig-user-id}/content_publishing_limit` | `instagram.publishing_limit` |
//! | `GET /{version}/{ig-media-id}/insights?metric=…` | `instagram.insights` |
//! | `GET /{version}/{ig-media-id}/comments` | `instagram.comments` |
//! | `GET /{version}/dialog/oauth` (Facebook Login) | `instagram.fb_authorize` |
//! | `GET /{version}/oauth/access_token` (Facebook Login) | `instagram.fb_token` |
//! | `GET /{version}/me/accounts` (Facebook Login) | `instagram.accounts` |
//! | `GET /{version}/me/permissions` | `instagram.permissions` |
//!
//! Choices where the contract is UNVERIFIED (each a constant or documented here):
//! - The code exchange answers with the Business Login `{"data":[{access_token, user_id, permissions}]}` shape.
//! - A refresh returns a new token string; the old one stays valid until its own expiry.
//! - Revoke: Instagram Login documents none; the simulator serves the standard Graph
//!   `DELETE /me/permissions` (`{"success":true}`), after which every token of the user
//!   answers 190/458 (app not installed).
//! - rupload success body `{"success":true,"message":"Upload successful."}`; the offset
//!   query is `GET` on the same URI answering `{"offset": n, "file_size": n}`; an upload
//!   sent at the wrong offset is refused with `{"debug_info":{"retriable":true,"type":"OffsetMismatch",…}}`.
//! - Publishing a container twice returns the same media id (no second post).
//! - `video_url` is fetched by the simulator itself over plain `http://` (no TLS),
//!   in the background; a failed fetch ends in `ERROR` with subcode 2207052.
//! - Caption length counts Unicode scalar values; hashtags are `#word`, mentions `@word`.
//! - Business Use Case rate limit: [`API_CALLS_PER_HOUR`] Graph calls per user per rolling
//!   hour, then code 80002 with an `X-Business-Use-Case-Usage` header.
//! - Metrics grow linearly with simulated time since publishing; comments appear
//!   one every [`COMMENT_EVERY_SECS`], every third with a reply.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::Shared;
use crate::probe::{VideoFacts, probe};
use crate::records::AcceptedPost;

pub const CLIENT_ID: &str = "sim-client";
pub const CLIENT_SECRET: &str = "sim-secret";
/// The one professional account every Instagram login holds.
pub const USER_ID: &str = "17841400000000001";
pub const USERNAME: &str = "sim_creator";
/// The Facebook user behind a Facebook Login (§3B).
pub const FB_USER_ID: &str = "10160000000000001";
/// Facebook Login tokens (short-lived: hours).
pub const FB_SHORT_TOKEN_TTL_SECS: i64 = 2 * 3600;

/// The `n`th Instagram account (0-based) a Facebook login can offer; the 0th is [`USER_ID`].
pub fn account_id(n: usize) -> String {
    (17_841_400_000_000_001u64 + n as u64).to_string()
}

pub fn account_username(n: usize) -> String {
    if n == 0 {
        USERNAME.to_owned()
    } else {
        format!("{USERNAME}_{}", n + 1)
    }
}
/// Authorization codes are valid for one hour, and once.
pub const CODE_TTL_SECS: i64 = 3600;
pub const SHORT_TOKEN_TTL_SECS: i64 = 3600;
/// 60 days.
pub const LONG_TOKEN_TTL_SECS: i64 = 60 * 86_400;
/// A long-lived token can be refreshed once it is at least 24 h old.
pub const REFRESH_MIN_AGE_SECS: i64 = 86_400;
/// Containers expire after 24 h.
pub const CONTAINER_TTL_SECS: i64 = 86_400;
/// How long a fully uploaded container stays IN_PROGRESS.
pub const PROCESSING_SECS: i64 = 30;
/// `content_publishing_limit`: posts per rolling window.
pub const PUBLISH_QUOTA_TOTAL: usize = 50;
pub const PUBLISH_QUOTA_WINDOW_SECS: i64 = 86_400;
/// Business Use Case limit per user per rolling hour.
pub const API_CALLS_PER_HOUR: usize = 1000;
pub const MAX_FILE_BYTES: u64 = 300 * 1024 * 1024;
pub const CAPTION_MAX_CHARS: usize = 2200;
pub const CAPTION_MAX_HASHTAGS: usize = 30;
pub const CAPTION_MAX_MENTIONS: usize = 20;
pub const COMMENTS_PAGE_MAX: usize = 50;
pub const COMMENT_EVERY_SECS: i64 = 600;
pub const SCOPE_BASIC: &str = "instagram_business_basic";
pub const SCOPE_PUBLISH: &str = "instagram_business_content_publish";
pub const SCOPE_COMMENTS: &str = "instagram_business_manage_comments";
pub const SCOPE_INSIGHTS: &str = "instagram_business_manage_insights";

const SUPPORTED_METRICS: &[&str] = &[
    "views",
    "reach",
    "likes",
    "comments",
    "shares",
    "saved",
    "total_interactions",
    "ig_reels_avg_watch_time",
    "ig_reels_video_view_total_time",
];
const DEPRECATED_METRICS: &[&str] = &[
    "plays",
    "clips_replays_count",
    "ig_reels_aggregated_all_plays_count",
    "impressions",
    "video_views",
];

/// Who a code or token speaks for.
#[derive(Clone)]
struct Grant {
    /// The Instagram user (Instagram Login) or the Facebook user (Facebook Login).
    user_id: String,
    scopes: Vec<String>,
    /// The Instagram professional accounts it can act for.
    accounts: Vec<String>,
    facebook: bool,
}

/// The caller of an API call.
struct Caller {
    user_id: String,
    accounts: Vec<String>,
    facebook: bool,
}

impl Caller {
    /// The Instagram account a path id names (`me` is the account itself on Instagram Login).
    fn account(&self, id: &str) -> Option<String> {
        if id == "me" && !self.facebook {
            return self.accounts.first().cloned();
        }
        self.accounts.iter().find(|a| *a == id).cloned()
    }

    fn owns(&self, account: &str) -> bool {
        self.accounts.iter().any(|a| a == account)
    }
}

struct CodeGrant {
    grant: Grant,
    redirect_uri: String,
    expires_at: i64,
    used: bool,
}

struct Token {
    grant: Grant,
    long_lived: bool,
    issued_at: i64,
    expires_at: i64,
}

struct Container {
    user_id: String,
    caption: String,
    created_at: i64,
    file_size: Option<u64>,
    received: u64,
    /// Set when every byte arrived: `Err((subcode, reason))` when the video breaks a rule.
    outcome: Option<Result<(), (i64, String)>>,
    ready_at: i64,
    media_id: Option<String>,
}

struct Media {
    user_id: String,
    caption: String,
    published_at: i64,
    shortcode: String,
}

#[derive(Default)]
struct State_ {
    codes: HashMap<String, CodeGrant>,
    tokens: HashMap<String, Token>,
    /// Users who removed the app (revoked).
    revoked_users: HashMap<String, i64>,
    containers: HashMap<String, Container>,
    media: HashMap<String, Media>,
    publishes: HashMap<String, Vec<i64>>,
    calls: HashMap<String, Vec<i64>>,
    seq: u64,
}

struct Ig {
    core: Shared,
    state: Mutex<State_>,
}

type App = Arc<Ig>;
type Params = HashMap<String, String>;

pub fn router(core: Shared) -> Router {
    let app = Arc::new(Ig {
        core,
        state: Mutex::new(State_::default()),
    });
    Router::new()
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/access_token", post(code_exchange))
        .route("/access_token", get(long_lived_exchange))
        .route("/refresh_access_token", get(refresh))
        .route("/rupload/ig-api-upload/{version}/{id}", post(upload).get(upload_offset))
        .route("/{version}/{id}", get(node))
        .route("/{version}/{id}/permissions", delete(revoke).get(permissions))
        .route("/{version}/{id}/oauth", get(fb_dialog))
        .route("/{version}/{id}/access_token", get(fb_token))
        .route("/{version}/{id}/accounts", get(me_accounts))
        .route("/{version}/{id}/media", post(create_container))
        .route("/{version}/{id}/media_publish", post(media_publish))
        .route("/{version}/{id}/content_publishing_limit", get(publishing_limit))
        .route("/{version}/{id}/insights", get(insights))
        .route("/{version}/{id}/comments", get(comments))
        .with_state(app)
}

// ---------------------------------------------------------------- helpers

fn secret(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The Facebook Login name of an Instagram Login scope (§3).
fn facebook_scope(scope: &str) -> &str {
    match scope {
        SCOPE_BASIC => "instagram_basic",
        SCOPE_PUBLISH => "instagram_content_publish",
        SCOPE_COMMENTS => "instagram_manage_comments",
        SCOPE_INSIGHTS => "instagram_manage_insights",
        other => other,
    }
}

/// The Graph error envelope (§3C).
fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str, user_msg: Option<&str>) -> Response {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "is_transient": matches!(code, 1 | 2 | -1 | -2),
        "fbtrace_id": format!("A{}", &uuid::Uuid::new_v4().simple().to_string()[..22]),
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    if let Some(user_msg) = user_msg {
        error["error_user_title"] = json!("Error");
        error["error_user_msg"] = json!(user_msg);
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(json!({ "error": error })),
    )
        .into_response()
}

/// The OAuth host's own error shape (`api.instagram.com`).
fn oauth_error(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error_type": "OAuthException", "code": 400, "error_message": message})),
    )
        .into_response()
}

fn form(body: &Bytes) -> Params {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn bearer(headers: &HeaderMap, params: &Params) -> Option<String> {
    params.get("access_token").cloned().or_else(|| {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("OAuth "))
            .map(|t| t.trim().to_owned())
    })
}

fn fields(params: &Params) -> Vec<String> {
    params
        .get("fields")
        .map(|f| f.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default()
}

fn timestamp(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S+0000")
        .to_string()
}

/// `#word` and `@word` counts, as Instagram counts them (a word character must follow).
fn count_tags(caption: &str, sigil: char) -> usize {
    let chars: Vec<char> = caption.chars().collect();
    chars
        .windows(2)
        .filter(|w| w[0] == sigil && (w[1].is_alphanumeric() || w[1] == '_'))
        .count()
}

impl Ig {
    fn now(&self) -> i64 {
        self.core.clock.now_secs()
    }

    fn next_id(&self, state: &mut State_, base: u64) -> String {
        state.seq += 1;
        (base + state.seq).to_string()
    }

    /// The token's user, or the Graph error an API call gets; counts the call
    /// against the Business Use Case limit.
    fn authorize_call(&self, token: Option<String>, scope: &str) -> Result<Caller, Box<Response>> {
        let now = self.now();
        let mut state = self.state.lock().expect("instagram lock");
        let Some(token) = token else {
            return Err(Box::new(graph_error(
                400,
                2500,
                None,
                "An active access token must be used to query information about the current user.",
                None,
            )));
        };
        let Some(found) = state.tokens.get(&token) else {
            return Err(Box::new(graph_error(
                400,
                190,
                None,
                "Invalid OAuth access token - Cannot parse access token",
                None,
            )));
        };
        let user_id = found.grant.user_id.clone();
        let (accounts, facebook) = (found.grant.accounts.clone(), found.grant.facebook);
        if let Some(revoked_at) = state.revoked_users.get(&user_id)
            && found.issued_at <= *revoked_at
        {
            return Err(Box::new(graph_error(
                400,
                190,
                Some(458),
                "Error validating access token: The user has not authorized application.",
                None,
            )));
        }
        if found.expires_at <= now {
            return Err(Box::new(graph_error(
                400,
                190,
                Some(463),
                "Error validating access token: Session has expired.",
                None,
            )));
        }
        let scope = if facebook { facebook_scope(scope) } else { scope };
        if !found.grant.scopes.iter().any(|s| s == scope) {
            return Err(Box::new(graph_error(
                403,
                200,
                None,
                &format!("(#200) Requires {scope} permission to manage the object"),
                None,
            )));
        }
        let calls = state.calls.entry(user_id.clone()).or_default();
        calls.retain(|t| *t > now - 3600);
        if calls.len() >= API_CALLS_PER_HOUR {
            let regain_minutes = ((calls[0] + 3600 - now) as f64 / 60.0).ceil() as i64;
            let usage = json!({ user_id.clone(): [{
                "type": "instagram", "call_count": 100, "total_cputime": 10, "total_time": 10,
                "estimated_time_to_regain_access": regain_minutes,
            }]});
            let mut response = graph_error(
                400,
                80002,
                None,
                "There have been too many calls to this Instagram account. Wait a bit and try again.",
                None,
            );
            response.headers_mut().insert(
                "x-business-use-case-usage",
                usage.to_string().parse().expect("a header value"),
            );
            return Err(Box::new(response));
        }
        calls.push(now);
        Ok(Caller {
            user_id,
            accounts,
            facebook,
        })
    }

    fn issue_token(&self, state: &mut State_, grant: Grant, long_lived: bool) -> (String, i64) {
        let now = self.now();
        let ttl = if long_lived {
            LONG_TOKEN_TTL_SECS
        } else {
            SHORT_TOKEN_TTL_SECS
        };
        let value = secret(if long_lived { "IGAAL" } else { "IGAAS" });
        self.core.records.issued("instagram", "access_token", &value);
        state.tokens.insert(
            value.clone(),
            Token {
                grant,
                long_lived,
                issued_at: now,
                expires_at: now + ttl,
            },
        );
        (value, ttl)
    }
}

// ---------------------------------------------------------------- OAuth

async fn authorize(State(app): State<App>, Query(q): Query<Params>) -> Response {
    crate::inject!(app.core, "instagram.authorize");
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error("Invalid platform app");
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return oauth_error("Invalid response_type: only code is supported");
    }
    let Some(redirect) = q.get("redirect_uri").and_then(|r| url::Url::parse(r).ok()) else {
        return oauth_error("Invalid redirect_uri");
    };
    let consent = app.core.consent.take("instagram");
    let mut back = redirect.clone();
    if consent.deny {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_reason", "user_denied")
            .append_pair("error_description", "The user denied your request.");
        if let Some(state) = q.get("state") {
            back.query_pairs_mut().append_pair("state", state);
        }
    } else {
        let scopes: Vec<String> = q
            .get("scope")
            .map(|s| {
                s.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let scopes = scopes.into_iter().filter(|s| !consent.untick.contains(s)).collect();
        let code = secret("AQB");
        app.core.records.issued("instagram", "code", &code);
        let expires_at = app.now() + CODE_TTL_SECS;
        app.state.lock().expect("instagram lock").codes.insert(
            code.clone(),
            CodeGrant {
                grant: Grant {
                    user_id: USER_ID.to_owned(),
                    scopes,
                    accounts: vec![USER_ID.to_owned()],
                    facebook: false,
                },
                redirect_uri: redirect.to_string(),
                expires_at,
                used: false,
            },
        );
        back.query_pairs_mut().append_pair("code", &code);
        if let Some(state) = q.get("state") {
            back.query_pairs_mut().append_pair("state", state);
        }
        // Instagram appends `#_` to the redirect.
        back.set_fragment(Some("_"));
    }
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, back.to_string())
        .body(Body::empty())
        .expect("a redirect")
}

async fn code_exchange(State(app): State<App>, body: Bytes) -> Response {
    crate::inject!(app.core, "instagram.token");
    let p = form(&body);
    if p.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || p.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error("Invalid client_id or client_secret");
    }
    if p.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error("Unsupported grant_type");
    }
    let code = p.get("code").cloned().unwrap_or_default();
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    let Some(grant) = state.codes.get_mut(&code) else {
        return oauth_error("Invalid authorization code");
    };
    if grant.used {
        return oauth_error("This authorization code has been used");
    }
    if grant.expires_at <= now {
        return oauth_error("This authorization code has expired");
    }
    let redirect_ok = p
        .get("redirect_uri")
        .and_then(|r| url::Url::parse(r).ok())
        .is_some_and(|r| r.to_string() == grant.redirect_uri);
    if !redirect_ok {
        return oauth_error(
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        );
    }
    grant.used = true;
    let grant = grant.grant.clone();
    let (user_id, scopes) = (grant.user_id.clone(), grant.scopes.clone());
    let (token, _) = app.issue_token(&mut state, grant, false);
    axum::Json(json!({"data": [{"access_token": token, "user_id": user_id, "permissions": scopes.join(",")}]}))
        .into_response()
}

async fn long_lived_exchange(State(app): State<App>, Query(q): Query<Params>) -> Response {
    crate::inject!(app.core, "instagram.exchange");
    if q.get("grant_type").map(String::as_str) != Some("ig_exchange_token") {
        return graph_error(400, 100, None, "Unsupported grant_type", None);
    }
    if q.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
        return graph_error(400, 101, None, "Error validating client secret.", None);
    }
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    let token = q.get("access_token").cloned().unwrap_or_default();
    let Some(short) = state.tokens.get(&token) else {
        return graph_error(
            400,
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
            None,
        );
    };
    if short.expires_at <= now {
        return graph_error(
            400,
            190,
            Some(463),
            "Error validating access token: Session has expired.",
            None,
        );
    }
    if short.long_lived {
        return graph_error(400, 100, None, "The access token is already long-lived", None);
    }
    let grant = short.grant.clone();
    let (token, ttl) = app.issue_token(&mut state, grant, true);
    axum::Json(json!({"access_token": token, "token_type": "bearer", "expires_in": ttl})).into_response()
}

async fn refresh(State(app): State<App>, Query(q): Query<Params>) -> Response {
    crate::inject!(app.core, "instagram.refresh");
    if q.get("grant_type").map(String::as_str) != Some("ig_refresh_token") {
        return graph_error(400, 100, None, "Unsupported grant_type", None);
    }
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    let token = q.get("access_token").cloned().unwrap_or_default();
    let Some(old) = state.tokens.get(&token) else {
        return graph_error(
            400,
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
            None,
        );
    };
    if let Some(revoked_at) = state.revoked_users.get(&old.grant.user_id)
        && old.issued_at <= *revoked_at
    {
        return graph_error(
            400,
            190,
            Some(458),
            "Error validating access token: The user has not authorized application.",
            None,
        );
    }
    if old.expires_at <= now {
        return graph_error(
            400,
            190,
            Some(463),
            "Error validating access token: Session has expired.",
            None,
        );
    }
    if !old.long_lived {
        return graph_error(400, 100, None, "Only long-lived access tokens can be refreshed", None);
    }
    if now - old.issued_at < REFRESH_MIN_AGE_SECS {
        return graph_error(
            400,
            100,
            None,
            "The access token must be at least 24 hours old to be refreshed",
            None,
        );
    }
    let grant = old.grant.clone();
    // A new string; the old one stays valid until its own expiry (§3A, UNVERIFIED).
    let (token, ttl) = app.issue_token(&mut state, grant, true);
    axum::Json(json!({"access_token": token, "token_type": "bearer", "expires_in": ttl})).into_response()
}

async fn revoke(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.revoke");
    let user_id = match app.authorize_call(bearer(&headers, &q), SCOPE_BASIC) {
        Ok(caller) => caller.user_id,
        Err(response) => return *response,
    };
    if id != "me" && id != user_id {
        return graph_error(400, 100, Some(33), "Unsupported delete request.", None);
    }
    let now = app.now();
    app.state
        .lock()
        .expect("instagram lock")
        .revoked_users
        .insert(user_id, now);
    axum::Json(json!({"success": true})).into_response()
}

// ---------------------------------------------------------------- Facebook Login flavour (§3B)

/// `GET /{version}/dialog/oauth`: the Facebook consent dialog; the consent's
/// `accounts` says how many Instagram accounts (behind Pages) the login holds.
async fn fb_dialog(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Response {
    crate::inject!(app.core, "instagram.fb_authorize");
    if id != "dialog" {
        return graph_error(400, 100, None, "Unknown path", None);
    }
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return graph_error(
            400,
            101,
            None,
            "Error validating application. Invalid application ID.",
            None,
        );
    }
    let Some(redirect) = q.get("redirect_uri").and_then(|r| url::Url::parse(r).ok()) else {
        return graph_error(
            400,
            191,
            None,
            "The redirect_uri is not owned by the application.",
            None,
        );
    };
    let consent = app.core.consent.take("instagram");
    let mut back = redirect.clone();
    if consent.deny {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_code", "200")
            .append_pair("error_reason", "user_denied")
            .append_pair("error_description", "Permissions error");
    } else {
        let scopes: Vec<String> = q
            .get("scope")
            .map(|s| {
                s.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let scopes = scopes.into_iter().filter(|s| !consent.untick.contains(s)).collect();
        let accounts = (0..consent.accounts.unwrap_or(1).max(1) as usize)
            .map(account_id)
            .collect();
        let code = secret("AQD");
        app.core.records.issued("instagram", "code", &code);
        let expires_at = app.now() + CODE_TTL_SECS;
        app.state.lock().expect("instagram lock").codes.insert(
            code.clone(),
            CodeGrant {
                grant: Grant {
                    user_id: FB_USER_ID.to_owned(),
                    scopes,
                    accounts,
                    facebook: true,
                },
                redirect_uri: redirect.to_string(),
                expires_at,
                used: false,
            },
        );
        back.query_pairs_mut().append_pair("code", &code);
    }
    if let Some(state) = q.get("state") {
        back.query_pairs_mut().append_pair("state", state);
    }
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, back.to_string())
        .body(Body::empty())
        .expect("a redirect")
}

/// `GET /{version}/oauth/access_token`: code → short-lived user token, or
/// `grant_type=fb_exchange_token` → long-lived (60 days; a long-lived token
/// can be exchanged again, which is how it is renewed).
async fn fb_token(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Response {
    crate::inject!(app.core, "instagram.fb_token");
    if id != "oauth" {
        return graph_error(400, 100, None, "Unknown path", None);
    }
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || q.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return graph_error(400, 1, None, "Error validating client secret.", None);
    }
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    if q.get("grant_type").map(String::as_str) == Some("fb_exchange_token") {
        let token = q.get("fb_exchange_token").cloned().unwrap_or_default();
        let Some(old) = state.tokens.get(&token).filter(|t| t.grant.facebook) else {
            return graph_error(
                400,
                190,
                None,
                "Invalid OAuth access token - Cannot parse access token",
                None,
            );
        };
        if let Some(revoked_at) = state.revoked_users.get(&old.grant.user_id)
            && old.issued_at <= *revoked_at
        {
            return graph_error(400, 190, Some(458), "The user has not authorized application.", None);
        }
        if old.expires_at <= now {
            return graph_error(
                400,
                190,
                Some(463),
                "Error validating access token: Session has expired.",
                None,
            );
        }
        let grant = old.grant.clone();
        let (token, ttl) = app.issue_token(&mut state, grant, true);
        return axum::Json(json!({"access_token": token, "token_type": "bearer", "expires_in": ttl})).into_response();
    }
    let code = q.get("code").cloned().unwrap_or_default();
    let Some(grant) = state.codes.get_mut(&code).filter(|g| g.grant.facebook) else {
        return graph_error(400, 100, None, "Invalid verification code format.", None);
    };
    if grant.used {
        return graph_error(400, 100, Some(36009), "This authorization code has been used.", None);
    }
    if grant.expires_at <= now {
        return graph_error(400, 100, Some(36007), "This authorization code has expired.", None);
    }
    let redirect_ok = q
        .get("redirect_uri")
        .and_then(|r| url::Url::parse(r).ok())
        .is_some_and(|r| r.to_string() == grant.redirect_uri);
    if !redirect_ok {
        return graph_error(
            400,
            100,
            Some(36008),
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
            None,
        );
    }
    grant.used = true;
    let grant = grant.grant.clone();
    let (token, _) = app.issue_token(&mut state, grant, false);
    if let Some(t) = state.tokens.get_mut(&token) {
        t.expires_at = now + FB_SHORT_TOKEN_TTL_SECS;
    }
    axum::Json(json!({"access_token": token, "token_type": "bearer", "expires_in": FB_SHORT_TOKEN_TTL_SECS}))
        .into_response()
}

fn account_json(app: &Ig, n: usize) -> Value {
    json!({
        "id": account_id(n),
        "user_id": account_id(n),
        "username": account_username(n),
        "name": if n == 0 { "Sim Creator".to_owned() } else { format!("Sim Creator {}", n + 1) },
        "account_type": "BUSINESS",
        "profile_picture_url": format!("{}/instagram/static/avatar-{n}.jpg", app.core.origin),
    })
}

/// `GET /{version}/me/accounts`: the Pages of a Facebook login, each with its
/// linked Instagram professional account.
async fn me_accounts(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.accounts");
    let caller = match app.authorize_call(bearer(&headers, &q), "pages_show_list") {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    if id != "me" || !caller.facebook {
        return graph_error(400, 100, Some(33), "Unsupported get request.", None);
    }
    let data: Vec<Value> = caller
        .accounts
        .iter()
        .enumerate()
        .map(|(n, _)| {
            json!({
                "id": (10_200_000_000_000_001u64 + n as u64).to_string(),
                "name": format!("Sim Page {}", n + 1),
                "instagram_business_account": account_json(&app, n),
            })
        })
        .collect();
    axum::Json(json!({ "data": data })).into_response()
}

/// `GET /{version}/me/permissions`: what the token was granted.
async fn permissions(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.permissions");
    let token = bearer(&headers, &q);
    if id != "me" {
        return graph_error(400, 100, Some(33), "Unsupported get request.", None);
    }
    let scopes = {
        let state = app.state.lock().expect("instagram lock");
        token
            .as_ref()
            .and_then(|t| state.tokens.get(t))
            .map(|t| t.grant.scopes.clone())
    };
    if let Err(response) = app.authorize_call(
        token,
        scopes
            .as_ref()
            .and_then(|s| s.first())
            .map(String::as_str)
            .unwrap_or(""),
    ) {
        return *response;
    }
    let data: Vec<Value> = scopes
        .unwrap_or_default()
        .iter()
        .map(|s| json!({"permission": s, "status": "granted"}))
        .collect();
    axum::Json(json!({ "data": data })).into_response()
}

// ---------------------------------------------------------------- nodes

/// `GET /{version}/{id}`: `me`, a container or a media.
async fn node(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers, &q);
    if id == "me" {
        crate::inject!(app.core, "instagram.me");
        let caller = match app.authorize_call(token, SCOPE_BASIC) {
            Ok(caller) => caller,
            Err(response) => return *response,
        };
        if caller.facebook {
            return axum::Json(json!({"id": caller.user_id, "name": "Sim Facebook User"})).into_response();
        }
        return axum::Json(account_json(&app, 0)).into_response();
    }
    let is_container = app.state.lock().expect("instagram lock").containers.contains_key(&id);
    if is_container {
        crate::inject!(app.core, "instagram.container_status");
    } else {
        crate::inject!(app.core, "instagram.media");
    }
    let caller = match app.authorize_call(token, SCOPE_BASIC) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let now = app.now();
    let state = app.state.lock().expect("instagram lock");
    if let Some(c) = state.containers.get(&id).filter(|c| caller.owns(&c.user_id)) {
        let (code, status) = container_status(c, now);
        let mut answer = json!({"id": id});
        let wanted = fields(&q);
        if wanted.is_empty() || wanted.iter().any(|f| f == "status_code") {
            answer["status_code"] = json!(code);
        }
        if wanted.iter().any(|f| f == "status") {
            answer["status"] = json!(status);
        }
        return axum::Json(answer).into_response();
    }
    if let Some(m) = state.media.get(&id).filter(|m| caller.owns(&m.user_id)) {
        let counts = Counts::at(m, now);
        return axum::Json(json!({
            "id": id,
            "media_type": "VIDEO",
            "media_product_type": "REELS",
            "caption": m.caption,
            "permalink": format!("https://www.instagram.com/reel/{}/", m.shortcode),
            "timestamp": timestamp(m.published_at),
            "like_count": counts.likes,
            "comments_count": counts.comments,
        }))
        .into_response();
    }
    graph_error(
        400,
        100,
        Some(33),
        &format!(
            "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        ),
        None,
    )
}

fn container_status(c: &Container, now: i64) -> (&'static str, String) {
    if c.media_id.is_some() {
        return ("PUBLISHED", "Published: Media has been published.".to_owned());
    }
    if now >= c.created_at + CONTAINER_TTL_SECS {
        return (
            "EXPIRED",
            "Expired: Media was not published within 24 hours.".to_owned(),
        );
    }
    match &c.outcome {
        None => ("IN_PROGRESS", "In Progress: Media upload has not completed.".to_owned()),
        Some(_) if now < c.ready_at => ("IN_PROGRESS", "In Progress: Media is still being processed.".to_owned()),
        Some(Ok(())) => (
            "FINISHED",
            "Finished: Media has been uploaded and it is ready to be published.".to_owned(),
        ),
        Some(Err((subcode, reason))) => (
            "ERROR",
            format!("Error: Media upload has failed with error code {subcode}. {reason}"),
        ),
    }
}

// ---------------------------------------------------------------- publishing

async fn create_container(
    State(app): State<App>,
    Path((version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    crate::inject!(app.core, "instagram.create_container");
    let mut p = q;
    p.extend(form(&body));
    let caller = match app.authorize_call(bearer(&headers, &p), SCOPE_PUBLISH) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let Some(user_id) = caller.account(&id) else {
        return graph_error(400, 100, Some(33), "Unsupported post request.", None);
    };
    if p.get("media_type").map(String::as_str) != Some("REELS") {
        return graph_error(
            400,
            100,
            Some(2207023),
            "The media type is unknown (the simulator serves REELS only).",
            None,
        );
    }
    let caption = p.get("caption").cloned().unwrap_or_default();
    if caption.chars().count() > CAPTION_MAX_CHARS {
        return graph_error(
            400,
            36004,
            Some(2207010),
            "The caption is too long.",
            Some(&format!("Captions can be at most {CAPTION_MAX_CHARS} characters.")),
        );
    }
    if count_tags(&caption, '#') > CAPTION_MAX_HASHTAGS {
        return graph_error(
            400,
            36004,
            Some(2207010),
            "The caption has too many hashtags.",
            Some(&format!(
                "Captions can contain at most {CAPTION_MAX_HASHTAGS} hashtags."
            )),
        );
    }
    if count_tags(&caption, '@') > CAPTION_MAX_MENTIONS {
        return graph_error(
            400,
            100,
            Some(2207040),
            "The caption mentions too many people.",
            Some(&format!("Captions can mention at most {CAPTION_MAX_MENTIONS} people.")),
        );
    }
    let resumable = p.get("upload_type").map(String::as_str) == Some("resumable");
    let video_url = p.get("video_url").and_then(|u| url::Url::parse(u).ok());
    if !resumable && video_url.is_none() {
        return graph_error(
            400,
            100,
            None,
            "(#100) The parameter video_url is required (or upload_type=resumable).",
            None,
        );
    }
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    // Abandoned uploads: their containers expired, so their bytes go.
    for (id, c) in &state.containers {
        if c.outcome.is_none() && c.received > 0 && now >= c.created_at + CONTAINER_TTL_SECS {
            let _ = std::fs::remove_file(upload_path(&app.core.origin, id));
        }
    }
    let container_id = app.next_id(&mut state, 17_900_000_000_000_000);
    state.containers.insert(
        container_id.clone(),
        Container {
            user_id,
            caption,
            created_at: now,
            file_size: None,
            received: 0,
            outcome: None,
            ready_at: 0,
            media_id: None,
        },
    );
    drop(state);
    if let (false, Some(video_url)) = (resumable, video_url) {
        // Meta fetches the file itself, asynchronously: IN_PROGRESS meanwhile.
        let (app, id) = (app.clone(), container_id.clone());
        tokio::spawn(async move {
            let path = upload_path(&app.core.origin, &id);
            let outcome = match fetch(&video_url, &path).await {
                Ok(size) if size > MAX_FILE_BYTES => {
                    Err((2207026, format!("The video is larger than {MAX_FILE_BYTES} bytes.")))
                }
                Ok(size) => {
                    app.record_received(&id, size);
                    validate_file(&path, size).await
                }
                Err(reason) => Err((
                    2207052,
                    format!("The media could not be fetched from the URI: {reason}"),
                )),
            };
            let _ = tokio::fs::remove_file(&path).await;
            let now = app.now();
            if let Some(c) = app.state.lock().expect("instagram lock").containers.get_mut(&id) {
                c.file_size = Some(c.received);
                c.outcome = Some(outcome);
                c.ready_at = now + PROCESSING_SECS;
            }
        });
        return axum::Json(json!({"id": container_id})).into_response();
    }
    let uri = format!(
        "{}/instagram/rupload/ig-api-upload/{version}/{container_id}",
        app.core.origin
    );
    axum::Json(json!({"id": container_id, "uri": uri})).into_response()
}

/// Fetches `http://` URLs (the simulator speaks no TLS) to `path`, streaming;
/// the byte count, or why it failed.
async fn fetch(url: &url::Url, path: &FsPath) -> Result<u64, String> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    if url.scheme() != "http" {
        return Err("the simulator fetches http:// URLs only".into());
    }
    let host = url.host_str().ok_or("no host")?.to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let connect = tokio::net::TcpStream::connect((host.as_str(), port));
    let mut stream = tokio::time::timeout(std::time::Duration::from_secs(10), connect)
        .await
        .map_err(|_| "connection timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let request = format!(
        "GET {target} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: facebookexternalhit/1.1\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut reader = tokio::io::BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).await.map_err(|e| e.to_string())?;
    let code = status.split_whitespace().nth(1).and_then(|c| c.parse::<u16>().ok());
    if code != Some(200) {
        return Err(format!(
            "HTTP {}",
            code.map(|c| c.to_string()).unwrap_or_else(|| "?".into())
        ));
    }
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).await.map_err(|e| e.to_string())?;
        if n == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut file = tokio::fs::File::create(path).await.map_err(|e| e.to_string())?;
    let size = tokio::io::copy(&mut reader.take(MAX_FILE_BYTES + 1), &mut file)
        .await
        .map_err(|e| e.to_string())?;
    file.flush().await.map_err(|e| e.to_string())?;
    Ok(size)
}

/// Where a container's bytes land while uploading: unique per simulator
/// (its port) and container, deleted once probed.
fn upload_path(origin: &str, container_id: &str) -> PathBuf {
    let port = origin.rsplit(':').next().unwrap_or("0");
    std::env::temp_dir().join(format!("smez-sim-instagram-{port}-{container_id}.upload"))
}

fn debug_error(status: u16, retriable: bool, kind: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(json!({"debug_info": {"retriable": retriable, "type": kind, "message": message}})),
    )
        .into_response()
}

async fn upload_offset(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.upload_offset");
    let caller = match app.authorize_call(bearer(&headers, &Params::new()), SCOPE_PUBLISH) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let state = app.state.lock().expect("instagram lock");
    match state.containers.get(&id).filter(|c| caller.owns(&c.user_id)) {
        Some(c) => axum::Json(json!({"offset": c.received, "file_size": c.file_size})).into_response(),
        None => debug_error(404, false, "NotFound", "No upload session for this container"),
    }
}

async fn upload(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    crate::inject!(app.core, "instagram.upload");
    let caller = match app.authorize_call(bearer(&headers, &Params::new()), SCOPE_PUBLISH) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let header_u64 = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let (Some(offset), Some(file_size)) = (header_u64("offset"), header_u64("file_size")) else {
        return debug_error(
            400,
            false,
            "BadRequest",
            "The offset and file_size headers are required",
        );
    };
    {
        let mut state = app.state.lock().expect("instagram lock");
        let Some(c) = state.containers.get_mut(&id).filter(|c| caller.owns(&c.user_id)) else {
            return debug_error(404, false, "NotFound", "No upload session for this container");
        };
        if c.outcome.is_some() {
            return debug_error(400, false, "AlreadyUploaded", "The media was already uploaded");
        }
        if c.file_size.is_some_and(|s| s != file_size) {
            return debug_error(400, false, "BadRequest", "file_size differs from the first request");
        }
        if offset != c.received {
            return debug_error(
                400,
                true,
                "OffsetMismatch",
                &format!("Expected offset {}, got {offset}", c.received),
            );
        }
        if file_size > MAX_FILE_BYTES {
            // Refused before a byte is stored; the container ends in ERROR too.
            c.outcome = Some(Err((
                2207026,
                format!("The video is larger than {MAX_FILE_BYTES} bytes."),
            )));
            c.ready_at = app.now();
            return graph_error(
                400,
                352,
                Some(2207026),
                "The video file is too large.",
                Some(&format!("Reels can be at most {MAX_FILE_BYTES} bytes.")),
            );
        }
        c.file_size = Some(file_size);
    }
    // Stream the bytes to disk, never holding the upload in memory.
    let path = upload_path(&app.core.origin, &id);
    let progress = |received: u64| app.record_received(&id, received);
    let written = match write_range(&path, offset, file_size, body, &progress).await {
        Ok(written) => written,
        Err(written) => {
            app.record_received(&id, offset + written);
            return debug_error(
                500,
                true,
                "TransientError",
                "The upload was interrupted; resume from the offset",
            );
        }
    };
    let received = offset + written;
    app.record_received(&id, received);
    if received < file_size {
        return axum::Json(json!({"success": true, "message": "Partial upload received.", "offset": received}))
            .into_response();
    }
    let outcome = validate_file(&path, file_size).await;
    let _ = tokio::fs::remove_file(&path).await;
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    if let Some(c) = state.containers.get_mut(&id) {
        c.outcome = Some(outcome);
        c.ready_at = now + PROCESSING_SECS;
    }
    axum::Json(json!({"success": true, "message": "Upload successful."})).into_response()
}

impl Ig {
    fn record_received(&self, id: &str, received: u64) {
        if let Some(c) = self.state.lock().expect("instagram lock").containers.get_mut(id) {
            c.received = received;
        }
    }
}

/// Writes the body at `offset`; `Err(bytes written)` when the stream broke
/// or overran `file_size`. `progress` learns the received total after every
/// chunk is on disk, so a connection that breaks (and cancels the handler)
/// leaves the right offset to resume from.
async fn write_range(
    path: &FsPath,
    offset: u64,
    file_size: u64,
    body: Body,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, u64> {
    let mut file = match tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .await
    {
        Ok(file) => file,
        Err(_) => return Err(0),
    };
    if file.set_len(offset).await.is_err() || file.seek(std::io::SeekFrom::Start(offset)).await.is_err() {
        return Err(0);
    }
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            let _ = file.flush().await;
            return Err(written);
        };
        if offset + written + chunk.len() as u64 > file_size {
            let _ = file.flush().await;
            return Err(written);
        }
        if file.write_all(&chunk).await.is_err() || file.flush().await.is_err() {
            return Err(written);
        }
        written += chunk.len() as u64;
        progress(offset + written);
    }
    file.flush().await.map_err(|_| written)?;
    Ok(written)
}

/// Instagram's Reel rules (§5), from the bytes.
async fn validate_file(path: &FsPath, size: u64) -> Result<(), (i64, String)> {
    let format = |reason: String| Err((2207026, reason));
    match moov_before_mdat(path).await {
        Some(true) => {}
        Some(false) => return format("The moov atom must come before the media data (fast start).".into()),
        None => return format("The file is not an MP4/MOV container.".into()),
    }
    let facts: VideoFacts = match probe(path).await {
        Ok(facts) => facts,
        Err(_) => return format("The file is not a readable video.".into()),
    };
    if !facts.is_mp4_or_mov() {
        return format(format!("Unsupported container {}: use MOV or MP4.", facts.container));
    }
    match facts.video_codec.as_deref() {
        Some("h264" | "hevc") => {}
        other => {
            return format(format!(
                "Unsupported video codec {}: use H.264 or HEVC.",
                other.unwrap_or("none")
            ));
        }
    }
    if !(23.0..=60.0).contains(&facts.frame_rate) {
        return format(format!("Frame rate {:.2} fps is outside 23–60 fps.", facts.frame_rate));
    }
    if facts.width > 1920 {
        return format(format!("Width {} px exceeds 1920 px.", facts.width));
    }
    if facts.width == 0 || facts.height == 0 {
        return format("The video has no picture.".into());
    }
    let aspect = facts.width as f64 / facts.height as f64;
    if !(0.01..=10.0).contains(&aspect) {
        return format(format!("Aspect ratio {aspect:.3} is outside 0.01–10."));
    }
    if !(3.0..=900.0).contains(&facts.duration_secs) {
        return format(format!("Duration {:.1} s is outside 3 s–15 min.", facts.duration_secs));
    }
    if size > MAX_FILE_BYTES {
        return format(format!("The video is larger than {MAX_FILE_BYTES} bytes."));
    }
    if let Some(codec) = facts.audio_codec.as_deref() {
        if codec != "aac" {
            return format(format!("Unsupported audio codec {codec}: use AAC."));
        }
        if facts.audio_sample_rate.is_some_and(|r| r > 48_000) {
            return format("Audio sample rate exceeds 48 kHz.".into());
        }
    }
    Ok(())
}

/// Walks the top-level MP4 boxes: `Some(true)` when `moov` precedes `mdat`,
/// `None` when the file is not an ISO-BMFF file at all.
async fn moov_before_mdat(path: &FsPath) -> Option<bool> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await.ok()?;
    let total = file.metadata().await.ok()?.len();
    let mut at = 0u64;
    let mut first = true;
    while at + 8 <= total {
        file.seek(std::io::SeekFrom::Start(at)).await.ok()?;
        let mut head = [0u8; 16];
        let n = file.read(&mut head).await.ok()?;
        if n < 8 {
            return None;
        }
        let kind = &head[4..8];
        if first && kind != b"ftyp" {
            return None;
        }
        first = false;
        match kind {
            b"moov" => return Some(true),
            b"mdat" => return Some(false),
            _ => {}
        }
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        let size = match size32 {
            0 => return None,
            1 if n >= 16 => u64::from_be_bytes(head[8..16].try_into().ok()?),
            1 => return None,
            s => s,
        };
        if size < 8 {
            return None;
        }
        at += size;
    }
    None
}

async fn media_publish(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    crate::inject!(app.core, "instagram.publish");
    let mut p = q;
    p.extend(form(&body));
    let caller = match app.authorize_call(bearer(&headers, &p), SCOPE_PUBLISH) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let Some(user_id) = caller.account(&id) else {
        return graph_error(400, 100, Some(33), "Unsupported post request.", None);
    };
    let creation_id = p.get("creation_id").cloned().unwrap_or_default();
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    let Some(c) = state.containers.get(&creation_id).filter(|c| c.user_id == user_id) else {
        return graph_error(400, 24, Some(2207006), "The media was not found.", None);
    };
    if let Some(media_id) = &c.media_id {
        return axum::Json(json!({"id": media_id})).into_response();
    }
    match container_status(c, now).0 {
        "EXPIRED" => {
            return graph_error(
                400,
                24,
                Some(2207008),
                "The media container has expired; create a new one.",
                None,
            );
        }
        "IN_PROGRESS" => {
            return graph_error(
                400,
                9007,
                Some(2207027),
                "Media ID is not available",
                Some("The media is not ready for publishing, please wait for a moment"),
            );
        }
        "ERROR" => {
            let (subcode, reason) = c
                .outcome
                .clone()
                .and_then(Result::err)
                .unwrap_or((2207026, String::new()));
            return graph_error(
                400,
                352,
                Some(subcode),
                "The video format is not supported.",
                Some(&reason),
            );
        }
        _ => {}
    }
    let window = state.publishes.entry(user_id.clone()).or_default();
    window.retain(|t| *t > now - PUBLISH_QUOTA_WINDOW_SECS);
    if window.len() >= PUBLISH_QUOTA_TOTAL {
        return graph_error(
            400,
            9,
            Some(2207042),
            "Application request limit reached",
            Some("You reached the maximum number of posts that can be published in 24 hours."),
        );
    }
    window.push(now);
    let media_id = app.next_id(&mut state, 18_000_000_000_000_000);
    let shortcode = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(media_id.as_bytes())[..11].to_owned();
    let c = state.containers.get_mut(&creation_id).expect("the container");
    c.media_id = Some(media_id.clone());
    let (caption, bytes) = (c.caption.clone(), c.file_size.unwrap_or(0));
    state.media.insert(
        media_id.clone(),
        Media {
            user_id: user_id.clone(),
            caption: caption.clone(),
            published_at: now,
            shortcode,
        },
    );
    drop(state);
    app.core.records.post(AcceptedPost {
        platform: "instagram".into(),
        post_id: media_id.clone(),
        account_id: user_id,
        caption,
        bytes,
    });
    axum::Json(json!({"id": media_id})).into_response()
}

async fn publishing_limit(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.publishing_limit");
    let caller = match app.authorize_call(bearer(&headers, &q), SCOPE_PUBLISH) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let Some(user_id) = caller.account(&id) else {
        return graph_error(400, 100, Some(33), "Unsupported get request.", None);
    };
    let now = app.now();
    let since = q
        .get("since")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(i64::MIN)
        .max(now - PUBLISH_QUOTA_WINDOW_SECS);
    let state = app.state.lock().expect("instagram lock");
    let usage = state
        .publishes
        .get(&user_id)
        .map(|w| w.iter().filter(|t| **t > since).count())
        .unwrap_or(0);
    axum::Json(json!({"data": [{
        "quota_usage": usage,
        "config": {"quota_total": PUBLISH_QUOTA_TOTAL, "quota_duration": PUBLISH_QUOTA_WINDOW_SECS},
    }]}))
    .into_response()
}

// ---------------------------------------------------------------- insights and comments

struct Counts {
    views: u64,
    reach: u64,
    likes: u64,
    comments: u64,
    shares: u64,
    saved: u64,
}

impl Counts {
    fn at(media: &Media, now: i64) -> Self {
        let elapsed = (now - media.published_at).max(0) as u64;
        let views = elapsed / 6;
        let comments = generated_comments(media, now)
            .iter()
            .map(|c| 1 + c.replies.len() as u64)
            .sum();
        Self {
            views,
            reach: views * 4 / 5,
            likes: views / 12,
            comments,
            shares: views / 60,
            saved: views / 80,
        }
    }
}

async fn insights(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.insights");
    let caller = match app.authorize_call(bearer(&headers, &q), SCOPE_INSIGHTS) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let now = app.now();
    let state = app.state.lock().expect("instagram lock");
    let Some(media) = state.media.get(&id).filter(|m| caller.owns(&m.user_id)) else {
        return graph_error(400, 100, Some(33), "Unsupported get request.", None);
    };
    let Some(metrics) = q.get("metric").filter(|m| !m.is_empty()) else {
        return graph_error(400, 100, None, "(#100) The parameter metric is required", None);
    };
    let counts = Counts::at(media, now);
    let mut data = Vec::new();
    for (i, name) in metrics.split(',').map(str::trim).enumerate() {
        if DEPRECATED_METRICS.contains(&name) {
            return graph_error(
                400,
                100,
                None,
                &format!(
                    "(#100) Starting from version v22.0 and above, the {name} metric is no longer supported for media insights. Use views instead."
                ),
                None,
            );
        }
        if !SUPPORTED_METRICS.contains(&name) {
            return graph_error(
                400,
                100,
                None,
                &format!(
                    "(#100) metric[{i}] must be one of the following values: {}",
                    SUPPORTED_METRICS.join(", ")
                ),
                None,
            );
        }
        let value = match name {
            "views" => counts.views,
            "reach" => counts.reach,
            "likes" => counts.likes,
            "comments" => counts.comments,
            "shares" => counts.shares,
            "saved" => counts.saved,
            "total_interactions" => counts.likes + counts.saved + counts.comments + counts.shares,
            "ig_reels_avg_watch_time" => {
                if counts.views > 0 {
                    4200
                } else {
                    0
                }
            }
            _ => counts.views * 4200,
        };
        data.push(json!({
            "name": name,
            "period": "lifetime",
            "values": [{"value": value}],
            "title": name,
            "description": format!("Lifetime {name} of the reel"),
            "id": format!("{id}/insights/{name}/lifetime"),
        }));
    }
    axum::Json(json!({ "data": data })).into_response()
}

struct SimComment {
    id: String,
    text: String,
    username: String,
    at: i64,
    replies: Vec<SimComment>,
}

/// The comments a reel has at `now`: one every [`COMMENT_EVERY_SECS`], every
/// third with one reply a minute later.
fn generated_comments(media: &Media, now: i64) -> Vec<SimComment> {
    let elapsed = (now - media.published_at).max(0);
    let count = (elapsed / COMMENT_EVERY_SECS).min(1000);
    (0..count)
        .map(|i| {
            let at = media.published_at + (i + 1) * COMMENT_EVERY_SECS;
            let replies = if i % 3 == 0 && at + 60 <= now {
                vec![SimComment {
                    id: format!(
                        "{}{:04}",
                        17_950_000_000_000u64 + media.published_at as u64 % 1_000_000,
                        i * 2 + 1
                    ),
                    text: format!("@{} thanks!", format_args!("viewer_{}", i % 37)),
                    username: USERNAME.to_owned(),
                    at: at + 60,
                    replies: Vec::new(),
                }]
            } else {
                Vec::new()
            };
            SimComment {
                id: format!(
                    "{}{:04}",
                    17_950_000_000_000u64 + media.published_at as u64 % 1_000_000,
                    i * 2
                ),
                text: format!("Great reel! comment {i}"),
                username: format!("viewer_{}", i % 37),
                at,
                replies,
            }
        })
        .collect()
}

fn comment_json(c: &SimComment, with_replies: bool) -> Value {
    let mut value =
        json!({"id": c.id, "text": c.text, "username": c.username, "timestamp": timestamp(c.at), "like_count": 0});
    if with_replies {
        value["replies"] = json!({"data": c.replies.iter().map(|r| comment_json(r, false)).collect::<Vec<_>>()});
    }
    value
}

async fn comments(
    State(app): State<App>,
    Path((version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.comments");
    let caller = match app.authorize_call(bearer(&headers, &q), SCOPE_COMMENTS) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let now = app.now();
    let state = app.state.lock().expect("instagram lock");
    let Some(media) = state.media.get(&id).filter(|m| caller.owns(&m.user_id)) else {
        return graph_error(400, 100, Some(33), "Unsupported get request.", None);
    };
    let all = generated_comments(media, now);
    drop(state);
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(COMMENTS_PAGE_MAX)
        .clamp(1, COMMENTS_PAGE_MAX);
    let engine = base64::engine::general_purpose::STANDARD;
    let start = match q.get("after") {
        Some(cursor) => match engine
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
        {
            Some(index) => index + 1,
            None => return graph_error(400, 100, None, "(#100) Invalid cursor", None),
        },
        None => 0,
    };
    let with_replies = q.get("fields").is_some_and(|f| f.contains("replies"));
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|c| comment_json(c, with_replies))
        .collect();
    let mut answer = json!({ "data": page });
    if !page.is_empty() {
        let last = start + page.len() - 1;
        let after = engine.encode(last.to_string());
        answer["paging"] = json!({"cursors": {"before": engine.encode(start.to_string()), "after": after}});
        if last + 1 < all.len() {
            let mut next =
                url::Url::parse(&format!("{}/instagram/{version}/{id}/comments", app.core.origin)).expect("a URL");
            for (k, v) in q
                .iter()
                .filter(|(k, _)| k.as_str() != "after" && k.as_str() != "access_token")
            {
                next.query_pairs_mut().append_pair(k, v);
            }
            next.query_pairs_mut().append_pair("after", &after);
            answer["paging"]["next"] = json!(next.to_string());
        }
    }
    axum::Json(answer).into_response()
}
