//! `videos.list`, and the simulator's own view of a video under `/_sim`.

use super::*;

pub(super) fn video_resource(origin: &str, video: &Video, part: &str, now: DateTime<Utc>) -> Value {
    let parts: Vec<&str> = part.split(',').map(str::trim).collect();
    let mut item = json!({"kind": "youtube#video", "etag": random_hex(16), "id": video.id});
    let (upload_status, processing_status, failure, rejection) = video.state(now);
    if parts.contains(&"snippet") {
        let mut snippet = video.metadata["snippet"].clone();
        snippet["channelId"] = json!(video.channel_id);
        snippet["publishedAt"] = json!(video.uploaded_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        snippet["thumbnails"] = json!({"default": {"url": format!("{origin}/youtube/_sim/thumbs/{}.jpg", video.id)}});
        item["snippet"] = snippet;
    }
    if parts.contains(&"status") {
        let mut status = video.metadata["status"].clone();
        status["uploadStatus"] = json!(upload_status);
        if let Some(f) = failure {
            status["failureReason"] = json!(f);
        }
        if let Some(r) = rejection {
            status["rejectionReason"] = json!(r);
        }
        status["madeForKids"] = status["selfDeclaredMadeForKids"]
            .as_bool()
            .map(Value::from)
            .unwrap_or(json!(false));
        item["status"] = status;
    }
    if parts.contains(&"processingDetails") {
        let mut details = json!({"processingStatus": processing_status});
        if processing_status == "processing" {
            let left = (video.processed_at() - now).num_milliseconds().max(0);
            details["processingProgress"] = json!({
                "partsTotal": "1000",
                "partsProcessed": (1000 - left * 1000 / (PROCESSING_SECS * 1000)).to_string(),
                "timeLeftMs": left.to_string(),
            });
        }
        if let Some(f) = failure {
            details["processingFailureReason"] = json!(if f == "invalidFile" {
                "uploadFailed"
            } else {
                "transcodeFailed"
            });
        }
        item["processingDetails"] = details;
    }
    if parts.contains(&"statistics") {
        let views = video.live_secs(now) / SECS_PER_VIEW;
        let threads = video.threads(now);
        let comments = threads + (threads + 2) / 3;
        item["statistics"] = json!({
            "viewCount": views.to_string(),
            "likeCount": (views / 25).to_string(),
            "favoriteCount": "0",
            "commentCount": comments.to_string(),
        });
    }
    item
}

pub(super) async fn videos(
    State(yt): State<Yt>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    crate::inject!(yt.core, "youtube.videos");
    if let Err(e) = yt.authenticate(&headers, &[SCOPE_READONLY, SCOPE_YOUTUBE, SCOPE_FORCE_SSL]) {
        return e;
    }
    if let Err(e) = yt.charge(Bucket::Units(1)) {
        return e;
    }
    let Some(part) = q.get("part").filter(|p| !p.is_empty()) else {
        return google_error(400, "required", "global", "Required parameter: part");
    };
    let ids: Vec<&str> = q
        .get("id")
        .map(|s| s.split(',').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if ids.is_empty() {
        return google_error(
            400,
            "missingRequiredParameter",
            "youtube.parameter",
            "No filter selected.",
        );
    }
    if ids.len() > 50 {
        return google_error(
            400,
            "badRequest",
            "youtube.parameter",
            "The id parameter accepts at most 50 ids.",
        );
    }
    let now = yt.now();
    let state = yt.state.lock().expect("youtube lock");
    let items: Vec<Value> = ids
        .iter()
        .filter_map(|id| state.videos.get(*id))
        .map(|v| video_resource(&yt.core.origin, v, part, now))
        .collect();
    axum::Json(json!({
        "kind": "youtube#videoListResponse",
        "pageInfo": {"totalResults": items.len(), "resultsPerPage": items.len()},
        "items": items,
    }))
    .into_response()
}

pub(super) async fn sim_video(State(yt): State<Yt>, Path(id): Path<String>) -> Response {
    let now = yt.now();
    let state = yt.state.lock().expect("youtube lock");
    let Some(video) = state.videos.get(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (upload_status, ..) = video.state(now);
    axum::Json(json!({
        "id": video.id,
        "channel_id": video.channel_id,
        "is_short": video.is_short,
        "bytes": video.bytes,
        "upload_status": upload_status,
        "facts": video.facts.as_ref().ok(),
        "probe_error": video.facts.as_ref().err(),
        "metadata": video.metadata,
    }))
    .into_response()
}
