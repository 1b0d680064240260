//! Comment threads mapped to comments: each top-level comment followed by its replies.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{Comment, CommentPage};

pub(super) fn comment_page_of(body: &Value) -> CommentPage {
    let mut comments = Vec::new();
    for thread in body["items"].as_array().into_iter().flatten() {
        let top = &thread["snippet"]["topLevelComment"];
        let top_id = top["id"].as_str().unwrap_or("").to_owned();
        comments.push(comment_of(top, None));
        for reply in thread["replies"]["comments"].as_array().into_iter().flatten() {
            comments.push(comment_of(reply, Some(&top_id)));
        }
    }
    CommentPage {
        comments,
        next_cursor: body["nextPageToken"].as_str().map(str::to_owned),
    }
}

fn comment_of(value: &Value, parent: Option<&str>) -> Comment {
    let snippet = &value["snippet"];
    Comment {
        id: value["id"].as_str().unwrap_or("").to_owned(),
        text: snippet["textOriginal"]
            .as_str()
            .or_else(|| snippet["textDisplay"].as_str())
            .unwrap_or("")
            .to_owned(),
        author: snippet["authorDisplayName"].as_str().unwrap_or("").to_owned(),
        published_at: snippet["publishedAt"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc)),
        parent_id: parent
            .map(str::to_owned)
            .or_else(|| snippet["parentId"].as_str().map(str::to_owned)),
    }
}
