//! Instagram through "Instagram API with Instagram Login" (platforms.md §3A)
//! and the Graph API (§3C–§3E), version [`GRAPH_VERSION`].
//!
//! - OAuth: authorize on `api.instagram.com` (no PKCE: Instagram documents
//!   none), code → short-lived token (1 h) → long-lived token (60 days). There
//!   is no refresh token: the long-lived token itself is refreshed once at least
//!   24 h old, so [`TokenSet::refresh_token`] carries the long-lived token and
//!   [`PlatformAdapter::refresh`] takes it. A refresh may return a new string:
//!   keep the returned one.
//! - Revoke: Instagram Login documents no revoke endpoint; Smez sends the
//!   standard Graph `DELETE /me/permissions` ([`REVOKE_PATH`]).
//! - Accounts: an Instagram Login token is one professional account. Choosing
//!   among several accounts belongs to the Facebook Login flavour (§3B):
//!   [`Instagram::facebook_login`] authorizes through the Facebook dialog,
//!   exchanges for a long-lived Facebook user token (renewed by exchanging it
//!   again: `fb_exchange_token`), lists the Instagram accounts of the user's
//!   Pages with `/me/accounts`, and publishes with the same Graph paths.
//! - Publishing: a REELS container with `upload_type=resumable`, the bytes
//!   streamed to the returned rupload `uri` (resumed from the server's offset
//!   after a broken connection), then [`PlatformAdapter::publish_status`] polls
//!   the container and, once `FINISHED`, calls `media_publish`. The returned
//!   handle is the container id. Instagram has no per-post privacy (the
//!   account's applies): [`PostMetadata::privacy`] is not sent.
//! - Every failure maps to an [`ErrorClass`] from the Graph error envelope's
//!   `code` / `error_subcode` (never its `type`).

mod accounts;
mod comments;
mod errors;
mod metrics;
mod oauth;
mod publish;
mod upload;

use std::time::Duration;

use serde_json::Value;

use crate::http::{Answer, client};
use crate::oauth::authorize_url;
use crate::{
    AccountProfile, AuthorizeRequest, CommentPage, Endpoints, ErrorClass, Platform, PlatformAdapter, PlatformError,
    PostMetadata, PostMetrics, PublishHandle, PublishJournal, PublishProgress, PublishStatus, TokenSet, VideoFile,
};

use comments::comment_page_of;
use metrics::metrics_of;
use publish::{failed_container, refuse_oversized};

pub use errors::classify;

pub const GRAPH_VERSION: &str = "v25.0";
/// The authorize page (also served on `www.instagram.com` for Business Login).
pub const REAL_AUTH_BASE: &str = "https://api.instagram.com";
/// The code exchange (`/oauth/access_token`); long-lived exchange and refresh are on the API host.
pub const REAL_TOKEN_BASE: &str = "https://api.instagram.com";
pub const REAL_API_BASE: &str = "https://graph.instagram.com";
/// Where resumable uploads go; the container answer's `uri` is used as is.
pub const REAL_UPLOAD_BASE: &str = "https://rupload.facebook.com";
/// The revoke call (UNVERIFIED for Instagram Login: the standard Graph one).
pub const REVOKE_PATH: &str = "me/permissions";
/// Upload attempts (the first and the resumes) before giving up.
pub const UPLOAD_ATTEMPTS: u32 = 3;
/// When a rate limit gives no hint of when to retry.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// When the publishing cap says nothing else: its rolling window.
pub const DEFAULT_QUOTA_WINDOW_SECS: i64 = 86_400;
/// Insights Smez reads (the deprecated `plays` / `video_views` are not asked for).
pub const METRICS: &str = "views,reach,likes,comments,shares,saved,ig_reels_video_view_total_time";
pub const COMMENT_FIELDS: &str = "id,text,timestamp,username,replies{id,text,timestamp,username}";
pub const COMMENTS_PAGE: u32 = 50;
/// The Reel size cap (§0/§5: 300 MB in the current reference, 1 GB in older
/// ones): a larger file is refused before uploading.
pub const MAX_REEL_BYTES: u64 = 300 * 1024 * 1024;

const P: Platform = Platform::Instagram;

/// Which of Meta's two logins the adapter speaks (§3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Login {
    /// Instagram API with Instagram Login (§3A): one account per token.
    Instagram,
    /// Instagram API with Facebook Login for Business (§3B): the Instagram
    /// accounts of the user's Pages.
    Facebook,
}

