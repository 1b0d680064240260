//! Deleting a workspace or an account across services.
//!
//! The coordinator (workspace for workspaces, auth for accounts) records a
//! purge request and announces it; every service that may hold data of the
//! subject drops it and answers `data.purged`; the coordinator announces again
//! every `workspace.purge_retry_secs` until all have answered, then forgets
//! the request. Drops are idempotent, so announcing twice is harmless.

use std::sync::Arc;
use std::time::Duration;

use smez_proto::events::v1::{DataPurged, Event, UserDeleted, WorkspaceDeleted, data_purged, event::Payload};
use smez_store::sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend};
use smez_store::{Store, statement};

use crate::ServiceContext;
use crate::events::{new_event, publish_in, spawn_subscriber};

/// Services that may hold data of a workspace and must confirm its purge.
pub const WORKSPACE_DATA_HOLDERS: &[&str] = &["auth", "media", "render", "publisher", "analytics", "vault"];
/// Services that may hold data of a user and must confirm the user's purge.
pub const USER_DATA_HOLDERS: &[&str] = &["workspace", "media", "render", "publisher", "analytics", "vault"];

/// What is being deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    Workspace(&'a str),
    User(&'a str),
}

impl<'a> Subject<'a> {
    fn kind(self) -> &'static str {
        match self {
            Self::Workspace(_) => "workspace",
            Self::User(_) => "user",
        }
    }

    fn id(self) -> &'a str {
        match self {
            Self::Workspace(id) | Self::User(id) => id,
        }
    }

    fn holders(self) -> &'static [&'static str] {
        match self {
            Self::Workspace(_) => WORKSPACE_DATA_HOLDERS,
            Self::User(_) => USER_DATA_HOLDERS,
        }
    }

    fn announcement(self) -> Event {
        match self {
            Self::Workspace(id) => new_event(
                "workspace.deleted",
                Some(id),
                Payload::WorkspaceDeleted(WorkspaceDeleted {
                    workspace_id: id.to_owned(),
                }),
            ),
            Self::User(id) => user_deleted(id, ""),
        }
    }

    fn from_kind(kind: &str, id: &'a str) -> Option<Self> {
        match kind {
            "workspace" => Some(Self::Workspace(id)),
            "user" => Some(Self::User(id)),
            _ => None,
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Records the purge request and announces it, inside the deleting transaction.
pub async fn request(txn: &DatabaseTransaction, subject: Subject<'_>) -> Result<(), smez_store::sea_orm::DbErr> {
    request_announcing(txn, subject, &subject.announcement()).await
}

/// [`request`] with a first announcement that carries more than the id
/// (a deleted user's email, so invitations sent to it go too).
pub async fn request_announcing(
    txn: &DatabaseTransaction,
    subject: Subject<'_>,
    announcement: &Event,
) -> Result<(), smez_store::sea_orm::DbErr> {
    let now = now_ms();
    txn.execute_raw(statement(
        txn.get_database_backend(),
        "INSERT INTO smez_purge_requests (subject_kind, subject_id, requested_at_ms, announced_at_ms) \
         VALUES (?, ?, ?, ?) ON CONFLICT (subject_kind, subject_id) DO UPDATE SET announced_at_ms = excluded.announced_at_ms",
        [subject.kind().into(), subject.id().into(), now.into(), now.into()],
    ))
    .await?;
    publish_in(txn, announcement).await
}

/// Builds the announcement of a deleted user that also names the email.
pub fn user_deleted(user_id: &str, email: &str) -> Event {
    new_event(
        "user.deleted",
        None,
        Payload::UserDeleted(UserDeleted {
            user_id: user_id.to_owned(),
            email: email.to_owned(),
        }),
    )
}

/// Runs the coordinator side: collects confirmations and re-announces
/// requests that are still waiting for some.
pub fn spawn_coordinator(ctx: Arc<ServiceContext>) {
    let confirmations = ctx.clone();
    spawn_subscriber(ctx.clone(), "purge-confirmations", &["data.purged"], move |event| {
        let ctx = confirmations.clone();
        async move {
            if let Some(Payload::DataPurged(purged)) = event.payload {
                record_confirmation(&ctx, &purged).await?;
            }
            Ok(())
        }
    });
    let retry = Duration::from_secs(ctx.settings.workspace.purge_retry_secs);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = ctx.shutdown.cancelled() => break,
                () = tokio::time::sleep(retry) => {}
            }
            if let Err(e) = reannounce(&ctx, retry).await {
                tracing::warn!(service = ctx.name, error = %e, "re-announcing purges failed; trying again later");
            }
        }
    });
}

