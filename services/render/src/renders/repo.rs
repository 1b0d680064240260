//! The `renders` table. Every change of state is a conditional update on
//! the row (the row is the truth, the job only a wake-up); the outcome's
//! event is written in the same transaction (outbox).

use smez_proto::events::v1::Event;
use smez_store::sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};
use smez_store::{Scope, Store, statement};

/// A render's status: queued → running → succeeded | failed | canceled
/// (the SQL below spells the others out).
pub const QUEUED: &str = "queued";

#[derive(Clone, Debug)]
pub struct RenderRow {
    pub render_id: String,
    pub workspace_id: String,
    pub plan_id: String,
    pub plan_revision: i64,
    pub plan: String,
    pub duration_us: i64,
    pub status: String,
    pub progress_permille: i64,
    pub error: String,
    pub attempts: i64,
    pub output_key: Option<String>,
    pub poster_key: Option<String>,
    pub output: Option<String>,
    pub created_by: Option<String>,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
}

const COLUMNS: &str = "render_id, workspace_id, plan_id, plan_revision, plan, duration_us, status, \
     progress_permille, error, attempts, output_key, poster_key, output, created_by, created_at_ms, \
     started_at_ms, finished_at_ms";

fn render_at(row: &QueryResult) -> Result<RenderRow, DbErr> {
    Ok(RenderRow {
        render_id: row.try_get_by_index(0)?,
        workspace_id: row.try_get_by_index(1)?,
        plan_id: row.try_get_by_index(2)?,
        plan_revision: row.try_get_by_index(3)?,
        plan: row.try_get_by_index(4)?,
        duration_us: row.try_get_by_index(5)?,
        status: row.try_get_by_index(6)?,
        progress_permille: row.try_get_by_index(7)?,
        error: row.try_get_by_index(8)?,
        attempts: row.try_get_by_index(9)?,
        output_key: row.try_get_by_index(10)?,
        poster_key: row.try_get_by_index(11)?,
        output: row.try_get_by_index(12)?,
        created_by: row.try_get_by_index(13)?,
        created_at_ms: row.try_get_by_index(14)?,
        started_at_ms: row.try_get_by_index(15)?,
        finished_at_ms: row.try_get_by_index(16)?,
    })
}

/// A finished render's files and facts.
pub struct Finished<'a> {
    pub output_key: &'a str,
    pub poster_key: Option<&'a str>,
    pub output: &'a str,
}

#[derive(Clone)]
pub struct RenderRepo {
    store: Store,
}

impl RenderRepo {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn execute<const N: usize>(&self, workspace_id: &str, sql: &str, values: [Value; N]) -> Result<bool, DbErr> {
        Ok(self
            .store
            .execute_scoped(Scope::Workspace(workspace_id), sql, values)
            .await?
            == 1)
    }

    pub async fn insert(&self, row: &RenderRow, now_ms: i64) -> Result<(), DbErr> {
        self.store
            .execute_scoped(
                Scope::Workspace(&row.workspace_id),
                "INSERT INTO renders (render_id, workspace_id, plan_id, plan_revision, plan, duration_us, status, \
                 progress_permille, error, attempts, enqueued_at_ms, created_by, created_at_ms) \
                 VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, '', 0, ?, ?, ?)",
                [
                    row.render_id.clone().into(),
                    row.workspace_id.clone().into(),
                    row.plan_id.clone().into(),
                    row.plan_revision.into(),
                    row.plan.clone().into(),
                    row.duration_us.into(),
                    now_ms.into(),
                    row.created_by.clone().into(),
                    row.created_at_ms.into(),
                ],
            )
            .await
            .map(drop)
    }

