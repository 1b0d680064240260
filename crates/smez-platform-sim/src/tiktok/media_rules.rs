//! TikTok's checks on the uploaded bytes: container, codec, duration,
//! frame rate and picture size.

use super::*;

/// What TikTok's checks find in the uploaded bytes: `(duration, width, height)` or the `fail_reason`.
pub(super) async fn check_video(path: &std::path::Path) -> Checked {
    let Ok(facts) = crate::probe::probe(path).await else {
        return Err("file_format_check_failed".into());
    };
    let container_ok = facts.container.split(',').any(|f| ["mp4", "mov", "webm"].contains(&f));
    let codec_ok = facts
        .video_codec
        .as_deref()
        .is_some_and(|c| ["h264", "hevc", "vp8", "vp9"].contains(&c));
    if !container_ok || !codec_ok || facts.size_bytes > MAX_VIDEO_BYTES {
        return Err("file_format_check_failed".into());
    }
    if facts.duration_secs <= 0.0
        || facts.duration_secs > MAX_DURATION_SECS
        || facts.duration_secs > CREATOR_MAX_DURATION_SECS as f64
    {
        return Err("duration_check_failed".into());
    }
    if !(23.0..=60.0).contains(&facts.frame_rate) {
        return Err("frame_rate_check_failed".into());
    }
    if !(360..=4096).contains(&facts.width) || !(360..=4096).contains(&facts.height) {
        return Err("picture_size_check_failed".into());
    }
    Ok((facts.duration_secs, facts.width, facts.height))
}
