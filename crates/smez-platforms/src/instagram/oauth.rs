//! Meta's two logins: Instagram Login (code → short-lived → long-lived
//! token, refreshed in place) and Facebook Login (long-lived user token,
//! renewed by exchanging it again).

use serde_json::Value;

use super::{GRAPH_VERSION, Instagram, id_of, malformed};
use crate::oauth::code_grant;
use crate::{PlatformError, TokenSet};

impl Instagram {
    /// Instagram Login: the code for a short-lived token, then that for a long-lived one.
    pub(super) async fn ig_exchange_code(&self, code: &str, redirect_uri: &str) -> Result<TokenSet, PlatformError> {
        let body = self
            .send(
                self.http
                    .post(self.endpoints.token_url("/oauth/access_token"))
                    .form(&code_grant("client_id", &self.endpoints, code, redirect_uri, None)),
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
                self.http.get(self.endpoints.api_url("/access_token")).query(&[
                    ("grant_type", "ig_exchange_token"),
                    ("client_secret", self.endpoints.client_secret.as_str()),
                    ("access_token", short),
                ]),
                "long-lived token exchange",
            )
            .await?;
        Ok(TokenSet {
            scopes,
            subject,
            ..long_lived(&body, "long-lived token exchange")?
        })
    }

    /// Instagram Login: the long-lived token refreshed (it may come back as a new string).
    pub(super) async fn ig_refresh(&self, refresh_token: &str) -> Result<TokenSet, PlatformError> {
        let body = self
            .send(
                self.http
                    .get(self.endpoints.api_url("/refresh_access_token"))
                    .query(&[("grant_type", "ig_refresh_token"), ("access_token", refresh_token)]),
                "token refresh",
            )
            .await?;
        long_lived(&body, "token refresh")
    }

    /// `{token_base}/{version}/oauth/access_token` (Facebook Login).
    async fn fb_token(&self, params: &[(&str, &str)], what: &str) -> Result<TokenSet, PlatformError> {
        let url = self
            .endpoints
            .token_url(&format!("/{GRAPH_VERSION}/oauth/access_token"));
        let body = self.send(self.http.get(url).query(params), what).await?;
        long_lived(&body, what)
    }

    pub(super) async fn fb_exchange_code(&self, code: &str, redirect_uri: &str) -> Result<TokenSet, PlatformError> {
        let id = self.endpoints.client_id.as_str();
        let secret = self.endpoints.client_secret.as_str();
        let short = self
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
        let mut tokens = self
            .fb_long_lived(&short.access_token, "long-lived token exchange")
            .await?;
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

    pub(super) async fn fb_long_lived(&self, token: &str, what: &str) -> Result<TokenSet, PlatformError> {
        self.fb_token(
            &[
                ("grant_type", "fb_exchange_token"),
                ("client_id", self.endpoints.client_id.as_str()),
                ("client_secret", self.endpoints.client_secret.as_str()),
                ("fb_exchange_token", token),
            ],
            what,
        )
        .await
    }
}

/// A long-lived token answer: Meta has no refresh token, the long-lived
/// token itself is what gets refreshed, so it stands for both.
fn long_lived(body: &Value, what: &str) -> Result<TokenSet, PlatformError> {
    let token = body["access_token"].as_str().ok_or_else(|| malformed(what))?.to_owned();
    let expires_in = body["expires_in"].as_u64();
    Ok(TokenSet {
        refresh_token: Some(token.clone()),
        access_token: token,
        access_expires_in_secs: expires_in,
        refresh_expires_in_secs: expires_in,
        scopes: Vec::new(),
        subject: None,
    })
}
