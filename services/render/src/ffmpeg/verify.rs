//! The finished file, probed and held against the plan before a render is
//! called done: several faults leave ffmpeg exiting 0 with a broken file (no
//! streams, a dropped clip, a short timeline). What is checked is what the
//! render promises: H.264 High yuv420p at the planned size and constant
//! rate, BT.709 tags, AAC-LC 48 kHz stereo, the planned length to a frame,
//! the index first, and the loudness target within 1 LU.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::process::Command;

use super::run::tail;
use crate::plan::model::EditPlan;

/// What the output was found to be (kept with the render).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputFacts {
    pub size_bytes: u64,
    pub duration_us: i64,
    pub width: u32,
    pub height: u32,
    pub frame_rate: String,
    pub video_codec: String,
    pub video_profile: String,
    pub pixel_format: String,
    pub audio_codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    /// Integrated loudness, LUFS; `None` for silence.
    pub loudness_lufs: Option<f64>,
    pub sha256: String,
}

/// How far the loudness may land from the target.
const LOUDNESS_TOLERANCE: f64 = 1.0;

/// Probes `path`; `Err` lists everything that does not match the plan.
pub async fn verify(
    ffprobe: &str,
    ffmpeg: &str,
    path: &Path,
    plan: &EditPlan,
    planned_us: i64,
    silent: bool,
) -> Result<OutputFacts, String> {
    let probe = probe(ffprobe, path).await?;
    let streams = probe["streams"].as_array().cloned().unwrap_or_default();
    let of = |kind: &str| {
        streams
            .iter()
            .filter(|s| s["codec_type"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    let (videos, audios) = (of("video"), of("audio"));
    let mut wrong = Vec::new();
    if videos.len() != 1 || audios.len() != 1 {
        return Err(format!(
            "the output has {} video and {} audio streams, not one of each",
            videos.len(),
            audios.len()
        ));
    }
    let (video, audio) = (&videos[0], &audios[0]);
    let text = |s: &Value, key: &str| s[key].as_str().unwrap_or("").to_owned();
    let (width, height) = plan.output.size();
    let fps = plan.output.fps;
    let frame_us = fps.frame().micros();
    for (what, found, wanted) in [
        ("video codec", text(video, "codec_name"), "h264"),
        ("H.264 profile", text(video, "profile"), "High"),
        ("pixel format", text(video, "pix_fmt"), "yuv420p"),
        ("colour primaries", text(video, "color_primaries"), "bt709"),
        ("colour transfer", text(video, "color_transfer"), "bt709"),
        ("colour matrix", text(video, "color_space"), "bt709"),
        ("audio codec", text(audio, "codec_name"), "aac"),
        ("AAC profile", text(audio, "profile"), "LC"),
    ] {
        if found != wanted {
            wrong.push(format!("{what} is `{found}`, not `{wanted}`"));
        }
    }
    let size = (
        video["width"].as_u64().unwrap_or(0) as u32,
        video["height"].as_u64().unwrap_or(0) as u32,
    );
    if size != (width, height) {
        wrong.push(format!("the frame is {}×{}, not {width}×{height}", size.0, size.1));
    }
    let wanted_rate = fps.per_second();
    for key in ["r_frame_rate", "avg_frame_rate"] {
        let found = ratio(&text(video, key));
        // Exact up to float noise: a frame of 33 ms among 34 ms ones shows here.
        if (found - wanted_rate).abs() > wanted_rate * 1e-6 {
            wrong.push(format!("{key} is {found:.3} fps, not a constant {wanted_rate:.3}"));
        }
    }
    let video_us = seconds_us(&text(video, "duration"));
    if (video_us - planned_us).abs() > frame_us {
        wrong.push(format!(
            "the picture lasts {:.3} s, the plan {:.3} s (more than a frame apart)",
            video_us as f64 / 1e6,
            planned_us as f64 / 1e6
        ));
    }
    let audio_us = seconds_us(&text(audio, "duration"));
    // AAC frames are 1024 samples (21.3 ms) and carry a priming delay.
    if (audio_us - planned_us).abs() > frame_us + 50_000 {
        wrong.push(format!(
            "the sound lasts {:.3} s, the plan {:.3} s",
            audio_us as f64 / 1e6,
            planned_us as f64 / 1e6
        ));
    }
    let sample_rate = text(audio, "sample_rate").parse::<u32>().unwrap_or(0);
    let channels = audio["channels"].as_u64().unwrap_or(0) as u32;
    if (sample_rate, channels) != (48_000, 2) {
        wrong.push(format!(
            "the sound is {sample_rate} Hz × {channels} channels, not 48000 Hz stereo"
        ));
    }
    if !index_first(path).map_err(|e| format!("reading the output: {e}"))? {
        wrong.push("the index (moov) comes after the media data: not streamable".to_owned());
    }
    let loudness_lufs = if silent {
        None
    } else {
        Some(loudness(ffmpeg, path).await?)
    };
    if let Some(lufs) = loudness_lufs
        && (lufs - plan.audio.loudness_lufs).abs() > LOUDNESS_TOLERANCE
    {
        wrong.push(format!(
            "the loudness is {lufs:.1} LUFS, the target {:.1}",
            plan.audio.loudness_lufs
        ));
    }
    if !wrong.is_empty() {
        return Err(format!("the output does not match the plan: {}", wrong.join("; ")));
    }
    let (size_bytes, sha256) = digest(path).map_err(|e| format!("reading the output: {e}"))?;
    Ok(OutputFacts {
        size_bytes,
        duration_us: video_us,
        width,
        height,
        frame_rate: format!("{}/{}", fps.num, fps.den),
        video_codec: "h264".into(),
        video_profile: "High".into(),
        pixel_format: "yuv420p".into(),
        audio_codec: "aac".into(),
        sample_rate,
        channels,
        loudness_lufs,
        sha256,
    })
}

pub async fn probe(ffprobe: &str, path: &Path) -> Result<Value, String> {
    let output = Command::new(ffprobe)
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(path)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("{ffprobe} could not run: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "the output does not open: {}",
            tail(&String::from_utf8_lossy(&output.stderr), 500)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("ffprobe's answer: {e}"))
}

/// Integrated loudness by ebur128 (an independent meter from the one that normalised).
pub async fn loudness(ffmpeg: &str, path: &Path) -> Result<f64, String> {
    let output = Command::new(ffmpeg)
        .args(["-hide_banner", "-nostdin", "-nostats", "-i"])
        .arg(path)
        .args(["-map", "0:a", "-af", "ebur128", "-f", "null", "-"])
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("{ffmpeg} could not run: {e}"))?;
    let said = String::from_utf8_lossy(&output.stderr);
    said.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("I:"))
        .and_then(|rest| rest.trim().trim_end_matches("LUFS").trim().parse::<f64>().ok())
        .ok_or_else(|| format!("the loudness could not be measured: {}", tail(&said, 300)))
}

/// "30000/1001" → 29.97.
pub fn ratio(text: &str) -> f64 {
    match text.split_once('/') {
        Some((n, d)) => n.parse::<f64>().unwrap_or(0.0) / d.parse::<f64>().unwrap_or(1.0).max(f64::MIN_POSITIVE),
        None => text.parse().unwrap_or(0.0),
    }
}

fn seconds_us(text: &str) -> i64 {
    (text.parse::<f64>().unwrap_or(0.0) * 1e6).round() as i64
}

/// Whether the MP4's `moov` box comes before its `mdat` (top-level boxes).
fn index_first(path: &Path) -> std::io::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    let mut header = [0u8; 16];
    let mut offset = 0u64;
    let length = file.metadata()?.len();
    while offset + 8 <= length {
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut header[..8])?;
        let mut size = u64::from(u32::from_be_bytes([header[0], header[1], header[2], header[3]]));
        match &header[4..8] {
            b"moov" => return Ok(true),
            b"mdat" => return Ok(false),
            _ => {}
        }
        if size == 1 {
            file.read_exact(&mut header[8..16])?;
            size = u64::from_be_bytes(header[8..16].try_into().expect("eight bytes"));
        }
        if size < 8 {
            return Ok(false);
        }
        let Some(next) = offset.checked_add(size) else {
            return Ok(false);
        };
        offset = next;
    }
    Ok(false)
}

fn digest(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        size += read as u64;
        context.update(&buffer[..read]);
    }
    let hex = context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Ok((size, hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_fractions() {
        assert!((ratio("30000/1001") - 29.97).abs() < 0.001);
        assert_eq!(ratio("30/1"), 30.0);
        assert_eq!(ratio("0/0"), 0.0);
    }
}
