//! Resumable uploads (what the gateway's tus 1.0 endpoints drive): created
//! with their length, appended to at the offset the server holds, checked
//! and stored when the last byte arrives. The bytes wait on disk in
//! `media.upload_dir`; what was written before a connection dropped stays.

use bytes::Bytes;
use futures_util::Stream;
use smez_kit::{Error, ErrorCode};

use crate::core::{Core, Member, not_found, storage, too_large};
use crate::intake::{Arrived, TempFile, hex, write_chunks};
use crate::repo::{MediaRow, Repo, UploadRow, now_ms};

/// How long one append may hold an upload before another may take over
/// (renewed while bytes flow).
const CLAIM_MS: i64 = 30_000;

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

    /// Appends `chunks` at `offset`, which must be where the upload stands.
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
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("the upload is at offset {}, not {offset}", row.offset),
            ));
        }
        let workspace = &member.workspace_id;
        if !self
            .repo
            .claim_upload(workspace, upload_id, now_ms() + CLAIM_MS)
            .await
            .map_err(storage)?
        {
            return Err(Error::new(
                ErrorCode::Conflict,
                "another request is appending to this upload",
            ));
        }
        let path = self.resumable_path(upload_id);
        let written = async {
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .await
                .map_err(|e| storage(format!("opening an upload file: {e}")))?;
            // Bytes past the recorded offset are from a request that died
            // before it could record them: they are written again.
            file.set_len(offset).await.map_err(storage)?;
            tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(offset))
                .await
                .map_err(storage)?;
            // A slow network may take longer than one claim: renew it while bytes flow.
            let renewal = {
                let (repo, workspace, upload_id) = (self.repo.clone(), workspace.clone(), upload_id.to_owned());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(std::time::Duration::from_millis((CLAIM_MS / 3) as u64)).await;
                        if let Err(e) = repo.extend_claim(&workspace, &upload_id, now_ms() + CLAIM_MS).await {
                            tracing::warn!(upload_id, error = %e, "renewing an upload's claim failed");
                        }
                    }
                })
            };
            let written = write_chunks(&mut file, chunks, offset, row.length as u64, |_| {}).await;
            renewal.abort();
            Ok::<_, Error>(written)
        }
        .await;
        let (written, outcome) = match written {
            Ok(pair) => pair,
            Err(e) => {
                let _ = self.repo.release_upload(workspace, upload_id, row.offset).await;
                return Err(e);
            }
        };
        let reached = offset + written;
        self.repo
            .release_upload(workspace, upload_id, reached as i64)
            .await
            .map_err(storage)?;
        outcome?;
        let mut upload = row;
        upload.offset = reached as i64;
        if reached < upload.length as u64 {
            return Ok(Appended { upload, media: None });
        }
        let media = self.complete(member, &upload).await;
        if media.is_err() {
            // Refused: the upload ends here, bytes and row.
            let _ = self.drop_upload(member, upload_id).await;
        }
        Ok(Appended {
            upload,
            media: Some(media?),
        })
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
