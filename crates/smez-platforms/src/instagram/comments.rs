//! A page of comments mapped to comments: each top-level comment followed by its replies.

use chrono::Utc;
use serde_json::Value;

use super::id_of;
use crate::{Comment, CommentPage};

pub(super) fn comment_page_of(page: &Value) -> CommentPage {
    let mut comments = Vec::new();
    for top in page["data"].as_array().into_iter().flatten() {
        let Some(parent) = comment(top, None) else { continue };
        let parent_id = parent.id.clone();
        comments.push(parent);
        for reply in top["replies"]["data"].as_array().into_iter().flatten() {
            comments.extend(comment(reply, Some(&parent_id)));
        }
    }
    let next_cursor = if page["paging"]["next"].is_string() {
        page["paging"]["cursors"]["after"].as_str().map(str::to_owned)
    } else {
        None
    };
    CommentPage { comments, next_cursor }
}

fn parse_time(text: Option<&str>) -> Option<chrono::DateTime<Utc>> {
    let text = text?;
    chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn comment(value: &Value, parent: Option<&str>) -> Option<Comment> {
    Some(Comment {
        id: id_of(&value["id"])?,
        text: value["text"].as_str().unwrap_or_default().to_owned(),
        author: value["username"].as_str().unwrap_or_default().to_owned(),
        published_at: parse_time(value["timestamp"].as_str()),
        parent_id: parent.map(str::to_owned),
    })
}
