//! Who the creator is: `user/info` and `creator_info` (what they may post now).

use super::*;

pub(super) async fn user_info(
    State(sim): State<Sim>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    crate::inject!(sim.core, "tiktok.user_info");
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let (token, open_id) = crate::checked!(bearer(&sim, &state, &headers, "user.info.basic"));
    if let Err(after) = state
        .rate
        .admit(&format!("user_info:{token}"), sim.core.limit(RATE_DISPLAY), now)
    {
        return rate_limited(after);
    }
    let user = json!({
        "open_id": open_id,
        "union_id": format!("union-{open_id}"),
        "avatar_url": format!("{}/tiktok/avatar/{open_id}.jpg", sim.core.origin),
        "display_name": NICKNAME,
        "username": USERNAME,
    });
    let fields: Vec<&str> = q.get("fields").map(|f| f.split(',').collect()).unwrap_or_default();
    if fields.is_empty() {
        return biz_error(StatusCode::BAD_REQUEST, "invalid_params", "fields is required.");
    }
    let picked: serde_json::Map<String, Value> = fields
        .iter()
        .filter_map(|f| user.get(*f).map(|v| ((*f).to_owned(), v.clone())))
        .collect();
    ok(json!({ "user": picked }))
}

pub(super) async fn creator_info(State(sim): State<Sim>, headers: HeaderMap) -> Response {
    crate::inject!(sim.core, "tiktok.creator_info");
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let (token, open_id) = crate::checked!(bearer(&sim, &state, &headers, "video.publish"));
    if let Err(after) = state
        .rate
        .admit(&format!("creator_info:{token}"), sim.core.limit(RATE_CREATOR_INFO), now)
    {
        return rate_limited(after);
    }
    if state.daily.count(&open_id, now) >= sim.core.limit(DAILY_POST_CAP) {
        // HTTP 200, intentionally, as TikTok documents.
        return biz_error(
            StatusCode::OK,
            "spam_risk_too_many_posts",
            "The daily post cap from the API is reached for the current user.",
        );
    }
    ok(json!({
        "creator_avatar_url": format!("{}/tiktok/avatar/{open_id}.jpg", sim.core.origin),
        "creator_username": USERNAME,
        "creator_nickname": NICKNAME,
        "privacy_level_options": ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
        "comment_disabled": false,
        "duet_disabled": false,
        "stitch_disabled": false,
        "max_video_post_duration_sec": CREATOR_MAX_DURATION_SECS,
    }))
}
