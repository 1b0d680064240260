//! A poster frame (JPEG, at most 720 px on its long side, upright) for a
//! video or an image. Drawing it also proves a frame decodes: a file that
//! probes but yields no picture is refused.

use std::path::Path;

use tokio::process::Command;

use crate::probe::ProbeFacts;

/// Draws the poster of `source` into `target`; the refusal says why not.
pub async fn draw(ffmpeg: &str, source: &Path, target: &Path, facts: &ProbeFacts) -> Result<(), String> {
    if facts.video.is_none() {
        return Err("no picture to draw".to_owned());
    }
    // A frame a little in (past black openings) when the clip is long
    // enough; the first frame of a short one (a seek could land past it).
    let at_ms = facts
        .duration_ms
        .filter(|d| *d >= 2000)
        .map_or(0, |d| (d / 3).min(1000));
    // ffmpeg turns the picture upright itself: by the display matrix of a
    // video, by the EXIF orientation of a JPEG. Then square pixels, 720 px at most.
    let filters = [
        "scale=trunc(iw*sar/2)*2:ih,setsar=1",
        "scale='min(720,iw)':'min(720,ih)':force_original_aspect_ratio=decrease",
    ];
    let output = Command::new(ffmpeg)
        .args(["-v", "error", "-nostdin", "-y"])
        .args(["-ss", &format!("{}.{:03}", at_ms / 1000, at_ms % 1000)])
        .arg("-i")
        .arg(source)
        .args(["-map", "0:v:0", "-frames:v", "1", "-vf", &filters.join(",")])
        .args(["-c:v", "mjpeg", "-q:v", "4", "-f", "image2"])
        .arg(target)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("the poster could not be drawn ({ffmpeg}: {e})"))?;
    let drawn = tokio::fs::metadata(target).await.map(|m| m.len()).unwrap_or(0);
    if output.status.success() && drawn > 0 {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let reason = said.lines().last().unwrap_or("no frame came out").trim().to_owned();
    Err(format!("no picture could be decoded from the file: {reason}"))
}
