//! What a local ffprobe can tell before uploading.

use serde_json::Value;

use crate::VideoFile;

/// What a local ffprobe says about the video: `(width, height, duration)`, or
/// `None` when it cannot tell (then the platform decides).
pub(super) async fn local_probe(video: &VideoFile) -> Option<(u64, u64, f64)> {
    let output = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(video.path())
        .output()
        .await
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let json: Value = serde_json::from_slice(&output.stdout).ok()?;
    let stream = json["streams"]
        .as_array()?
        .iter()
        .find(|s| s["codec_type"] == "video")?;
    let (mut width, mut height) = (stream["width"].as_u64()?, stream["height"].as_u64()?);
    // A rotated stream displays the other way round.
    let rotation = stream["side_data_list"]
        .as_array()
        .and_then(|l| l.iter().find_map(|d| d["rotation"].as_i64()))
        .or_else(|| stream["tags"]["rotate"].as_str().and_then(|r| r.parse().ok()))
        .unwrap_or(0);
    if rotation.rem_euclid(180) == 90 {
        std::mem::swap(&mut width, &mut height);
    }
    let duration = json["format"]["duration"].as_str()?.parse::<f64>().ok()?;
    Some((width, height, duration))
}
