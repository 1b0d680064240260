//! Reel insights (§3D): metrics that grow with simulated time.

use super::comments::generated_comments;
use super::*;

pub(super) struct Counts {
    pub(super) views: u64,
    pub(super) reach: u64,
    pub(super) likes: u64,
    pub(super) comments: u64,
    pub(super) shares: u64,
    pub(super) saved: u64,
}

impl Counts {
    pub(super) fn at(media: &Media, now: i64) -> Self {
        let elapsed = (now - media.published_at).max(0) as u64;
        let views = elapsed / 6;
        let comments = generated_comments(media, now)
            .iter()
            .map(|c| 1 + c.replies.len() as u64)
            .sum();
        Self {
            views,
            reach: views * 4 / 5,
            likes: views / 12,
            comments,
            shares: views / 60,
            saved: views / 80,
        }
    }
}

pub(super) async fn insights(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.insights");
    let media = crate::checked!(app.readable_media(bearer(&headers, &q), SCOPE_INSIGHTS, &id));
    let now = app.now();
    let Some(metrics) = q.get("metric").filter(|m| !m.is_empty()) else {
        return graph_error(400, 100, None, "(#100) The parameter metric is required", None);
    };
    let counts = Counts::at(&media, now);
    let mut data = Vec::new();
    for (i, name) in metrics.split(',').map(str::trim).enumerate() {
        if DEPRECATED_METRICS.contains(&name) {
            return graph_error(
                400,
                100,
                None,
                &format!(
                    "(#100) Starting from version v22.0 and above, the {name} metric is no longer supported for media insights. Use views instead."
                ),
                None,
            );
        }
        if !SUPPORTED_METRICS.contains(&name) {
            return graph_error(
                400,
                100,
                None,
                &format!(
                    "(#100) metric[{i}] must be one of the following values: {}",
                    SUPPORTED_METRICS.join(", ")
                ),
                None,
            );
        }
        let value = match name {
            "views" => counts.views,
            "reach" => counts.reach,
            "likes" => counts.likes,
            "comments" => counts.comments,
            "shares" => counts.shares,
            "saved" => counts.saved,
            "total_interactions" => counts.likes + counts.saved + counts.comments + counts.shares,
            "ig_reels_avg_watch_time" => {
                if counts.views > 0 {
                    4200
                } else {
                    0
                }
            }
            _ => counts.views * 4200,
        };
        data.push(json!({
            "name": name,
            "period": "lifetime",
            "values": [{"value": value}],
            "title": name,
            "description": format!("Lifetime {name} of the reel"),
            "id": format!("{id}/insights/{name}/lifetime"),
        }));
    }
    axum::Json(json!({ "data": data })).into_response()
}
