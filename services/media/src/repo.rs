//! The media service's tables (`migrations/media/`), in raw SQL with `?`
//! placeholders and bound values only; each statement about one workspace
//! runs in its scope and filters by it (row-level security is the second wall).

use smez_store::sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, QueryResult, Value};
use smez_store::{Scope, Store, statement};

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Clone, Debug)]
pub struct MediaRow {
    pub media_id: String,
    pub workspace_id: String,
    pub kind: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub content_type: String,
    pub uploaded_by: Option<String>,
    pub object_key: String,
    pub poster_key: Option<String>,
    pub probe: Option<String>,
    pub transcript: Option<String>,
    pub transcript_id: Option<String>,
    pub created_at_ms: i64,
}

const MEDIA_COLUMNS: &str = "media_id, workspace_id, kind, file_name, size_bytes, sha256, content_type, \
     uploaded_by, object_key, poster_key, probe, transcript, transcript_id, created_at_ms";

fn media_at(row: &QueryResult) -> Result<MediaRow, DbErr> {
    Ok(MediaRow {
        media_id: row.try_get_by_index(0)?,
        workspace_id: row.try_get_by_index(1)?,
        kind: row.try_get_by_index(2)?,
        file_name: row.try_get_by_index(3)?,
        size_bytes: row.try_get_by_index(4)?,
        sha256: row.try_get_by_index(5)?,
        content_type: row.try_get_by_index(6)?,
        uploaded_by: row.try_get_by_index(7)?,
        object_key: row.try_get_by_index(8)?,
        poster_key: row.try_get_by_index(9)?,
        probe: row.try_get_by_index(10)?,
        transcript: row.try_get_by_index(11)?,
        transcript_id: row.try_get_by_index(12)?,
        created_at_ms: row.try_get_by_index(13)?,
    })
}

#[derive(Clone, Debug)]
pub struct UploadRow {
    pub upload_id: String,
    pub workspace_id: String,
    pub user_id: String,
    pub file_name: String,
    pub length: i64,
    pub offset: i64,
    pub expires_at_ms: i64,
}

const UPLOAD_COLUMNS: &str = "upload_id, workspace_id, user_id, file_name, length, upload_offset, expires_at_ms";

fn upload_at(row: &QueryResult) -> Result<UploadRow, DbErr> {
    Ok(UploadRow {
        upload_id: row.try_get_by_index(0)?,
        workspace_id: row.try_get_by_index(1)?,
        user_id: row.try_get_by_index(2)?,
        file_name: row.try_get_by_index(3)?,
        length: row.try_get_by_index(4)?,
        offset: row.try_get_by_index(5)?,
        expires_at_ms: row.try_get_by_index(6)?,
    })
}

/// What a listing asks for.
pub struct Listing<'a> {
    pub kind: Option<&'a str>,
    pub uploaded_by: Option<&'a str>,
    pub created_after_ms: Option<i64>,
    pub created_before_ms: Option<i64>,
    /// Rows older than this (created_at_ms, media_id) only.
    pub before: Option<(i64, &'a str)>,
    pub limit: u32,
}

#[derive(Clone)]
pub struct Repo {
    store: Store,
}

