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

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use crate::http::{client, retry_after, transport_error};
use crate::{
    AccountProfile, AuthorizeRequest, Comment, CommentPage, Endpoints, ErrorClass, Platform, PlatformAdapter,
    PlatformError, PostMetadata, PostMetrics, PublishHandle, PublishStatus, TokenSet, VideoFile,
};

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

    /// `{token_base}/{version}/oauth/access_token` (Facebook Login).
    async fn fb_token(&self, params: &[(&str, &str)], what: &str) -> Result<(String, Option<u64>), PlatformError> {
        let base = self.endpoints.token_base.trim_end_matches('/');
        let body = self
            .send(
                self.http
                    .get(format!("{base}/{GRAPH_VERSION}/oauth/access_token"))
                    .query(params),
                what,
            )
            .await?;
        long_lived(&body, what)
    }

    async fn fb_exchange_code(&self, code: &str, redirect_uri: &str) -> Result<TokenSet, PlatformError> {
        let id = self.endpoints.client_id.as_str();
        let secret = self.endpoints.client_secret.as_str();
        let (short, _) = self
            .fb_token(
                &[
                    ("client_id", id),
                    ("redirect_uri", redirect_uri),
                    ("client_secret", secret),
                    ("code", code),
                ],
                "code exchange",
            )
            .await?;
        let mut tokens = self.fb_long_lived(&short, "long-lived token exchange").await?;
        let granted = self
            .send(
                self.http
                    .get(self.graph("me/permissions"))
                    .bearer_auth(&tokens.access_token),
                "permissions",
            )
            .await?;
        tokens.scopes = granted["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["status"] == "granted")
            .filter_map(|p| p["permission"].as_str().map(str::to_owned))
            .collect();
        Ok(tokens)
    }

    async fn fb_long_lived(&self, token: &str, what: &str) -> Result<TokenSet, PlatformError> {
        let (token, expires_in) = self
            .fb_token(
                &[
                    ("grant_type", "fb_exchange_token"),
                    ("client_id", self.endpoints.client_id.as_str()),
                    ("client_secret", self.endpoints.client_secret.as_str()),
                    ("fb_exchange_token", token),
                ],
                what,
            )
            .await?;
        Ok(TokenSet {
            refresh_token: Some(token.clone()),
            access_token: token,
            access_expires_in_secs: expires_in,
            refresh_expires_in_secs: expires_in,
            scopes: Vec::new(),
            subject: None,
        })
    }

    async fn fb_accounts(&self, access_token: &str) -> Result<Vec<AccountProfile>, PlatformError> {
        let pages = self
            .send(
                self.http
                    .get(self.graph("me/accounts"))
                    .bearer_auth(access_token)
                    .query(&[(
                        "fields",
                        "id,name,instagram_business_account{id,username,name,profile_picture_url}",
                    )]),
                "accounts",
            )
            .await?;
        Ok(pages["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|page| profile(&page["instagram_business_account"]))
            .collect())
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
        format!(
            "{}/{GRAPH_VERSION}/{path}",
            self.endpoints.api_base.trim_end_matches('/')
        )
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Value, PlatformError> {
        let response = request.send().await.map_err(|e| transport_error(P, what, e))?;
        read(response, what).await
    }

    async fn publish_container(
        &self,
        access_token: &str,
        handle: &PublishHandle,
        status: &str,
    ) -> Result<PublishStatus, PlatformError> {
        let published = self
            .send(
                self.http
                    .post(self.graph(&format!("{}/media_publish", handle.account_id)))
                    .bearer_auth(access_token)
                    .query(&[("creation_id", handle.id.as_str())]),
                "media_publish",
            )
            .await;
        let media_id = match published {
            Ok(body) => id_of(&body["id"]).ok_or_else(|| malformed("media_publish"))?,
            // 9007 / 2207027: not ready yet (also seen just after FINISHED): wait and poll again.
            Err(e) if e.platform_code.as_deref().is_some_and(|c| c.starts_with("9007")) => {
                return Ok(PublishStatus::Processing {
                    detail: format!("{status} (not ready for publishing yet)"),
                });
            }
            Err(e) => return Err(e),
        };
        let url = self
            .send(
                self.http
                    .get(self.graph(&media_id))
                    .bearer_auth(access_token)
                    .query(&[("fields", "id,permalink")]),
                "media",
            )
            .await
            .ok()
            .and_then(|m| m["permalink"].as_str().map(str::to_owned));
        Ok(PublishStatus::Published { post_id: media_id, url })
    }

    /// Streams the file to the rupload `uri`, resuming from the server's
    /// offset after a transient failure.
    async fn upload(&self, access_token: &str, uri: &str, video: &VideoFile) -> Result<(), PlatformError> {
        let size = video.size();
        let mut offset = 0u64;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let body = video
                .body(offset, size - offset)
                .await
                .map_err(|e| PlatformError::new(P, ErrorClass::Permanent, format!("reading the video: {e}")))?;
            let result = self
                .http
                .post(uri)
                .header(reqwest::header::AUTHORIZATION, format!("OAuth {access_token}"))
                .header("offset", offset.to_string())
                .header("file_size", size.to_string())
                .header(reqwest::header::CONTENT_LENGTH, (size - offset).to_string())
                .timeout(upload_timeout(size - offset))
                .body(body)
                .send()
                .await;
            let error = match result {
                Ok(response) => match read(response, "upload").await {
                    Ok(_) => return Ok(()),
                    Err(e) => e,
                },
                Err(e) => transport_error(P, "upload", e),
            };
            if error.class != ErrorClass::Transient || attempt >= UPLOAD_ATTEMPTS {
                return Err(error);
            }
            tracing::warn!(attempt, error = %error, "instagram upload interrupted; resuming");
            let status = self
                .send(
                    self.http
                        .get(uri)
                        .header(reqwest::header::AUTHORIZATION, format!("OAuth {access_token}")),
                    "upload offset",
                )
                .await?;
            offset = status["offset"].as_u64().unwrap_or(0).min(size);
        }
    }
}

impl Instagram {
    /// Publishes a video Meta fetches itself from a public `video_url`
    /// (§3D option A); follow up with [`PlatformAdapter::publish_status`].
    pub async fn publish_from_url(
        &self,
        access_token: &str,
        account_id: &str,
        video_url: &str,
        post: &PostMetadata,
    ) -> Result<PublishHandle, PlatformError> {
        let container = self
            .create_container(access_token, account_id, post, ("video_url", video_url))
            .await?;
        Ok(PublishHandle {
            id: id_of(&container["id"]).ok_or_else(|| malformed("create container"))?,
            account_id: account_id.to_owned(),
        })
    }

    /// Checks the publishing cap (no point uploading what cannot be
    /// published), then creates a REELS container from `source`.
    async fn create_container(
        &self,
        access_token: &str,
        account_id: &str,
        post: &PostMetadata,
        source: (&str, &str),
    ) -> Result<Value, PlatformError> {
        let limit = self
            .send(
                self.http
                    .get(self.graph(&format!("{account_id}/content_publishing_limit")))
                    .bearer_auth(access_token)
                    .query(&[("fields", "quota_usage,config")]),
                "publishing limit",
            )
            .await?;
        let entry = &limit["data"][0];
        if let (Some(usage), Some(total)) = (entry["quota_usage"].as_u64(), entry["config"]["quota_total"].as_u64())
            && usage >= total
        {
            let window = entry["config"]["quota_duration"]
                .as_i64()
                .unwrap_or(DEFAULT_QUOTA_WINDOW_SECS);
            return Err(PlatformError::new(
                P,
                ErrorClass::QuotaExhausted,
                format!("publishing limit reached: {usage} of {total} posts in the rolling window"),
            )
            .with_code("content_publishing_limit")
            .with_reset_at(Utc::now() + chrono::Duration::seconds(window)));
        }
        let mut form = vec![
            ("media_type", "REELS".to_owned()),
            (source.0, source.1.to_owned()),
            ("caption", post.caption.clone()),
            ("share_to_feed", "true".to_owned()),
        ];
        if let Some(ms) = post.cover_timestamp_ms {
            form.push(("thumb_offset", ms.to_string()));
        }
        self.send(
            self.http
                .post(self.graph(&format!("{account_id}/media")))
                .bearer_auth(access_token)
                .form(&form),
            "create container",
        )
        .await
    }
}

fn upload_timeout(bytes: u64) -> Duration {
    // At least 1 MB/s, plus a minute of slack.
    Duration::from_secs(60 + bytes / 1_000_000)
}

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

/// The JSON of a successful answer, or the classified error.
async fn read(response: reqwest::Response, what: &str) -> Result<Value, PlatformError> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.map_err(|e| transport_error(P, what, e))?;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if (200..300).contains(&status) && body.get("error").is_none() && !body.is_null() {
        return Ok(body);
    }
    Err(classify(status, &headers, &body, what))
}

