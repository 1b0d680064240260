//! The rules a video's `snippet`/`status` metadata must keep.

use super::*;

/// YouTube's tag length: commas between tags count, a tag with a space counts as quoted.
pub(super) fn tags_length(tags: &[Value]) -> usize {
    let lengths: Vec<usize> = tags
        .iter()
        .filter_map(Value::as_str)
        .map(|t| t.chars().count() + if t.contains(' ') { 2 } else { 0 })
        .collect();
    lengths.iter().sum::<usize>() + lengths.len().saturating_sub(1)
}

/// The metadata checks of `videos.insert`: Google's reason and message.
pub(super) fn validate_metadata(metadata: &Value) -> Result<(), (&'static str, String)> {
    let snippet = &metadata["snippet"];
    let title = snippet["title"].as_str().unwrap_or("");
    if title.trim().is_empty() || title.chars().count() > 100 || title.contains(['<', '>']) {
        return Err((
            "invalidTitle",
            "The request metadata specifies an invalid or empty video title.".into(),
        ));
    }
    let description = snippet["description"].as_str().unwrap_or("");
    if description.len() > 5000 || description.contains(['<', '>']) {
        return Err((
            "invalidDescription",
            "The request metadata specifies an invalid video description.".into(),
        ));
    }
    if let Some(tags) = snippet["tags"].as_array()
        && tags_length(tags) > 500
    {
        return Err((
            "invalidTags",
            "The request metadata specifies invalid video keywords.".into(),
        ));
    }
    if let Some(category) = snippet.get("categoryId")
        && !category
            .as_str()
            .is_some_and(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_digit()))
    {
        return Err((
            "invalidCategoryId",
            "The snippet.categoryId property specifies an invalid category ID.".into(),
        ));
    }
    let status = &metadata["status"];
    if let Some(privacy) = status.get("privacyStatus")
        && !matches!(privacy.as_str(), Some("private" | "public" | "unlisted"))
    {
        return Err(("invalidVideoMetadata", "The request metadata is invalid.".into()));
    }
    if let Some(at) = status.get("publishAt") {
        let valid = at.as_str().is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok());
        if !valid || status["privacyStatus"].as_str() != Some("private") {
            return Err((
                "invalidPublishAt",
                "The request metadata specifies an invalid scheduled publishing time.".into(),
            ));
        }
    }
    Ok(())
}
