//! The `upload_url`: chunks `PUT` with `Content-Range`, streamed to a temp file.

use super::media_rules::check_video;
use super::*;

pub(super) fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?, total.parse().ok()?))
}

pub(super) fn upload_answer(status: StatusCode, received: u64, total: u64, message: &str) -> Response {
    let mut response = (status, message.to_owned()).into_response();
    if received > 0 {
        let range = format!("bytes 0-{}/{total}", received - 1);
        response
            .headers_mut()
            .insert(header::CONTENT_RANGE, range.parse().expect("a header value"));
    }
    response
}

pub(super) async fn upload(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    crate::inject!(sim.core, "tiktok.upload");
    let now = sim.core.clock.now_secs();
    let (first, last, total, path) = {
        let mut state = sim.state.lock().expect("tiktok state");
        let Some(upload) = state.uploads.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, "no such upload task").into_response();
        };
        if q.get("upload_token") != Some(&upload.token) {
            return (StatusCode::FORBIDDEN, "upload_token is invalid").into_response();
        }
        if upload.expires_at <= now {
            let _ = std::fs::remove_file(&upload.path);
            return (StatusCode::FORBIDDEN, "upload_url has expired").into_response();
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !["video/mp4", "video/quicktime", "video/webm"].contains(&content_type) {
            return (
                StatusCode::BAD_REQUEST,
                "Content-Type must be video/mp4, video/quicktime or video/webm",
            )
                .into_response();
        }
        let Some((first, last, total)) = headers
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_content_range)
        else {
            return (StatusCode::BAD_REQUEST, "Content-Range is missing or malformed").into_response();
        };
        let index = upload.received / upload.chunk_size;
        let expected_last = if index + 1 >= upload.chunk_count {
            upload.video_size - 1
        } else {
            upload.received + upload.chunk_size - 1
        };
        if total != upload.video_size || first != upload.received || last != expected_last {
            return upload_answer(
                StatusCode::RANGE_NOT_SATISFIABLE,
                upload.received,
                upload.video_size,
                "Content-Range does not match the upload progress",
            );
        }
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n != last - first + 1) {
            return (StatusCode::BAD_REQUEST, "Content-Length does not match Content-Range").into_response();
        }
        (first, last, total, upload.path.clone())
    };
    let written = write_chunk(&path, first, last - first + 1, body).await;
    let (publish_id, received, finished) = {
        let mut state = sim.state.lock().expect("tiktok state");
        let Some(upload) = state.uploads.get_mut(&id) else {
            return (StatusCode::NOT_FOUND, "no such upload task").into_response();
        };
        if let Err(message) = written {
            return upload_answer(StatusCode::BAD_REQUEST, upload.received, total, &message);
        }
        upload.received = last + 1;
        let publish_id = upload.publish_id.clone();
        let received = upload.received;
        if let Some(publish) = state.publishes.get_mut(&publish_id) {
            publish.uploaded_bytes = received;
        }
        let finished = if received >= total {
            state.uploads.remove(&id)
        } else {
            None
        };
        (publish_id, received, finished)
    };
    let Some(finished) = finished else {
        return upload_answer(StatusCode::PARTIAL_CONTENT, received, total, "");
    };
    let outcome = check_video(&finished.path).await;
    let _ = tokio::fs::remove_file(&finished.path).await;
    if let Some(publish) = sim.state.lock().expect("tiktok state").publishes.get_mut(&publish_id) {
        publish.outcome = Some((now + PROCESSING_SECS, outcome));
    }
    upload_answer(StatusCode::CREATED, received, total, "")
}

/// Streams the body to `path` at `offset`; exactly `len` bytes must arrive.
pub(super) async fn write_chunk(path: &std::path::Path, offset: u64, len: u64, body: Body) -> Result<(), String> {
    let mut file = crate::uploads::open_at(path, offset)
        .await
        .map_err(|e| format!("storage: {e}"))?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|_| "the chunk was interrupted".to_owned())?;
        written += piece.len() as u64;
        if written > len {
            return Err("the body is longer than Content-Range".into());
        }
        file.write_all(&piece).await.map_err(|e| format!("storage: {e}"))?;
    }
    file.flush().await.map_err(|e| format!("storage: {e}"))?;
    if written != len {
        return Err("the body is shorter than Content-Range".into());
    }
    Ok(())
}
