//! Each service's own database: a SQLite file under the data folder in the
//! embedded default, a PostgreSQL schema in the distributed shape. Opening a
//! store applies its migrations; [`Store::begin_in_workspace`] opens the
//! transactions that row-level security relies on.

mod migrate;
mod outbox;
pub mod tenancy;

use std::path::Path;
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait,
};
use smez_kit::config::DatabaseSettings;

pub use migrate::{COMMON_MIGRATIONS, Migration};
pub use outbox::OutboxEntry;
pub use sea_orm;

/// Session setting that PostgreSQL row-level security policies read.
pub const WORKSPACE_SETTING: &str = "app.workspace_id";
/// Session setting that lets a transaction see every workspace (see [`Store::begin_cross_tenant`]).
pub const CROSS_TENANT_SETTING: &str = "app.cross_tenant";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// What a transaction declares to row-level security (PostgreSQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// The rows of one workspace.
    Workspace(&'a str),
    /// Every workspace: only for work that is cross-tenant by nature.
    CrossTenant,
    /// Tables that are not workspace-scoped (workspace-scoped ones show no rows).
    Unscoped,
}

/// Where a store lives.
#[derive(Clone, Debug)]
pub enum Location {
    /// A SQLite file.
    SqliteFile(std::path::PathBuf),
    /// A schema in a PostgreSQL database. `url` is the runtime role;
    /// `owner_url`, when given, owns the schema and runs the migrations.
    Postgres {
        url: String,
        owner_url: Option<String>,
        schema: String,
    },
}

impl Location {
    /// The location the configuration gives `service`.
    pub fn for_service(settings: &DatabaseSettings, data_dir: &Path, service: &str) -> Self {
        if settings.url.is_empty() {
            Self::SqliteFile(data_dir.join("db").join(format!("{service}.sqlite")))
        } else {
            Self::Postgres {
                url: settings.url.clone(),
                owner_url: Some(settings.owner_url.clone()).filter(|url| !url.is_empty()),
                schema: format!("{}{service}", settings.schema_prefix),
            }
        }
    }
}

/// One service's database connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    backend: Backend,
    service: String,
    /// The PostgreSQL schema (its name keys the migration lock).
    schema: Option<String>,
    /// Wakes the outbox relay after a commit that wrote to the outbox.
    outbox_written: std::sync::Arc<tokio::sync::Notify>,
}

impl Store {
    /// Connects (creating the SQLite file or the PostgreSQL schema if needed)
    /// and applies the common migrations, then `migrations`. On PostgreSQL it
    /// then puts every workspace-scoped table under row-level security and,
    /// with a separate owner, grants the runtime role its table rights.
    pub async fn open(
        location: &Location,
        max_connections: u32,
        service: &str,
        migrations: &[Migration],
    ) -> anyhow::Result<Self> {
        let store = match location {
            Location::Postgres {
                owner_url: Some(owner_url),
                schema,
                ..
            } => {
                let owner = Location::Postgres {
                    url: owner_url.clone(),
                    owner_url: None,
                    schema: schema.clone(),
                };
                let owner = Self::connect(&owner, 1, service).await?;
                owner.migrate(migrations).await?;
                owner.secure_tables().await?;
                let runtime = Self::connect(location, max_connections, service).await?;
                let role = tenancy::current_user(&runtime.db).await?;
                if role != tenancy::current_user(&owner.db).await? {
                    tenancy::grant_runtime_role(&owner.db, schema, &role)
                        .await
                        .map_err(|e| anyhow::anyhow!("{service} database: {e}"))?;
                }
                owner.close().await?;
                runtime
            }
            _ => {
                let store = Self::connect(location, max_connections, service).await?;
                store.migrate(migrations).await?;
                store.secure_tables().await?;
                store
            }
        };
        Ok(store)
    }

