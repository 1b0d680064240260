//! Resumable uploads (what the gateway's tus 1.0 endpoints drive): created
//! with their length, appended to at the offset the server holds, checked
//! and stored when the last byte arrives. The bytes wait on disk in
//! `media.upload_dir`; what was written before a connection dropped stays.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;
use futures_util::Stream;
use smez_kit::{Error, ErrorCode};

use crate::core::{Core, Member, not_found, storage, too_large};
use crate::intake::{Arrived, TempFile, hex, write_chunks};
use crate::repo::{MediaRow, Repo, UploadRow, now_ms};

/// How long one append may hold an upload before another may take over
/// (renewed while bytes flow).
const CLAIM_MS: i64 = 30_000;

fn offset_conflict(server: i64, client: u64) -> Error {
    Error::new(
        ErrorCode::Conflict,
        format!("the upload is at offset {server}, not {client}"),
    )
}

/// An append's answer: where the upload stands, and the media once complete.
pub struct Appended {
    pub upload: UploadRow,
    pub media: Option<MediaRow>,
}

impl Core {
    pub async fn create_upload(&self, member: &Member, length: u64, file_name: &str) -> Result<UploadRow, Error> {
        let settings = self.settings();
        if length > settings.max_upload_bytes {
            return Err(too_large(format!(
                "the file is {length} bytes; at most {} are accepted",
                settings.max_upload_bytes
            )));
        }
        let now = now_ms();
        let row = UploadRow {
            upload_id: uuid::Uuid::new_v4().to_string(),
            workspace_id: member.workspace_id.clone(),
            user_id: member.user_id.clone(),
            file_name: crate::file_name::sanitise(file_name),
            length: length as i64,
            offset: 0,
            expires_at_ms: now + (settings.resumable_ttl_secs as i64).saturating_mul(1000),
        };
        tokio::fs::File::create(self.resumable_path(&row.upload_id))
            .await
            .map_err(|e| storage(format!("creating an upload file: {e}")))?;
        // The length is reserved against the quota until the upload ends.
        let reserved = async {
            let txn = self.repo.begin_quota(&member.workspace_id).await.map_err(storage)?;
            let used = Repo::usage(&txn, &member.workspace_id, None).await.map_err(storage)?;
            if used.max(0) as u64 + length > settings.workspace_quota_bytes {
                return Err(too_large(format!(
                    "the workspace's storage quota ({} bytes) would be exceeded: {used} used, this file is {length}",
                    settings.workspace_quota_bytes
                )));
            }
            Repo::insert_upload(&txn, &row, now).await.map_err(storage)?;
            txn.commit().await.map_err(storage)
        }
        .await;
        if let Err(e) = reserved {
            let _ = tokio::fs::remove_file(self.resumable_path(&row.upload_id)).await;
            return Err(e);
        }
        Ok(row)
    }

    pub async fn upload(&self, member: &Member, upload_id: &str) -> Result<UploadRow, Error> {
        let row = self
            .repo
            .upload(&member.workspace_id, upload_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| not_found("upload"))?;
        if row.expires_at_ms < now_ms() {
            return Err(not_found("upload"));
        }
        Ok(row)
    }

    /// Appends `chunks` at `offset`, which must be where the upload stands,
    /// and completes the upload when the last byte is in (a `PATCH` at the
    /// full length with no bytes retries a completion that failed for a
    /// transient reason). One request at a time holds the upload, from the
    /// first byte to the stored media.
    pub async fn append<S>(
        &self,
        member: &Member,
        upload_id: &str,
        offset: u64,
        chunks: &mut S,
    ) -> Result<Appended, Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Unpin,
    {
        let row = self.upload(member, upload_id).await?;
        if row.offset as u64 != offset {
            return Err(offset_conflict(row.offset, offset));
        }
        let workspace = &member.workspace_id;
        // The claim re-checks the offset: a request that read it before
        // another one moved it on cannot truncate what was recorded.
        if !self
            .repo
            .claim_upload(workspace, upload_id, offset as i64, now_ms() + CLAIM_MS)
            .await
            .map_err(storage)?
        {
            let now = self.upload(member, upload_id).await?;
            if now.offset as u64 != offset {
                return Err(offset_conflict(now.offset, offset));
            }
            return Err(Error::new(
                ErrorCode::Conflict,
                "another request is appending to this upload",
            ));
        }
        let progress = Arc::new(AtomicI64::new(now_ms()));
        let renewal = self.renew_while_progressing(workspace, upload_id, progress.clone());
        let outcome = self.append_claimed(member, row, offset, chunks, &progress).await;
        renewal.abort();
        outcome
    }

