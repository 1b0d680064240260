//! An MP4/MOV's duration, read from its box headers without reading the
//! video: TikTok refuses over-long videos only after the whole upload.

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::VideoFile;

/// An MP4/MOV's duration from its `mvhd` box, reading box headers only.
/// `None` when the file is not MP4-like or has no readable `mvhd` (WebM).
pub async fn mp4_duration_secs(video: &VideoFile) -> Option<f64> {
    let mut file = tokio::fs::File::open(video.path()).await.ok()?;
    let size = video.size();
    let moov = find_box(&mut file, 0, size, b"moov").await?;
    let (start, end) = moov;
    let (mvhd, _) = find_box(&mut file, start, end, b"mvhd").await?;
    file.seek(std::io::SeekFrom::Start(mvhd)).await.ok()?;
    let version = file.read_u8().await.ok()?;
    let mut skip = [0u8; 3];
    file.read_exact(&mut skip).await.ok()?;
    if version == 1 {
        file.seek(std::io::SeekFrom::Current(16)).await.ok()?;
        let timescale = file.read_u32().await.ok()?;
        let duration = file.read_u64().await.ok()?;
        (timescale > 0).then(|| duration as f64 / f64::from(timescale))
    } else {
        file.seek(std::io::SeekFrom::Current(8)).await.ok()?;
        let timescale = file.read_u32().await.ok()?;
        let duration = file.read_u32().await.ok()?;
        (timescale > 0).then(|| f64::from(duration) / f64::from(timescale))
    }
}

/// The payload range `(start, end)` of the first box of `kind` within `[from, to)`.
async fn find_box(file: &mut tokio::fs::File, from: u64, to: u64, kind: &[u8; 4]) -> Option<(u64, u64)> {
    let mut at = from;
    while at + 8 <= to {
        file.seek(std::io::SeekFrom::Start(at)).await.ok()?;
        let size32 = u64::from(file.read_u32().await.ok()?);
        let mut name = [0u8; 4];
        file.read_exact(&mut name).await.ok()?;
        let (header, size) = match size32 {
            1 => (16, file.read_u64().await.ok()?),
            0 => (8, to - at),
            n => (8, n),
        };
        if size < header {
            return None;
        }
        if &name == kind {
            return Some((at + header, (at + size).min(to)));
        }
        at += size;
    }
    None
}