/// Maps any Instagram failure to its class (§3C).
pub fn classify(status: u16, headers: &reqwest::header::HeaderMap, body: &Value, what: &str) -> PlatformError {
    let error = &body["error"];
    if let Some(code) = error["code"].as_i64() {
        let subcode = error["error_subcode"].as_i64();
        let message = error["message"].as_str().unwrap_or("no message");
        let user_msg = error["error_user_msg"].as_str();
        let text = match user_msg {
            Some(user) => format!("{what}: {message} ({user})"),
            None => format!("{what}: {message}"),
        };
        let platform_code = match subcode {
            Some(sub) => format!("{code}/{sub}"),
            None => code.to_string(),
        };
        let new = |class| PlatformError::new(P, class, text.clone()).with_code(platform_code.clone());
        let now = Utc::now();
        return match (code, subcode) {
            (190, Some(463)) => new(ErrorClass::AuthExpired),
            (190, _) | (102, _) | (200..=299, _) => new(ErrorClass::AuthRevoked),
            (9, _) | (_, Some(2207042)) => new(ErrorClass::QuotaExhausted)
                .with_reset_at(now + chrono::Duration::seconds(DEFAULT_QUOTA_WINDOW_SECS)),
            // Activity restricted (spam): a long wait.
            (4, Some(2207051)) => new(ErrorClass::RateLimited).with_retry_after(Duration::from_secs(3600)),
            (4 | 17 | 32 | 613 | 80001..=80009, _) => {
                new(ErrorClass::RateLimited).with_retry_after(rate_limit_wait(headers))
            }
            (36004, _) | (_, Some(2207010 | 2207040)) => new(ErrorClass::InvalidMetadata).with_field("caption"),
            (352 | 9004 | 36000..=36003, _) | (_, Some(2207026 | 2207023 | 2207052 | 2207004 | 2207005 | 2207009)) => {
                new(ErrorClass::InvalidMedia)
            }
            (9007, _) | (_, Some(2207027)) => new(ErrorClass::Transient),
            (_, Some(2207020 | 2207006 | 2207008)) | (24, _) => new(ErrorClass::Permanent),
            (1 | 2 | -1 | -2, _) => new(ErrorClass::Transient),
            _ if error["is_transient"].as_bool() == Some(true) || status >= 500 => new(ErrorClass::Transient),
            _ => new(ErrorClass::Permanent),
        };
    }
    // The OAuth host's own shape: {"error_type","code","error_message"}.
    if let Some(message) = body["error_message"].as_str() {
        let class = if status >= 500 {
            ErrorClass::Transient
        } else {
            ErrorClass::Permanent
        };
        let code = body["error_type"].as_str().unwrap_or("OAuthException");
        return PlatformError::new(P, class, format!("{what}: {message}")).with_code(code);
    }
    // rupload's shape: {"debug_info":{"retriable","type","message"}}.
    if let Some(info) = body["debug_info"].as_object() {
        let class = if info.get("retriable").and_then(Value::as_bool) == Some(true) || status >= 500 {
            ErrorClass::Transient
        } else {
            ErrorClass::Permanent
        };
        let message = info.get("message").and_then(Value::as_str).unwrap_or("no message");
        let kind = info.get("type").and_then(Value::as_str).unwrap_or("upload error");
        return PlatformError::new(P, class, format!("{what}: {message}")).with_code(kind);
    }
    let class = match status {
        429 => ErrorClass::RateLimited,
        408 | 500..=599 => ErrorClass::Transient,
        200..=299 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    let error = PlatformError::new(P, class, format!("{what}: HTTP {status}"));
    if class == ErrorClass::RateLimited {
        error.with_retry_after(rate_limit_wait(headers))
    } else {
        error
    }
}

/// `Retry-After`, else the Business Use Case header's
/// `estimated_time_to_regain_access` (minutes), else [`DEFAULT_RATE_LIMIT_WAIT`].
fn rate_limit_wait(headers: &reqwest::header::HeaderMap) -> Duration {
    if let Some(after) = retry_after(headers) {
        return after;
    }
    let minutes = headers
        .get("x-business-use-case-usage")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str::<Value>(v).ok())
        .and_then(|usage| {
            usage
                .as_object()?
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(|entry| entry["estimated_time_to_regain_access"].as_u64())
                .max()
        })
        .unwrap_or(0);
    if minutes > 0 {
        Duration::from_secs(minutes * 60)
    } else {
        DEFAULT_RATE_LIMIT_WAIT
    }
}

