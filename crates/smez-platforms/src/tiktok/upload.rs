//! TikTok's media transfer: the chunk plan sent at init, then the chunked
//! PUTs to the opaque `upload_url`.

use std::time::Duration;

use reqwest::header::CONTENT_RANGE;

use super::{CHUNK_ATTEMPTS, CHUNK_BYTES, MIN_CHUNK_BYTES, P, TikTok};
use crate::http::transport_error;
use crate::upload::{CHUNK_TIMEOUT, bytes_held, chunk_body};
use crate::{ErrorClass, PlatformError, VideoFile};

impl TikTok {
    /// PUTs every chunk, re-sending one that fails in transit.
    pub(super) async fn upload(
        &self,
        upload_url: &str,
        video: &VideoFile,
        plan: &ChunkPlan,
    ) -> Result<(), PlatformError> {
        let total = video.size();
        let mut offset = 0u64;
        let mut attempts = 0u32;
        // Whether the final chunk was sent whole and only its answer went missing.
        let mut final_answer_lost = false;
        while offset < total {
            let (first, last) = plan.chunk_at(offset);
            let len = last - first + 1;
            let body = chunk_body(P, video, first, len).await?;
            let sent = self
                .http
                .put(upload_url)
                .timeout(CHUNK_TIMEOUT)
                .header(reqwest::header::CONTENT_TYPE, upload_content_type(video))
                .header(reqwest::header::CONTENT_LENGTH, len)
                .header(CONTENT_RANGE, format!("bytes {first}-{last}/{total}"))
                .body(body)
                .send()
                .await;
            let failure = match sent {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    // Read the answer fully: a connection dropped mid-answer is a failed chunk.
                    let read = response.bytes().await;
                    match (status.as_u16(), read) {
                        (201 | 206, Ok(_)) => {
                            offset = last + 1;
                            attempts = 0;
                            continue;
                        }
                        (416, _) => {
                            // Resume from what TikTok says it has, when that is a chunk boundary.
                            if let Some(have) =
                                bytes_held(&headers, CONTENT_RANGE, "bytes ").filter(|h| plan.is_boundary(*h))
                            {
                                offset = have;
                            }
                            PlatformError::new(P, ErrorClass::Transient, "upload: Content-Range out of step")
                        }
                        (403, _) => PlatformError::new(
                            P,
                            ErrorClass::Transient,
                            "upload: the upload_url expired (valid 1 h); publish again",
                        )
                        .with_code("upload_url_expired"),
                        // After the final chunk's answer was lost, TikTok has closed the
                        // task: it got every byte. Say so, and let the status tell the rest
                        // (sending the video again would post it twice).
                        (404, _) if final_answer_lost => return Ok(()),
                        (404, _) => PlatformError::new(P, ErrorClass::Permanent, "upload: no such upload task"),
                        (400, _) => PlatformError::new(P, ErrorClass::Permanent, "upload: malformed chunk request"),
                        (s, _) if s >= 500 => PlatformError::new(P, ErrorClass::Transient, format!("upload: HTTP {s}")),
                        (s, Err(e)) => PlatformError::new(
                            P,
                            ErrorClass::Transient,
                            format!("upload: HTTP {s}, answer broken: {}", e.without_url()),
                        ),
                        (s, Ok(_)) => {
                            PlatformError::new(P, ErrorClass::Transient, format!("upload: unexpected HTTP {s}"))
                        }
                    }
                }
                Err(e) => transport_error(P, "upload", e),
            };
            final_answer_lost = last + 1 == total && failure.class == ErrorClass::Transient;
            if failure.class != ErrorClass::Transient || failure.platform_code.as_deref() == Some("upload_url_expired")
            {
                return Err(failure);
            }
            attempts += 1;
            if attempts >= CHUNK_ATTEMPTS {
                return Err(failure);
            }
            tracing::warn!(offset, attempt = attempts, "tiktok chunk failed, re-sending it");
            tokio::time::sleep(Duration::from_millis(20 * u64::from(attempts))).await;
        }
        Ok(())
    }
}

/// How a file is cut into chunks, by TikTok's media transfer rules: chunks
/// of `chunk_size`, `count = floor(size / chunk_size)`, the last absorbing the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkPlan {
    pub video_size: u64,
    pub chunk_size: u64,
    pub chunk_count: u64,
}

impl ChunkPlan {
    pub fn for_size(video_size: u64) -> Self {
        let chunk_size = if video_size < MIN_CHUNK_BYTES {
            video_size
        } else {
            CHUNK_BYTES.min(video_size)
        };
        let chunk_count = (video_size / chunk_size.max(1)).max(1);
        Self {
            video_size,
            chunk_size,
            chunk_count,
        }
    }

    /// The chunk starting at `offset`: `(first, last)` byte.
    pub fn chunk_at(&self, offset: u64) -> (u64, u64) {
        let index = offset / self.chunk_size.max(1);
        if index + 1 >= self.chunk_count {
            (offset, self.video_size - 1)
        } else {
            (offset, offset + self.chunk_size - 1)
        }
    }

    fn is_boundary(&self, offset: u64) -> bool {
        offset < self.video_size && offset.is_multiple_of(self.chunk_size.max(1))
    }
}

fn upload_content_type(video: &VideoFile) -> &str {
    match video.content_type.as_str() {
        "video/quicktime" | "video/webm" | "video/mp4" => &video.content_type,
        _ => "video/mp4",
    }
}