async fn record_confirmation(ctx: &ServiceContext, purged: &DataPurged) -> anyhow::Result<()> {
    let subject = match &purged.subject {
        Some(data_purged::Subject::WorkspaceId(id)) => Subject::Workspace(id),
        Some(data_purged::Subject::UserId(id)) => Subject::User(id),
        None => return Ok(()),
    };
    let txn = ctx.store.begin_write().await?;
    let backend = txn.get_database_backend();
    let requested = txn
        .query_one_raw(statement(
            backend,
            "SELECT 1 FROM smez_purge_requests WHERE subject_kind = ? AND subject_id = ?",
            [subject.kind().into(), subject.id().into()],
        ))
        .await?
        .is_some();
    if !requested {
        // Another coordinator's subject, or one already complete.
        return Ok(());
    }
    txn.execute_raw(statement(
        backend,
        "INSERT INTO smez_purge_confirmations (subject_kind, subject_id, service, confirmed_at_ms) \
         VALUES (?, ?, ?, ?) ON CONFLICT (subject_kind, subject_id, service) DO NOTHING",
        [
            subject.kind().into(),
            subject.id().into(),
            purged.service.as_str().into(),
            now_ms().into(),
        ],
    ))
    .await?;
    let confirmed = confirmed_services(&txn, backend, subject).await?;
    if subject.holders().iter().all(|s| confirmed.iter().any(|c| c == s)) {
        for table in ["smez_purge_confirmations", "smez_purge_requests"] {
            txn.execute_raw(statement(
                backend,
                &format!("DELETE FROM {table} WHERE subject_kind = ? AND subject_id = ?"),
                [subject.kind().into(), subject.id().into()],
            ))
            .await?;
        }
        tracing::info!(
            service = ctx.name,
            subject = subject.kind(),
            "purge complete in every service"
        );
    }
    txn.commit().await?;
    Ok(())
}

async fn confirmed_services(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    subject: Subject<'_>,
) -> Result<Vec<String>, smez_store::sea_orm::DbErr> {
    let rows = txn
        .query_all_raw(statement(
            backend,
            "SELECT service FROM smez_purge_confirmations WHERE subject_kind = ? AND subject_id = ?",
            [subject.kind().into(), subject.id().into()],
        ))
        .await?;
    Ok(rows.iter().filter_map(|r| r.try_get_by_index(0).ok()).collect())
}

async fn reannounce(ctx: &ServiceContext, retry: Duration) -> anyhow::Result<()> {
    let txn = ctx.store.begin_write().await?;
    let backend = txn.get_database_backend();
    let cutoff = now_ms() - retry.as_millis() as i64;
    let due = txn
        .query_all_raw(statement(
            backend,
            "SELECT subject_kind, subject_id FROM smez_purge_requests WHERE announced_at_ms <= ? LIMIT 100",
            [cutoff.into()],
        ))
        .await?;
    let due: Vec<(String, String)> = due
        .iter()
        .filter_map(|r| Some((r.try_get_by_index(0).ok()?, r.try_get_by_index(1).ok()?)))
        .collect();
    for (kind, id) in &due {
        let Some(subject) = Subject::from_kind(kind, id) else {
            continue;
        };
        // An UPDATE, not the upsert of `request`: a purge that completed
        // since the SELECT must not come back.
        let still_pending = txn
            .execute_raw(statement(
                backend,
                "UPDATE smez_purge_requests SET announced_at_ms = ? WHERE subject_kind = ? AND subject_id = ?",
                [now_ms().into(), kind.as_str().into(), id.as_str().into()],
            ))
            .await?
            .rows_affected()
            == 1;
        if still_pending {
            publish_in(&txn, &subject.announcement()).await?;
        }
    }
    txn.commit().await?;
    if !due.is_empty() {
        ctx.store.outbox_written();
        tracing::info!(
            service = ctx.name,
            count = due.len(),
            "purges announced again (not yet confirmed everywhere)"
        );
    }
    Ok(())
}