impl Repo {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn media(&self, workspace_id: &str, media_id: &str) -> Result<Option<MediaRow>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                &format!("SELECT {MEDIA_COLUMNS} FROM media WHERE workspace_id = ? AND media_id = ?"),
                [workspace_id.into(), media_id.into()],
            )
            .await?;
        rows.first().map(media_at).transpose()
    }

    pub async fn list(&self, workspace_id: &str, listing: &Listing<'_>) -> Result<Vec<MediaRow>, DbErr> {
        let mut sql = format!("SELECT {MEDIA_COLUMNS} FROM media WHERE workspace_id = ?");
        let mut values: Vec<Value> = vec![workspace_id.into()];
        if let Some(kind) = listing.kind {
            sql.push_str(" AND kind = ?");
            values.push(kind.into());
        }
        if let Some(user) = listing.uploaded_by {
            sql.push_str(" AND uploaded_by = ?");
            values.push(user.into());
        }
        if let Some(after) = listing.created_after_ms {
            sql.push_str(" AND created_at_ms >= ?");
            values.push(after.into());
        }
        if let Some(before) = listing.created_before_ms {
            sql.push_str(" AND created_at_ms < ?");
            values.push(before.into());
        }
        if let Some((at, id)) = listing.before {
            sql.push_str(" AND (created_at_ms < ? OR (created_at_ms = ? AND media_id < ?))");
            values.extend([at.into(), at.into(), id.into()]);
        }
        sql.push_str(" ORDER BY created_at_ms DESC, media_id DESC LIMIT ?");
        values.push(i64::from(listing.limit).into());
        let rows = self
            .store
            .query_scoped(Scope::Workspace(workspace_id), &sql, values)
            .await?;
        rows.iter().map(media_at).collect()
    }

    /// A write transaction in `workspace_id` that holds the workspace's quota
    /// lock (PostgreSQL; SQLite's write lock serialises writers already), so
    /// two uploads cannot both take the last free bytes.
    pub async fn begin_quota(&self, workspace_id: &str) -> Result<DatabaseTransaction, DbErr> {
        let txn = self.store.begin_in_workspace(workspace_id).await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_raw(statement(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtext(?))",
                [format!("smez.media.quota.{workspace_id}").into()],
            ))
            .await?;
        }
        Ok(txn)
    }

    /// Bytes the workspace holds, and those its unfinished resumable uploads
    /// have reserved (except `excluding_upload`).
    pub async fn usage(
        txn: &DatabaseTransaction,
        workspace_id: &str,
        excluding_upload: Option<&str>,
    ) -> Result<i64, DbErr> {
        let backend = txn.get_database_backend();
        let stored = txn
            .query_one_raw(statement(
                backend,
                "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM media WHERE workspace_id = ?",
                [workspace_id.into()],
            ))
            .await?
            .map(|r| r.try_get_by_index::<i64>(0))
            .transpose()?
            .unwrap_or(0);
        let reserved = txn
            .query_one_raw(statement(
                backend,
                "SELECT CAST(COALESCE(SUM(length), 0) AS BIGINT) FROM resumable_uploads \
                 WHERE workspace_id = ? AND upload_id <> ?",
                [workspace_id.into(), excluding_upload.unwrap_or("").into()],
            ))
            .await?
            .map(|r| r.try_get_by_index::<i64>(0))
            .transpose()?
            .unwrap_or(0);
        Ok(stored + reserved)
    }

    pub async fn insert_media(txn: &DatabaseTransaction, row: &MediaRow) -> Result<(), DbErr> {
        txn.execute_raw(statement(
            txn.get_database_backend(),
            &format!("INSERT INTO media ({MEDIA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            [
                row.media_id.clone().into(),
                row.workspace_id.clone().into(),
                row.kind.clone().into(),
                row.file_name.clone().into(),
                row.size_bytes.into(),
                row.sha256.clone().into(),
                row.content_type.clone().into(),
                row.uploaded_by.clone().into(),
                row.object_key.clone().into(),
                row.poster_key.clone().into(),
                row.probe.clone().into(),
                row.transcript.clone().into(),
                row.transcript_id.clone().into(),
                row.created_at_ms.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    /// Deletes the row and forgets it as any clip's transcript.
    pub async fn delete_media(&self, workspace_id: &str, media_id: &str) -> Result<bool, DbErr> {
        let txn = self.store.begin_in_workspace(workspace_id).await?;
        let backend = txn.get_database_backend();
        txn.execute_raw(statement(
            backend,
            "UPDATE media SET transcript_id = NULL WHERE workspace_id = ? AND transcript_id = ?",
            [workspace_id.into(), media_id.into()],
        ))
        .await?;
        let deleted = txn
            .execute_raw(statement(
                backend,
                "DELETE FROM media WHERE workspace_id = ? AND media_id = ?",
                [workspace_id.into(), media_id.into()],
            ))
            .await?
            .rows_affected();
        txn.commit().await?;
        Ok(deleted == 1)
    }

    pub async fn set_transcript(&self, workspace_id: &str, media_id: &str, transcript_id: &str) -> Result<bool, DbErr> {
        let updated = self
            .store
            .execute_scoped(
                Scope::Workspace(workspace_id),
                "UPDATE media SET transcript_id = ? WHERE workspace_id = ? AND media_id = ?",
                [transcript_id.into(), workspace_id.into(), media_id.into()],
            )
            .await?;
        Ok(updated == 1)
    }

    // --- resumable uploads --------------------------------------------------

    pub async fn insert_upload(txn: &DatabaseTransaction, row: &UploadRow, now: i64) -> Result<(), DbErr> {
        txn.execute_raw(statement(
            txn.get_database_backend(),
            "INSERT INTO resumable_uploads (upload_id, workspace_id, user_id, file_name, length, upload_offset, \
             created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row.upload_id.clone().into(),
                row.workspace_id.clone().into(),
                row.user_id.clone().into(),
                row.file_name.clone().into(),
                row.length.into(),
                row.offset.into(),
                now.into(),
                row.expires_at_ms.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    pub async fn upload(&self, workspace_id: &str, upload_id: &str) -> Result<Option<UploadRow>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                &format!("SELECT {UPLOAD_COLUMNS} FROM resumable_uploads WHERE workspace_id = ? AND upload_id = ?"),
                [workspace_id.into(), upload_id.into()],
            )
            .await?;
        rows.first().map(upload_at).transpose()
    }

    /// Takes the right to append until `until_ms`, if nobody else holds it
    /// and the upload is still at `offset`.
    pub async fn claim_upload(
        &self,
        workspace_id: &str,
        upload_id: &str,
        offset: i64,
        until_ms: i64,
    ) -> Result<bool, DbErr> {
        let updated = self
            .store
            .execute_scoped(
                Scope::Workspace(workspace_id),
                "UPDATE resumable_uploads SET busy_until_ms = ? \
                 WHERE workspace_id = ? AND upload_id = ? AND upload_offset = ? \
                 AND (busy_until_ms IS NULL OR busy_until_ms < ?)",
                [
                    until_ms.into(),
                    workspace_id.into(),
                    upload_id.into(),
                    offset.into(),
                    now_ms().into(),
                ],
            )
            .await?;
        Ok(updated == 1)
    }

    pub async fn extend_claim(&self, workspace_id: &str, upload_id: &str, until_ms: i64) -> Result<(), DbErr> {
        self.store
            .execute_scoped(
                Scope::Workspace(workspace_id),
                // Only while claimed: a renewal racing the release must not re-claim.
                "UPDATE resumable_uploads SET busy_until_ms = ? \
                 WHERE workspace_id = ? AND upload_id = ? AND busy_until_ms IS NOT NULL",
                [until_ms.into(), workspace_id.into(), upload_id.into()],
            )
            .await?;
        Ok(())
    }

    /// Records the offset reached, moves the expiry on, and lets the next request append.
    pub async fn release_upload(
        &self,
        workspace_id: &str,
        upload_id: &str,
        offset: i64,
        expires_at_ms: i64,
    ) -> Result<(), DbErr> {
        self.store
            .execute_scoped(
                Scope::Workspace(workspace_id),
                "UPDATE resumable_uploads SET upload_offset = ?, busy_until_ms = NULL, \
                 expires_at_ms = CASE WHEN expires_at_ms < ? THEN ? ELSE expires_at_ms END \
                 WHERE workspace_id = ? AND upload_id = ?",
                [
                    offset.into(),
                    expires_at_ms.into(),
                    expires_at_ms.into(),
                    workspace_id.into(),
                    upload_id.into(),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn delete_upload(txn: &DatabaseTransaction, workspace_id: &str, upload_id: &str) -> Result<u64, DbErr> {
        Ok(txn
            .execute_raw(statement(
                txn.get_database_backend(),
                "DELETE FROM resumable_uploads WHERE workspace_id = ? AND upload_id = ?",
                [workspace_id.into(), upload_id.into()],
            ))
            .await?
            .rows_affected())
    }

    /// Uploads to drop: expired ones, or those of a workspace or user being
    /// deleted (cross-tenant: the sweep and the purges see every workspace).
    pub async fn uploads_where(&self, column: &str, value: Value) -> Result<Vec<UploadRow>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::CrossTenant,
                &format!("SELECT {UPLOAD_COLUMNS} FROM resumable_uploads WHERE {column}"),
                [value],
            )
            .await?;
        rows.iter().map(upload_at).collect()
    }

    /// Forgets who uploaded (the account is being deleted; the media stays
    /// the workspace's). Cross-tenant: a user spans workspaces.
    pub async fn forget_uploader(&self, user_id: &str) -> Result<u64, DbErr> {
        self.store
            .execute_scoped(
                Scope::CrossTenant,
                "UPDATE media SET uploaded_by = NULL WHERE uploaded_by = ?",
                [user_id.into()],
            )
            .await
    }
}
