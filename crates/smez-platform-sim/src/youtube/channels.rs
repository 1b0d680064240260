//! `channels?mine=true`: the channels a grant may act for.

use super::*;

pub(super) async fn channels(
    State(yt): State<Yt>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    crate::inject!(yt.core, "youtube.channels");
    let grant = crate::checked!(yt.authenticate(&headers, &[SCOPE_READONLY, SCOPE_YOUTUBE, SCOPE_FORCE_SSL]));
    if let Err(e) = yt.charge(Bucket::Units(1)) {
        return e;
    }
    if q.get("mine").map(String::as_str) != Some("true") {
        return google_error(
            400,
            "missingRequiredParameter",
            "youtube.parameter",
            "No filter selected. Expected one of: mine, id, forHandle, forUsername, managedByMe, categoryId",
        );
    }
    let state = yt.state.lock().expect("youtube lock");
    let items: Vec<Value> = state.grants[grant]
        .channels
        .iter()
        .map(|c| {
            json!({
                "kind": "youtube#channel",
                "id": c.id,
                "snippet": {
                    "title": c.title,
                    "description": "",
                    "customUrl": c.handle,
                    "thumbnails": {"default": {
                        "url": format!("{}/youtube/_sim/avatars/{}.jpg", yt.core.origin, c.id),
                        "width": 88,
                        "height": 88,
                    }},
                },
            })
        })
        .collect();
    axum::Json(json!({
        "kind": "youtube#channelListResponse",
        "pageInfo": {"totalResults": items.len(), "resultsPerPage": 5},
        "items": items,
    }))
    .into_response()
}
