//! A container's bytes by resumable rupload (§3C), streamed to a temp file.

use super::media_rules::validate_file;
use super::*;

/// Where a container's bytes land while uploading: unique per simulator
/// (its port) and container, deleted once probed.
pub(super) fn upload_path(origin: &str, container_id: &str) -> PathBuf {
    let port = origin.rsplit(':').next().unwrap_or("0");
    crate::uploads::temp_path("instagram", &format!("{port}-{container_id}"))
}

pub(super) fn debug_error(status: u16, retriable: bool, kind: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(json!({"debug_info": {"retriable": retriable, "type": kind, "message": message}})),
    )
        .into_response()
}

pub(super) async fn upload_offset(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.upload_offset");
    let caller = crate::checked!(app.authorize_call(bearer(&headers, &Params::new()), SCOPE_PUBLISH));
    let state = app.state.lock().expect("instagram lock");
    match state.containers.get(&id).filter(|c| caller.owns(&c.user_id)) {
        Some(c) => axum::Json(json!({"offset": c.received, "file_size": c.file_size})).into_response(),
        None => debug_error(404, false, "NotFound", "No upload session for this container"),
    }
}

pub(super) async fn upload(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    crate::inject!(app.core, "instagram.upload");
    let caller = crate::checked!(app.authorize_call(bearer(&headers, &Params::new()), SCOPE_PUBLISH));
    let header_u64 = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let (Some(offset), Some(file_size)) = (header_u64("offset"), header_u64("file_size")) else {
        return debug_error(
            400,
            false,
            "BadRequest",
            "The offset and file_size headers are required",
        );
    };
    {
        let mut state = app.state.lock().expect("instagram lock");
        let Some(c) = state.containers.get_mut(&id).filter(|c| caller.owns(&c.user_id)) else {
            return debug_error(404, false, "NotFound", "No upload session for this container");
        };
        if c.outcome.is_some() {
            return debug_error(400, false, "AlreadyUploaded", "The media was already uploaded");
        }
        if c.file_size.is_some_and(|s| s != file_size) {
            return debug_error(400, false, "BadRequest", "file_size differs from the first request");
        }
        if offset != c.received {
            return debug_error(
                400,
                true,
                "OffsetMismatch",
                &format!("Expected offset {}, got {offset}", c.received),
            );
        }
        if file_size > MAX_FILE_BYTES {
            // Refused before a byte is stored; the container ends in ERROR too.
            c.outcome = Some(Err((
                2207026,
                format!("The video is larger than {MAX_FILE_BYTES} bytes."),
            )));
            c.ready_at = app.now();
            return graph_error(
                400,
                352,
                Some(2207026),
                "The video file is too large.",
                Some(&format!("Reels can be at most {MAX_FILE_BYTES} bytes.")),
            );
        }
        c.file_size = Some(file_size);
    }
    // Stream the bytes to disk, never holding the upload in memory.
    let path = upload_path(&app.core.origin, &id);
    let progress = |received: u64| app.record_received(&id, received);
    let written = match write_range(&path, offset, file_size, body, &progress).await {
        Ok(written) => written,
        Err(written) => {
            app.record_received(&id, offset + written);
            return debug_error(
                500,
                true,
                "TransientError",
                "The upload was interrupted; resume from the offset",
            );
        }
    };
    let received = offset + written;
    app.record_received(&id, received);
    if received < file_size {
        return axum::Json(json!({"success": true, "message": "Partial upload received.", "offset": received}))
            .into_response();
    }
    let outcome = validate_file(&path, file_size).await;
    let _ = tokio::fs::remove_file(&path).await;
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    if let Some(c) = state.containers.get_mut(&id) {
        c.outcome = Some(outcome);
        c.ready_at = now + PROCESSING_SECS;
    }
    axum::Json(json!({"success": true, "message": "Upload successful."})).into_response()
}

impl Ig {
    pub(super) fn record_received(&self, id: &str, received: u64) {
        if let Some(c) = self.state.lock().expect("instagram lock").containers.get_mut(id) {
            c.received = received;
        }
    }
}

/// Writes the body at `offset`; `Err(bytes written)` when the stream broke
/// or overran `file_size`. `progress` learns the received total after every
/// chunk is on disk, so a connection that breaks (and cancels the handler)
/// leaves the right offset to resume from.
pub(super) async fn write_range(
    path: &FsPath,
    offset: u64,
    file_size: u64,
    body: Body,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<u64, u64> {
    let Ok(mut file) = crate::uploads::open_at(path, offset).await else {
        return Err(0);
    };
    // Bytes past `offset` are from a request that broke: they were never acknowledged.
    if file.set_len(offset).await.is_err() {
        return Err(0);
    }
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            let _ = file.flush().await;
            return Err(written);
        };
        if offset + written + chunk.len() as u64 > file_size {
            let _ = file.flush().await;
            return Err(written);
        }
        if file.write_all(&chunk).await.is_err() || file.flush().await.is_err() {
            return Err(written);
        }
        written += chunk.len() as u64;
        progress(offset + written);
    }
    file.flush().await.map_err(|_| written)?;
    Ok(written)
}
