//! Resumable uploads: `videos.insert` opens a session, `PUT`s stream the
//! bytes to a temp file, the last one probes them and makes the video.

use super::metadata::validate_metadata;
use super::videos::video_resource;
use super::*;

pub(super) async fn insert(
    State(yt): State<Yt>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    crate::inject!(yt.core, "youtube.insert");
    let grant = crate::checked!(yt.authenticate(&headers, &[SCOPE_UPLOAD, SCOPE_YOUTUBE, SCOPE_FORCE_SSL]));
    if let Err(e) = yt.charge(Bucket::Uploads) {
        return e;
    }
    if q.get("uploadType").map(String::as_str) != Some("resumable") {
        return google_error(
            400,
            "mediaBodyRequired",
            "youtube.video",
            "The request does not include the video content.",
        );
    }
    let metadata: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return google_error(400, "parseError", "global", "Parse Error"),
        }
    };
    if let Err((reason, message)) = validate_metadata(&metadata) {
        return google_error(400, reason, "youtube.video", &message);
    }
    let total = headers
        .get("x-upload-content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(total) = total.filter(|t| *t > 0 && *t <= MAX_UPLOAD_BYTES) else {
        return google_error(
            400,
            "badContent",
            "youtube.video",
            "The X-Upload-Content-Length is missing or invalid.",
        );
    };
    let content_type = headers
        .get("x-upload-content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    if !(content_type.starts_with("video/") || content_type == "application/octet-stream") {
        return google_error(400, "badContent", "youtube.video", "Media type not supported.");
    }
    let upload_id = random_hex(32);
    let dir = std::env::temp_dir().join("smez-sim-youtube");
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        return google_error(500, "internalError", "global", &format!("temp dir: {e}"));
    }
    let now = yt.now();
    let mut state = yt.state.lock().expect("youtube lock");
    // Expired sessions go, with their bytes.
    let expired: Vec<String> = state
        .sessions
        .iter()
        .filter(|(_, s)| s.expires_at <= now)
        .map(|(id, _)| id.clone())
        .collect();
    for id in expired {
        if let Some(s) = state.sessions.remove(&id) {
            let _ = std::fs::remove_file(s.path);
        }
    }
    let channel_id = state.grants[grant].channels[0].id.clone();
    state.sessions.insert(
        upload_id.clone(),
        Session {
            channel_id,
            metadata,
            total,
            received: 0,
            path: dir.join(&upload_id),
            expires_at: now + Duration::seconds(UPLOAD_SESSION_LIFETIME_SECS),
            result: None,
        },
    );
    let part = q.get("part").cloned().unwrap_or_else(|| "snippet,status".into());
    let location = format!(
        "{}/youtube/upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}&part={part}",
        yt.core.origin
    );
    (StatusCode::OK, [(header::LOCATION, location)]).into_response()
}

/// `308 Resume Incomplete` with the received range (none when nothing arrived).
pub(super) fn resume_incomplete(received: u64) -> Response {
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if received > 0 {
        let range = format!("bytes=0-{}", received - 1);
        response.headers_mut().insert(
            header::RANGE,
            header::HeaderValue::from_str(&range).expect("a header value"),
        );
    }
    response
}

pub(super) enum ContentRange {
    /// `bytes */total`: where does the session stand?
    Query(u64),
    /// `bytes a-b/total`.
    Chunk(u64, u64, u64),
}

pub(super) fn content_range(headers: &HeaderMap) -> Option<Result<ContentRange, ()>> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let parse = || -> Option<ContentRange> {
        let rest = value.trim().strip_prefix("bytes ")?;
        let (range, total) = rest.split_once('/')?;
        let total = total.parse().ok()?;
        if range == "*" {
            return Some(ContentRange::Query(total));
        }
        let (a, b) = range.split_once('-')?;
        Some(ContentRange::Chunk(a.parse().ok()?, b.parse().ok()?, total))
    };
    Some(parse().ok_or(()))
}