    async fn secure_tables(&self) -> anyhow::Result<()> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        let secured = tenancy::secure_workspace_tables(&self.db)
            .await
            .map_err(|e| anyhow::anyhow!("{} database: {e}", self.service))?;
        if !secured.is_empty() {
            tracing::info!(service = %self.service, tables = ?secured, "row-level security applied");
        }
        Ok(())
    }

    /// Why row-level security would not bind this store's runtime role, if
    /// it would not: a superuser or BYPASSRLS role, or one that owns the
    /// tables (an owner can switch RLS off). `None` on SQLite.
    pub async fn runtime_role_problem(&self) -> Result<Option<String>, sea_orm::DbErr> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let role = tenancy::current_user(&self.db).await?;
        if tenancy::role_bypasses_rls(&self.db).await? {
            return Ok(Some(format!(
                "{} database: role {role} is a superuser or has BYPASSRLS, so row-level security does not bind it; \
                 set database.owner_url to the owner and database.url to a role that owns nothing",
                self.service
            )));
        }
        if tenancy::owns_tables(&self.db).await? {
            return Ok(Some(format!(
                "{} database: role {role} owns its tables and could switch row-level security off; \
                 set database.owner_url to the owner and database.url to a role that owns nothing",
                self.service
            )));
        }
        Ok(None)
    }

    /// Connects without migrating.
    pub async fn connect(location: &Location, max_connections: u32, service: &str) -> anyhow::Result<Self> {
        let (db, backend) = match location {
            Location::SqliteFile(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| anyhow::anyhow!("{service} database: creating {}: {e}", dir.display()))?;
                }
                let url = format!("sqlite://{}?mode=rwc", path.display());
                let mut options = options(url, max_connections, None);
                // On every pooled connection: WAL lets readers run beside the one
                // writer; NORMAL sync in WAL mode survives a crash of the process
                // (not of the machine's power) without an fsync per commit; a
                // writer waits for the lock instead of failing at once.
                options.map_sqlx_sqlite_opts(|sqlite| {
                    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                    sqlite
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(Duration::from_secs(10))
                        .foreign_keys(true)
                });
                let db = Database::connect(options)
                    .await
                    .map_err(|e| anyhow::anyhow!("{service} database: opening {}: {e}", path.display()))?;
                (db, Backend::Sqlite)
            }
            Location::Postgres { url, schema, .. } => {
                let redacted = smez_kit::config::redact_url(url);
                let bootstrap = Database::connect(options(url.clone(), 1, None))
                    .await
                    .map_err(|e| anyhow::anyhow!("{service} database: connecting to {redacted}: {e}"))?;
                // Only create what is missing: the runtime role of a least-privilege
                // deployment may use its schema without being allowed to create one.
                // Processes starting together take turns (the same lock as migrations).
                let exists = bootstrap
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                        [schema.as_str().into()],
                    ))
                    .await?
                    .is_some();
                if !exists {
                    let txn = bootstrap.begin().await?;
                    migrate::lock_schema(&txn, schema).await?;
                    txn.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                        .await
                        .map_err(|e| anyhow::anyhow!("{service} database: creating schema {schema}: {e}"))?;
                    txn.commit().await?;
                }
                bootstrap.close().await?;
                let db = Database::connect(options(url.clone(), max_connections, Some(schema)))
                    .await
                    .map_err(|e| anyhow::anyhow!("{service} database: connecting to {redacted}: {e}"))?;
                (db, Backend::Postgres)
            }
        };
        let schema = match location {
            Location::Postgres { schema, .. } => Some(schema.clone()),
            Location::SqliteFile(_) => None,
        };
        Ok(Self {
            db,
            backend,
            service: service.to_owned(),
            schema,
            outbox_written: Default::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Begins a transaction scoped to one workspace. On PostgreSQL it sets
    /// `app.workspace_id` for this transaction only (`set_config(..., true)`),
    /// so row-level security sees the tenant and a pooled connection never
    /// carries it into someone else's transaction. Callers still filter by
    /// workspace in their queries: RLS is the second wall, not the first.
    pub async fn begin_in_workspace(&self, workspace_id: &str) -> Result<DatabaseTransaction, sea_orm::DbErr> {
        self.begin_scoped(Scope::Workspace(workspace_id)).await
    }

    /// Begins a transaction that sees every workspace. Only for work that is
    /// by nature cross-tenant (purging a deleted workspace or user, rewrapping
    /// every ciphertext, claiming due jobs); each caller says why in a comment.
    pub async fn begin_cross_tenant(&self) -> Result<DatabaseTransaction, sea_orm::DbErr> {
        self.begin_scoped(Scope::CrossTenant).await
    }

    /// Begins a write transaction that declares `scope` to row-level security.
    pub async fn begin_scoped(&self, scope: Scope<'_>) -> Result<DatabaseTransaction, sea_orm::DbErr> {
        let txn = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            let (setting, value) = match scope {
                Scope::Workspace(workspace_id) => (WORKSPACE_SETTING, workspace_id),
                Scope::CrossTenant => (CROSS_TENANT_SETTING, "on"),
                Scope::Unscoped => return Ok(txn),
            };
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config($1, $2, true)",
                [setting.into(), value.into()],
            ))
            .await?;
        }
        Ok(txn)
    }

    /// Runs one statement (`?` placeholders) in `scope`; returns the rows affected.
    pub async fn execute_scoped<I>(&self, scope: Scope<'_>, sql: &str, values: I) -> Result<u64, sea_orm::DbErr>
    where
        I: IntoIterator<Item = sea_orm::Value>,
    {
        let statement = statement(self.db.get_database_backend(), sql, values);
        if !self.needs_scope(scope) {
            return Ok(self.db.execute_raw(statement).await?.rows_affected());
        }
        let txn = self.begin_scoped(scope).await?;
        let affected = txn.execute_raw(statement).await?.rows_affected();
        txn.commit().await?;
        Ok(affected)
    }

    /// Runs one query (`?` placeholders) in `scope`.
    pub async fn query_scoped<I>(
        &self,
        scope: Scope<'_>,
        sql: &str,
        values: I,
    ) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr>
    where
        I: IntoIterator<Item = sea_orm::Value>,
    {
        let statement = statement(self.db.get_database_backend(), sql, values);
        if !self.needs_scope(scope) {
            return self.db.query_all_raw(statement).await;
        }
        let txn = self.begin_scoped(scope).await?;
        let rows = txn.query_all_raw(statement).await?;
        txn.commit().await?;
        Ok(rows)
    }

    /// SQLite has no row-level security: a single statement needs no transaction there.
    fn needs_scope(&self, scope: Scope<'_>) -> bool {
        self.backend == Backend::Postgres && !matches!(scope, Scope::Unscoped)
    }

    /// Deletes every row of `workspace_id` from every workspace-scoped table
    /// (the [`tenancy`] convention). Returns the rows deleted.
    pub async fn purge_workspace(txn: &DatabaseTransaction, workspace_id: &str) -> Result<u64, sea_orm::DbErr> {
        Self::purge_by_column(txn, "workspace_id", workspace_id).await
    }

    /// Deletes every row whose `user_id` is `user_id`, from every table that has one.
    pub async fn purge_user(txn: &DatabaseTransaction, user_id: &str) -> Result<u64, sea_orm::DbErr> {
        Self::purge_by_column(txn, "user_id", user_id).await
    }

    async fn purge_by_column(txn: &DatabaseTransaction, column: &str, value: &str) -> Result<u64, sea_orm::DbErr> {
        let backend = txn.get_database_backend();
        let mut deleted = 0;
        for table in tenancy::tables_with_column(txn, column).await? {
            let sql = format!(
                "DELETE FROM {} WHERE {column}{} = ?",
                tenancy::quote_ident(&table),
                if backend == DbBackend::Postgres { "::text" } else { "" }
            );
            deleted += txn
                .execute_raw(statement(backend, &sql, [value.into()]))
                .await?
                .rows_affected();
        }
        Ok(deleted)
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock
    /// at BEGIN (waiting for it like PostgreSQL would), instead of failing
    /// with SQLITE_BUSY when a read turns into a write.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, sea_orm::DbErr> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions};
        self.db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
    }

    /// Records that `consumer` (a worker pool or an event subscription)
    /// handled `message_id`, inside the handler's own transaction. Returns
    /// false when it already had: the caller then skips the work and
    /// acknowledges the message.
    pub async fn record_handled(
        txn: &DatabaseTransaction,
        consumer: &str,
        message_id: &str,
        kind: &str,
    ) -> Result<bool, sea_orm::DbErr> {
        let result = txn
            .execute_raw(statement(
                txn.get_database_backend(),
                "INSERT INTO smez_inbox (consumer, message_id, kind, handled_at_ms) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (consumer, message_id) DO NOTHING",
                [
                    consumer.into(),
                    message_id.into(),
                    kind.into(),
                    chrono::Utc::now().timestamp_millis().into(),
                ],
            ))
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The highest applied migration version (0 for a fresh database).
    pub async fn schema_version(&self) -> Result<i64, sea_orm::DbErr> {
        migrate::current_version(&self.db).await
    }

    pub async fn close(self) -> Result<(), sea_orm::DbErr> {
        self.db.close().await
    }
}

/// A statement written with `?` placeholders, numbered `$1, $2, …` for
/// PostgreSQL. (Placeholders only: never put `?` inside a string literal.)
pub fn statement<I>(backend: DbBackend, sql: &str, values: I) -> Statement
where
    I: IntoIterator<Item = sea_orm::Value>,
{
    let sql = match backend {
        DbBackend::Postgres => {
            let mut numbered = String::with_capacity(sql.len() + 8);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    numbered.push_str(&format!("${n}"));
                } else {
                    numbered.push(c);
                }
            }
            numbered
        }
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

fn options(url: String, max_connections: u32, schema: Option<&str>) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    if let Some(schema) = schema {
        options.set_schema_search_path(schema.to_owned());
    }
    options
}
