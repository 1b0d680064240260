//! What the adapters' uploads share: how long a chunk may take, reading a
//! range of the video, and reading how much a server says it holds.

use std::time::Duration;

use crate::{ErrorClass, Platform, PlatformError, VideoFile};

/// How long one chunk request may take (uploads outlive [`crate::http::CALL_TIMEOUT`]).
pub const CHUNK_TIMEOUT: Duration = Duration::from_secs(600);

/// A request body streaming `len` bytes of `video` from `offset`; a file that
/// cannot be read will not become readable by retrying.
pub async fn chunk_body(
    platform: Platform,
    video: &VideoFile,
    offset: u64,
    len: u64,
) -> Result<reqwest::Body, PlatformError> {
    video
        .body(offset, len)
        .await
        .map_err(|e| PlatformError::new(platform, ErrorClass::Permanent, format!("reading the video: {e}")))
}

/// How many bytes a server holds, from a range header of the form
/// `{prefix}0-N…` (`Content-Range: bytes 0-N/T`, `Range: bytes=0-N`): N + 1.
pub fn bytes_held(
    headers: &reqwest::header::HeaderMap,
    header: reqwest::header::HeaderName,
    prefix: &str,
) -> Option<u64> {
    let value = headers.get(header)?.to_str().ok()?;
    let range = value.trim().strip_prefix(prefix)?.split('/').next()?;
    let (_, last) = range.split_once('-')?;
    last.parse::<u64>().ok().map(|n| n + 1)
}
