//! Posts as callers see them: the overall state from the targets' states,
//! times in RFC 3339, each target's attempt history.

use serde_json::{Value, json};

use super::repo::{AttemptRow, PostRow, TargetRow};

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn is_final(state: &str) -> bool {
    matches!(state, "published" | "failed" | "unconfirmed" | "canceled")
}

/// The post's state from its targets': scheduled, publishing, published,
/// partially_published, failed or canceled.
pub fn overall_state(targets: &[TargetRow]) -> &'static str {
    let states: Vec<&str> = targets.iter().map(|t| t.state.as_str()).collect();
    if states.iter().all(|s| *s == "canceled") {
        return "canceled";
    }
    if !states.iter().all(|s| is_final(s)) {
        return if states.iter().all(|s| matches!(*s, "scheduled" | "canceled")) {
            "scheduled"
        } else {
            "publishing"
        };
    }
    let live: Vec<&&str> = states.iter().filter(|s| **s != "canceled").collect();
    let published = live.iter().filter(|s| ***s == "published").count();
    match published {
        n if n == live.len() => "published",
        0 => "failed",
        _ => "partially_published",
    }
}

/// What the resolution of a wall time means, in words.
fn resolution_note(post: &PostRow) -> Option<String> {
    let (zone, local) = (post.time_zone.as_deref()?, post.local_time.as_deref()?);
    match post.resolution.as_str() {
        "gap" => Some(format!(
            "{local} does not exist in {zone} (the clocks skip it that day): it is read with the offset in force \
             before the change, so the post goes out as far past the gap as the time was into it"
        )),
        "fold" => Some(format!(
            "{local} happens twice in {zone} (the clocks go back that day): the first of the two is used"
        )),
        _ => None,
    }
}

fn target(row: &TargetRow, attempts: &[&AttemptRow]) -> Value {
    let error = (!row.error.is_empty()).then(|| {
        json!({
            "message": row.error,
            "class": row.error_class,
            "field": row.error_field,
            "retryable": row.retryable,
        })
    });
    json!({
        "id": row.target_id,
        "connection_id": row.connection_id,
        "platform": row.platform,
        "package_id": row.package_id,
        "state": row.state,
        "attempts": row.attempts,
        "next_attempt_at": row.dispatch_at_ms.filter(|_| row.state != "scheduled").map(rfc3339),
        "error": error,
        "platform_post_id": row.platform_post_id,
        "public_url": row.public_url,
        "published_at": row.published_at_ms.map(rfc3339),
        "history": attempts.iter().map(|a| json!({
            "number": a.number,
            "started_at": rfc3339(a.started_at_ms),
            "finished_at": a.finished_at_ms.map(rfc3339),
            "outcome": a.outcome,
            "detail": a.detail,
        })).collect::<Vec<_>>(),
    })
}

/// A post with its targets (and, when given, their attempt histories).
pub fn post(row: &PostRow, targets: &[TargetRow], attempts: &[AttemptRow]) -> Value {
    json!({
        "id": row.post_id,
        "state": overall_state(targets),
        "schedule": {
            "publish_at": rfc3339(row.publish_at_ms),
            "kind": row.schedule_kind,
            "time_zone": row.time_zone,
            "local_time": row.local_time,
            "resolution": row.resolution,
            "note": resolution_note(row),
        },
        "targets": targets.iter().map(|t| {
            let history: Vec<&AttemptRow> = attempts.iter().filter(|a| a.target_id == t.target_id).collect();
            target(t, &history)
        }).collect::<Vec<_>>(),
        "created_by": row.created_by,
        "created_at": rfc3339(row.created_at_ms),
        "updated_at": rfc3339(row.updated_at_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_states(states: &[&str]) -> Vec<TargetRow> {
        states
            .iter()
            .map(|s| TargetRow {
                target_id: String::new(),
                post_id: String::new(),
                workspace_id: String::new(),
                connection_id: String::new(),
                platform: String::new(),
                package_id: String::new(),
                state: (*s).to_owned(),
                dispatch_at_ms: None,
                attempts: 0,
                progress: String::new(),
                handle_id: None,
                error: String::new(),
                error_class: None,
                error_field: None,
                retryable: false,
                platform_post_id: None,
                public_url: None,
                published_at_ms: None,
                lease_owner: None,
                created_at_ms: 0,
                updated_at_ms: 0,
            })
            .collect()
    }

    #[test]
    fn the_overall_state_follows_the_targets() {
        let cases: [(&[&str], &str); 9] = [
            (&["scheduled", "scheduled"], "scheduled"),
            (&["scheduled", "canceled"], "scheduled"),
            (&["queued", "scheduled"], "publishing"),
            (&["processing", "published"], "publishing"),
            (&["published", "published"], "published"),
            (&["published", "canceled"], "published"),
            (&["published", "failed"], "partially_published"),
            (&["failed", "unconfirmed"], "failed"),
            (&["canceled", "canceled"], "canceled"),
        ];
        for (states, expected) in cases {
            assert_eq!(overall_state(&with_states(states)), expected, "{states:?}");
        }
    }
}