pub(super) async fn upload(
    State(yt): State<Yt>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Not `inject!`: a `drop` fault takes part of the chunk first.
    let drop_mid_chunk = match yt.core.faults.take("youtube.upload") {
        Some(FaultKind::Drop) => true,
        Some(other) => {
            // Take the request in full first, so the client reliably reads the answer.
            let mut stream = body.into_data_stream();
            while let Some(Ok(_)) = stream.next().await {}
            return crate::faults::respond(other).await;
        }
        None => false,
    };
    let upload_id = q.get("upload_id").cloned().unwrap_or_default();
    let now = yt.now();
    let (session, expired) = {
        let mut state = yt.state.lock().expect("youtube lock");
        match state.sessions.get(&upload_id).cloned() {
            Some(s) if s.expires_at <= now => {
                state.sessions.remove(&upload_id);
                (None, Some(s.path))
            }
            other => (other, None),
        }
    };
    if let Some(path) = expired {
        let _ = tokio::fs::remove_file(path).await;
    }
    let Some(session) = session else {
        return google_error(
            404,
            "notFound",
            "global",
            "The upload session was not found or has expired.",
        );
    };
    if let Some(result) = session.result {
        return (StatusCode::CREATED, axum::Json(result)).into_response();
    }
    let (start, end) = match content_range(&headers) {
        None if session.received == 0 => (0, session.total - 1),
        None => return resume_incomplete(session.received),
        Some(Err(())) => return google_error(400, "badRequest", "global", "Invalid Content-Range header."),
        Some(Ok(ContentRange::Query(total))) if total == session.total => return resume_incomplete(session.received),
        Some(Ok(ContentRange::Chunk(a, b, total))) if total == session.total && a <= b && b < total => (a, b),
        Some(Ok(_)) => return google_error(400, "badRequest", "global", "Content-Range does not match the upload."),
    };
    if start != session.received {
        // A gap or an overlap: none of these bytes are accepted.
        return resume_incomplete(session.received);
    }
    let len = end - start + 1;
    if end + 1 < session.total && !len.is_multiple_of(CHUNK_GRANULARITY) {
        return google_error(
            400,
            "badRequest",
            "global",
            "Invalid chunk size: every chunk but the last must be a multiple of 256 KiB.",
        );
    }
    let limit = if drop_mid_chunk { len / 2 } else { len };
    let written = match append(&session.path, body, limit).await {
        Ok(n) => n,
        Err(e) => return google_error(500, "internalError", "global", &format!("storing bytes: {e}")),
    };
    let received = session.received + written;
    let still_open = {
        let mut state = yt.state.lock().expect("youtube lock");
        match state.sessions.get_mut(&upload_id) {
            Some(s) => {
                s.received = received;
                true
            }
            None => false,
        }
    };
    if !still_open {
        let _ = tokio::fs::remove_file(&session.path).await;
        return google_error(
            404,
            "notFound",
            "global",
            "The upload session was not found or has expired.",
        );
    }
    if drop_mid_chunk {
        return crate::faults::respond(FaultKind::Drop).await;
    }
    if received < session.total {
        return resume_incomplete(received);
    }
    finish(
        &yt,
        &upload_id,
        session.path,
        session.channel_id,
        session.metadata,
        session.total,
    )
    .await
}

/// Streams at most `limit` bytes of `body` onto the end of `path`; returns how many arrived
/// (fewer when the client broke off).
pub(super) async fn append(path: &std::path::Path, body: Body, limit: u64) -> std::io::Result<u64> {
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while written < limit {
        let Some(chunk) = stream.next().await else { break };
        let Ok(chunk) = chunk else { break };
        let take = (limit - written).min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..take]).await?;
        written += take as u64;
    }
    file.flush().await?;
    Ok(written)
}

pub(super) async fn finish(
    yt: &Yt,
    upload_id: &str,
    path: PathBuf,
    channel_id: String,
    metadata: Value,
    total: u64,
) -> Response {
    let facts = crate::probe::probe(&path).await;
    let _ = tokio::fs::remove_file(&path).await;
    let is_short = facts
        .as_ref()
        .is_ok_and(|f| f.width > 0 && f.width <= f.height && f.duration_secs <= SHORT_MAX_SECS);
    let id = random_hex(11);
    let now = yt.now();
    let mut metadata = metadata;
    if metadata["status"]["privacyStatus"].is_null() {
        // UNVERIFIED default when omitted.
        metadata["status"]["privacyStatus"] = json!("public");
    }
    let video = Video {
        id: id.clone(),
        channel_id: channel_id.clone(),
        metadata,
        bytes: total,
        uploaded_at: now,
        facts,
        is_short,
    };
    let resource = video_resource(&yt.core.origin, &video, "snippet,status", now);
    if video.facts.is_ok() {
        yt.core.records.post(AcceptedPost {
            platform: PLATFORM.into(),
            post_id: id.clone(),
            account_id: channel_id,
            caption: video.metadata["snippet"]["description"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            bytes: total,
        });
    }
    let mut state = yt.state.lock().expect("youtube lock");
    if let Some(s) = state.sessions.get_mut(upload_id) {
        s.result = Some(resource.clone());
    }
    state.videos.insert(id, video);
    (StatusCode::CREATED, axum::Json(resource)).into_response()
}
