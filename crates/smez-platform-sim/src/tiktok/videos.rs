//! `video/query`: the creator's published posts, with counts that grow on the clock.

use super::*;

pub(super) async fn video_query(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    crate::inject!(sim.core, "tiktok.video_query");
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let (token, open_id) = crate::checked!(bearer(&sim, &state, &headers, "video.list"));
    if let Err(after) = state
        .rate
        .admit(&format!("video_query:{token}"), sim.core.limit(RATE_DISPLAY), now)
    {
        return rate_limited(after);
    }
    let fields: Vec<String> = q
        .get("fields")
        .map(|f| f.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    if fields.is_empty() {
        return biz_error(StatusCode::BAD_REQUEST, "invalid_params", "fields is required.");
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(ids) = request["filters"]["video_ids"].as_array() else {
        return biz_error(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            "filters.video_ids is required.",
        );
    };
    if ids.is_empty() || ids.len() > 20 {
        return biz_error(
            StatusCode::BAD_REQUEST,
            "invalid_params",
            "filters.video_ids: 1 to 20 ids.",
        );
    }
    state.settle(&sim.core, now);
    let mut videos = Vec::new();
    for id in ids {
        let Some(id) = id.as_str().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        let Some(post) = state.posts.get(&id) else { continue };
        if post.open_id != open_id {
            continue;
        }
        // Counters grow with the clock: a view every 2 s, then likes, comments, shares in proportion.
        let views = ((now - post.created_at).max(0) / 2) as u64;
        let video = json!({
            "id": id.to_string(),
            "create_time": post.created_at,
            "title": post.title.chars().take(150).collect::<String>(),
            "video_description": post.title.chars().take(150).collect::<String>(),
            "duration": post.duration.round() as i64,
            "width": post.width,
            "height": post.height,
            "share_url": format!("https://www.tiktok.com/@{USERNAME}/video/{id}"),
            "view_count": views,
            "like_count": views / 10,
            "comment_count": views / 50,
            "share_count": views / 100,
        });
        let picked: serde_json::Map<String, Value> = fields
            .iter()
            .filter_map(|f| video.get(f).map(|v| (f.clone(), v.clone())))
            .collect();
        videos.push(Value::Object(picked));
    }
    ok(json!({ "videos": videos, "cursor": 0, "has_more": false }))
}
