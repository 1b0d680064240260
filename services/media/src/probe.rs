//! ffprobe on an uploaded file, and what Smez makes of it: the kind (video,
//! image or audio) and the facts a render needs, or a precise refusal.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::process::Command;

/// The facts stored with a video, image or audio file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeFacts {
    pub container: String,
    pub duration_ms: Option<i64>,
    pub video: Option<VideoFacts>,
    pub audio: Option<AudioFacts>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoFacts {
    pub codec: String,
    pub display_width: u32,
    pub display_height: u32,
    pub coded_width: u32,
    pub coded_height: u32,
    pub rotation: u32,
    pub frame_rate: String,
    pub average_frame_rate: String,
    pub variable_frame_rate: bool,
    pub pixel_format: String,
    pub bit_depth: u32,
    pub color_transfer: String,
    pub hdr: bool,
    pub sample_aspect_ratio: String,
    pub exif_orientation: Option<u16>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioFacts {
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    pub channel_layout: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Video,
    Image,
    Audio,
    Transcript,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Transcript => "transcript",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Video, Self::Image, Self::Audio, Self::Transcript]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What ffprobe's JSON holds that is used here.
#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Format {
    format_name: String,
    duration: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Stream {
    codec_type: String,
    codec_name: String,
    codec_tag_string: String,
    width: u32,
    height: u32,
    pix_fmt: String,
    bits_per_raw_sample: Option<String>,
    r_frame_rate: String,
    avg_frame_rate: String,
    color_transfer: String,
    sample_aspect_ratio: String,
    sample_rate: Option<String>,
    channels: u32,
    channel_layout: String,
    duration: Option<String>,
    nb_frames: Option<String>,
    disposition: Disposition,
    side_data_list: Vec<SideData>,
    tags: Tags,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Disposition {
    attached_pic: u8,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SideData {
    rotation: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Tags {
    rotate: Option<String>,
}

/// Formats ffmpeg reads as a single still picture.
const IMAGE_FORMATS: &[&str] = &[
    "image2",
    "png_pipe",
    "jpeg_pipe",
    "webp_pipe",
    "bmp_pipe",
    "tiff_pipe",
    "gif",
    "gif_pipe",
    "heif",
];
/// Sample entries of protected (DRM) streams.
const PROTECTED_TAGS: &[&str] = &["encv", "enca", "drmi", "drms"];

/// The decoders this machine's ffmpeg has (a codec it cannot decode cannot be rendered).
pub async fn decoders(ffmpeg: &str) -> anyhow::Result<HashSet<String>> {
    let output = Command::new(ffmpeg)
        .args(["-hide_banner", "-decoders"])
        .output()
        .await
        .map_err(|e| anyhow::anyhow!("running `{ffmpeg} -decoders`: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    // Lines after the legend look like " VFS..D h264     H.264 / …".
    Ok(text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("------"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .collect())
}

/// ffprobe's verdict on `path`: the facts and the kind, or why it is refused.
pub async fn probe(
    ffprobe: &str,
    path: &Path,
    decoders: &HashSet<String>,
    exif_orientation: Option<u16>,
) -> Result<(Kind, ProbeFacts), String> {
    let output = Command::new(ffprobe)
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(path)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("the media could not be examined ({ffprobe}: {e})"))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let reason = said
            .lines()
            .last()
            .map(|l| l.rsplit(": ").next().unwrap_or(l).trim())
            .filter(|l| !l.is_empty())
            .unwrap_or("unreadable");
        return Err(format!("the file is corrupt or truncated: {reason}"));
    }
    let parsed: Output = serde_json::from_slice(&output.stdout).map_err(|e| format!("ffprobe's answer: {e}"))?;
    let format = parsed
        .format
        .ok_or("the file is corrupt: no container format was found")?;
    judge(parsed.streams, format, decoders, exif_orientation)
}

fn judge(
    streams: Vec<Stream>,
    format: Format,
    decoders: &HashSet<String>,
    exif_orientation: Option<u16>,
) -> Result<(Kind, ProbeFacts), String> {
    if let Some(s) = streams
        .iter()
        .find(|s| PROTECTED_TAGS.contains(&s.codec_tag_string.as_str()))
    {
        return Err(format!(
            "the {} stream is encrypted ({}): DRM-protected media cannot be edited",
            s.codec_type, s.codec_tag_string
        ));
    }
    let video = streams
        .iter()
        .find(|s| s.codec_type == "video" && s.disposition.attached_pic == 0);
    let audio = streams.iter().find(|s| s.codec_type == "audio");
    for stream in [video, audio].into_iter().flatten() {
        if stream.codec_name.is_empty() || !decoders.contains(&stream.codec_name) {
            let codec = if stream.codec_name.is_empty() {
                format!("tag `{}`", stream.codec_tag_string)
            } else {
                format!("`{}`", stream.codec_name)
            };
            return Err(format!(
                "the {} codec {codec} is not supported (no decoder for it)",
                stream.codec_type
            ));
        }
    }
    let duration_ms = seconds_to_ms(format.duration.as_deref())
        .or_else(|| video.and_then(|v| seconds_to_ms(v.duration.as_deref())))
        .or_else(|| audio.and_then(|a| seconds_to_ms(a.duration.as_deref())));
    let is_image = video.is_some_and(|v| {
        IMAGE_FORMATS.contains(&format.format_name.as_str())
            && audio.is_none()
            && v.nb_frames.as_deref().is_none_or(|n| n == "1")
    });
    let kind = match (video, audio) {
        (Some(_), _) if is_image => Kind::Image,
        (Some(_), _) => Kind::Video,
        (None, Some(_)) => Kind::Audio,
        (None, None) => {
            let kinds: Vec<&str> = streams.iter().map(|s| s.codec_type.as_str()).collect();
            return Err(if kinds.is_empty() {
                "the file has no streams at all".to_owned()
            } else {
                format!(
                    "the file has no usable video or audio stream (only: {})",
                    kinds.join(", ")
                )
            });
        }
    };
    if kind != Kind::Image && duration_ms.is_none_or(|d| d <= 0) {
        return Err("the file has no duration: it holds no playable media".to_owned());
    }
    Ok((
        kind,
        ProbeFacts {
            container: format.format_name,
            duration_ms: if kind == Kind::Image { None } else { duration_ms },
            video: video.map(|v| video_facts(v, exif_orientation)),
            audio: audio.map(|a| AudioFacts {
                codec: a.codec_name.clone(),
                sample_rate: a.sample_rate.as_deref().and_then(|r| r.parse().ok()).unwrap_or(0),
                channels: a.channels,
                channel_layout: a.channel_layout.clone(),
            }),
        },
    ))
}

fn video_facts(v: &Stream, exif_orientation: Option<u16>) -> VideoFacts {
    let rotation = rotation_of(v, exif_orientation);
    let sar = ratio(&v.sample_aspect_ratio).filter(|r| *r > 0.0).unwrap_or(1.0);
    // Non-square pixels: shown wider (or narrower) than stored.
    let shown_width = (f64::from(v.width) * sar).round() as u32;
    let (display_width, display_height) = if rotation % 180 == 90 {
        (v.height, shown_width)
    } else {
        (shown_width, v.height)
    };
    let bit_depth = v
        .bits_per_raw_sample
        .as_deref()
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| depth_of_pixel_format(&v.pix_fmt));
    VideoFacts {
        codec: v.codec_name.clone(),
        display_width,
        display_height,
        coded_width: v.width,
        coded_height: v.height,
        rotation,
        frame_rate: v.r_frame_rate.clone(),
        average_frame_rate: v.avg_frame_rate.clone(),
        variable_frame_rate: is_variable(&v.r_frame_rate, &v.avg_frame_rate),
        pixel_format: v.pix_fmt.clone(),
        bit_depth,
        color_transfer: v.color_transfer.clone(),
        hdr: matches!(v.color_transfer.as_str(), "smpte2084" | "arib-std-b67"),
        sample_aspect_ratio: if v.sample_aspect_ratio.is_empty() {
            "1:1".to_owned()
        } else {
            v.sample_aspect_ratio.clone()
        },
        exif_orientation,
    }
}

/// Degrees clockwise that show the picture upright. ffprobe's display matrix
/// rotation is counter-clockwise (−90 = turn 90° clockwise).
fn rotation_of(v: &Stream, exif_orientation: Option<u16>) -> u32 {
    let matrix = v
        .side_data_list
        .iter()
        .find_map(|s| s.rotation)
        .or_else(|| v.tags.rotate.as_deref().and_then(|r| r.parse::<f64>().ok()).map(|r| -r));
    if let Some(counter_clockwise) = matrix {
        return ((-counter_clockwise).round() as i64).rem_euclid(360) as u32;
    }
    match exif_orientation {
        Some(3 | 4) => 180,
        Some(5 | 6) => 90,
        Some(7 | 8) => 270,
        _ => 0,
    }
}

/// Variable when the measured average differs from the stream's nominal
/// rate by more than 0.01 % (phones record variable frame rate and report
/// the nominal one: the iPhone's 29.97 that averages 29.98).
fn is_variable(nominal: &str, average: &str) -> bool {
    match (ratio(nominal), ratio(average)) {
        (Some(n), Some(a)) if n > 0.0 && a > 0.0 => ((n - a) / n).abs() > 1e-4,
        _ => false,
    }
}

fn ratio(text: &str) -> Option<f64> {
    let (a, b) = text.split_once(['/', ':'])?;
    let (a, b): (f64, f64) = (a.parse().ok()?, b.parse().ok()?);
    (b != 0.0).then_some(a / b)
}

fn depth_of_pixel_format(pix_fmt: &str) -> u32 {
    ["16", "14", "12", "10", "9"]
        .into_iter()
        .find(|bits| pix_fmt.contains(&format!("p{bits}")) || pix_fmt.ends_with(&format!("{bits}le")))
        .and_then(|bits| bits.parse().ok())
        .unwrap_or(8)
}

fn seconds_to_ms(seconds: Option<&str>) -> Option<i64> {
    seconds
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite())
        .map(|s| (s * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rates_and_depths() {
        assert!(is_variable("30000/1001", "39600/1321"));
        assert!(!is_variable("30/1", "30/1"));
        assert!(!is_variable("30000/1001", "30000/1001"));
        assert_eq!(depth_of_pixel_format("yuv420p10le"), 10);
        assert_eq!(depth_of_pixel_format("yuv420p"), 8);
        assert_eq!(depth_of_pixel_format("yuv422p12le"), 12);
    }
}
