//! Reels publishing (§3C): creating a container, publishing it, and the
//! rolling `content_publishing_limit`.

use super::fetch::fetch;
use super::media_rules::validate_file;
use super::nodes::container_status;
use super::upload::upload_path;
use super::*;

pub(super) async fn create_container(
    State(app): State<App>,
    Path((version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    crate::inject!(app.core, "instagram.create_container");
    let mut p = q;
    p.extend(form(&body));
    let user_id = crate::checked!(app.authorize_account(bearer(&headers, &p), SCOPE_PUBLISH, &id, "post"));
    if p.get("media_type").map(String::as_str) != Some("REELS") {
        return graph_error(
            400,
            100,
            Some(2207023),
            "The media type is unknown (the simulator serves REELS only).",
            None,
        );
    }
    let caption = p.get("caption").cloned().unwrap_or_default();
    if caption.chars().count() > CAPTION_MAX_CHARS {
        return graph_error(
            400,
            36004,
            Some(2207010),
            "The caption is too long.",
            Some(&format!("Captions can be at most {CAPTION_MAX_CHARS} characters.")),
        );
    }
    if count_tags(&caption, '#') > CAPTION_MAX_HASHTAGS {
        return graph_error(
            400,
            36004,
            Some(2207010),
            "The caption has too many hashtags.",
            Some(&format!(
                "Captions can contain at most {CAPTION_MAX_HASHTAGS} hashtags."
            )),
        );
    }
    if count_tags(&caption, '@') > CAPTION_MAX_MENTIONS {
        return graph_error(
            400,
            100,
            Some(2207040),
            "The caption mentions too many people.",
            Some(&format!("Captions can mention at most {CAPTION_MAX_MENTIONS} people.")),
        );
    }
    let resumable = p.get("upload_type").map(String::as_str) == Some("resumable");
    let video_url = p.get("video_url").and_then(|u| url::Url::parse(u).ok());
    if !resumable && video_url.is_none() {
        return graph_error(
            400,
            100,
            None,
            "(#100) The parameter video_url is required (or upload_type=resumable).",
            None,
        );
    }
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    // Abandoned uploads: their containers expired, so their bytes go.
    for (id, c) in &state.containers {
        if c.outcome.is_none() && c.received > 0 && now >= c.created_at + CONTAINER_TTL_SECS {
            let _ = std::fs::remove_file(upload_path(&app.core.origin, id));
        }
    }
    let container_id = app.next_id(&mut state, 17_900_000_000_000_000);
    state.containers.insert(
        container_id.clone(),
        Container {
            user_id,
            caption,
            created_at: now,
            file_size: None,
            received: 0,
            outcome: None,
            ready_at: 0,
            media_id: None,
        },
    );
    drop(state);
    if let (false, Some(video_url)) = (resumable, video_url) {
        // Meta fetches the file itself, asynchronously: IN_PROGRESS meanwhile.
        let (app, id) = (app.clone(), container_id.clone());
        tokio::spawn(async move {
            let path = upload_path(&app.core.origin, &id);
            let outcome = match fetch(&video_url, &path).await {
                Ok(size) if size > MAX_FILE_BYTES => {
                    Err((2207026, format!("The video is larger than {MAX_FILE_BYTES} bytes.")))
                }
                Ok(size) => {
                    app.record_received(&id, size);
                    validate_file(&path, size).await
                }
                Err(reason) => Err((
                    2207052,
                    format!("The media could not be fetched from the URI: {reason}"),
                )),
            };
            let _ = tokio::fs::remove_file(&path).await;
            let now = app.now();
            if let Some(c) = app.state.lock().expect("instagram lock").containers.get_mut(&id) {
                c.file_size = Some(c.received);
                c.outcome = Some(outcome);
                c.ready_at = now + PROCESSING_SECS;
            }
        });
        return axum::Json(json!({"id": container_id})).into_response();
    }
    let uri = format!(
        "{}/instagram/rupload/ig-api-upload/{version}/{container_id}",
        app.core.origin
    );
    axum::Json(json!({"id": container_id, "uri": uri})).into_response()
}

pub(super) async fn media_publish(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    crate::inject!(app.core, "instagram.publish");
    let mut p = q;
    p.extend(form(&body));
    let user_id = crate::checked!(app.authorize_account(bearer(&headers, &p), SCOPE_PUBLISH, &id, "post"));
    let creation_id = p.get("creation_id").cloned().unwrap_or_default();
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    let Some(c) = state.containers.get(&creation_id).filter(|c| c.user_id == user_id) else {
        return graph_error(400, 24, Some(2207006), "The media was not found.", None);
    };
    if let Some(media_id) = &c.media_id {
        return axum::Json(json!({"id": media_id})).into_response();
    }
    match container_status(c, now).0 {
        "EXPIRED" => {
            return graph_error(
                400,
                24,
                Some(2207008),
                "The media container has expired; create a new one.",
                None,
            );
        }
        "IN_PROGRESS" => {
            return graph_error(
                400,
                9007,
                Some(2207027),
                "Media ID is not available",
                Some("The media is not ready for publishing, please wait for a moment"),
            );
        }
        "ERROR" => {
            let (subcode, reason) = c
                .outcome
                .clone()
                .and_then(Result::err)
                .unwrap_or((2207026, String::new()));
            return graph_error(
                400,
                352,
                Some(subcode),
                "The video format is not supported.",
                Some(&reason),
            );
        }
        _ => {}
    }
    if state
        .publishes
        .admit(&user_id, app.core.limit(PUBLISH_QUOTA_TOTAL), now)
        .is_err()
    {
        return graph_error(
            400,
            9,
            Some(2207042),
            "Application request limit reached",
            Some("You reached the maximum number of posts that can be published in 24 hours."),
        );
    }
    let media_id = app.next_id(&mut state, 18_000_000_000_000_000);
    let shortcode = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(media_id.as_bytes())[..11].to_owned();
    let c = state.containers.get_mut(&creation_id).expect("the container");
    c.media_id = Some(media_id.clone());
    let (caption, bytes) = (c.caption.clone(), c.file_size.unwrap_or(0));
    state.media.insert(
        media_id.clone(),
        Media {
            user_id: user_id.clone(),
            caption: caption.clone(),
            published_at: now,
            shortcode,
        },
    );
    drop(state);
    app.core.records.post(AcceptedPost {
        platform: "instagram".into(),
        post_id: media_id.clone(),
        account_id: user_id,
        caption,
        bytes,
    });
    axum::Json(json!({"id": media_id})).into_response()
}

pub(super) async fn publishing_limit(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.publishing_limit");
    let user_id = crate::checked!(app.authorize_account(bearer(&headers, &q), SCOPE_PUBLISH, &id, "get"));
    let now = app.now();
    let since = q
        .get("since")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(i64::MIN)
        .max(now - PUBLISH_QUOTA_WINDOW_SECS);
    let state = app.state.lock().expect("instagram lock");
    let usage = state.publishes.count_after(&user_id, since);
    axum::Json(json!({"data": [{
        "quota_usage": usage,
        "config": {"quota_total": app.core.limit(PUBLISH_QUOTA_TOTAL), "quota_duration": PUBLISH_QUOTA_WINDOW_SECS},
    }]}))
    .into_response()
}

/// `#word` and `@word` counts, as Instagram counts them (a word character must follow).
fn count_tags(caption: &str, sigil: char) -> usize {
    let chars: Vec<char> = caption.chars().collect();
    chars
        .windows(2)
        .filter(|w| w[0] == sigil && (w[1].is_alphanumeric() || w[1] == '_'))
        .count()
}
