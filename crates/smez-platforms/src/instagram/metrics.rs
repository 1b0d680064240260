//! Reel insights mapped to the one metrics model.

use serde_json::Value;

use crate::PostMetrics;

/// `raw`: a `/{media}/insights` answer.
pub(super) fn metrics_of(post_id: &str, raw: Value) -> PostMetrics {
    let value = |name: &str| {
        raw["data"].as_array().and_then(|data| {
            data.iter()
                .find(|m| m["name"] == name)
                .and_then(|m| m["values"][0]["value"].as_u64())
        })
    };
    PostMetrics {
        post_id: post_id.to_owned(),
        views: value("views"),
        likes: value("likes"),
        comments: value("comments"),
        shares: value("shares"),
        saves: value("saved"),
        reach: value("reach"),
        watch_time_secs: value("ig_reels_video_view_total_time").map(|ms| ms / 1000),
        raw,
    }
}