    async fn append_claimed<S>(
        &self,
        member: &Member,
        row: UploadRow,
        offset: u64,
        chunks: &mut S,
        progress: &AtomicI64,
    ) -> Result<Appended, Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Unpin,
    {
        let (workspace, upload_id) = (&member.workspace_id, row.upload_id.clone());
        let written = self
            .write_at(&upload_id, offset, row.length as u64, chunks, progress)
            .await;
        let (written, outcome) = match written {
            Ok(pair) => pair,
            Err(e) => {
                let _ = self.release(workspace, &upload_id, row.offset).await;
                return Err(e);
            }
        };
        let reached = offset + written;
        let mut upload = row;
        upload.offset = reached as i64;
        if let Err(e) = outcome {
            self.release(workspace, &upload_id, reached as i64).await?;
            return Err(e);
        }
        if reached < upload.length as u64 {
            self.release(workspace, &upload_id, reached as i64).await?;
            return Ok(Appended { upload, media: None });
        }
        // Complete, still holding the upload: no second request can
        // complete it again or write under the check.
        match self.complete(member, &upload).await {
            Ok(media) => Ok(Appended {
                upload,
                media: Some(media),
            }),
            Err(e) if matches!(e.code, ErrorCode::InvalidArgument | ErrorCode::PayloadTooLarge) => {
                // Refused for what the file is: the upload ends here, bytes and row.
                let _ = self.drop_upload(member, &upload_id).await;
                Err(e)
            }
            Err(e) => {
                // Transient: the bytes stay; the same PATCH at the full length retries.
                self.release(workspace, &upload_id, reached as i64).await?;
                Err(e)
            }
        }
    }

    /// Writes `chunks` into the upload's file at `offset`; returns what was written.
    async fn write_at<S>(
        &self,
        upload_id: &str,
        offset: u64,
        length: u64,
        chunks: &mut S,
        progress: &AtomicI64,
    ) -> Result<(u64, Result<(), Error>), Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Unpin,
    {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(self.resumable_path(upload_id))
            .await
            .map_err(|e| storage(format!("opening an upload file: {e}")))?;
        // Bytes past the recorded offset are from a request that died
        // before it could record them: they are written again.
        file.set_len(offset).await.map_err(storage)?;
        tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(offset))
            .await
            .map_err(storage)?;
        Ok(write_chunks(&mut file, chunks, offset, length, |_| {
            progress.store(now_ms(), Ordering::Relaxed)
        })
        .await)
    }

    /// Keeps the claim while bytes arrive (or the completion runs); a
    /// connection that went quiet lets it lapse, so the client's resume is
    /// not locked out by a half-open socket.
    fn renew_while_progressing(
        &self,
        workspace: &str,
        upload_id: &str,
        progress: Arc<AtomicI64>,
    ) -> tokio::task::JoinHandle<()> {
        let (repo, workspace, upload_id) = (self.repo.clone(), workspace.to_owned(), upload_id.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis((CLAIM_MS / 3) as u64)).await;
                if now_ms() - progress.load(Ordering::Relaxed) > CLAIM_MS {
                    continue;
                }
                if let Err(e) = repo.extend_claim(&workspace, &upload_id, now_ms() + CLAIM_MS).await {
                    tracing::warn!(upload_id, error = %e, "renewing an upload's claim failed");
                }
            }
        })
    }

    /// Records the offset, lets the next request in, and moves the expiry
    /// on (an upload in progress does not expire under its client).
    async fn release(&self, workspace: &str, upload_id: &str, offset: i64) -> Result<(), Error> {
        let expires = now_ms() + (self.settings().resumable_ttl_secs as i64).saturating_mul(1000);
        self.repo
            .release_upload(workspace, upload_id, offset, expires)
            .await
            .map_err(storage)
    }

    async fn complete(&self, member: &Member, upload: &UploadRow) -> Result<MediaRow, Error> {
        let path = self.resumable_path(&upload.upload_id);
        let hashing = path.clone();
        let sha256 = tokio::task::spawn_blocking(move || sha256_of(&hashing))
            .await
            .map_err(storage)?
            .map_err(storage)?;
        let arrived = Arrived {
            size: upload.length as u64,
            sha256,
        };
        self.accept(
            member,
            TempFile::new(path),
            arrived,
            &upload.file_name,
            Some(&upload.upload_id),
        )
        .await
    }

    /// Ends an upload: its bytes and its row go.
    pub async fn drop_upload(&self, member: &Member, upload_id: &str) -> Result<(), Error> {
        let txn = self
            .repo
            .store()
            .begin_in_workspace(&member.workspace_id)
            .await
            .map_err(storage)?;
        let deleted = Repo::delete_upload(&txn, &member.workspace_id, upload_id)
            .await
            .map_err(storage)?;
        txn.commit().await.map_err(storage)?;
        let _ = tokio::fs::remove_file(self.resumable_path(upload_id)).await;
        if deleted == 0 {
            return Err(not_found("upload"));
        }
        Ok(())
    }
}

fn sha256_of(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hash.update(&buffer[..read]);
    }
    Ok(hex(hash.finish().as_ref()))
}
