//! The `packages` table.

use smez_store::sea_orm::{DbErr, QueryResult, Value};
use smez_store::{Scope, Store};

#[derive(Clone, Debug)]
pub struct PackageRow {
    pub package_id: String,
    pub workspace_id: String,
    pub render_id: String,
    pub platform: String,
    pub status: String,
    pub metadata: String,
    pub reencode: String,
    pub video_key: Option<String>,
    pub video: Option<String>,
    pub error: String,
    pub created_by: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

const COLUMNS: &str = "package_id, workspace_id, render_id, platform, status, metadata, reencode, video_key, video, \
     error, created_by, created_at_ms, updated_at_ms";

fn package_at(row: &QueryResult) -> Result<PackageRow, DbErr> {
    Ok(PackageRow {
        package_id: row.try_get_by_index(0)?,
        workspace_id: row.try_get_by_index(1)?,
        render_id: row.try_get_by_index(2)?,
        platform: row.try_get_by_index(3)?,
        status: row.try_get_by_index(4)?,
        metadata: row.try_get_by_index(5)?,
        reencode: row.try_get_by_index(6)?,
        video_key: row.try_get_by_index(7)?,
        video: row.try_get_by_index(8)?,
        error: row.try_get_by_index(9)?,
        created_by: row.try_get_by_index(10)?,
        created_at_ms: row.try_get_by_index(11)?,
        updated_at_ms: row.try_get_by_index(12)?,
    })
}

#[derive(Clone)]
pub struct PackageRepo {
    store: Store,
}

impl PackageRepo {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    async fn execute<const N: usize>(&self, workspace_id: &str, sql: &str, values: [Value; N]) -> Result<bool, DbErr> {
        Ok(self
            .store
            .execute_scoped(Scope::Workspace(workspace_id), sql, values)
            .await?
            == 1)
    }

    pub async fn insert(&self, row: &PackageRow) -> Result<(), DbErr> {
        self.store
            .execute_scoped(
                Scope::Workspace(&row.workspace_id),
                &format!(
                    "INSERT INTO packages ({COLUMNS}, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
                ),
                [
                    row.package_id.clone().into(),
                    row.workspace_id.clone().into(),
                    row.render_id.clone().into(),
                    row.platform.clone().into(),
                    row.status.clone().into(),
                    row.metadata.clone().into(),
                    row.reencode.clone().into(),
                    row.video_key.clone().into(),
                    row.video.clone().into(),
                    row.error.clone().into(),
                    row.created_by.clone().into(),
                    row.created_at_ms.into(),
                    row.updated_at_ms.into(),
                ],
            )
            .await
            .map(drop)
    }

    pub async fn get(&self, workspace_id: &str, package_id: &str) -> Result<Option<PackageRow>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                &format!("SELECT {COLUMNS} FROM packages WHERE workspace_id = ? AND package_id = ?"),
                [workspace_id.into(), package_id.into()],
            )
            .await?;
        rows.first().map(package_at).transpose()
    }

    /// Newest first, after the cursor `(created_at_ms, package_id)`.
    pub async fn list(
        &self,
        workspace_id: &str,
        render_id: Option<&str>,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<PackageRow>, DbErr> {
        let mut sql = format!("SELECT {COLUMNS} FROM packages WHERE workspace_id = ?");
        let mut values: Vec<Value> = vec![workspace_id.into()];
        if let Some(render_id) = render_id {
            sql.push_str(" AND render_id = ?");
            values.push(render_id.into());
        }
        if let Some((at, id)) = before {
            sql.push_str(" AND (created_at_ms < ? OR (created_at_ms = ? AND package_id < ?))");
            values.extend([at.into(), at.into(), id.into()]);
        }
        sql.push_str(" ORDER BY created_at_ms DESC, package_id DESC LIMIT ?");
        values.push(i64::from(limit).into());
        let rows = self
            .store
            .query_scoped(Scope::Workspace(workspace_id), &sql, values)
            .await?;
        rows.iter().map(package_at).collect()
    }

    /// Takes a building package for a re-encode (or one whose builder's lease ran out).
    pub async fn claim(
        &self,
        workspace_id: &str,
        package_id: &str,
        owner: &str,
        now: i64,
        until_ms: i64,
    ) -> Result<bool, DbErr> {
        self.execute(
            workspace_id,
            "UPDATE packages SET lease_owner = ?, lease_until_ms = ?, attempts = attempts + 1 \
             WHERE workspace_id = ? AND package_id = ? AND status = 'building' \
             AND (lease_until_ms IS NULL OR lease_until_ms < ?)",
            [
                owner.into(),
                until_ms.into(),
                workspace_id.into(),
                package_id.into(),
                now.into(),
            ],
        )
        .await
    }

    /// Records how a build ended, if `owner` still holds it.
    pub async fn finish(
        &self,
        workspace_id: &str,
        package_id: &str,
        owner: &str,
        outcome: Result<(&str, &str), &str>,
        now: i64,
    ) -> Result<bool, DbErr> {
        let (status, key, video, error) = match outcome {
            Ok((key, video)) => ("ready", Some(key.to_owned()), Some(video.to_owned()), String::new()),
            Err(error) => ("failed", None, None, error.to_owned()),
        };
        self.execute(
            workspace_id,
            "UPDATE packages SET status = ?, video_key = ?, video = ?, error = ?, lease_owner = NULL, \
             lease_until_ms = NULL, updated_at_ms = ? \
             WHERE workspace_id = ? AND package_id = ? AND lease_owner = ? AND status = 'building'",
            [
                status.into(),
                key.into(),
                video.into(),
                error.into(),
                now.into(),
                workspace_id.into(),
                package_id.into(),
                owner.into(),
            ],
        )
        .await
    }

    /// Building packages whose job should be sent again (lost, or builder gone).
    pub async fn stranded(&self, now: i64, idle_before: i64, limit: u32) -> Result<Vec<(String, String)>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::CrossTenant,
                "SELECT workspace_id, package_id FROM packages WHERE status = 'building' \
                 AND ((lease_until_ms IS NULL AND updated_at_ms < ?) OR lease_until_ms < ?) LIMIT ?",
                [idle_before.into(), now.into(), i64::from(limit).into()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
            .collect()
    }

    pub async fn touch(&self, workspace_id: &str, package_id: &str, now: i64) -> Result<bool, DbErr> {
        self.execute(
            workspace_id,
            "UPDATE packages SET updated_at_ms = ? WHERE workspace_id = ? AND package_id = ?",
            [now.into(), workspace_id.into(), package_id.into()],
        )
        .await
    }

    pub async fn forget_creator(&self, user_id: &str) -> Result<u64, DbErr> {
        self.store
            .execute_scoped(
                Scope::CrossTenant,
                "UPDATE packages SET created_by = NULL WHERE created_by = ?",
                [user_id.into()],
            )
            .await
    }
}
