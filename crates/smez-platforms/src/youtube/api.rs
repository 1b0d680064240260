//! Reading the Data API.

use serde_json::Value;

use super::errors::api_error;
use super::{P, YouTube};
use crate::PlatformError;
use crate::http::Answer;

impl YouTube {
    /// A GET of the Data API, classified.
    pub(super) async fn get(
        &self,
        what: &str,
        token: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, PlatformError> {
        let request = self
            .http
            .get(self.endpoints.api_url(path))
            .bearer_auth(token)
            .query(query);
        let answer = Answer::fetch(P, what, request).await?;
        if answer.status.is_success() {
            return answer.json_or_transient(P, what).cloned();
        }
        Err(api_error(
            what,
            answer.status.as_u16(),
            &answer.headers,
            answer.json_or_null(),
        ))
    }
}
