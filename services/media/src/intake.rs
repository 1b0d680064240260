//! Receiving a file (streamed to disk: memory stays flat whatever its
//! size), deciding what it is from its content, and storing it with its row
//! and poster — or refusing it with the reason, leaving nothing behind.

use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use smez_kit::Error;
use tokio::io::AsyncWriteExt;

use crate::core::{Core, Member, refused, storage, too_large};
use crate::isobmff::{self, Finding};
use crate::probe::{self, Kind};
use crate::repo::{MediaRow, Repo, now_ms};
use crate::sniff::{SNIFF_LEN, Sniffed, sniff};
use crate::storage::{original_key, poster_key};
use crate::{exif, transcript};

/// A file this service wrote and deletes unless it is kept (moved away).
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Gone already when it was moved into the store.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// How long an upload may go without a byte before it is taken as stopped
/// (shorter than a resumable upload's claim, so a stalled request lets go
/// before another may take over).
pub const IDLE: std::time::Duration = std::time::Duration::from_secs(20);

/// What arrived: its size and SHA-256.
pub struct Arrived {
    pub size: u64,
    pub sha256: String,
}

/// Writes `chunks` to `file` (appending), refusing more than `limit` bytes
/// in all; returns how many were written. Stops at the first failure, with
/// what was written so far still on disk (a resumable upload keeps it).
pub async fn write_chunks<S>(
    file: &mut tokio::fs::File,
    chunks: &mut S,
    already: u64,
    limit: u64,
    mut each: impl FnMut(&[u8]),
) -> (u64, Result<(), Error>)
where
    S: Stream<Item = Result<Bytes, Error>> + Unpin,
{
    let mut written = 0u64;
    loop {
        let chunk = match tokio::time::timeout(IDLE, chunks.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => {
                return (
                    written,
                    Err(Error::invalid_field(
                        "body",
                        format!("no bytes arrived for {} s: the upload stopped", IDLE.as_secs()),
                    )),
                );
            }
        };
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => return (written, Err(e)),
        };
        if already + written + chunk.len() as u64 > limit {
            return (
                written,
                Err(too_large(format!("the file is larger than {limit} bytes"))),
            );
        }
        if let Err(e) = file.write_all(&chunk).await {
            return (written, Err(storage(format!("writing an upload: {e}"))));
        }
        each(&chunk);
        written += chunk.len() as u64;
    }
    if let Err(e) = file.flush().await {
        return (written, Err(storage(format!("writing an upload: {e}"))));
    }
    (written, Ok(()))
}

impl Core {
    /// Receives a whole file into a new temp file.
    pub async fn receive<S>(&self, chunks: &mut S, declared: Option<u64>) -> Result<(TempFile, Arrived), Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Unpin,
    {
        let limit = self.settings().max_upload_bytes;
        if let Some(declared) = declared.filter(|d| *d > limit) {
            return Err(too_large(format!(
                "the file is {declared} bytes; at most {limit} are accepted"
            )));
        }
        let temp = TempFile::new(self.incoming_path(&uuid::Uuid::new_v4().to_string()));
        let mut file = tokio::fs::File::create(temp.path())
            .await
            .map_err(|e| storage(format!("creating {}: {e}", temp.path().display())))?;
        let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
        let (size, outcome) = write_chunks(&mut file, chunks, 0, limit, |b| hash.update(b)).await;
        outcome?;
        Ok((
            temp,
            Arrived {
                size,
                sha256: hex(hash.finish().as_ref()),
            },
        ))
    }

    /// Checks an arrived file and stores it, or refuses it. `resumable`: the
    /// upload it completes (its row goes with the same commit).
    pub async fn accept(
        &self,
        member: &Member,
        temp: TempFile,
        arrived: Arrived,
        file_name: &str,
        resumable: Option<&str>,
    ) -> Result<MediaRow, Error> {
        let quota = self.settings().workspace_quota_bytes;
        self.check_quota(member, arrived.size, resumable, quota).await?;
        let media_id = uuid::Uuid::now_v7().to_string();
        let (kind, content_type, probe_json, transcript_json, poster) =
            self.examine(&temp, &media_id, arrived.size).await?;
        let object_key = original_key(&member.workspace_id, &media_id);
        let poster_key = poster.as_ref().map(|_| poster_key(&member.workspace_id, &media_id));
        let row = MediaRow {
            media_id,
            workspace_id: member.workspace_id.clone(),
            kind: kind.as_str().to_owned(),
            file_name: crate::file_name::sanitise(file_name),
            size_bytes: arrived.size as i64,
            sha256: arrived.sha256,
            content_type,
            uploaded_by: Some(member.user_id.clone()),
            object_key,
            poster_key,
            probe: probe_json,
            transcript: transcript_json,
            transcript_id: None,
            created_at_ms: now_ms(),
        };
        self.store_objects(&row, &temp, poster.as_ref()).await?;
        if let Err(e) = self.insert_checked(&row, resumable, quota).await {
            self.remove_objects(&row).await;
            return Err(e);
        }
        tracing::info!(media_id = %row.media_id, kind = %row.kind, size = row.size_bytes, "media stored");
        Ok(row)
    }

