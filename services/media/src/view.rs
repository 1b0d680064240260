//! Rows as callers see them (the proto messages).

use smez_proto::media::v1::{AudioProbe, Media, Probe, ResumableUpload, TranscriptSummary, VideoProbe};

use crate::probe::ProbeFacts;
use crate::repo::{MediaRow, UploadRow};
use crate::transcript::Parsed;

pub fn media(row: &MediaRow) -> Media {
    let probe = row
        .probe
        .as_deref()
        .and_then(|json| serde_json::from_str::<ProbeFacts>(json).ok())
        .map(probe);
    let transcript = row
        .transcript
        .as_deref()
        .and_then(|json| serde_json::from_str::<Parsed>(json).ok())
        .map(|t| TranscriptSummary {
            format: t.format.clone(),
            cue_count: t.cues.len() as u32,
            word_count: t.word_count() as u32,
            duration_ms: t.duration_ms(),
            word_timings: !t.words.is_empty(),
        });
    Media {
        id: row.media_id.clone(),
        kind: row.kind.clone(),
        file_name: row.file_name.clone(),
        size_bytes: row.size_bytes.max(0) as u64,
        sha256: row.sha256.clone(),
        content_type: row.content_type.clone(),
        uploaded_by: row.uploaded_by.clone().unwrap_or_default(),
        created_at_ms: row.created_at_ms,
        probe,
        has_poster: row.poster_key.is_some(),
        transcript,
        transcript_id: row.transcript_id.clone(),
    }
}

fn probe(facts: ProbeFacts) -> Probe {
    Probe {
        container: facts.container,
        duration_ms: facts.duration_ms,
        video: facts.video.map(|v| VideoProbe {
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
            exif_orientation: v.exif_orientation.map(u32::from),
        }),
        audio: facts.audio.map(|a| AudioProbe {
            codec: a.codec,
            sample_rate: a.sample_rate,
            channels: a.channels,
            channel_layout: a.channel_layout,
        }),
    }
}

pub fn upload(row: &UploadRow, media: Option<Media>) -> ResumableUpload {
    ResumableUpload {
        upload_id: row.upload_id.clone(),
        length: row.length.max(0) as u64,
        offset: row.offset.max(0) as u64,
        expires_at_ms: row.expires_at_ms,
        media,
    }
}
