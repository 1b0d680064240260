//! Security events: stored for the workspace owners and admins to read, and
//! logged on the `smez::security` tracing target for alerting. Never a
//! password, token or code; user agents are cut to a sane length.

use smez_proto::auth::v1::{ClientInfo, SecurityEvent};
use smez_store::sea_orm::{ConnectionTrait, DbErr, QueryResult};
use smez_store::{Scope, Store, statement};

const MAX_USER_AGENT: usize = 512;
const MAX_IP: usize = 64;
const MAX_DETAIL: usize = 1024;

/// One event about to be recorded.
pub struct Record<'a> {
    /// An OWASP logging vocabulary name, e.g. `authn_login_fail`.
    pub event: &'a str,
    pub user_id: Option<&'a str>,
    pub subject_user_id: Option<&'a str>,
    pub workspace_id: Option<&'a str>,
    pub client: &'a ClientInfo,
    pub success: bool,
    pub detail: String,
}

impl Record<'_> {
    pub fn scope(&self) -> Scope<'_> {
        match self.workspace_id {
            Some(workspace_id) => Scope::Workspace(workspace_id),
            // Account events belong to no workspace; the table is
            // workspace-scoped, so they are written cross-tenant.
            None => Scope::CrossTenant,
        }
    }
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Records `record` on its own (events are a log: a failed write is
/// reported, it does not undo what happened).
pub async fn record(store: &Store, record: Record<'_>) {
    let scope = record.scope();
    let result = async {
        let txn = store.begin_scoped(scope).await?;
        insert(&txn, &record).await?;
        txn.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::error!(target: "smez::security", event = record.event, error = %e, "security event not stored");
    }
}

/// Records `record` inside a transaction the caller declared the right scope for.
pub async fn insert(db: &impl ConnectionTrait, record: &Record<'_>) -> Result<(), DbErr> {
    let outcome = if record.success { "success" } else { "failure" };
    tracing::info!(
        target: "smez::security",
        event = record.event,
        user_id = record.user_id,
        subject_user_id = record.subject_user_id,
        workspace_id = record.workspace_id,
        ip = %record.client.ip,
        outcome,
        detail = %record.detail,
        "security event"
    );
    db.execute_raw(statement(
        db.get_database_backend(),
        "INSERT INTO security_events (id, at_ms, event, user_id, subject_user_id, workspace_id, ip, user_agent, \
         outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            uuid::Uuid::now_v7().to_string().into(),
            chrono::Utc::now().timestamp_millis().into(),
            record.event.into(),
            record.user_id.map(str::to_owned).into(),
            record.subject_user_id.map(str::to_owned).into(),
            record.workspace_id.map(str::to_owned).into(),
            cut(&record.client.ip, MAX_IP).into(),
            cut(&record.client.user_agent, MAX_USER_AGENT).into(),
            outcome.into(),
            cut(&record.detail, MAX_DETAIL).into(),
        ],
    ))
    .await
    .map(drop)
}

fn from_row(row: &QueryResult) -> Result<SecurityEvent, DbErr> {
    Ok(SecurityEvent {
        id: row.try_get_by_index(0)?,
        at_ms: row.try_get_by_index(1)?,
        event: row.try_get_by_index(2)?,
        user_id: row.try_get_by_index(3)?,
        subject_user_id: row.try_get_by_index(4)?,
        workspace_id: row.try_get_by_index(5)?,
        ip: row.try_get_by_index(6)?,
        user_agent: row.try_get_by_index(7)?,
        outcome: row.try_get_by_index(8)?,
        detail: row.try_get_by_index(9)?,
    })
}

/// A workspace's events, newest first, older than `before` when given.
pub async fn list(store: &Store, workspace_id: &str, limit: u32, before: &str) -> Result<Vec<SecurityEvent>, DbErr> {
    let (cursor, values): (&str, Vec<smez_store::sea_orm::Value>) = if before.is_empty() {
        ("", vec![workspace_id.into()])
    } else {
        (" AND id < ?", vec![workspace_id.into(), before.into()])
    };
    let rows = store
        .query_scoped(
            Scope::Workspace(workspace_id),
            &format!(
                "SELECT id, at_ms, event, user_id, subject_user_id, workspace_id, ip, user_agent, outcome, detail \
                 FROM security_events WHERE workspace_id = ?{cursor} ORDER BY id DESC LIMIT {limit}"
            ),
            values,
        )
        .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes the events a user is the subject of (those they are the actor
/// of go with the generic purge of `user_id` columns).
pub async fn delete_about(db: &impl ConnectionTrait, user_id: &str) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "DELETE FROM security_events WHERE subject_user_id = ?",
        [user_id.into()],
    ))
    .await
    .map(drop)
}
