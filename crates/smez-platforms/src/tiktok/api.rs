//! TikTok's two answer shapes: the OAuth token endpoint's and the business
//! API's `{data, error: {code, message}}` envelope.

use serde_json::Value;

use super::errors::{business_error, oauth_error, status_error};
use super::{P, TikTok};
use crate::http::Answer;
use crate::{ErrorClass, PlatformError, TokenSet};

impl TikTok {
    /// A token-endpoint call (code exchange or refresh).
    pub(super) async fn token_call(
        &self,
        what: &str,
        form: &[(&str, &str)],
        refreshing: bool,
    ) -> Result<TokenSet, PlatformError> {
        let body = self
            .oauth_call(what, "/v2/oauth/token/", form, refreshing, true)
            .await?;
        let Some(access) = body["access_token"].as_str() else {
            return Err(PlatformError::new(
                P,
                ErrorClass::Permanent,
                format!("{what}: no access_token in the answer"),
            ));
        };
        Ok(TokenSet {
            access_token: access.to_owned(),
            refresh_token: body["refresh_token"].as_str().map(str::to_owned),
            access_expires_in_secs: body["expires_in"].as_u64(),
            refresh_expires_in_secs: body["refresh_expires_in"].as_u64(),
            scopes: body["scope"]
                .as_str()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            subject: body["open_id"].as_str().map(str::to_owned),
        })
    }

    /// A form POST to the OAuth host: the JSON answer, or its classified
    /// error. `answer_required`: whether an answer that is not JSON is a
    /// failure (the token endpoint must say something; revoke may answer nothing).
    pub(super) async fn oauth_call(
        &self,
        what: &str,
        path: &str,
        form: &[(&str, &str)],
        refreshing: bool,
        answer_required: bool,
    ) -> Result<Value, PlatformError> {
        let request = self.http.post(self.endpoints.token_url(path)).form(form);
        let answer = Answer::fetch(P, what, request).await?;
        let body = if answer_required {
            answer.json_or_transient(P, what)?.clone()
        } else {
            answer.json_or_null().clone()
        };
        if let Some(error) = body["error"].as_str().filter(|e| !e.is_empty()) {
            return Err(oauth_error(
                what,
                answer.status,
                &answer.headers,
                error,
                &body,
                refreshing,
            ));
        }
        if !answer.status.is_success() {
            return Err(status_error(what, answer.status, &answer.headers));
        }
        Ok(body)
    }

    /// A business-API POST declaring a JSON body (the caller adds the body, if any).
    pub(super) fn json_post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(self.endpoints.api_url(path))
            .header(reqwest::header::CONTENT_TYPE, "application/json; charset=UTF-8")
    }

    /// A business-API call: returns `data` when `error.code == "ok"`.
    pub(super) async fn business(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
        token: &str,
    ) -> Result<Value, PlatformError> {
        let answer = Answer::fetch(P, what, request.bearer_auth(token)).await?;
        let (status, headers) = (answer.status, &answer.headers);
        if !status.is_success() && answer.json.is_none() {
            // No envelope to read: the status decides, and since a body that
            // is not JSON (or broke off) is itself worth retrying, never more than that.
            let mut mapped = status_error(what, status, headers);
            if mapped.class == ErrorClass::Permanent {
                mapped.class = ErrorClass::Transient;
            }
            return Err(mapped);
        }
        let body = answer.json_or_transient(P, what)?;
        let code = body["error"]["code"].as_str().unwrap_or("");
        if code == "ok" && status.is_success() {
            return Ok(body["data"].clone());
        }
        if code.is_empty() || code == "ok" {
            return Err(status_error(what, status, headers));
        }
        let message = body["error"]["message"].as_str().unwrap_or("");
        Err(business_error(what, status, headers, code, message))
    }
}