fn parse_time(text: Option<&str>) -> Option<chrono::DateTime<Utc>> {
    let text = text?;
    chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn comment(value: &Value, parent: Option<&str>) -> Option<Comment> {
    Some(Comment {
        id: id_of(&value["id"])?,
        text: value["text"].as_str().unwrap_or_default().to_owned(),
        author: value["username"].as_str().unwrap_or_default().to_owned(),
        published_at: parse_time(value["timestamp"].as_str()),
        parent_id: parent.map(str::to_owned),
    })
}

/// An Instagram professional account as `/me` or `instagram_business_account` give it.
fn profile(me: &Value) -> Option<AccountProfile> {
    let id = id_of(&me["user_id"]).or_else(|| id_of(&me["id"]))?;
    let username = me["username"].as_str().unwrap_or_default().to_owned();
    Some(AccountProfile {
        id,
        display_name: me["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(&username)
            .to_owned(),
        username,
        avatar_url: me["profile_picture_url"].as_str().map(str::to_owned),
    })
}

fn long_lived(body: &Value, what: &str) -> Result<(String, Option<u64>), PlatformError> {
    let token = body["access_token"].as_str().ok_or_else(|| malformed(what))?.to_owned();
    Ok((token, body["expires_in"].as_u64()))
}

#[async_trait::async_trait]
impl PlatformAdapter for Instagram {
    fn platform(&self) -> Platform {
        P
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> Result<String, PlatformError> {
        let auth_base = self.endpoints.auth_base.trim_end_matches('/');
        let base = match self.login {
            Login::Instagram => format!("{auth_base}/oauth/authorize"),
            Login::Facebook => format!("{auth_base}/{GRAPH_VERSION}/dialog/oauth"),
        };
        let mut url = url::Url::parse(&base)
            .map_err(|e| PlatformError::new(P, ErrorClass::Permanent, format!("authorize URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.endpoints.client_id)
            .append_pair("redirect_uri", &request.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", &request.scopes.join(","))
            .append_pair("state", &request.state);
        Ok(url.to_string())
    }

    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        _pkce_verifier: Option<&str>,
    ) -> Result<TokenSet, PlatformError> {
        // Instagram appends `#_` to the redirect: never part of the code.
        let code = code.trim_end_matches("#_");
        if self.login == Login::Facebook {
            return self.fb_exchange_code(code, redirect_uri).await;
        }
        let body = self
            .send(
                self.http
                    .post(format!(
                        "{}/oauth/access_token",
                        self.endpoints.token_base.trim_end_matches('/')
                    ))
                    .form(&[
                        ("client_id", self.endpoints.client_id.as_str()),
                        ("client_secret", self.endpoints.client_secret.as_str()),
                        ("grant_type", "authorization_code"),
                        ("redirect_uri", redirect_uri),
                        ("code", code),
                    ]),
                "code exchange",
            )
            .await?;
        // Both shapes are seen: `{"data":[{…}]}` and flat `{…}`.
        let grant = match body["data"].as_array().and_then(|d| d.first()) {
            Some(first) => first.clone(),
            None => body,
        };
        let short = grant["access_token"]
            .as_str()
            .ok_or_else(|| malformed("code exchange"))?;
        let scopes = match &grant["permissions"] {
            Value::String(s) => s
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            Value::Array(a) => a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        let subject = id_of(&grant["user_id"]);
        let body = self
            .send(
                self.http
                    .get(format!(
                        "{}/access_token",
                        self.endpoints.api_base.trim_end_matches('/')
                    ))
                    .query(&[
                        ("grant_type", "ig_exchange_token"),
                        ("client_secret", self.endpoints.client_secret.as_str()),
                        ("access_token", short),
                    ]),
                "long-lived token exchange",
            )
            .await?;
        let (token, expires_in) = long_lived(&body, "long-lived token exchange")?;
        Ok(TokenSet {
            refresh_token: Some(token.clone()),
            access_token: token,
            access_expires_in_secs: expires_in,
            refresh_expires_in_secs: expires_in,
            scopes,
            subject,
        })
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, PlatformError> {
        if self.login == Login::Facebook {
            return self.fb_long_lived(refresh_token, "token refresh").await;
        }
        let body = self
            .send(
                self.http
                    .get(format!(
                        "{}/refresh_access_token",
                        self.endpoints.api_base.trim_end_matches('/')
                    ))
                    .query(&[("grant_type", "ig_refresh_token"), ("access_token", refresh_token)]),
                "token refresh",
            )
            .await?;
        let (token, expires_in) = long_lived(&body, "token refresh")?;
        Ok(TokenSet {
            refresh_token: Some(token.clone()),
            access_token: token,
            access_expires_in_secs: expires_in,
            refresh_expires_in_secs: expires_in,
            scopes: Vec::new(),
            subject: None,
        })
    }

    async fn revoke(&self, token: &str) -> Result<(), PlatformError> {
        self.send(self.http.delete(self.graph(REVOKE_PATH)).bearer_auth(token), "revoke")
            .await
            .map(|_| ())
    }

    async fn accounts(&self, access_token: &str) -> Result<Vec<AccountProfile>, PlatformError> {
        if self.login == Login::Facebook {
            return self.fb_accounts(access_token).await;
        }
        let me = self
            .send(
                self.http
                    .get(self.graph("me"))
                    .bearer_auth(access_token)
                    .query(&[("fields", "id,user_id,username,name,profile_picture_url")]),
                "profile",
            )
            .await?;
        Ok(vec![profile(&me).ok_or_else(|| malformed("profile"))?])
    }

    async fn publish(
        &self,
        access_token: &str,
        account_id: &str,
        video: &VideoFile,
        post: &PostMetadata,
    ) -> Result<PublishHandle, PlatformError> {
        if video.size() > MAX_REEL_BYTES {
            return Err(PlatformError::new(
                P,
                ErrorClass::InvalidMedia,
                format!(
                    "the video is {} bytes; Reels can be at most {MAX_REEL_BYTES}",
                    video.size()
                ),
            )
            .with_code("2207026"));
        }
        let container = self
            .create_container(access_token, account_id, post, ("upload_type", "resumable"))
            .await?;
        let id = id_of(&container["id"]).ok_or_else(|| malformed("create container"))?;
        let uri = container["uri"].as_str().ok_or_else(|| malformed("create container"))?;
        self.upload(access_token, uri, video).await?;
        Ok(PublishHandle {
            id,
            account_id: account_id.to_owned(),
        })
    }

    async fn publish_status(&self, access_token: &str, handle: &PublishHandle) -> Result<PublishStatus, PlatformError> {
        let container = self
            .send(
                self.http
                    .get(self.graph(&handle.id))
                    .bearer_auth(access_token)
                    .query(&[("fields", "status_code,status")]),
                "container status",
            )
            .await?;
        let code = container["status_code"].as_str().unwrap_or_default();
        let status = container["status"].as_str().unwrap_or(code).to_owned();
        match code {
            "IN_PROGRESS" => Ok(PublishStatus::Processing { detail: status }),
            "FINISHED" | "PUBLISHED" => self.publish_container(access_token, handle, &status).await,
            "ERROR" => {
                // The subcode sits in `status`, e.g. "… failed with error code 2207026. …".
                let subcode = status
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|s| s.len() == 7 && s.starts_with("220"))
                    .and_then(|s| s.parse::<i64>().ok());
                let class = match subcode {
                    Some(2207001 | 2207032 | 2207053 | 2207003) => ErrorClass::Transient,
                    _ => ErrorClass::InvalidMedia,
                };
                Ok(PublishStatus::Failed { error: status, class })
            }
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
            let answer = self
                .send(
                    self.http
                        .get(self.graph(&format!("{post_id}/insights")))
                        .bearer_auth(access_token)
                        .query(&[("metric", METRICS)]),
                    "insights",
                )
                .await;
            let raw = match answer {
                Ok(raw) => raw,
                // Code 10: not enough viewers to show insights — unknown, not zero.
                Err(e) if e.platform_code.as_deref() == Some("10") => {
                    all.push(PostMetrics {
                        post_id: post_id.clone(),
                        views: None,
                        likes: None,
                        comments: None,
                        shares: None,
                        saves: None,
                        reach: None,
                        watch_time_secs: None,
                        raw: Value::Null,
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            let value = |name: &str| {
                raw["data"].as_array().and_then(|data| {
                    data.iter()
                        .find(|m| m["name"] == name)
                        .and_then(|m| m["values"][0]["value"].as_u64())
                })
            };
            all.push(PostMetrics {
                post_id: post_id.clone(),
                views: value("views"),
                likes: value("likes"),
                comments: value("comments"),
                shares: value("shares"),
                saves: value("saved"),
                reach: value("reach"),
                watch_time_secs: value("ig_reels_video_view_total_time").map(|ms| ms / 1000),
                raw: raw.clone(),
            });
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
        let page = self
            .send(
                self.http
                    .get(self.graph(&format!("{post_id}/comments")))
                    .bearer_auth(access_token)
                    .query(&query),
                "comments",
            )
            .await?;
        let mut comments = Vec::new();
        for top in page["data"].as_array().into_iter().flatten() {
            let Some(parent) = comment(top, None) else { continue };
            let parent_id = parent.id.clone();
            comments.push(parent);
            for reply in top["replies"]["data"].as_array().into_iter().flatten() {
                comments.extend(comment(reply, Some(&parent_id)));
            }
        }
        let next_cursor = if page["paging"]["next"].is_string() {
            page["paging"]["cursors"]["after"].as_str().map(str::to_owned)
        } else {
            None
        };
        Ok(CommentPage { comments, next_cursor })
    }
}
