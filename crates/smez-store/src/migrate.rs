//! A small, strict migrator: numbered SQL files embedded in the binary,
//! applied in order, one transaction each, with checksums that catch edited
//! history.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// One migration. `sql` serves both backends unless `postgres` overrides it.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
    pub postgres: Option<&'static str>,
}

impl Migration {
    pub const fn new(version: i64, name: &'static str, sql: &'static str) -> Self {
        Self {
            version,
            name,
            sql,
            postgres: None,
        }
    }

    pub const fn with_postgres(mut self, sql: &'static str) -> Self {
        self.postgres = Some(sql);
        self
    }

    fn sql_for(&self, backend: DbBackend) -> &'static str {
        match (backend, self.postgres) {
            (DbBackend::Postgres, Some(sql)) => sql,
            _ => self.sql,
        }
    }
}

/// Applied to every service database before the service's own migrations;
/// versions below 1000 are theirs, service migrations start at 1000.
pub const COMMON_MIGRATIONS: &[Migration] = &[
    Migration::new(1, "inbox", include_str!("../../../migrations/common/0001_inbox.sql")),
    Migration::new(2, "outbox", include_str!("../../../migrations/common/0002_outbox.sql")),
    Migration::new(3, "purges", include_str!("../../../migrations/common/0003_purges.sql")),
];

/// First version a service's own migrations may use.
pub const SERVICE_VERSION_BASE: i64 = 1000;

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS smez_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at_ms BIGINT NOT NULL
)";

impl super::Store {
    /// Applies what is pending of the common migrations and then `own`
    /// (whose versions are offset by [`SERVICE_VERSION_BASE`]). Returns the
    /// number applied.
    pub async fn migrate(&self, own: &[Migration]) -> anyhow::Result<usize> {
        let service = self.service.clone();
        let all: Vec<Migration> = COMMON_MIGRATIONS
            .iter()
            .copied()
            .chain(own.iter().map(|m| Migration {
                version: m.version + SERVICE_VERSION_BASE,
                ..*m
            }))
            .collect();
        check_order(&all).map_err(|e| anyhow::anyhow!("{service} migrations: {e}"))?;
        let backend = self.db.get_database_backend();
        if self.all_applied(&all, backend).await {
            // Nothing to do, and nothing written: a runtime role without DDL
            // rights starts fine once `smez migrate` has run as the owner.
            return Ok(0);
        }
        {
            let txn = self.begin_write().await?;
            self.lock_migrations(&txn).await?;
            txn.execute_unprepared(LEDGER).await?;
            txn.commit().await?;
        }
        let mut applied_now = 0;
        for migration in &all {
            let txn = self.begin_write().await?;
            // Processes starting together take turns; the later one then sees the row.
            self.lock_migrations(&txn).await?;
            let sql = migration.sql_for(backend);
            let checksum = checksum(sql);
            match recorded_checksum(&txn, backend, migration.version).await? {
                Some(recorded) if recorded == checksum => continue,
                Some(_) => anyhow::bail!(
                    "{service} migration {} ({}) was changed after it was applied; add a new migration instead",
                    migration.version,
                    migration.name
                ),
                None => {}
            }
            for statement in statements(sql) {
                txn.execute_unprepared(statement).await.map_err(|e| {
                    anyhow::anyhow!(
                        "{service} migration {} ({}) failed: {e}\nstatement: {statement}",
                        migration.version,
                        migration.name
                    )
                })?;
            }
            txn.execute_raw(crate::statement(
                backend,
                "INSERT INTO smez_migrations (version, name, checksum, applied_at_ms) VALUES (?, ?, ?, ?)",
                [
                    migration.version.into(),
                    migration.name.into(),
                    checksum.into(),
                    chrono::Utc::now().timestamp_millis().into(),
                ],
            ))
            .await?;
            txn.commit().await?;
            applied_now += 1;
            tracing::info!(service = %service, version = migration.version, name = migration.name, "migration applied");
        }
        Ok(applied_now)
    }
}

