//! What an uploaded video really is, as the platform would find out: ffprobe
//! on the bytes, never the file name or the declared content type.

use std::path::Path;

use serde::Serialize;

#[derive(Clone, Debug, Default, Serialize)]
pub struct VideoFacts {
    /// ffprobe's `format_name`, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    pub duration_secs: f64,
    pub video_codec: Option<String>,
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
    pub pixel_format: Option<String>,
    pub audio_codec: Option<String>,
    pub audio_sample_rate: Option<u32>,
    pub size_bytes: u64,
}

impl VideoFacts {
    pub fn is_mp4_or_mov(&self) -> bool {
        self.container.split(',').any(|f| f == "mp4" || f == "mov")
    }
}

/// Probes a file; `Err` when it is not a video ffprobe can read.
pub async fn probe(path: &Path) -> Result<VideoFacts, String> {
    let output = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(path)
        .output()
        .await
        .map_err(|e| format!("ffprobe could not run: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "not a readable video: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| format!("ffprobe output: {e}"))?;
    let streams = json["streams"].as_array().cloned().unwrap_or_default();
    let video = streams.iter().find(|s| s["codec_type"] == "video");
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let number = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<f64>().ok()).or_else(|| v.as_f64());
    Ok(VideoFacts {
        container: text(&json["format"]["format_name"]).unwrap_or_default(),
        duration_secs: number(&json["format"]["duration"]).unwrap_or(0.0),
        video_codec: video.and_then(|v| text(&v["codec_name"])),
        width: video.and_then(|v| v["width"].as_u64()).unwrap_or(0) as u32,
        height: video.and_then(|v| v["height"].as_u64()).unwrap_or(0) as u32,
        // The average rate, or the stream's base rate when no average is known.
        frame_rate: video
            .map(|v| {
                Some(rate(&v["avg_frame_rate"]))
                    .filter(|r| *r > 0.0)
                    .unwrap_or_else(|| rate(&v["r_frame_rate"]))
            })
            .unwrap_or(0.0),
        pixel_format: video.and_then(|v| text(&v["pix_fmt"])),
        audio_codec: audio.and_then(|a| text(&a["codec_name"])),
        audio_sample_rate: audio.and_then(|a| text(&a["sample_rate"])).and_then(|s| s.parse().ok()),
        size_bytes: number(&json["format"]["size"]).unwrap_or(0.0) as u64,
    })
}

/// "30000/1001" → 29.97.
fn rate(value: &serde_json::Value) -> f64 {
    let Some(text) = value.as_str() else { return 0.0 };
    match text.split_once('/') {
        Some((n, d)) => match (n.parse::<f64>(), d.parse::<f64>()) {
            (Ok(n), Ok(d)) if d > 0.0 => n / d,
            _ => 0.0,
        },
        None => text.parse().unwrap_or(0.0),
    }
}
