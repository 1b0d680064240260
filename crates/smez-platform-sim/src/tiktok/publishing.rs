//! Direct Post: `video/init` with its chunk-plan rules, and the publish
//! status a client polls.

use super::*;

pub(super) fn invalid_param(message: &str) -> Response {
    biz_error(StatusCode::BAD_REQUEST, "invalid_param", message)
}

/// Checks a FILE_UPLOAD chunk plan against the media transfer rules.
pub(super) fn check_plan(video_size: u64, chunk_size: u64, count: u64) -> Result<(), String> {
    if video_size == 0 || chunk_size == 0 || count == 0 {
        return Err("source_info: video_size, chunk_size and total_chunk_count must be positive.".into());
    }
    if video_size > MAX_VIDEO_BYTES {
        return Err(format!("source_info.video_size: {video_size} exceeds the 4 GB limit."));
    }
    if video_size < MIN_CHUNK_BYTES {
        if chunk_size != video_size || count != 1 {
            return Err("source_info.chunk_size: a video under 5 MB must be uploaded as one chunk.".into());
        }
        return Ok(());
    }
    if !(MIN_CHUNK_BYTES..=MAX_CHUNK_BYTES).contains(&chunk_size) {
        return Err(format!(
            "source_info.chunk_size: {chunk_size} is outside 5 MB to 64 MB."
        ));
    }
    if chunk_size > video_size {
        return Err("source_info.chunk_size: larger than video_size.".into());
    }
    if count != video_size / chunk_size {
        return Err(format!(
            "source_info.total_chunk_count: {count} should be floor(video_size / chunk_size) = {}.",
            video_size / chunk_size
        ));
    }
    if count > MAX_CHUNKS {
        return Err("source_info.total_chunk_count: at most 1000 chunks.".into());
    }
    let last = video_size - (count - 1) * chunk_size;
    if last > MAX_FINAL_CHUNK_BYTES {
        return Err("source_info.chunk_size: the final chunk would exceed 128 MB.".into());
    }
    Ok(())
}

