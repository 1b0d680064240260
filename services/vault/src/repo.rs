//! The vault's tables. Rows hold ciphertext envelopes and metadata only.

use sea_orm::{DbErr, QueryResult, Value};
use smez_store::{Scope, Store};

pub struct KeyVersionRow {
    pub version: u32,
    pub salt: Vec<u8>,
    pub seals_reserved: u64,
}

pub struct CredentialRow {
    pub connection_id: String,
    pub workspace_id: String,
    pub provider: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub access_expires_at_ms: Option<i64>,
    pub refresh_expires_at_ms: Option<i64>,
    pub scopes: Vec<String>,
    pub key_version: u32,
}

pub struct PendingRow {
    pub id: String,
    pub workspace_id: String,
    pub user_id: String,
    pub provider: String,
    pub payload: String,
    pub key_version: u32,
    pub expires_at_ms: i64,
}

/// One access to a secret, for the access log.
pub struct Access<'a> {
    pub caller: &'a str,
    pub action: &'a str,
    pub workspace_id: Option<&'a str>,
    pub owner_id: Option<&'a str>,
    pub purpose: &'a str,
    pub key_name: Option<&'a str>,
    pub key_version: Option<u32>,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, DbErr> {
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| DbErr::Custom("vault_key_versions.salt is not hex".into()))
}

/// The vault database.
#[derive(Clone)]
pub struct Repo {
    store: Store,
}

impl Repo {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Key tables are not workspace-scoped.
    async fn execute<I: IntoIterator<Item = Value>>(&self, sql: &str, values: I) -> Result<u64, DbErr> {
        self.store.execute_scoped(Scope::Unscoped, sql, values).await
    }

    async fn query<I: IntoIterator<Item = Value>>(&self, sql: &str, values: I) -> Result<Vec<QueryResult>, DbErr> {
        self.store.query_scoped(Scope::Unscoped, sql, values).await
    }

    pub async fn key_versions(&self, key_name: &str) -> Result<Vec<KeyVersionRow>, DbErr> {
        let rows = self
            .query(
                "SELECT version, salt, seals_reserved FROM vault_key_versions WHERE key_name = ? ORDER BY version",
                [key_name.into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(KeyVersionRow {
                    version: row.try_get_by_index::<i64>(0)? as u32,
                    salt: unhex(&row.try_get_by_index::<String>(1)?)?,
                    seals_reserved: row.try_get_by_index::<i64>(2)? as u64,
                })
            })
            .collect()
    }

    /// Inserts a new key version; false if another vault replica made it first.
    pub async fn insert_key_version(&self, key_name: &str, version: u32, salt: &[u8]) -> Result<bool, DbErr> {
        let inserted = self
            .execute(
                "INSERT INTO vault_key_versions (key_name, version, salt, seals_reserved, created_at_ms) \
                 VALUES (?, ?, ?, 0, ?) ON CONFLICT (key_name, version) DO NOTHING",
                [
                    key_name.into(),
                    i64::from(version).into(),
                    hex(salt).into(),
                    now_ms().into(),
                ],
            )
            .await?;
        Ok(inserted == 1)
    }

    /// Reserves `block` more seals for a version and returns the new total,
    /// in one statement (so concurrent replicas get disjoint blocks).
    pub async fn reserve_seals(&self, key_name: &str, version: u32, block: u64) -> Result<u64, DbErr> {
        let rows = self
            .query(
                "UPDATE vault_key_versions SET seals_reserved = seals_reserved + ? \
                 WHERE key_name = ? AND version = ? RETURNING seals_reserved",
                [(block as i64).into(), key_name.into(), i64::from(version).into()],
            )
            .await?;
        let total = rows
            .first()
            .ok_or_else(|| DbErr::RecordNotFound("key version".into()))?;
        Ok(total.try_get_by_index::<i64>(0)? as u64)
    }

    pub async fn min_decryption_version(&self, key_name: &str) -> Result<u32, DbErr> {
        let rows = self
            .query(
                "SELECT min_decryption_version FROM vault_key_policy WHERE key_name = ?",
                [key_name.into()],
            )
            .await?;
        match rows.first() {
            Some(row) => Ok(row.try_get_by_index::<i64>(0)? as u32),
            None => Ok(1),
        }
    }

