//! The resumable rupload: the bytes streamed in one request, resumed from
//! the server's offset after a transient failure.

use std::time::Duration;

use super::{Instagram, P, UPLOAD_ATTEMPTS};
use crate::upload::chunk_body;
use crate::{ErrorClass, PlatformError, VideoFile};

impl Instagram {
    /// Streams the file to the rupload `uri`, resuming from the server's
    /// offset after a transient failure.
    pub(super) async fn upload(&self, access_token: &str, uri: &str, video: &VideoFile) -> Result<(), PlatformError> {
        let size = video.size();
        let mut offset = 0u64;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let body = chunk_body(P, video, offset, size - offset).await?;
            let request = self
                .http
                .post(uri)
                .header(reqwest::header::AUTHORIZATION, format!("OAuth {access_token}"))
                .header("offset", offset.to_string())
                .header("file_size", size.to_string())
                .header(reqwest::header::CONTENT_LENGTH, (size - offset).to_string())
                .timeout(upload_timeout(size - offset))
                .body(body);
            let error = match self.send(request, "upload").await {
                Ok(_) => return Ok(()),
                Err(e) => e,
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
            if offset == size {
                // Every byte arrived; only the answer was lost.
                return Ok(());
            }
        }
    }
}

fn upload_timeout(bytes: u64) -> Duration {
    // At least 1 MB/s, plus a minute of slack.
    Duration::from_secs(60 + bytes / 1_000_000)
}
