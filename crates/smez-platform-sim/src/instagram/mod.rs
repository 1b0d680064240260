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

mod comments;
mod errors;
mod facebook_login;
mod fetch;
mod grants;
mod insights;
mod media_rules;
mod nodes;
mod oauth;
mod publishing;
mod upload;

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
use crate::windows::RollingWindows;
use crate::wire::{form, found, secret};

use errors::{expired_token_error, graph_error, no_token_error, oauth_error, revoked_token_error, unknown_token_error};
use grants::{CodeGrant, Grant, Token, bearer, consented_scopes, token_answer};

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

#[derive(Clone)]
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
    /// Posts per account, for `content_publishing_limit`.
    publishes: RollingWindows<PUBLISH_QUOTA_WINDOW_SECS>,
    /// Graph calls per user, for the Business Use Case limit.
    calls: RollingWindows<3600>,
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
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/access_token", post(oauth::code_exchange))
        .route("/access_token", get(oauth::long_lived_exchange))
        .route("/refresh_access_token", get(oauth::refresh))
        .route(
            "/rupload/ig-api-upload/{version}/{id}",
            post(upload::upload).get(upload::upload_offset),
        )
        .route("/{version}/{id}", get(nodes::node))
        .route(
            "/{version}/{id}/permissions",
            delete(oauth::revoke).get(facebook_login::permissions),
        )
        .route("/{version}/{id}/oauth", get(facebook_login::fb_dialog))
        .route("/{version}/{id}/access_token", get(facebook_login::fb_token))
        .route("/{version}/{id}/accounts", get(facebook_login::me_accounts))
        .route("/{version}/{id}/media", post(publishing::create_container))
        .route("/{version}/{id}/media_publish", post(publishing::media_publish))
        .route(
            "/{version}/{id}/content_publishing_limit",
            get(publishing::publishing_limit),
        )
        .route("/{version}/{id}/insights", get(insights::insights))
        .route("/{version}/{id}/comments", get(comments::comments))
        .with_state(app)
}

/// Graph API times: ISO 8601 in UTC with a `+0000` offset.
fn timestamp(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S+0000")
        .to_string()
}

impl Ig {
    fn now(&self) -> i64 {
        self.core.clock.now_secs()
    }

    fn next_id(&self, state: &mut State_, base: u64) -> String {
        state.seq += 1;
        (base + state.seq).to_string()
    }
}
