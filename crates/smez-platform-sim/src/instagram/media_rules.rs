//! Instagram's Reel rules (§5), checked on the uploaded bytes.

use super::*;

/// Instagram's Reel rules (§5), from the bytes.
pub(super) async fn validate_file(path: &FsPath, size: u64) -> Result<(), (i64, String)> {
    let format = |reason: String| Err((2207026, reason));
    match moov_before_mdat(path).await {
        Some(true) => {}
        Some(false) => return format("The moov atom must come before the media data (fast start).".into()),
        None => return format("The file is not an MP4/MOV container.".into()),
    }
    let facts: VideoFacts = match probe(path).await {
        Ok(facts) => facts,
        Err(_) => return format("The file is not a readable video.".into()),
    };
    if !facts.is_mp4_or_mov() {
        return format(format!("Unsupported container {}: use MOV or MP4.", facts.container));
    }
    match facts.video_codec.as_deref() {
        Some("h264" | "hevc") => {}
        other => {
            return format(format!(
                "Unsupported video codec {}: use H.264 or HEVC.",
                other.unwrap_or("none")
            ));
        }
    }
    if !(23.0..=60.0).contains(&facts.frame_rate) {
        return format(format!("Frame rate {:.2} fps is outside 23–60 fps.", facts.frame_rate));
    }
    if facts.width > 1920 {
        return format(format!("Width {} px exceeds 1920 px.", facts.width));
    }
    if facts.width == 0 || facts.height == 0 {
        return format("The video has no picture.".into());
    }
    let aspect = facts.width as f64 / facts.height as f64;
    if !(0.01..=10.0).contains(&aspect) {
        return format(format!("Aspect ratio {aspect:.3} is outside 0.01–10."));
    }
    if !(3.0..=900.0).contains(&facts.duration_secs) {
        return format(format!("Duration {:.1} s is outside 3 s–15 min.", facts.duration_secs));
    }
    if size > MAX_FILE_BYTES {
        return format(format!("The video is larger than {MAX_FILE_BYTES} bytes."));
    }
    if let Some(codec) = facts.audio_codec.as_deref() {
        if codec != "aac" {
            return format(format!("Unsupported audio codec {codec}: use AAC."));
        }
        if facts.audio_sample_rate.is_some_and(|r| r > 48_000) {
            return format("Audio sample rate exceeds 48 kHz.".into());
        }
    }
    Ok(())
}

/// Walks the top-level MP4 boxes: `Some(true)` when `moov` precedes `mdat`,
/// `None` when the file is not an ISO-BMFF file at all.
pub(super) async fn moov_before_mdat(path: &FsPath) -> Option<bool> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await.ok()?;
    let total = file.metadata().await.ok()?.len();
    let mut at = 0u64;
    let mut first = true;
    while at + 8 <= total {
        file.seek(std::io::SeekFrom::Start(at)).await.ok()?;
        let mut head = [0u8; 16];
        let n = file.read(&mut head).await.ok()?;
        if n < 8 {
            return None;
        }
        let kind = &head[4..8];
        if first && kind != b"ftyp" {
            return None;
        }
        first = false;
        match kind {
            b"moov" => return Some(true),
            b"mdat" => return Some(false),
            _ => {}
        }
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        let size = match size32 {
            0 => return None,
            1 if n >= 16 => u64::from_be_bytes(head[8..16].try_into().ok()?),
            1 => return None,
            s => s,
        };
        if size < 8 {
            return None;
        }
        at += size;
    }
    None
}