    pub async fn get(&self, workspace_id: &str, render_id: &str) -> Result<Option<RenderRow>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                &format!("SELECT {COLUMNS} FROM renders WHERE workspace_id = ? AND render_id = ?"),
                [workspace_id.into(), render_id.into()],
            )
            .await?;
        rows.first().map(render_at).transpose()
    }

    /// Takes a queued render, or one whose worker's lease ran out, for
    /// `owner` until `until_ms`. False: someone else has it, or it is over.
    pub async fn claim(
        &self,
        workspace_id: &str,
        render_id: &str,
        owner: &str,
        now: i64,
        until_ms: i64,
    ) -> Result<bool, DbErr> {
        self.execute(
            workspace_id,
            "UPDATE renders SET status = 'running', lease_owner = ?, lease_until_ms = ?, attempts = attempts + 1, \
             progress_permille = 0, started_at_ms = COALESCE(started_at_ms, ?) \
             WHERE workspace_id = ? AND render_id = ? \
             AND (status = 'queued' OR (status = 'running' AND lease_until_ms < ?))",
            [
                owner.into(),
                until_ms.into(),
                now.into(),
                workspace_id.into(),
                render_id.into(),
                now.into(),
            ],
        )
        .await
    }

    /// Extends `owner`'s lease and records progress. False: the render was
    /// canceled, or the lease was lost (another worker took it over).
    pub async fn renew(
        &self,
        workspace_id: &str,
        render_id: &str,
        owner: &str,
        until_ms: i64,
        progress_permille: i64,
    ) -> Result<bool, DbErr> {
        self.execute(
            workspace_id,
            "UPDATE renders SET lease_until_ms = ?, progress_permille = ? \
             WHERE workspace_id = ? AND render_id = ? AND lease_owner = ? AND status = 'running'",
            [
                until_ms.into(),
                progress_permille.into(),
                workspace_id.into(),
                render_id.into(),
                owner.into(),
            ],
        )
        .await
    }

    /// Records the output, if `owner` still runs it; with `event`.
    pub async fn succeed(
        &self,
        workspace_id: &str,
        render_id: &str,
        owner: &str,
        finished: &Finished<'_>,
        now: i64,
        event: &Event,
    ) -> Result<bool, DbErr> {
        self.finish(
            workspace_id,
            "UPDATE renders SET status = 'succeeded', progress_permille = 1000, output_key = ?, poster_key = ?, \
             output = ?, lease_owner = NULL, lease_until_ms = NULL, finished_at_ms = ? \
             WHERE workspace_id = ? AND render_id = ? AND lease_owner = ? AND status = 'running'",
            vec![
                finished.output_key.into(),
                finished.poster_key.map(str::to_owned).into(),
                finished.output.into(),
                now.into(),
                workspace_id.into(),
                render_id.into(),
                owner.into(),
            ],
            event,
        )
        .await
    }

    /// Records the failure, if `owner` still runs it; with `event`.
    pub async fn fail(
        &self,
        workspace_id: &str,
        render_id: &str,
        owner: &str,
        error: &str,
        now: i64,
        event: &Event,
    ) -> Result<bool, DbErr> {
        self.finish(
            workspace_id,
            "UPDATE renders SET status = 'failed', error = ?, lease_owner = NULL, lease_until_ms = NULL, \
             finished_at_ms = ? WHERE workspace_id = ? AND render_id = ? AND lease_owner = ? AND status = 'running'",
            vec![
                error.into(),
                now.into(),
                workspace_id.into(),
                render_id.into(),
                owner.into(),
            ],
            event,
        )
        .await
    }

    async fn finish(&self, workspace_id: &str, sql: &str, values: Vec<Value>, event: &Event) -> Result<bool, DbErr> {
        let txn = self.store.begin_in_workspace(workspace_id).await?;
        let changed = txn
            .execute_raw(statement(txn.get_database_backend(), sql, values))
            .await?
            .rows_affected()
            == 1;
        if changed {
            smez_service::events::publish_in(&txn, event).await?;
        }
        txn.commit().await?;
        if changed {
            self.store.outbox_written();
        }
        Ok(changed)
    }

    /// Gives a render back to the queue (a transient failure): the next
    /// delivery of its job, or the reconciler, starts it again.
    pub async fn release(&self, workspace_id: &str, render_id: &str, owner: &str) -> Result<bool, DbErr> {
        self.execute(
            workspace_id,
            "UPDATE renders SET status = 'queued', lease_owner = NULL, lease_until_ms = NULL \
             WHERE workspace_id = ? AND render_id = ? AND lease_owner = ? AND status = 'running'",
            [workspace_id.into(), render_id.into(), owner.into()],
        )
        .await
    }

    /// Cancels a queued or running render. False when it had already ended.
    pub async fn cancel(&self, workspace_id: &str, render_id: &str, now: i64) -> Result<bool, DbErr> {
        self.execute(
            workspace_id,
            "UPDATE renders SET status = 'canceled', lease_owner = NULL, lease_until_ms = NULL, finished_at_ms = ? \
             WHERE workspace_id = ? AND render_id = ? AND status IN ('queued', 'running')",
            [now.into(), workspace_id.into(), render_id.into()],
        )
        .await
    }

    /// Deletes the render and its packages, together.
    pub async fn delete(&self, workspace_id: &str, render_id: &str) -> Result<bool, DbErr> {
        let txn = self.store.begin_in_workspace(workspace_id).await?;
        let backend = txn.get_database_backend();
        let ids = || -> Vec<Value> { vec![workspace_id.into(), render_id.into()] };
        txn.execute_raw(statement(
            backend,
            "DELETE FROM packages WHERE workspace_id = ? AND render_id = ?",
            ids(),
        ))
        .await?;
        let deleted = txn
            .execute_raw(statement(
                backend,
                "DELETE FROM renders WHERE workspace_id = ? AND render_id = ?",
                ids(),
            ))
            .await?
            .rows_affected();
        txn.commit().await?;
        Ok(deleted == 1)
    }

    pub async fn mark_enqueued(&self, workspace_id: &str, render_id: &str, now: i64) -> Result<bool, DbErr> {
        self.execute(
            workspace_id,
            "UPDATE renders SET enqueued_at_ms = ? WHERE workspace_id = ? AND render_id = ?",
            [now.into(), workspace_id.into(), render_id.into()],
        )
        .await
    }

    /// Renders whose job should be sent again: queued and not picked up
    /// since `queued_before`, or running on a lease that ran out before `now`.
    /// Cross-tenant by nature (the reconciler serves every workspace).
    /// `resent_before`: a lapsed render whose job was sent after this is left
    /// to that job (no duplicates every round).
    pub async fn stranded(
        &self,
        queued_before: i64,
        now: i64,
        resent_before: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::CrossTenant,
                "SELECT workspace_id, render_id FROM renders \
                 WHERE (status = 'queued' AND enqueued_at_ms < ?) \
                 OR (status = 'running' AND lease_until_ms < ? AND enqueued_at_ms < ?) \
                 ORDER BY enqueued_at_ms LIMIT ?",
                [
                    queued_before.into(),
                    now.into(),
                    resent_before.into(),
                    i64::from(limit).into(),
                ],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
            .collect()
    }

    /// Output keys of a workspace's renders (to remove with the workspace).
    pub async fn keys_of_workspace(&self, workspace_id: &str) -> Result<Vec<String>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                "SELECT output_key, poster_key FROM renders WHERE workspace_id = ?",
                [workspace_id.into()],
            )
            .await?;
        let mut keys = Vec::new();
        for row in &rows {
            for index in 0..2 {
                if let Some(key) = row.try_get_by_index::<Option<String>>(index)? {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }

    pub async fn forget_creator(&self, user_id: &str) -> Result<u64, DbErr> {
        self.store
            .execute_scoped(
                Scope::CrossTenant,
                "UPDATE renders SET created_by = NULL WHERE created_by = ?",
                [user_id.into()],
            )
            .await
    }
}
