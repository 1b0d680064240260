//! `videos.list` statistics mapped to the one metrics model.

use serde_json::Value;

use crate::PostMetrics;

pub(super) fn metrics_of(item: &Value) -> PostMetrics {
    let stats = &item["statistics"];
    PostMetrics {
        views: count(&stats["viewCount"]),
        likes: count(&stats["likeCount"]),
        comments: count(&stats["commentCount"]),
        raw: stats.clone(),
        ..PostMetrics::unknown(item["id"].as_str().unwrap_or("").to_owned())
    }
}

/// Google sends counters as decimal strings.
fn count(value: &Value) -> Option<u64> {
    value.as_str().and_then(|s| s.parse().ok()).or_else(|| value.as_u64())
}
