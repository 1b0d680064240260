//! Row-level security, applied by convention: every table with a
//! `workspace_id` column is workspace-scoped. On PostgreSQL each such table
//! gets `ENABLE` + `FORCE ROW LEVEL SECURITY` and one policy that shows a
//! transaction only the rows of the workspace it declared
//! ([`crate::Store::begin_in_workspace`]), or every row when it declared
//! itself cross-tenant ([`crate::Store::begin_cross_tenant`], for the few jobs
//! that must span workspaces: purges, rewraps, schedulers). A transaction that
//! declares nothing sees nothing.
//!
//! The same convention drives [`crate::Store::purge_workspace`], so a table
//! cannot be forgotten by one and not the other.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// The policy every workspace-scoped table gets. `NULLIF(…, '')` because a
/// custom setting reads as '' (not NULL) once a transaction that set it ended
/// on the same pooled connection: no context must mean no rows, not an error.
pub const TENANT_POLICY: &str = "smez_tenant";

const TENANT_CONDITION: &str = "(workspace_id::text = NULLIF(current_setting('app.workspace_id', true), '') \
     OR current_setting('app.cross_tenant', true) = 'on')";

/// Tables of this store that have `column` (smez_* bookkeeping excluded).
pub(crate) async fn tables_with_column(db: &impl ConnectionTrait, column: &str) -> Result<Vec<String>, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT c.table_name FROM information_schema.columns c \
             JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND c.column_name = $1 AND t.table_type = 'BASE TABLE' \
             ORDER BY c.table_name"
        }
        _ => {
            "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = ? ORDER BY m.name"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [column.into()]))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| row.try_get_by_index::<String>(0).ok())
        .filter(|table| !table.starts_with("smez_"))
        .collect())
}

/// Brings every workspace-scoped table of the current schema under the
/// tenant policy, touching only tables that lack it (no DDL when all is in place).
pub(crate) async fn secure_workspace_tables(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind = 'r' \
                 AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
                             AND a.attname = 'workspace_id' AND NOT a.attisdropped) \
                 AND NOT (c.relrowsecurity AND c.relforcerowsecurity \
                          AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid \
                                      AND p.polname = '{TENANT_POLICY}'))"
            ),
        ))
        .await?;
    let tables: Vec<String> = rows
        .iter()
        .filter_map(|row| row.try_get_by_index::<String>(0).ok())
        .collect();
    for table in &tables {
        let quoted = quote_ident(table);
        for sql in [
            format!("ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY"),
            format!("ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY"),
            format!("DROP POLICY IF EXISTS {TENANT_POLICY} ON {quoted}"),
            format!("CREATE POLICY {TENANT_POLICY} ON {quoted} USING {TENANT_CONDITION} WITH CHECK {TENANT_CONDITION}"),
        ] {
            db.execute_unprepared(&sql)
                .await
                .map_err(|e| anyhow::anyhow!("securing table {table}: {e}"))?;
        }
    }
    Ok(tables)
}

/// Lets `role` use the schema's tables, and only that: no DDL, and the
/// migration ledger read-only. Idempotent.
pub(crate) async fn grant_runtime_role(db: &DatabaseConnection, schema: &str, role: &str) -> anyhow::Result<()> {
    let schema = quote_ident(schema);
    let role = quote_ident(role);
    for sql in [
        format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}"),
        format!("REVOKE INSERT, UPDATE, DELETE ON {schema}.smez_migrations FROM {role}"),
    ] {
        db.execute_unprepared(&sql)
            .await
            .map_err(|e| anyhow::anyhow!("granting the runtime role: {e}"))?;
    }
    Ok(())
}

/// Whether the connected role escapes row-level security (superuser or BYPASSRLS).
pub(crate) async fn role_bypasses_rls(db: &DatabaseConnection) -> Result<bool, sea_orm::DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        ))
        .await?;
    Ok(row.map(|r| r.try_get_by_index::<bool>(0)).transpose()?.unwrap_or(false))
}

/// Whether the connected role owns a table of the current schema.
pub(crate) async fn owns_tables(db: &DatabaseConnection) -> Result<bool, sea_orm::DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relowner = \
             (SELECT oid FROM pg_roles WHERE rolname = current_user) LIMIT 1",
        ))
        .await?;
    Ok(row.is_some())
}

pub(crate) async fn current_user(db: &DatabaseConnection) -> Result<String, sea_orm::DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT current_user::text"))
        .await?;
    row.map(|r| r.try_get_by_index::<String>(0))
        .transpose()?
        .ok_or_else(|| sea_orm::DbErr::Custom("no current_user".into()))
}

/// An SQL identifier, quoted (names here come from the catalog or configuration, never from users).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
