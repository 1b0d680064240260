//! `GET /{version}/{id}`: the account itself, a container's status, or a media.

use super::facebook_login::account_json;
use super::insights::Counts;
use super::*;

/// `GET /{version}/{id}`: `me`, a container or a media.
pub(super) async fn node(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let token = bearer(&headers, &q);
    if id == "me" {
        crate::inject!(app.core, "instagram.me");
        let caller = crate::checked!(app.authorize_call(token, SCOPE_BASIC));
        if caller.facebook {
            return axum::Json(json!({"id": caller.user_id, "name": "Sim Facebook User"})).into_response();
        }
        return axum::Json(account_json(&app, 0)).into_response();
    }
    let is_container = app.state.lock().expect("instagram lock").containers.contains_key(&id);
    if is_container {
        crate::inject!(app.core, "instagram.container_status");
    } else {
        crate::inject!(app.core, "instagram.media");
    }
    let caller = crate::checked!(app.authorize_call(token, SCOPE_BASIC));
    let now = app.now();
    let state = app.state.lock().expect("instagram lock");
    if let Some(c) = state.containers.get(&id).filter(|c| caller.owns(&c.user_id)) {
        let (code, status) = container_status(c, now);
        let mut answer = json!({"id": id});
        let wanted = fields(&q);
        if wanted.is_empty() || wanted.iter().any(|f| f == "status_code") {
            answer["status_code"] = json!(code);
        }
        if wanted.iter().any(|f| f == "status") {
            answer["status"] = json!(status);
        }
        return axum::Json(answer).into_response();
    }
    if let Some(m) = state.media.get(&id).filter(|m| caller.owns(&m.user_id)) {
        let counts = Counts::at(m, now);
        return axum::Json(json!({
            "id": id,
            "media_type": "VIDEO",
            "media_product_type": "REELS",
            "caption": m.caption,
            "permalink": format!("https://www.instagram.com/reel/{}/", m.shortcode),
            "timestamp": timestamp(m.published_at),
            "like_count": counts.likes,
            "comments_count": counts.comments,
        }))
        .into_response();
    }
    graph_error(
        400,
        100,
        Some(33),
        &format!(
            "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        ),
        None,
    )
}

pub(super) fn container_status(c: &Container, now: i64) -> (&'static str, String) {
    if c.media_id.is_some() {
        return ("PUBLISHED", "Published: Media has been published.".to_owned());
    }
    if now >= c.created_at + CONTAINER_TTL_SECS {
        return (
            "EXPIRED",
            "Expired: Media was not published within 24 hours.".to_owned(),
        );
    }
    match &c.outcome {
        None => ("IN_PROGRESS", "In Progress: Media upload has not completed.".to_owned()),
        Some(_) if now < c.ready_at => ("IN_PROGRESS", "In Progress: Media is still being processed.".to_owned()),
        Some(Ok(())) => (
            "FINISHED",
            "Finished: Media has been uploaded and it is ready to be published.".to_owned(),
        ),
        Some(Err((subcode, reason))) => (
            "ERROR",
            format!("Error: Media upload has failed with error code {subcode}. {reason}"),
        ),
    }
}

/// The `fields` a Graph read asked for.
fn fields(params: &Params) -> Vec<String> {
    params
        .get("fields")
        .map(|f| f.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default()
}