    pub async fn set_min_decryption_version(&self, key_name: &str, version: u32) -> Result<(), DbErr> {
        self.execute(
            "INSERT INTO vault_key_policy (key_name, min_decryption_version) VALUES (?, ?) \
             ON CONFLICT (key_name) DO UPDATE SET min_decryption_version = excluded.min_decryption_version",
            [key_name.into(), i64::from(version).into()],
        )
        .await
        .map(drop)
    }

    /// Stores or replaces a credential. False when the connection id belongs
    /// to another workspace (it is never moved between workspaces).
    pub async fn put_credential(&self, row: &CredentialRow) -> Result<bool, DbErr> {
        let written = self
            .store
            .execute_scoped(
                Scope::Workspace(&row.workspace_id),
                "INSERT INTO vault_credentials (connection_id, workspace_id, provider, access_token, refresh_token, \
             access_expires_at_ms, refresh_expires_at_ms, scopes, key_version, updated_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (connection_id) DO UPDATE SET workspace_id = excluded.workspace_id, \
             provider = excluded.provider, access_token = excluded.access_token, \
             refresh_token = excluded.refresh_token, access_expires_at_ms = excluded.access_expires_at_ms, \
             refresh_expires_at_ms = excluded.refresh_expires_at_ms, scopes = excluded.scopes, \
             key_version = excluded.key_version, updated_at_ms = excluded.updated_at_ms \
             WHERE vault_credentials.workspace_id = excluded.workspace_id",
                [
                    row.connection_id.clone().into(),
                    row.workspace_id.clone().into(),
                    row.provider.clone().into(),
                    row.access_token.clone().into(),
                    row.refresh_token.clone().into(),
                    row.access_expires_at_ms.into(),
                    row.refresh_expires_at_ms.into(),
                    row.scopes.join(" ").into(),
                    i64::from(row.key_version).into(),
                    now_ms().into(),
                ],
            )
            .await?;
        Ok(written == 1)
    }

    const CREDENTIAL_COLUMNS: &str = "connection_id, workspace_id, provider, access_token, refresh_token, \
         access_expires_at_ms, refresh_expires_at_ms, scopes, key_version";

    fn credential(row: &QueryResult) -> Result<CredentialRow, DbErr> {
        let scopes: String = row.try_get_by_index(7)?;
        Ok(CredentialRow {
            connection_id: row.try_get_by_index(0)?,
            workspace_id: row.try_get_by_index(1)?,
            provider: row.try_get_by_index(2)?,
            access_token: row.try_get_by_index(3)?,
            refresh_token: row.try_get_by_index(4)?,
            access_expires_at_ms: row.try_get_by_index(5)?,
            refresh_expires_at_ms: row.try_get_by_index(6)?,
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            key_version: row.try_get_by_index::<i64>(8)? as u32,
        })
    }

