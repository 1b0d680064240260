//! What a deleted account leaves behind here: its memberships go, and so does
//! every workspace it was the only owner of (announced like any deleted
//! workspace, so every service drops that workspace's data too).

use std::sync::Arc;

use smez_proto::events::v1::event::Payload;
use smez_service::ServiceContext;
use smez_service::purge::{self, Subject};
use smez_store::Store;

use crate::repo;

/// Handles `user.deleted` until shutdown. Auth announces it again until this
/// service confirms, so a failed attempt is simply retried.
pub fn spawn_user_deleted_subscriber(ctx: Arc<ServiceContext>) {
    let handler_ctx = ctx.clone();
    smez_service::events::spawn_subscriber(ctx, "users", &["user.deleted"], move |event| {
        let ctx = handler_ctx.clone();
        async move {
            match event.payload {
                Some(Payload::UserDeleted(deleted)) if !deleted.user_id.is_empty() => {
                    forget_user(&ctx, &deleted.user_id, &deleted.email).await
                }
                _ => Ok(()),
            }
        }
    });
}

/// Drops the user's memberships, the workspaces left without an owner and
/// the invitations still waiting for the user's email (when the announcement
/// names it), and confirms, all in one transaction. Idempotent: run again, it
/// finds nothing and confirms again.
async fn forget_user(ctx: &ServiceContext, user_id: &str, email: &str) -> anyhow::Result<()> {
    // Cross-tenant by nature: the user's memberships span workspaces.
    let txn = ctx.store.begin_cross_tenant().await?;
    let mut deleted_workspaces = 0usize;
    for workspace_id in repo::owned_workspaces(&txn, user_id).await? {
        // Locked like every membership change, so an owner leaving or being
        // demoted meanwhile cannot leave the workspace with no owner at all.
        if repo::lock_workspace(&txn, &workspace_id).await?.is_none() {
            continue;
        }
        if repo::count_owners(&txn, &workspace_id).await? > 1 {
            continue; // another owner keeps it
        }
        Store::purge_workspace(&txn, &workspace_id)
            .await
            .map_err(|e| anyhow::anyhow!("deleting workspace {workspace_id} of a deleted account: {e}"))?;
        purge::request(&txn, Subject::Workspace(&workspace_id)).await?;
        deleted_workspaces += 1;
        tracing::info!(workspace_id = %workspace_id, user_id, "workspace deleted with its only owner's account");
    }
    let memberships = Store::purge_user(&txn, user_id)
        .await
        .map_err(|e| anyhow::anyhow!("deleting the memberships of a deleted account: {e}"))?;
    let invitations = if email.is_empty() {
        0
    } else {
        repo::delete_invitations_to(&txn, email).await?
    };
    purge::confirm(&txn, ctx.name, Subject::User(user_id)).await?;
    txn.commit().await?;
    ctx.store.outbox_written();
    tracing::info!(
        user_id,
        memberships,
        deleted_workspaces,
        invitations,
        "deleted account forgotten"
    );
    Ok(())
}
