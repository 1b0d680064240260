//! The render service's tables: edit plans.

use smez_store::sea_orm::{DbErr, QueryResult, Value};
use smez_store::{Scope, Store};

#[derive(Clone, Debug)]
pub struct PlanRow {
    pub plan_id: String,
    pub workspace_id: String,
    pub name: String,
    pub revision: i64,
    pub plan: String,
    pub duration_us: i64,
    pub created_by: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

const PLAN_COLUMNS: &str =
    "plan_id, workspace_id, name, revision, plan, duration_us, created_by, created_at_ms, updated_at_ms";

fn plan_at(row: &QueryResult) -> Result<PlanRow, DbErr> {
    Ok(PlanRow {
        plan_id: row.try_get_by_index(0)?,
        workspace_id: row.try_get_by_index(1)?,
        name: row.try_get_by_index(2)?,
        revision: row.try_get_by_index(3)?,
        plan: row.try_get_by_index(4)?,
        duration_us: row.try_get_by_index(5)?,
        created_by: row.try_get_by_index(6)?,
        created_at_ms: row.try_get_by_index(7)?,
        updated_at_ms: row.try_get_by_index(8)?,
    })
}

/// A plan's new content, for an update.
pub struct Revision<'a> {
    pub name: &'a str,
    pub plan: &'a str,
    pub duration_us: i64,
    pub updated_at_ms: i64,
}

#[derive(Clone)]
pub struct Repo {
    store: Store,
}

impl Repo {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn insert_plan(&self, row: &PlanRow) -> Result<(), DbErr> {
        self.store
            .execute_scoped(
                Scope::Workspace(&row.workspace_id),
                &format!("INSERT INTO edit_plans ({PLAN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                [
                    row.plan_id.clone().into(),
                    row.workspace_id.clone().into(),
                    row.name.clone().into(),
                    row.revision.into(),
                    row.plan.clone().into(),
                    row.duration_us.into(),
                    row.created_by.clone().into(),
                    row.created_at_ms.into(),
                    row.updated_at_ms.into(),
                ],
            )
            .await
            .map(drop)
    }

    pub async fn plan(&self, workspace_id: &str, plan_id: &str) -> Result<Option<PlanRow>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                &format!("SELECT {PLAN_COLUMNS} FROM edit_plans WHERE workspace_id = ? AND plan_id = ?"),
                [workspace_id.into(), plan_id.into()],
            )
            .await?;
        rows.first().map(plan_at).transpose()
    }

    /// Writes the next revision if the stored one is still `revision`.
    /// False when another update came first.
    pub async fn update_plan(
        &self,
        workspace_id: &str,
        plan_id: &str,
        revision: i64,
        next: &Revision<'_>,
    ) -> Result<bool, DbErr> {
        let values: [Value; 7] = [
            next.name.into(),
            next.plan.into(),
            next.duration_us.into(),
            next.updated_at_ms.into(),
            workspace_id.into(),
            plan_id.into(),
            revision.into(),
        ];
        let written = self
            .store
            .execute_scoped(
                Scope::Workspace(workspace_id),
                "UPDATE edit_plans SET name = ?, plan = ?, duration_us = ?, updated_at_ms = ?, \
                 revision = revision + 1 WHERE workspace_id = ? AND plan_id = ? AND revision = ?",
                values,
            )
            .await?;
        Ok(written == 1)
    }

    /// A deleted account: its plans stay the workspace's, unattributed.
    pub async fn forget_creator(&self, user_id: &str) -> Result<u64, DbErr> {
        self.store
            .execute_scoped(
                Scope::CrossTenant,
                "UPDATE edit_plans SET created_by = NULL WHERE created_by = ?",
                [user_id.into()],
            )
            .await
    }
}
