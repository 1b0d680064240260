//! The one model every platform maps to.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    TikTok,
    Instagram,
    YouTube,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::TikTok, Platform::Instagram, Platform::YouTube];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TikTok => "tiktok",
            Self::Instagram => "instagram",
            Self::YouTube => "youtube",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Client credentials and where the platform lives. Secrets never print.
#[derive(Clone)]
pub struct Endpoints {
    /// TikTok `client_key`, Meta app id, Google client id.
    pub client_id: String,
    pub client_secret: String,
    /// Where the browser authorizes (e.g. `https://www.tiktok.com`).
    pub auth_base: String,
    /// Token exchange, refresh and revoke (e.g. `https://open.tiktokapis.com`,
    /// `https://oauth2.googleapis.com`, `https://api.instagram.com`).
    pub token_base: String,
    /// API calls (e.g. `https://open.tiktokapis.com`).
    pub api_base: String,
    /// Uploads where the platform has a separate host (YouTube, Instagram rupload).
    pub upload_base: String,
}

/// URLs on each host: `path` after the base, whether or not the base was
/// configured with a trailing slash.
impl Endpoints {
    pub fn auth_url(&self, path: &str) -> String {
        on_host(&self.auth_base, path)
    }

    pub fn token_url(&self, path: &str) -> String {
        on_host(&self.token_base, path)
    }

    pub fn api_url(&self, path: &str) -> String {
        on_host(&self.api_base, path)
    }

    pub fn upload_url(&self, path: &str) -> String {
        on_host(&self.upload_base, path)
    }
}

fn on_host(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("auth_base", &self.auth_base)
            .field("token_base", &self.token_base)
            .field("api_base", &self.api_base)
            .field("upload_base", &self.upload_base)
            .finish()
    }
}

/// What the authorize URL is built from.
#[derive(Clone, Debug)]
pub struct AuthorizeRequest {
    pub redirect_uri: String,
    pub state: String,
    pub scopes: Vec<String>,
    /// The S256 challenge, where the platform supports PKCE.
    pub pkce_challenge: Option<String>,
}

/// Tokens as a platform issued them. Never `Debug`-printed with values.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    /// `None` when the platform did not send one (keep the previous one).
    pub refresh_token: Option<String>,
    pub access_expires_in_secs: Option<u64>,
    pub refresh_expires_in_secs: Option<u64>,
    /// As granted (users may untick some).
    pub scopes: Vec<String>,
    /// The platform's id of the user, when the token response names it (TikTok `open_id`).
    pub subject: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
            .field("access_expires_in_secs", &self.access_expires_in_secs)
            .field("refresh_expires_in_secs", &self.refresh_expires_in_secs)
            .field("scopes", &self.scopes)
            .field("subject", &self.subject)
            .finish()
    }
}

/// An account a token can act for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountProfile {
    /// The platform's id (TikTok open_id, Instagram user id, YouTube channel id).
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Privacy {
    Public,
    FollowersOnly,
    Private,
}

/// The post's text and settings, in Smez's terms; each adapter maps them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PostMetadata {
    /// TikTok title / Instagram caption / YouTube description.
    pub caption: String,
    /// YouTube's title (others ignore it).
    pub title: Option<String>,
    pub privacy: Privacy,
    /// Which frame becomes the cover, in milliseconds.
    pub cover_timestamp_ms: Option<u64>,
}

/// How far a publish has got on the platform's side. The caller keeps it
/// (through a [`crate::PublishJournal`]) between attempts, so a retry
/// resumes the same platform object instead of creating a second one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishProgress {
    /// TikTok `publish_id` (after init), Instagram container id (after create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_id: Option<String>,
    /// Where the bytes go: TikTok `upload_url`, Instagram rupload URI,
    /// YouTube resumable session URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
    /// The last bytes went out: the platform may hold the whole video even
    /// if no answer said so.
    #[serde(default, skip_serializing_if = "is_false")]
    pub final_bytes_sent: bool,
    /// The platform confirmed every byte.
    #[serde(default, skip_serializing_if = "is_false")]
    pub uploaded: bool,
    /// The platform's id of the finished upload (YouTube video id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_id: Option<String>,
}

/// Nothing done serialises as `{}` (the publisher's "nothing irreversible yet").
fn is_false(value: &bool) -> bool {
    !value
}

/// A publish the platform accepted, to ask about later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishHandle {
    /// TikTok publish_id, Instagram container id, YouTube video id.
    pub id: String,
    /// The account it was published to.
    pub account_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PublishStatus {
    /// The platform is still receiving or processing it.
    Processing { detail: String },
    /// Live (or accepted as private), with its id and public URL when known.
    Published { post_id: String, url: Option<String> },
    /// The platform refused it after upload; the error says why.
    Failed { error: String, class: crate::ErrorClass },
    /// The platform may have published it, but did not say so in a way Smez
    /// could read (an answer lost after the irreversible step). Publishing
    /// again could post it twice: a person checks the account.
    Unconfirmed { detail: String },
}

/// One post's counters. `None` means the platform gave no number (unknown, never zero).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PostMetrics {
    pub post_id: String,
    pub views: Option<u64>,
    pub likes: Option<u64>,
    pub comments: Option<u64>,
    pub shares: Option<u64>,
    pub saves: Option<u64>,
    pub reach: Option<u64>,
    pub watch_time_secs: Option<u64>,
    /// What the platform said, for tracing a number back.
    pub raw: serde_json::Value,
}

impl PostMetrics {
    /// A post whose counters the platform did not give: every one unknown.
    /// Adapters fill in those their platform has (`..PostMetrics::unknown(id)`).
    pub fn unknown(post_id: String) -> Self {
        Self {
            post_id,
            views: None,
            likes: None,
            comments: None,
            shares: None,
            saves: None,
            reach: None,
            watch_time_secs: None,
            raw: serde_json::Value::Null,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    pub text: String,
    pub author: String,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The comment this one replies to.
    pub parent_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommentPage {
    pub comments: Vec<Comment>,
    pub next_cursor: Option<String>,
}
