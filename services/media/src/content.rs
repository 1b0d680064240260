//! A stored object read out over gRPC: a `head` part, then `chunk`s. The
//! media service answers with it, and so does the render service for its
//! renders (the gateway turns both into the same HTTP answer).

use std::pin::Pin;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use smez_proto::media::v1::content_part::Part;
use smez_proto::media::v1::{ContentHead, ContentPart};
use tonic::Status;

/// A stored object, or a range of it.
pub struct Content {
    pub total_size: u64,
    pub content_type: String,
    pub file_name: String,
    pub sha256: String,
    pub bytes: BoxStream<'static, std::io::Result<Bytes>>,
}

pub type ContentStream = Pin<Box<dyn Stream<Item = Result<ContentPart, Status>> + Send>>;

/// The head, then the bytes; a read failure ends the stream as unavailable.
pub fn stream(content: Content) -> ContentStream {
    let head = ContentPart {
        part: Some(Part::Head(ContentHead {
            total_size: content.total_size,
            content_type: content.content_type,
            file_name: content.file_name,
            sha256: content.sha256,
        })),
    };
    let body = content.bytes.map(|chunk| {
        chunk
            .map(|bytes| ContentPart {
                part: Some(Part::Chunk(bytes)),
            })
            .map_err(|e| Status::unavailable(format!("reading a stored object: {e}")))
    });
    Box::pin(futures_util::stream::iter([Ok(head)]).chain(body))
}

/// Writes a content stream (as [`stream`] makes it) into `target`, checking
/// that as many bytes arrived as its head announced; returns that size.
/// Errors say what failed, for the caller to wrap with what it was fetching.
pub async fn save(mut parts: tonic::Streaming<ContentPart>, target: &std::path::Path) -> Result<u64, String> {
    use tokio::io::AsyncWriteExt;

    let mut file = tokio::fs::File::create(target)
        .await
        .map_err(|e| format!("creating {}: {e}", target.display()))?;
    let mut expected = None;
    let mut written = 0u64;
    while let Some(part) = parts.message().await.map_err(|s| s.message().to_owned())? {
        match part.part {
            Some(Part::Head(head)) => expected = Some(head.total_size),
            Some(Part::Chunk(bytes)) => {
                file.write_all(&bytes)
                    .await
                    .map_err(|e| format!("writing {}: {e}", target.display()))?;
                written += bytes.len() as u64;
            }
            None => {}
        }
    }
    file.flush()
        .await
        .map_err(|e| format!("writing {}: {e}", target.display()))?;
    if expected != Some(written) {
        return Err(format!("{written} bytes arrived of {expected:?}"));
    }
    Ok(written)
}