/// Which announcements a data holder handles with the generic drop.
#[derive(Clone, Copy, Debug)]
pub struct Holds {
    /// Drop every row of a deleted workspace (tables with `workspace_id`).
    pub workspaces: bool,
    /// Drop every row of a deleted user (tables with `user_id`).
    pub users: bool,
}

/// Work a holder does before its rows go, for what is not in its database
/// (stored objects, temp files). It must be idempotent: an announcement may
/// come again.
pub type BeforeDrop =
    Arc<dyn Fn(OwnedSubject) -> futures_util::future::BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// [`Subject`], owned (for [`BeforeDrop`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedSubject {
    Workspace(String),
    User(String),
}

/// Runs the data-holder side: on each announcement, drops the subject's rows
/// and confirms, in one transaction.
pub fn spawn_holder(ctx: Arc<ServiceContext>, holds: Holds) {
    spawn_holder_with(ctx, holds, None);
}

/// [`spawn_holder`], with `before_drop` run first (a failure there retries
/// the announcement later; nothing is confirmed).
pub fn spawn_holder_with(ctx: Arc<ServiceContext>, holds: Holds, before_drop: Option<BeforeDrop>) {
    let handler_ctx = ctx.clone();
    spawn_subscriber(ctx, "purge", &["workspace.deleted", "user.deleted"], move |event| {
        let ctx = handler_ctx.clone();
        let before_drop = before_drop.clone();
        async move {
            let subject = match &event.payload {
                Some(Payload::WorkspaceDeleted(w)) if holds.workspaces => Subject::Workspace(&w.workspace_id),
                Some(Payload::UserDeleted(u)) if holds.users => Subject::User(&u.user_id),
                _ => return Ok(()),
            };
            if let Some(before_drop) = before_drop {
                before_drop(match subject {
                    Subject::Workspace(id) => OwnedSubject::Workspace(id.to_owned()),
                    Subject::User(id) => OwnedSubject::User(id.to_owned()),
                })
                .await?;
            }
            // Cross-tenant by nature: the workspace is gone, and a user spans workspaces.
            let txn = ctx.store.begin_cross_tenant().await?;
            let deleted = match subject {
                Subject::Workspace(id) => Store::purge_workspace(&txn, id).await?,
                Subject::User(id) => Store::purge_user(&txn, id).await?,
            };
            confirm(&txn, ctx.name, subject).await?;
            txn.commit().await?;
            ctx.store.outbox_written();
            tracing::info!(service = ctx.name, subject = subject.kind(), rows = deleted, "purged");
            Ok(())
        }
    });
}

/// Announces that `service` holds nothing more of `subject`.
pub async fn confirm(
    txn: &DatabaseTransaction,
    service: &str,
    subject: Subject<'_>,
) -> Result<(), smez_store::sea_orm::DbErr> {
    let (workspace_id, subject_field) = match subject {
        Subject::Workspace(id) => (Some(id), data_purged::Subject::WorkspaceId(id.to_owned())),
        Subject::User(id) => (None, data_purged::Subject::UserId(id.to_owned())),
    };
    let event = new_event(
        "data.purged",
        workspace_id,
        Payload::DataPurged(DataPurged {
            service: service.to_owned(),
            subject: Some(subject_field),
        }),
    );
    publish_in(txn, &event).await
}