/// The Facebook Login flavour's real hosts.
pub const REAL_FACEBOOK_AUTH_BASE: &str = "https://www.facebook.com";
pub const REAL_FACEBOOK_GRAPH_BASE: &str = "https://graph.facebook.com";

pub struct Instagram {
    endpoints: Endpoints,
    http: reqwest::Client,
    login: Login,
}

impl Instagram {
    /// The Instagram Login flavour (§3A).
    pub fn new(endpoints: Endpoints) -> Self {
        Self {
            endpoints,
            http: client(),
            login: Login::Instagram,
        }
    }

    /// The Facebook Login flavour (§3B), e.g. with [`Self::real_facebook_endpoints`].
    pub fn facebook_login(endpoints: Endpoints) -> Self {
        Self {
            endpoints,
            http: client(),
            login: Login::Facebook,
        }
    }

    pub fn login(&self) -> Login {
        self.login
    }

    pub fn real_facebook_endpoints(client_id: &str, client_secret: &str) -> Endpoints {
        Endpoints {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            auth_base: REAL_FACEBOOK_AUTH_BASE.to_owned(),
            token_base: REAL_FACEBOOK_GRAPH_BASE.to_owned(),
            api_base: REAL_FACEBOOK_GRAPH_BASE.to_owned(),
            upload_base: REAL_UPLOAD_BASE.to_owned(),
        }
    }

    pub fn real_endpoints(client_id: &str, client_secret: &str) -> Endpoints {
        Endpoints {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            auth_base: REAL_AUTH_BASE.to_owned(),
            token_base: REAL_TOKEN_BASE.to_owned(),
            api_base: REAL_API_BASE.to_owned(),
            upload_base: REAL_UPLOAD_BASE.to_owned(),
        }
    }

    fn graph(&self, path: &str) -> String {
        self.endpoints.api_url(&format!("/{GRAPH_VERSION}/{path}"))
    }