    /// The credential of a connection in a workspace (both must match).
    pub async fn credential_of(&self, workspace_id: &str, connection_id: &str) -> Result<Option<CredentialRow>, DbErr> {
        let sql = format!(
            "SELECT {} FROM vault_credentials WHERE connection_id = ? AND workspace_id = ?",
            Self::CREDENTIAL_COLUMNS
        );
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                &sql,
                [connection_id.into(), workspace_id.into()],
            )
            .await?;
        rows.first().map(Self::credential).transpose()
    }

    pub async fn delete_credential(&self, workspace_id: &str, connection_id: &str) -> Result<bool, DbErr> {
        let deleted = self
            .store
            .execute_scoped(
                Scope::Workspace(workspace_id),
                "DELETE FROM vault_credentials WHERE connection_id = ? AND workspace_id = ?",
                [connection_id.into(), workspace_id.into()],
            )
            .await?;
        Ok(deleted > 0)
    }

    /// Credentials sealed with a version older than `current`, oldest first.
    /// (Cross-tenant: rewrapping moves every workspace's ciphertexts.)
    pub async fn credentials_older_than(&self, current: u32, limit: u32) -> Result<Vec<CredentialRow>, DbErr> {
        let sql = format!(
            "SELECT {} FROM vault_credentials WHERE key_version < ? ORDER BY key_version LIMIT ?",
            Self::CREDENTIAL_COLUMNS
        );
        let rows = self
            .store
            .query_scoped(
                Scope::CrossTenant,
                &sql,
                [i64::from(current).into(), i64::from(limit).into()],
            )
            .await?;
        rows.iter().map(Self::credential).collect()
    }

    /// Replaces a credential's ciphertexts if the row still holds exactly what
    /// was read (`read_access`): a credential written meanwhile is never
    /// overwritten with the older tokens.
    pub async fn rewrap_credential(
        &self,
        connection_id: &str,
        read_access: &str,
        to_version: u32,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> Result<bool, DbErr> {
        let updated = self
            .store
            .execute_scoped(
                Scope::CrossTenant,
                "UPDATE vault_credentials SET access_token = ?, refresh_token = ?, key_version = ? \
                 WHERE connection_id = ? AND access_token = ?",
                [
                    access_token.into(),
                    refresh_token.map(str::to_owned).into(),
                    i64::from(to_version).into(),
                    connection_id.into(),
                    read_access.into(),
                ],
            )
            .await?;
        Ok(updated == 1)
    }

    const PENDING_COLUMNS: &str = "id, workspace_id, user_id, provider, payload, key_version, expires_at_ms";

    fn pending(row: &QueryResult) -> Result<PendingRow, DbErr> {
        Ok(PendingRow {
            id: row.try_get_by_index(0)?,
            workspace_id: row.try_get_by_index(1)?,
            user_id: row.try_get_by_index(2)?,
            provider: row.try_get_by_index(3)?,
            payload: row.try_get_by_index(4)?,
            key_version: row.try_get_by_index::<i64>(5)? as u32,
            expires_at_ms: row.try_get_by_index(6)?,
        })
    }

    pub async fn put_pending(&self, row: &PendingRow) -> Result<(), DbErr> {
        self.store.execute_scoped(
            Scope::Workspace(&row.workspace_id),
            "INSERT INTO vault_pending_transfers (id, workspace_id, user_id, provider, payload, key_version, expires_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                row.id.clone().into(),
                row.workspace_id.clone().into(),
                row.user_id.clone().into(),
                row.provider.clone().into(),
                row.payload.clone().into(),
                i64::from(row.key_version).into(),
                row.expires_at_ms.into(),
            ],
        )
        .await
        .map(drop)
    }

    /// A live pending transfer of this workspace and user.
    pub async fn find_pending(&self, id: &str, workspace_id: &str, user_id: &str) -> Result<Option<PendingRow>, DbErr> {
        let sql = format!(
            "SELECT {} FROM vault_pending_transfers \
             WHERE id = ? AND workspace_id = ? AND user_id = ? AND expires_at_ms > ?",
            Self::PENDING_COLUMNS
        );
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                &sql,
                [id.into(), workspace_id.into(), user_id.into(), now_ms().into()],
            )
            .await?;
        rows.first().map(Self::pending).transpose()
    }

    /// Deletes a pending transfer; whoever deletes it owns it (single use).
    pub async fn claim_pending(&self, workspace_id: &str, id: &str) -> Result<bool, DbErr> {
        let claimed = self
            .store
            .execute_scoped(
                Scope::Workspace(workspace_id),
                "DELETE FROM vault_pending_transfers WHERE id = ? AND workspace_id = ?",
                [id.into(), workspace_id.into()],
            )
            .await?;
        Ok(claimed == 1)
    }

    /// Deletes expired pending transfers of every workspace; returns how many.
    pub async fn purge_expired_pending(&self) -> Result<u64, DbErr> {
        self.store
            .execute_scoped(
                Scope::CrossTenant,
                "DELETE FROM vault_pending_transfers WHERE expires_at_ms <= ?",
                [now_ms().into()],
            )
            .await
    }

    pub async fn pending_older_than(&self, current: u32, limit: u32) -> Result<Vec<PendingRow>, DbErr> {
        let sql = format!(
            "SELECT {} FROM vault_pending_transfers WHERE key_version < ? ORDER BY key_version LIMIT ?",
            Self::PENDING_COLUMNS
        );
        let rows = self
            .store
            .query_scoped(
                Scope::CrossTenant,
                &sql,
                [i64::from(current).into(), i64::from(limit).into()],
            )
            .await?;
        rows.iter().map(Self::pending).collect()
    }

    /// Replaces a pending payload if the row still holds exactly what was read.
    pub async fn rewrap_pending(
        &self,
        id: &str,
        read_payload: &str,
        to_version: u32,
        payload: &str,
    ) -> Result<bool, DbErr> {
        let updated = self
            .store
            .execute_scoped(
                Scope::CrossTenant,
                "UPDATE vault_pending_transfers SET payload = ?, key_version = ? WHERE id = ? AND payload = ?",
                [
                    payload.into(),
                    i64::from(to_version).into(),
                    id.into(),
                    read_payload.into(),
                ],
            )
            .await?;
        Ok(updated == 1)
    }

    /// Stored ciphertexts per key version, for a key with stored rows.
    pub async fn stored_per_version(&self, table: &str) -> Result<Vec<(u32, u64)>, DbErr> {
        let sql = format!("SELECT key_version, COUNT(*) FROM {table} GROUP BY key_version ORDER BY key_version");
        let rows = self.store.query_scoped(Scope::CrossTenant, &sql, []).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get_by_index::<i64>(0)? as u32,
                    row.try_get_by_index::<i64>(1)? as u64,
                ))
            })
            .collect()
    }

    /// Inserts access records in one statement (one commit for the batch).
    async fn insert_access_batch(&self, records: &[AccessRecord]) -> Result<(), DbErr> {
        let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let sql = format!(
            "INSERT INTO vault_access_log (id, caller, action, workspace_id, owner_id, purpose, key_name, key_version, at_ms) VALUES {}",
            vec![row; records.len()].join(", ")
        );
        let values = records.iter().flat_map(|r| {
            [
                uuid::Uuid::now_v7().to_string().into(),
                r.caller.clone().into(),
                r.action.clone().into(),
                r.workspace_id.clone().into(),
                r.owner_id.clone().into(),
                r.purpose.clone().into(),
                r.key_name.clone().into(),
                r.key_version.map(i64::from).into(),
                r.at_ms.into(),
            ]
        });
        // One batch holds accesses of many workspaces.
        self.store
            .execute_scoped(Scope::CrossTenant, &sql, values.collect::<Vec<Value>>())
            .await
            .map(drop)
    }
}

