//! A video to upload, read from a file range by range: an upload of any size
//! holds one chunk buffer's worth of memory, never the file.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Bytes read per step while streaming.
const READ_BUFFER: usize = 64 * 1024;

#[derive(Clone, Debug)]
pub struct VideoFile {
    path: PathBuf,
    size: u64,
    /// e.g. `video/mp4`.
    pub content_type: String,
}

impl VideoFile {
    pub async fn open(path: impl AsRef<Path>, content_type: &str) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let size = tokio::fs::metadata(&path).await?.len();
        Ok(Self {
            path,
            size,
            content_type: content_type.to_owned(),
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A request body streaming `len` bytes from `offset`.
    pub async fn body(&self, offset: u64, len: u64) -> std::io::Result<reqwest::Body> {
        let mut file = tokio::fs::File::open(&self.path).await?;
        file.seek(std::io::SeekFrom::Start(offset)).await?;
        let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), READ_BUFFER);
        Ok(reqwest::Body::wrap_stream(stream))
    }
}
