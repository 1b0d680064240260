//! Google OAuth 2.0's token endpoint and revocation.

use serde_json::Value;

use super::errors::oauth_error;
use super::{P, YouTube};
use crate::http::Answer;
use crate::{PlatformError, TokenSet};

impl YouTube {
    pub(super) async fn revoke_grant(&self, token: &str) -> Result<(), PlatformError> {
        let request = self
            .http
            .post(self.endpoints.token_url("/revoke"))
            .form(&[("token", token)]);
        let answer = Answer::fetch(P, "revoke", request).await?;
        let body = answer.json_or_null();
        if answer.status.is_success() || body["error"] == "invalid_token" {
            return Ok(());
        }
        Err(oauth_error("revoke", answer.status.as_u16(), &answer.headers, body))
    }

    /// A token-endpoint call (code exchange or refresh).
    pub(super) async fn token_request(&self, what: &str, form: &[(&str, &str)]) -> Result<TokenSet, PlatformError> {
        let request = self.http.post(self.endpoints.token_url("/token")).form(form);
        let answer = Answer::fetch(P, what, request).await?;
        let body = answer.json_or_null();
        if answer.status.is_success() && body["access_token"].is_string() {
            return Ok(token_set(body));
        }
        Err(oauth_error(what, answer.status.as_u16(), &answer.headers, body))
    }
}

fn token_set(body: &Value) -> TokenSet {
    TokenSet {
        access_token: body["access_token"].as_str().unwrap_or("").to_owned(),
        refresh_token: body["refresh_token"].as_str().map(str::to_owned),
        access_expires_in_secs: body["expires_in"].as_u64(),
        refresh_expires_in_secs: body["refresh_token_expires_in"].as_u64(),
        scopes: body["scope"]
            .as_str()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        subject: None,
    }
}