    async fn check_quota(&self, member: &Member, size: u64, resumable: Option<&str>, quota: u64) -> Result<(), Error> {
        let txn = self.repo.begin_quota(&member.workspace_id).await.map_err(storage)?;
        let used = Repo::usage(&txn, &member.workspace_id, resumable)
            .await
            .map_err(storage)?;
        txn.commit().await.map_err(storage)?;
        quota_left(used, size, quota)
    }

    /// Inserts the row, checking the quota again under the workspace's lock
    /// (another upload may have finished meanwhile).
    async fn insert_checked(&self, row: &MediaRow, resumable: Option<&str>, quota: u64) -> Result<(), Error> {
        let txn = self.repo.begin_quota(&row.workspace_id).await.map_err(storage)?;
        let used = Repo::usage(&txn, &row.workspace_id, resumable).await.map_err(storage)?;
        quota_left(used, row.size_bytes as u64, quota)?;
        Repo::insert_media(&txn, row).await.map_err(storage)?;
        if let Some(upload_id) = resumable {
            // Cancelled or expired while it was checked: it does not become media.
            let ended = Repo::delete_upload(&txn, &row.workspace_id, upload_id)
                .await
                .map_err(storage)?;
            if ended != 1 {
                return Err(Error::new(
                    smez_kit::ErrorCode::Conflict,
                    "the upload was cancelled or expired while it was being completed",
                ));
            }
        }
        txn.commit().await.map_err(storage)
    }

    async fn store_objects(&self, row: &MediaRow, temp: &TempFile, poster: Option<&TempFile>) -> Result<(), Error> {
        if let (Some(poster), Some(key)) = (poster, &row.poster_key) {
            self.store.put_file(key, poster.path()).await.map_err(storage)?;
        }
        if let Err(e) = self.store.put_file(&row.object_key, temp.path()).await {
            self.remove_objects(row).await;
            return Err(storage(e));
        }
        Ok(())
    }

    /// Best effort: the objects of a row that will not be (or no longer is).
    pub async fn remove_objects(&self, row: &MediaRow) {
        for key in std::iter::once(&row.object_key).chain(row.poster_key.as_ref()) {
            if let Err(e) = self.store.delete(key).await {
                tracing::warn!(key = %key, error = %e, "an object was left behind");
            }
        }
    }

