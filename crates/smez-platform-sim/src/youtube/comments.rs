//! `commentThreads.list`: comments generated on the clock, paged.

use super::*;

pub(super) fn comment(
    id: &str,
    video: &Video,
    author: usize,
    text: String,
    at: DateTime<Utc>,
    parent: Option<&str>,
) -> Value {
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut snippet = json!({
        "channelId": video.channel_id,
        "videoId": video.id,
        "authorDisplayName": format!("@viewer{author}"),
        "authorChannelId": {"value": format!("UCviewer{author:016}")},
        "textDisplay": text,
        "textOriginal": text,
        "canRate": true,
        "viewerRating": "none",
        "likeCount": author % 7,
        "publishedAt": at,
        "updatedAt": at,
    });
    if let Some(p) = parent {
        snippet["parentId"] = json!(p);
    }
    json!({"kind": "youtube#comment", "id": id, "snippet": snippet})
}

pub(super) async fn comment_threads(
    State(yt): State<Yt>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    crate::inject!(yt.core, "youtube.comment_threads");
    if let Err(e) = yt.authenticate(&headers, &[SCOPE_READONLY, SCOPE_YOUTUBE, SCOPE_FORCE_SSL]) {
        return e;
    }
    if let Err(e) = yt.charge(Bucket::Units(1)) {
        return e;
    }
    let Some(video_id) = q.get("videoId") else {
        return google_error(
            400,
            "missingRequiredParameter",
            "youtube.parameter",
            "No filter selected.",
        );
    };
    let max = q.get("maxResults").and_then(|m| m.parse::<i64>().ok()).unwrap_or(20);
    if !(1..=100).contains(&max) {
        return google_error(
            400,
            "invalidParameter",
            "youtube.parameter",
            "Invalid value for maxResults.",
        );
    }
    let offset = match q.get("pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix("CDIQ").and_then(|n| n.parse::<i64>().ok()) {
            Some(n) => n,
            None => return google_error(400, "invalidPageToken", "youtube.commentThread", "Invalid page token."),
        },
    };
    let now = yt.now();
    let state = yt.state.lock().expect("youtube lock");
    let Some(video) = state.videos.get(video_id) else {
        return google_error(
            404,
            "videoNotFound",
            "youtube.commentThread",
            "The video identified by the videoId parameter could not be found.",
        );
    };
    let threads = video.threads(now);
    let processed = video.processed_at();
    let title = video.metadata["snippet"]["title"].as_str().unwrap_or("");
    // Newest first (order=time).
    let items: Vec<Value> = (0..threads)
        .rev()
        .skip(offset as usize)
        .take(max as usize)
        .map(|i| {
            let thread_id = format!("Ugz{}{i:05}", video.id);
            let at = processed + Duration::seconds((i + 1) * SECS_PER_COMMENT);
            let top = comment(
                &thread_id,
                video,
                i as usize,
                format!("Comment {i} on {title}"),
                at,
                None,
            );
            let replies: Vec<Value> = if i % 3 == 0 {
                vec![comment(
                    &format!("{thread_id}.reply0"),
                    video,
                    i as usize + 1,
                    format!("Reply to comment {i}"),
                    at + Duration::seconds(60),
                    Some(&thread_id),
                )]
            } else {
                Vec::new()
            };
            let mut thread = json!({
                "kind": "youtube#commentThread",
                "id": thread_id,
                "snippet": {
                    "channelId": video.channel_id,
                    "videoId": video.id,
                    "topLevelComment": top,
                    "canReply": true,
                    "totalReplyCount": replies.len(),
                    "isPublic": true,
                },
            });
            if !replies.is_empty() {
                thread["replies"] = json!({"comments": replies});
            }
            thread
        })
        .collect();
    let mut body = json!({
        "kind": "youtube#commentThreadListResponse",
        "pageInfo": {"totalResults": items.len(), "resultsPerPage": max},
        "items": items,
    });
    if offset + max < threads {
        body["nextPageToken"] = json!(format!("CDIQ{}", offset + max));
    }
    axum::Json(body).into_response()
}
