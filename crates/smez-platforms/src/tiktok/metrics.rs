//! The Display API's video query mapped to the one metrics model.

use serde_json::Value;

use crate::PostMetrics;

/// Metrics fields asked of `/v2/video/query/`.
pub(super) const VIDEO_FIELDS: &str =
    "id,title,create_time,duration,share_url,view_count,like_count,comment_count,share_count";

pub(super) fn metrics_of(video: &Value) -> PostMetrics {
    let count = |k: &str| video[k].as_u64();
    let post_id = video["id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| video["id"].as_u64().map(|n| n.to_string()))
        .unwrap_or_default();
    PostMetrics {
        views: count("view_count"),
        likes: count("like_count"),
        comments: count("comment_count"),
        shares: count("share_count"),
        raw: video.clone(),
        ..PostMetrics::unknown(post_id)
    }
}