/// One access to a secret, as stored.
struct AccessRecord {
    caller: String,
    action: String,
    workspace_id: Option<String>,
    owner_id: Option<String>,
    purpose: String,
    key_name: Option<String>,
    key_version: Option<u32>,
    at_ms: i64,
}

type Pending = (AccessRecord, tokio::sync::oneshot::Sender<Result<(), String>>);

/// The access log with group commit: each caller waits until its record is
/// committed (nothing is acknowledged unrecorded), and records arriving
/// together share one statement and one commit.
#[derive(Clone)]
pub struct AccessLog {
    queue: tokio::sync::mpsc::Sender<Pending>,
}

/// Records written per statement at most.
const ACCESS_BATCH: usize = 256;

impl AccessLog {
    pub fn spawn(repo: Repo) -> Self {
        let (queue, mut incoming) = tokio::sync::mpsc::channel::<Pending>(4 * ACCESS_BATCH);
        tokio::spawn(async move {
            while let Some(first) = incoming.recv().await {
                let mut batch = vec![first];
                while batch.len() < ACCESS_BATCH {
                    match incoming.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (records, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                let outcome = repo.insert_access_batch(&records).await.map_err(|e| e.to_string());
                for reply in replies {
                    let _ = reply.send(outcome.clone());
                }
            }
        });
        Self { queue }
    }

    /// Returns once the record is committed.
    pub async fn record(&self, access: &Access<'_>) -> Result<(), DbErr> {
        let record = AccessRecord {
            caller: access.caller.to_owned(),
            action: access.action.to_owned(),
            workspace_id: access.workspace_id.map(str::to_owned),
            owner_id: access.owner_id.map(str::to_owned),
            purpose: access.purpose.to_owned(),
            key_name: access.key_name.map(str::to_owned),
            key_version: access.key_version,
            at_ms: now_ms(),
        };
        let (reply, committed) = tokio::sync::oneshot::channel();
        let closed = || DbErr::Custom("the access log writer stopped".into());
        self.queue.send((record, reply)).await.map_err(|_| closed())?;
        committed.await.map_err(|_| closed())?.map_err(DbErr::Custom)
    }
}