pub(super) async fn init(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    crate::inject!(sim.core, "tiktok.init");
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let (token, open_id) = crate::checked!(bearer(&sim, &state, &headers, "video.publish"));
    if let Err(after) = state
        .rate
        .admit(&format!("init:{token}"), sim.core.limit(RATE_INIT), now)
    {
        return rate_limited(after);
    }
    state.settle(&sim.core, now);
    if state.daily.count(&open_id, now) >= sim.core.limit(DAILY_POST_CAP) {
        return biz_error(
            StatusCode::FORBIDDEN,
            "spam_risk_too_many_posts",
            "The daily post cap from the API is reached for the current user.",
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return invalid_param("The request body is not valid JSON.");
    };
    let info = &request["post_info"];
    let privacy = info["privacy_level"].as_str().unwrap_or_default();
    if !["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"].contains(&privacy) {
        return biz_error(
            StatusCode::FORBIDDEN,
            "privacy_level_option_mismatch",
            "post_info.privacy_level is missing or not one of the creator's privacy_level_options.",
        );
    }
    let title = info["title"].as_str().unwrap_or_default().to_owned();
    let units = title.encode_utf16().count();
    if units > TITLE_MAX_UTF16 {
        return invalid_param(&format!(
            "post_info.title: {units} UTF-16 code units exceed the limit of {TITLE_MAX_UTF16}."
        ));
    }
    let source = &request["source_info"];
    if source["source"].as_str() != Some("FILE_UPLOAD") {
        return invalid_param("source_info.source: only FILE_UPLOAD is supported by this simulator.");
    }
    let number = |k: &str| source[k].as_u64().unwrap_or(0);
    let (video_size, chunk_size, count) = (number("video_size"), number("chunk_size"), number("total_chunk_count"));
    if let Err(message) = check_plan(video_size, chunk_size, count) {
        return invalid_param(&message);
    }
    state.daily.record(&open_id, now);
    let n = state.id();
    let publish_id = format!("v_pub_file~v2-1.{n}");
    let upload_id = format!("{n}{}", uuid::Uuid::new_v4().simple());
    let upload_token = secret("");
    let path = crate::uploads::temp_path("tiktok", &upload_id);
    state.uploads.insert(
        upload_id.clone(),
        Upload {
            publish_id: publish_id.clone(),
            token: upload_token.clone(),
            expires_at: now + UPLOAD_URL_TTL_SECS,
            video_size,
            chunk_size,
            chunk_count: count,
            received: 0,
            path,
            discarded: false,
        },
    );
    state.publishes.insert(
        publish_id.clone(),
        Publish {
            open_id,
            title,
            public: privacy == "PUBLIC_TO_EVERYONE",
            uploaded_bytes: 0,
            outcome: None,
            post_id: None,
        },
    );
    ok(json!({
        "publish_id": publish_id,
        "upload_url": format!("{}/tiktok/upload/{upload_id}?upload_token={upload_token}", sim.core.origin),
    }))
}

pub(super) async fn status(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    crate::inject!(sim.core, "tiktok.status");
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let (token, open_id) = crate::checked!(bearer(&sim, &state, &headers, "video.publish"));
    if let Err(after) = state
        .rate
        .admit(&format!("status:{token}"), sim.core.limit(RATE_STATUS), now)
    {
        return rate_limited(after);
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let publish_id = request["publish_id"].as_str().unwrap_or_default().to_owned();
    state.settle(&sim.core, now);
    let Some(publish) = state.publishes.get(&publish_id) else {
        return biz_error(
            StatusCode::BAD_REQUEST,
            "invalid_publish_id",
            "The publish_id does not exist.",
        );
    };
    if publish.open_id != open_id {
        return biz_error(
            StatusCode::BAD_REQUEST,
            "token_not_authorized_for_specified_publish_id",
            "The token is not authorized for this publish_id.",
        );
    }
    let (status, fail_reason, ids) = match (&publish.outcome, publish.post_id) {
        (Some((at, Err(reason))), _) if *at <= now => ("FAILED", reason.clone(), vec![]),
        (_, Some(id)) => (
            "PUBLISH_COMPLETE",
            String::new(),
            if publish.public { vec![id] } else { vec![] },
        ),
        _ => ("PROCESSING_UPLOAD", String::new(), vec![]),
    };
    ok(json!({
        "status": status,
        "fail_reason": fail_reason,
        "publicaly_available_post_id": ids,
        "uploaded_bytes": publish.uploaded_bytes,
        "downloaded_bytes": 0,
    }))
}

impl State_ {
    /// Moves publishes whose processing ended to their final state, and
    /// drops the bytes of uploads whose `upload_url` expired.
    pub(super) fn settle(&mut self, core: &Shared, now: i64) {
        for upload in self
            .uploads
            .values_mut()
            .filter(|u| u.expires_at <= now && !u.discarded)
        {
            let _ = std::fs::remove_file(&upload.path);
            upload.discarded = true;
        }
        let due: Vec<String> = self
            .publishes
            .iter()
            .filter(|(_, p)| p.post_id.is_none() && matches!(p.outcome, Some((at, Ok(_))) if at <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for publish_id in due {
            let post_id = 7_300_000_000_000_000_000 + self.id();
            let publish = self.publishes.get_mut(&publish_id).expect("a due publish");
            let Some((at, Ok((duration, width, height)))) = publish.outcome.clone() else {
                continue;
            };
            publish.post_id = Some(post_id);
            self.posts.insert(
                post_id,
                Post {
                    open_id: publish.open_id.clone(),
                    title: publish.title.clone(),
                    created_at: at,
                    duration,
                    width,
                    height,
                },
            );
            core.records.post(AcceptedPost {
                platform: "tiktok".into(),
                post_id: post_id.to_string(),
                account_id: publish.open_id.clone(),
                caption: publish.title.clone(),
                bytes: publish.uploaded_bytes,
            });
        }
    }
}
