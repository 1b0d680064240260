//! Where uploaded bytes wait on disk until a simulator has probed them:
//! uploads are streamed to temp files, never held in memory.

use std::path::{Path, PathBuf};

use tokio::fs::File;
use tokio::io::AsyncSeekExt;

/// The temp file for one upload: `id` must be unique among the running
/// simulators (tests run several at once).
pub fn temp_path(platform: &str, id: &str) -> PathBuf {
    std::env::temp_dir().join(format!("smez-sim-{platform}-{id}.upload"))
}

/// The upload's file (created if need be), positioned to write at `offset`
/// and keeping every byte before it: chunks may arrive on new connections.
pub async fn open_at(path: &Path, offset: u64) -> std::io::Result<File> {
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .await?;
    file.seek(std::io::SeekFrom::Start(offset)).await?;
    Ok(file)
}