    /// A Graph GET on behalf of the token's owner.
    async fn graph_get(
        &self,
        what: &str,
        token: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, PlatformError> {
        self.send(self.http.get(self.graph(path)).bearer_auth(token).query(query), what)
            .await
    }

    /// Sends a Graph (or OAuth host, or rupload) request: the JSON of a
    /// successful answer, or the classified error.
    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Value, PlatformError> {
        let answer = Answer::fetch(P, what, request).await?.complete()?;
        let status = answer.status.as_u16();
        match &answer.json {
            Some(body) if (200..300).contains(&status) && body.get("error").is_none() && !body.is_null() => {
                Ok(body.clone())
            }
            _ => Err(classify(status, &answer.headers, answer.json_or_null(), what)),
        }
    }
}

/// An answer without what it must carry (an id, a token): worth retrying.
fn malformed(what: &str) -> PlatformError {
    PlatformError::new(P, ErrorClass::Transient, format!("{what}: unexpected answer"))
}

/// Graph ids come as strings, sometimes as numbers.
fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait::async_trait]
impl PlatformAdapter for Instagram {
    fn platform(&self) -> Platform {
        P
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> Result<String, PlatformError> {
        let page = match self.login {
            Login::Instagram => self.endpoints.auth_url("/oauth/authorize"),
            Login::Facebook => self.endpoints.auth_url(&format!("/{GRAPH_VERSION}/dialog/oauth")),
        };
        let scopes = request.scopes.join(",");
        // No PKCE: Meta documents none.
        authorize_url(
            P,
            &page,
            &[
                ("client_id", &self.endpoints.client_id),
                ("redirect_uri", &request.redirect_uri),
                ("response_type", "code"),
                ("scope", &scopes),
                ("state", &request.state),
            ],
            None,
        )
    }

    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        _pkce_verifier: Option<&str>,
    ) -> Result<TokenSet, PlatformError> {
        // Instagram appends `#_` to the redirect: never part of the code.
        let code = code.trim_end_matches("#_");
        match self.login {
            Login::Instagram => self.ig_exchange_code(code, redirect_uri).await,
            Login::Facebook => self.fb_exchange_code(code, redirect_uri).await,
        }
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, PlatformError> {
        let refreshed = match self.login {
            Login::Instagram => self.ig_refresh(refresh_token).await,
            Login::Facebook => self.fb_long_lived(refresh_token, "token refresh").await,
        };
        // The long-lived token is its own refresh token: once it expired,
        // refreshing cannot help, only reconnecting.
        refreshed.map_err(|mut e| {
            if e.class == ErrorClass::AuthExpired {
                e.class = ErrorClass::AuthRevoked;
            }
            e
        })
    }

    async fn revoke(&self, token: &str) -> Result<(), PlatformError> {
        self.send(self.http.delete(self.graph(REVOKE_PATH)).bearer_auth(token), "revoke")
            .await
            .map(|_| ())
    }

    async fn accounts(&self, access_token: &str) -> Result<Vec<AccountProfile>, PlatformError> {
        match self.login {
            Login::Instagram => self.ig_account(access_token).await,
            Login::Facebook => self.fb_accounts(access_token).await,
        }
    }

    /// The container is recorded before any byte goes out; a resumed
    /// publish uploads to the same container (it is published later, by
    /// [`PlatformAdapter::publish_status`], once Meta has processed it).
    async fn publish_resumable(
        &self,
        access_token: &str,
        account_id: &str,
        video: &VideoFile,
        post: &PostMetadata,
        mut progress: PublishProgress,
        journal: &dyn PublishJournal,
    ) -> Result<PublishHandle, PlatformError> {
        refuse_oversized(video)?;
        let (id, uri) = match (progress.publish_id.clone(), progress.upload_url.clone()) {
            (Some(id), _) if progress.uploaded => (id, String::new()),
            (Some(id), Some(uri)) => (id, uri),
            _ => {
                let container = self
                    .create_container(access_token, account_id, post, ("upload_type", "resumable"))
                    .await?;
                let id = id_of(&container["id"]).ok_or_else(|| malformed("create container"))?;
                let uri = container["uri"].as_str().ok_or_else(|| malformed("create container"))?;
                progress.publish_id = Some(id.clone());
                progress.upload_url = Some(uri.to_owned());
                journal.record(&progress).await?;
                (id, uri.to_owned())
            }
        };
        if !progress.uploaded {
            self.upload(access_token, &uri, video).await?;
            progress.uploaded = true;
            journal.record(&progress).await?;
        }
        Ok(PublishHandle {
            id,
            account_id: account_id.to_owned(),
        })
    }

    async fn publish_status(&self, access_token: &str, handle: &PublishHandle) -> Result<PublishStatus, PlatformError> {
        let container = self
            .graph_get(
                "container status",
                access_token,
                &handle.id,
                &[("fields", "status_code,status")],
            )
            .await?;
        let code = container["status_code"].as_str().unwrap_or_default();
        let status = container["status"].as_str().unwrap_or(code).to_owned();
        match code {
            "IN_PROGRESS" => Ok(PublishStatus::Processing { detail: status }),
            "FINISHED" => self.publish_container(access_token, handle, &status).await,
            // Published already, but this poll did not learn the media id (a
            // media_publish whose answer was lost). Publishing again could post
            // it twice, so it is reported, not retried.
            "PUBLISHED" => Ok(PublishStatus::Unconfirmed {
                detail: "the container was published, but its media id was not received; check the account \
                         before publishing again"
                    .into(),
            }),
            "ERROR" => Ok(failed_container(status)),
            // Not published within 24 h: a new publish (new container) is needed.
            "EXPIRED" => Ok(PublishStatus::Failed {
                error: status,
                class: ErrorClass::Transient,
            }),
            _ => Err(malformed("container status")),
        }
    }

    async fn metrics(&self, access_token: &str, post_ids: &[String]) -> Result<Vec<PostMetrics>, PlatformError> {
        let mut all = Vec::with_capacity(post_ids.len());
        for post_id in post_ids {
            let path = format!("{post_id}/insights");
            match self
                .graph_get("insights", access_token, &path, &[("metric", METRICS)])
                .await
            {
                Ok(raw) => all.push(metrics_of(post_id, raw)),
                // Code 10: not enough viewers to show insights — unknown, not zero.
                Err(e) if e.platform_code.as_deref() == Some("10") => all.push(PostMetrics::unknown(post_id.clone())),
                Err(e) => return Err(e),
            }
        }
        Ok(all)
    }

    async fn comments(
        &self,
        access_token: &str,
        post_id: &str,
        cursor: Option<&str>,
    ) -> Result<CommentPage, PlatformError> {
        let limit = COMMENTS_PAGE.to_string();
        let mut query = vec![("fields", COMMENT_FIELDS), ("limit", limit.as_str())];
        if let Some(cursor) = cursor {
            query.push(("after", cursor));
        }
        let path = format!("{post_id}/comments");
        Ok(comment_page_of(
            &self.graph_get("comments", access_token, &path, &query).await?,
        ))
    }
}