impl super::Store {
    /// True when every migration is recorded with its current checksum. Any
    /// doubt (no ledger yet, an unreadable one, a changed file) says false and
    /// leaves the verdict to the full run.
    async fn all_applied(&self, all: &[Migration], backend: DbBackend) -> bool {
        let Ok(rows) = self
            .db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT version, checksum FROM smez_migrations",
            ))
            .await
        else {
            return false;
        };
        let recorded: std::collections::HashMap<i64, String> = rows
            .iter()
            .filter_map(|row| Some((row.try_get_by_index(0).ok()?, row.try_get_by_index(1).ok()?)))
            .collect();
        all.iter()
            .all(|m| recorded.get(&m.version) == Some(&checksum(m.sql_for(backend))))
    }
}

impl super::Store {
    async fn lock_migrations(&self, txn: &sea_orm::DatabaseTransaction) -> Result<(), sea_orm::DbErr> {
        match &self.schema {
            Some(schema) => lock_schema(txn, schema).await,
            None => Ok(()), // SQLite: the immediate transaction is the lock
        }
    }
}

/// A transaction-scoped PostgreSQL lock keyed on the schema's name (not on
/// `current_schema()`, which is NULL before the schema exists).
pub(crate) async fn lock_schema(txn: &sea_orm::DatabaseTransaction, schema: &str) -> Result<(), sea_orm::DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        [format!("smez-migrate:{schema}").into()],
    ))
    .await
    .map(drop)
}

pub(crate) async fn current_version(db: &DatabaseConnection) -> Result<i64, sea_orm::DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COALESCE(MAX(version), 0) AS version FROM smez_migrations",
        ))
        .await?;
    Ok(row.map(|r| r.try_get_by_index::<i64>(0)).transpose()?.unwrap_or(0))
}

async fn recorded_checksum(
    txn: &sea_orm::DatabaseTransaction,
    backend: DbBackend,
    version: i64,
) -> Result<Option<String>, sea_orm::DbErr> {
    let row = txn
        .query_one_raw(crate::statement(
            backend,
            "SELECT checksum FROM smez_migrations WHERE version = ?",
            [version.into()],
        ))
        .await?;
    row.map(|r| r.try_get_by_index::<String>(0)).transpose()
}

fn check_order(migrations: &[Migration]) -> Result<(), String> {
    for pair in migrations.windows(2) {
        if pair[1].version <= pair[0].version {
            return Err(format!(
                "versions must increase: {} ({}) comes after {} ({})",
                pair[1].version, pair[1].name, pair[0].version, pair[0].name
            ));
        }
    }
    Ok(())
}

fn checksum(sql: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, sql.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits on `;` at the end of a line, dropping comment-only chunks.
fn statements(sql: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (index, line) in line_spans(sql) {
        if line.trim_end().ends_with(';') {
            push_statement(&mut out, &sql[start..index + line.trim_end().len() - 1]);
            start = index + line.len();
        }
    }
    push_statement(&mut out, &sql[start..]);
    out
}

fn push_statement<'a>(out: &mut Vec<&'a str>, chunk: &'a str) {
    let has_code = chunk
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
    if has_code {
        out.push(chunk.trim());
    }
}

/// (byte offset, line including its newline)
fn line_spans(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |line| {
        let at = offset;
        offset += line.len();
        (at, line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_at_line_ends_and_skips_comments() {
        let sql = "-- header\nCREATE TABLE a (x TEXT);\n\n-- note\nCREATE TABLE b (y TEXT);\n-- trailing\n";
        assert_eq!(
            statements(sql),
            vec!["-- header\nCREATE TABLE a (x TEXT)", "-- note\nCREATE TABLE b (y TEXT)"]
        );
    }

    #[test]
    fn refuses_versions_out_of_order() {
        let a = Migration::new(2, "a", "");
        let b = Migration::new(1, "b", "");
        assert!(check_order(&[a, b]).unwrap_err().contains("must increase"));
    }
}
