//! Media as the API shows it (JSON), from the media service's messages.

use serde::Serialize;
use smez_proto::media::v1::Media;
use utoipa::ToSchema;

use super::rfc3339;

#[derive(Serialize, ToSchema)]
pub(crate) struct MediaBody {
    id: String,
    /// video, image, audio or transcript (decided from the content).
    kind: String,
    /// As uploaded, sanitised (display only).
    file_name: String,
    size_bytes: u64,
    sha256: String,
    content_type: String,
    uploaded_by: Option<String>,
    created_at: String,
    probe: Option<ProbeBody>,
    /// `GET` it for the bytes (HTTP Range supported).
    content_url: String,
    /// A JPEG poster frame (videos and images).
    poster_url: Option<String>,
    transcript: Option<TranscriptBody>,
    /// Clips: the transcript attached to it.
    transcript_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ProbeBody {
    container: String,
    duration_ms: Option<i64>,
    video: Option<VideoBody>,
    audio: Option<AudioBody>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct VideoBody {
    codec: String,
    /// As shown (rotation and pixel aspect applied).
    display_width: u32,
    display_height: u32,
    coded_width: u32,
    coded_height: u32,
    /// Degrees clockwise to show it upright.
    rotation: u32,
    frame_rate: String,
    average_frame_rate: String,
    variable_frame_rate: bool,
    pixel_format: String,
    bit_depth: u32,
    color_transfer: String,
    hdr: bool,
    sample_aspect_ratio: String,
    exif_orientation: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AudioBody {
    codec: String,
    sample_rate: u32,
    channels: u32,
    channel_layout: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TranscriptBody {
    /// srt, vtt or json.
    format: String,
    cue_count: u32,
    word_count: u32,
    duration_ms: i64,
    word_timings: bool,
}

impl From<Media> for MediaBody {
    fn from(m: Media) -> Self {
        Self {
            content_url: format!("/v1/media/{}/content", m.id),
            poster_url: m.has_poster.then(|| format!("/v1/media/{}/poster", m.id)),
            id: m.id,
            kind: m.kind,
            file_name: m.file_name,
            size_bytes: m.size_bytes,
            sha256: m.sha256,
            content_type: m.content_type,
            uploaded_by: Some(m.uploaded_by).filter(|u| !u.is_empty()),
            created_at: rfc3339(m.created_at_ms),
            probe: m.probe.map(|p| ProbeBody {
                container: p.container,
                duration_ms: p.duration_ms,
                video: p.video.map(|v| VideoBody {
                    codec: v.codec,
                    display_width: v.display_width,
                    display_height: v.display_height,
                    coded_width: v.coded_width,
                    coded_height: v.coded_height,
                    rotation: v.rotation,
                    frame_rate: v.frame_rate,
                    average_frame_rate: v.average_frame_rate,
                    variable_frame_rate: v.variable_frame_rate,
                    pixel_format: v.pixel_format,
                    bit_depth: v.bit_depth,
                    color_transfer: v.color_transfer,
                    hdr: v.hdr,
                    sample_aspect_ratio: v.sample_aspect_ratio,
                    exif_orientation: v.exif_orientation,
                }),
                audio: p.audio.map(|a| AudioBody {
                    codec: a.codec,
                    sample_rate: a.sample_rate,
                    channels: a.channels,
                    channel_layout: a.channel_layout,
                }),
            }),
            transcript: m.transcript.map(|t| TranscriptBody {
                format: t.format,
                cue_count: t.cue_count,
                word_count: t.word_count,
                duration_ms: t.duration_ms,
                word_timings: t.word_timings,
            }),
            transcript_id: m.transcript_id,
        }
    }
}