    /// What the file is: its kind, content type, probe or parsed
    /// transcript (JSON), and a drawn poster for pictures.
    #[allow(clippy::type_complexity)]
    async fn examine(
        &self,
        temp: &TempFile,
        media_id: &str,
        size: u64,
    ) -> Result<(Kind, String, Option<String>, Option<String>, Option<TempFile>), Error> {
        let path = temp.path().to_owned();
        let look = tokio::task::spawn_blocking(move || look(&path, size))
            .await
            .map_err(storage)?
            .map_err(|e| storage(format!("reading an upload: {e}")))?;
        match look.sniffed {
            Sniffed::Text => {
                let parsed = self.parse_transcript(temp.path(), size).await?;
                let content_type = match parsed.format.as_str() {
                    "vtt" => "text/vtt",
                    "json" => "application/json",
                    _ => "application/x-subrip",
                };
                let json = serde_json::to_string(&parsed).map_err(storage)?;
                Ok((Kind::Transcript, content_type.to_owned(), None, Some(json), None))
            }
            Sniffed::Corrupt(what) => Err(refused(format!("the file is corrupt: {what}"))),
            Sniffed::NotMedia(what) => Err(refused(format!(
                "this is a {what}, not a video, image, audio file or transcript"
            ))),
            Sniffed::Unknown => Err(refused(
                "not a recognised media format (video, image, audio) or transcript (SRT, WebVTT, JSON word timings)",
            )),
            Sniffed::Media(what) => {
                if let Some(finding) = look.finding {
                    return Err(refused(match finding {
                        Finding::Truncated { box_type, missing } => format!(
                            "the file is truncated: its `{box_type}` box is missing {missing} bytes (an upload or recording cut short)"
                        ),
                        Finding::NoMovie => {
                            "the file is truncated or unfinished: it has no `moov` index (a recording cut short?)"
                                .to_owned()
                        }
                        Finding::Encrypted(how) => format!("the file is DRM-protected ({how}): it cannot be edited"),
                    }));
                }
                let settings = self.settings();
                let (kind, facts) = probe::probe(&settings.ffprobe, temp.path(), &self.decoders, look.orientation)
                    .await
                    .map_err(refused)?;
                let poster = if matches!(kind, Kind::Video | Kind::Image) {
                    let poster = TempFile::new(self.incoming_path(&format!("{media_id}.poster.jpg")));
                    crate::poster::draw(&settings.ffmpeg, temp.path(), poster.path(), &facts)
                        .await
                        .map_err(refused)?;
                    Some(poster)
                } else {
                    None
                };
                let json = serde_json::to_string(&facts).map_err(storage)?;
                Ok((kind, content_type(what, kind).to_owned(), Some(json), None, poster))
            }
        }
    }

    async fn parse_transcript(&self, path: &Path, size: u64) -> Result<transcript::Parsed, Error> {
        let limit = self.settings().max_transcript_bytes;
        if size > limit {
            return Err(too_large(format!(
                "a transcript may be {limit} bytes at most; this one is {size}"
            )));
        }
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| storage(format!("reading an upload: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            refused(format!(
                "a transcript must be UTF-8 text; byte {} is not",
                e.utf8_error().valid_up_to()
            ))
        })?;
        transcript::parse(&text).map_err(|e| refused(format!("the transcript does not parse: {e}")))
    }
}

fn quota_left(used: i64, size: u64, quota: u64) -> Result<(), Error> {
    let used = used.max(0) as u64;
    if used + size > quota {
        return Err(too_large(format!(
            "the workspace's storage quota ({quota} bytes) would be exceeded: {used} used, this file is {size}"
        )));
    }
    Ok(())
}

/// What the first bytes and the container's structure say.
struct Look {
    sniffed: Sniffed,
    finding: Option<Finding>,
    orientation: Option<u16>,
}

fn look(path: &Path, size: u64) -> std::io::Result<Look> {
    let mut file = std::fs::File::open(path)?;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut file).take(SNIFF_LEN as u64).read_to_end(&mut head)?;
    let sniffed = sniff(&head);
    let finding = match sniffed {
        Sniffed::Media("MP4" | "QuickTime") => isobmff::inspect(&mut file, size)?,
        _ => None,
    };
    let orientation = match sniffed {
        Sniffed::Media("JPEG") => exif::jpeg_orientation(&head),
        _ => None,
    };
    Ok(Look {
        sniffed,
        finding,
        orientation,
    })
}

/// The content type of a file of this format and kind.
fn content_type(what: &str, kind: Kind) -> &'static str {
    let audio = kind == Kind::Audio;
    match what {
        "MP4" if audio => "audio/mp4",
        "MP4" => "video/mp4",
        "QuickTime" => "video/quicktime",
        "Matroska/WebM" if audio => "audio/webm",
        "Matroska/WebM" => "video/webm",
        "Ogg" if audio => "audio/ogg",
        "Ogg" => "video/ogg",
        "JPEG" => "image/jpeg",
        "PNG" => "image/png",
        "GIF" => "image/gif",
        "WebP" => "image/webp",
        "TIFF" => "image/tiff",
        "HEIF/AVIF image" => "image/heif",
        "WAV" => "audio/wav",
        "AIFF" => "audio/aiff",
        "FLAC" => "audio/flac",
        "MP3" | "MPEG audio or AAC" => "audio/mpeg",
        "AMR" => "audio/amr",
        "AVI" => "video/x-msvideo",
        "FLV" => "video/x-flv",
        "ASF/WMV" => "video/x-ms-asf",
        "MPEG transport stream" => "video/mp2t",
        "MPEG program stream" | "MPEG video" => "video/mpeg",
        _ => "application/octet-stream",
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
