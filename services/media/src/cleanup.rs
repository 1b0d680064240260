//! What goes when it must: a deleted workspace's objects and upload files, a
//! deleted account's name on its uploads, expired resumable uploads, and
//! files a crash left in the upload folder.

use std::sync::Arc;
use std::time::Duration;

use smez_service::purge::{BeforeDrop, OwnedSubject};

use crate::core::Core;
use crate::repo::now_ms;
use crate::storage::workspace_prefix;

/// How often expired uploads and stray files are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(600);
/// A file in `incoming/` older than this belongs to no request any more.
const STRAY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Runs before the generic purge drops the rows: objects and files first
/// (idempotent, so a repeated announcement is harmless).
pub fn before_drop(core: Arc<Core>) -> BeforeDrop {
    Arc::new(move |subject| {
        let core = core.clone();
        Box::pin(async move {
            let (column, id) = match &subject {
                OwnedSubject::Workspace(id) => ("workspace_id = ?", id.clone()),
                OwnedSubject::User(id) => ("user_id = ?", id.clone()),
            };
            for upload in core.repo.uploads_where(column, id.clone().into()).await? {
                let _ = tokio::fs::remove_file(core.resumable_path(&upload.upload_id)).await;
            }
            match subject {
                OwnedSubject::Workspace(workspace_id) => {
                    let removed = core.store.delete_prefix(&workspace_prefix(&workspace_id)).await?;
                    tracing::info!(%workspace_id, objects = removed, "a deleted workspace's media objects removed");
                }
                OwnedSubject::User(user_id) => {
                    let forgotten = core.repo.forget_uploader(&user_id).await?;
                    tracing::info!(%user_id, media = forgotten, "a deleted account's uploads kept for the workspace, unattributed");
                }
            }
            Ok(())
        })
    })
}

pub fn spawn_sweeper(core: Arc<Core>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = core.ctx.shutdown.cancelled() => return,
                () = tokio::time::sleep(SWEEP_EVERY) => {}
            }
            if let Err(e) = sweep(&core).await {
                tracing::warn!(error = %e, "media sweep failed; next time");
            }
        }
    });
}

async fn sweep(core: &Core) -> anyhow::Result<()> {
    // Cross-tenant: expiry is the same rule in every workspace. An upload
    // being appended to right now is left to finish.
    let now = now_ms();
    let expired = core
        .repo
        .uploads_where(
            "expires_at_ms < ? AND (busy_until_ms IS NULL OR busy_until_ms < expires_at_ms)",
            now.into(),
        )
        .await?;
    for upload in expired {
        let txn = core.repo.store().begin_in_workspace(&upload.workspace_id).await?;
        crate::repo::Repo::delete_upload(&txn, &upload.workspace_id, &upload.upload_id).await?;
        txn.commit().await?;
        let _ = tokio::fs::remove_file(core.resumable_path(&upload.upload_id)).await;
        tracing::info!(upload_id = %upload.upload_id, "an unfinished upload expired");
    }
    for entry in stale_files(&core.upload_root.join("incoming")).await? {
        let _ = tokio::fs::remove_file(entry).await;
    }
    // A resumable file whose row is gone (a crash between the two).
    for path in stale_files(&core.upload_root.join("resumable")).await? {
        let Some(upload_id) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if core
            .repo
            .uploads_where("upload_id = ?", upload_id.into())
            .await?
            .is_empty()
        {
            let _ = tokio::fs::remove_file(path).await;
        }
    }
    Ok(())
}

/// Files in `dir` untouched for [`STRAY_AFTER`].
async fn stale_files(dir: &std::path::Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut stale = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let old = entry
            .metadata()
            .await?
            .modified()?
            .elapsed()
            .is_ok_and(|age| age > STRAY_AFTER);
        if old {
            stale.push(entry.path());
        }
    }
    Ok(stale)
}
