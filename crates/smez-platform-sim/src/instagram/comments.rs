//! Reel comments (§3E): generated on the clock, paged with cursors.

use super::*;

pub(super) struct SimComment {
    pub(super) id: String,
    pub(super) text: String,
    pub(super) username: String,
    pub(super) at: i64,
    pub(super) replies: Vec<SimComment>,
}

/// The comments a reel has at `now`: one every [`COMMENT_EVERY_SECS`], every
/// third with one reply a minute later.
pub(super) fn generated_comments(media: &Media, now: i64) -> Vec<SimComment> {
    let elapsed = (now - media.published_at).max(0);
    let count = (elapsed / COMMENT_EVERY_SECS).min(1000);
    (0..count)
        .map(|i| {
            let at = media.published_at + (i + 1) * COMMENT_EVERY_SECS;
            let replies = if i % 3 == 0 && at + 60 <= now {
                vec![SimComment {
                    id: format!(
                        "{}{:04}",
                        17_950_000_000_000u64 + media.published_at as u64 % 1_000_000,
                        i * 2 + 1
                    ),
                    text: format!("@{} thanks!", format_args!("viewer_{}", i % 37)),
                    username: USERNAME.to_owned(),
                    at: at + 60,
                    replies: Vec::new(),
                }]
            } else {
                Vec::new()
            };
            SimComment {
                id: format!(
                    "{}{:04}",
                    17_950_000_000_000u64 + media.published_at as u64 % 1_000_000,
                    i * 2
                ),
                text: format!("Great reel! comment {i}"),
                username: format!("viewer_{}", i % 37),
                at,
                replies,
            }
        })
        .collect()
}

pub(super) fn comment_json(c: &SimComment, with_replies: bool) -> Value {
    let mut value =
        json!({"id": c.id, "text": c.text, "username": c.username, "timestamp": timestamp(c.at), "like_count": 0});
    if with_replies {
        value["replies"] = json!({"data": c.replies.iter().map(|r| comment_json(r, false)).collect::<Vec<_>>()});
    }
    value
}

pub(super) async fn comments(
    State(app): State<App>,
    Path((version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.comments");
    let media = crate::checked!(app.readable_media(bearer(&headers, &q), SCOPE_COMMENTS, &id));
    let now = app.now();
    let all = generated_comments(&media, now);
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(COMMENTS_PAGE_MAX)
        .clamp(1, COMMENTS_PAGE_MAX);
    let engine = base64::engine::general_purpose::STANDARD;
    let start = match q.get("after") {
        Some(cursor) => match engine
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
        {
            Some(index) => index + 1,
            None => return graph_error(400, 100, None, "(#100) Invalid cursor", None),
        },
        None => 0,
    };
    let with_replies = q.get("fields").is_some_and(|f| f.contains("replies"));
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|c| comment_json(c, with_replies))
        .collect();
    let mut answer = json!({ "data": page });
    if !page.is_empty() {
        let last = start + page.len() - 1;
        let after = engine.encode(last.to_string());
        answer["paging"] = json!({"cursors": {"before": engine.encode(start.to_string()), "after": after}});
        if last + 1 < all.len() {
            let mut next =
                url::Url::parse(&format!("{}/instagram/{version}/{id}/comments", app.core.origin)).expect("a URL");
            for (k, v) in q
                .iter()
                .filter(|(k, _)| k.as_str() != "after" && k.as_str() != "access_token")
            {
                next.query_pairs_mut().append_pair(k, v);
            }
            next.query_pairs_mut().append_pair("after", &after);
            answer["paging"]["next"] = json!(next.to_string());
        }
    }
    axum::Json(answer).into_response()
}
