//! Publishing Shorts: the local Short check before uploading, and where
//! processing stands after.

use serde_json::Value;

use super::probe::local_probe;
use super::{P, SHORT_MAX_SECS};
use crate::{ErrorClass, PlatformError, PublishHandle, PublishStatus, VideoFile};

/// Only Shorts are published: an empty file, or one a local ffprobe shows
/// wider than square or longer than a Short, is refused before any upload.
pub(super) async fn refuse_non_short(video: &VideoFile) -> Result<(), PlatformError> {
    if video.size() == 0 {
        return Err(PlatformError::new(P, ErrorClass::InvalidMedia, "the video file is empty").with_code("emptyFile"));
    }
    if let Some((width, height, duration)) = local_probe(video).await
        && (width > height || duration > SHORT_MAX_SECS)
    {
        return Err(PlatformError::new(
            P,
            ErrorClass::InvalidMedia,
            format!(
                "not a Short: {width}x{height}, {duration:.1} s \
                     (a Short is square or vertical and at most {SHORT_MAX_SECS} s)"
            ),
        )
        .with_code("notShort"));
    }
    Ok(())
}

/// Where a video stands, from its `videos.list` status and processing details.
pub(super) fn publish_status_of(handle: &PublishHandle, body: &Value) -> PublishStatus {
    let Some(item) = body["items"].as_array().and_then(|i| i.first()) else {
        return PublishStatus::Failed {
            error: format!("video {} not found (deleted?)", handle.id),
            class: ErrorClass::Permanent,
        };
    };
    let status = &item["status"];
    let processing = item["processingDetails"]["processingStatus"].as_str().unwrap_or("");
    match status["uploadStatus"].as_str().unwrap_or("") {
        "processed" => PublishStatus::Published {
            post_id: handle.id.clone(),
            url: Some(format!("https://www.youtube.com/shorts/{}", handle.id)),
        },
        "failed" => PublishStatus::Failed {
            error: format!(
                "failureReason: {}",
                status["failureReason"].as_str().unwrap_or("unknown")
            ),
            class: ErrorClass::InvalidMedia,
        },
        "rejected" => {
            let reason = status["rejectionReason"].as_str().unwrap_or("unknown");
            PublishStatus::Failed {
                error: format!("rejectionReason: {reason}"),
                class: if reason == "length" {
                    ErrorClass::InvalidMedia
                } else {
                    ErrorClass::Permanent
                },
            }
        }
        "deleted" => PublishStatus::Failed {
            error: "the video was deleted".into(),
            class: ErrorClass::Permanent,
        },
        other => PublishStatus::Processing {
            detail: if processing.is_empty() {
                other.to_owned()
            } else {
                format!("{other}; {processing}")
            },
        },
    }
}
