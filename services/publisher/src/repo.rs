//! The publisher's tables (`migrations/publisher/`), in raw SQL with `?`
//! placeholders and bound values only. Each statement about one workspace
//! runs in that workspace's scope and filters by it: row-level security is
//! the second wall, not the first.

use smez_store::sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Value};
use smez_store::{Scope, Store, statement};

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A connection as stored.
#[derive(Clone, Debug)]
pub struct ConnectionRow {
    pub connection_id: String,
    pub workspace_id: String,
    pub platform: String,
    pub account_id: String,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub scopes: Vec<String>,
    pub status: String,
    pub status_reason: String,
    pub access_expires_at_ms: Option<i64>,
    pub refresh_expires_at_ms: Option<i64>,
    pub token_version: i64,
    pub connected_by: Option<String>,
    pub connected_at_ms: i64,
    pub updated_at_ms: i64,
}

const CONNECTION_COLUMNS: &str = "connection_id, workspace_id, platform, account_id, username, display_name, \
     avatar_url, scopes, status, status_reason, access_expires_at_ms, refresh_expires_at_ms, token_version, \
     connected_by, connected_at_ms, updated_at_ms";

fn connection_at(row: &QueryResult) -> Result<ConnectionRow, DbErr> {
    let scopes: String = row.try_get_by_index(7)?;
    Ok(ConnectionRow {
        connection_id: row.try_get_by_index(0)?,
        workspace_id: row.try_get_by_index(1)?,
        platform: row.try_get_by_index(2)?,
        account_id: row.try_get_by_index(3)?,
        username: row.try_get_by_index(4)?,
        display_name: row.try_get_by_index(5)?,
        avatar_url: row.try_get_by_index(6)?,
        scopes: split_scopes(&scopes),
        status: row.try_get_by_index(8)?,
        status_reason: row.try_get_by_index(9)?,
        access_expires_at_ms: row.try_get_by_index(10)?,
        refresh_expires_at_ms: row.try_get_by_index(11)?,
        token_version: row.try_get_by_index(12)?,
        connected_by: row.try_get_by_index(13)?,
        connected_at_ms: row.try_get_by_index(14)?,
        updated_at_ms: row.try_get_by_index(15)?,
    })
}

pub fn split_scopes(scopes: &str) -> Vec<String> {
    scopes.split_whitespace().map(str::to_owned).collect()
}

/// What a completed connect stores about the account and its tokens.
pub struct NewConnection<'a> {
    pub connection_id: &'a str,
    pub workspace_id: &'a str,
    pub platform: &'a str,
    pub account_id: &'a str,
    pub username: &'a str,
    pub display_name: &'a str,
    pub avatar_url: Option<&'a str>,
    pub scopes: &'a [String],
    pub access_expires_at_ms: Option<i64>,
    pub refresh_expires_at_ms: Option<i64>,
    pub connected_by: &'a str,
}

/// New tokens from a refresh.
pub struct Refreshed<'a> {
    pub access_expires_at_ms: Option<i64>,
    pub refresh_expires_at_ms: Option<i64>,
    /// Empty: keep the stored scopes (the platform did not repeat them).
    pub scopes: &'a [String],
}

pub struct OAuthState {
    pub state_id: String,
    pub workspace_id: String,
    pub user_id: String,
    pub platform: String,
    pub browser_binding: String,
    pub pkce_verifier_sealed: Option<String>,
    pub redirect_uri: String,
    pub expires_at_ms: i64,
    pub used_at_ms: Option<i64>,
}

pub struct PendingChoiceRow {
    pub pending_id: String,
    pub user_id: String,
    pub platform: String,
    pub accounts_json: String,
    pub expires_at_ms: i64,
}

#[derive(Clone)]
pub struct Repo {
    store: Store,
}

impl Repo {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    async fn query<I>(&self, scope: Scope<'_>, sql: &str, values: I) -> Result<Vec<QueryResult>, DbErr>
    where
        I: IntoIterator<Item = Value>,
    {
        self.store.query_scoped(scope, sql, values).await
    }

    async fn execute<I>(&self, scope: Scope<'_>, sql: &str, values: I) -> Result<u64, DbErr>
    where
        I: IntoIterator<Item = Value>,
    {
        self.store.execute_scoped(scope, sql, values).await
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    // --- connections -------------------------------------------------------

    pub async fn connection(&self, workspace_id: &str, connection_id: &str) -> Result<Option<ConnectionRow>, DbErr> {
        let rows = self
            .query(
                Scope::Workspace(workspace_id),
                &format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE workspace_id = ? AND connection_id = ?"),
                [workspace_id.into(), connection_id.into()],
            )
            .await?;
        rows.first().map(connection_at).transpose()
    }

    pub async fn connection_of_account(
        &self,
        workspace_id: &str,
        platform: &str,
        account_id: &str,
    ) -> Result<Option<ConnectionRow>, DbErr> {
        let rows = self
            .query(
                Scope::Workspace(workspace_id),
                &format!(
                    "SELECT {CONNECTION_COLUMNS} FROM connections \
                     WHERE workspace_id = ? AND platform = ? AND account_id = ?"
                ),
                [workspace_id.into(), platform.into(), account_id.into()],
            )
            .await?;
        rows.first().map(connection_at).transpose()
    }

    pub async fn connections(&self, workspace_id: &str, include_revoked: bool) -> Result<Vec<ConnectionRow>, DbErr> {
        let filter = if include_revoked {
            ""
        } else {
            " AND status <> 'revoked'"
        };
        let rows = self
            .query(
                Scope::Workspace(workspace_id),
                &format!(
                    "SELECT {CONNECTION_COLUMNS} FROM connections WHERE workspace_id = ?{filter} \
                     ORDER BY connected_at_ms, connection_id"
                ),
                [workspace_id.into()],
            )
            .await?;
        rows.iter().map(connection_at).collect()
    }

    /// Active connections whose access token expires before `before_ms`, in
    /// every workspace (the refresh sweep is cross-tenant by nature).
    pub async fn due_for_refresh(&self, before_ms: i64, limit: u32) -> Result<Vec<(String, String)>, DbErr> {
        let rows = self
            .query(
                Scope::CrossTenant,
                "SELECT workspace_id, connection_id FROM connections \
                 WHERE status = 'active' AND access_expires_at_ms IS NOT NULL AND access_expires_at_ms < ? \
                 ORDER BY access_expires_at_ms LIMIT ?",
                [before_ms.into(), i64::from(limit).into()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
            .collect()
    }

    /// Connections a (deleted) account connected, in every workspace.
    pub async fn connected_by(&self, user_id: &str) -> Result<Vec<ConnectionRow>, DbErr> {
        let rows = self
            .query(
                Scope::CrossTenant,
                &format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE connected_by = ?"),
                [user_id.into()],
            )
            .await?;
        rows.iter().map(connection_at).collect()
    }

    /// Inserts the account's connection, or updates the existing one of the
    /// same account in place (a reconnect keeps its id). Returns the id in
    /// use, with the status it had before (None: new), and the event in the
    /// same transaction.
    pub async fn upsert_connection(
        &self,
        new: &NewConnection<'_>,
        event: impl FnOnce(&str, Option<&str>) -> smez_proto::events::v1::Event,
    ) -> Result<(String, Option<String>), DbErr> {
        let txn = self.store.begin_in_workspace(new.workspace_id).await?;
        let backend = txn.get_database_backend();
        // Locked on PostgreSQL; SQLite's write transaction is exclusive already.
        let lock = if backend == DbBackend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let existing = txn
            .query_all_raw(statement(
                backend,
                &format!(
                    "SELECT connection_id, status FROM connections \
                     WHERE workspace_id = ? AND platform = ? AND account_id = ?{lock}"
                ),
                [new.workspace_id.into(), new.platform.into(), new.account_id.into()],
            ))
            .await?;
        let now = now_ms();
        let scopes = new.scopes.join(" ");
        let outcome = match existing.first() {
            Some(row) => {
                let id: String = row.try_get_by_index(0)?;
                let previous: String = row.try_get_by_index(1)?;
                txn.execute_raw(statement(
                    backend,
                    "UPDATE connections SET username = ?, display_name = ?, avatar_url = ?, scopes = ?, \
                     status = 'active', status_reason = '', access_expires_at_ms = ?, refresh_expires_at_ms = ?, \
                     token_version = token_version + 1, refresh_lease_owner = NULL, refresh_lease_until_ms = NULL, \
                     connected_by = ?, updated_at_ms = ? WHERE workspace_id = ? AND connection_id = ?",
                    [
                        new.username.into(),
                        new.display_name.into(),
                        new.avatar_url.into(),
                        scopes.into(),
                        new.access_expires_at_ms.into(),
                        new.refresh_expires_at_ms.into(),
                        new.connected_by.into(),
                        now.into(),
                        new.workspace_id.into(),
                        id.clone().into(),
                    ],
                ))
                .await?;
                (id, Some(previous))
            }
            None => {
                txn.execute_raw(statement(
                    backend,
                    "INSERT INTO connections (connection_id, workspace_id, platform, account_id, username, \
                     display_name, avatar_url, scopes, status, status_reason, access_expires_at_ms, \
                     refresh_expires_at_ms, token_version, connected_by, connected_at_ms, updated_at_ms) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', '', ?, ?, 1, ?, ?, ?)",
                    [
                        new.connection_id.into(),
                        new.workspace_id.into(),
                        new.platform.into(),
                        new.account_id.into(),
                        new.username.into(),
                        new.display_name.into(),
                        new.avatar_url.into(),
                        scopes.into(),
                        new.access_expires_at_ms.into(),
                        new.refresh_expires_at_ms.into(),
                        new.connected_by.into(),
                        now.into(),
                        now.into(),
                    ],
                ))
                .await?;
                (new.connection_id.to_owned(), None)
            }
        };
        if outcome.1.as_deref() != Some("active") {
            smez_service::events::publish_in(&txn, &event(&outcome.0, outcome.1.as_deref())).await?;
        }
        txn.commit().await?;
        self.store.outbox_written();
        Ok(outcome)
    }

    /// Takes the refresh lease of a connection for `owner` until `until_ms`,
    /// unless another holder's lease is still running.
    pub async fn take_lease(
        &self,
        workspace_id: &str,
        connection_id: &str,
        owner: &str,
        now: i64,
        until_ms: i64,
    ) -> Result<bool, DbErr> {
        let taken = self
            .execute(
                Scope::Workspace(workspace_id),
                "UPDATE connections SET refresh_lease_owner = ?, refresh_lease_until_ms = ? \
                 WHERE workspace_id = ? AND connection_id = ? \
                 AND (refresh_lease_until_ms IS NULL OR refresh_lease_until_ms < ?)",
                [
                    owner.into(),
                    until_ms.into(),
                    workspace_id.into(),
                    connection_id.into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(taken == 1)
    }

    pub async fn release_lease(&self, workspace_id: &str, connection_id: &str, owner: &str) -> Result<(), DbErr> {
        self.execute(
            Scope::Workspace(workspace_id),
            "UPDATE connections SET refresh_lease_owner = NULL, refresh_lease_until_ms = NULL \
             WHERE workspace_id = ? AND connection_id = ? AND refresh_lease_owner = ?",
            [workspace_id.into(), connection_id.into(), owner.into()],
        )
        .await?;
        Ok(())
    }

    /// Extends `owner`'s running lease on an active connection to `until_ms`
    /// (just before storing a refresh). False when the lease was lost or the
    /// connection is no longer active.
    pub async fn renew_lease(
        &self,
        workspace_id: &str,
        connection_id: &str,
        owner: &str,
        now: i64,
        until_ms: i64,
    ) -> Result<bool, DbErr> {
        let renewed = self
            .execute(
                Scope::Workspace(workspace_id),
                "UPDATE connections SET refresh_lease_until_ms = ? \
                 WHERE workspace_id = ? AND connection_id = ? AND refresh_lease_owner = ? \
                 AND refresh_lease_until_ms >= ? AND status = 'active'",
                [
                    until_ms.into(),
                    workspace_id.into(),
                    connection_id.into(),
                    owner.into(),
                    now.into(),
                ],
            )
            .await?;
        Ok(renewed == 1)
    }

    /// Records a refresh's new expiry, bumps the token version and releases
    /// the lease, if `owner` still holds it. Returns whether it did.
    pub async fn record_refresh(
        &self,
        workspace_id: &str,
        connection_id: &str,
        owner: &str,
        refreshed: &Refreshed<'_>,
    ) -> Result<bool, DbErr> {
        let scopes = refreshed.scopes.join(" ");
        let written = self
            .execute(
                Scope::Workspace(workspace_id),
                "UPDATE connections SET access_expires_at_ms = ?, refresh_expires_at_ms = ?, \
                 scopes = CASE WHEN ? = '' THEN scopes ELSE ? END, token_version = token_version + 1, \
                 refresh_lease_owner = NULL, refresh_lease_until_ms = NULL, updated_at_ms = ? \
                 WHERE workspace_id = ? AND connection_id = ? AND refresh_lease_owner = ?",
                [
                    refreshed.access_expires_at_ms.into(),
                    refreshed.refresh_expires_at_ms.into(),
                    scopes.clone().into(),
                    scopes.into(),
                    now_ms().into(),
                    workspace_id.into(),
                    connection_id.into(),
                    owner.into(),
                ],
            )
            .await?;
        Ok(written == 1)
    }

    /// Moves a connection from one of `from` to `to` (releasing any lease),
    /// with the event in the same transaction. Returns false (and writes
    /// nothing) when it was in none of them: the change happened already.
    pub async fn change_status(
        &self,
        row: &ConnectionRow,
        from: &[&str],
        to: &str,
        reason: &str,
        connected_by: Option<&str>,
        event: &smez_proto::events::v1::Event,
    ) -> Result<bool, DbErr> {
        let txn = self.store.begin_in_workspace(&row.workspace_id).await?;
        let placeholders = vec!["?"; from.len()].join(", ");
        let mut values: Vec<Value> = vec![
            to.into(),
            reason.into(),
            connected_by.map(str::to_owned).into(),
            now_ms().into(),
            row.workspace_id.clone().into(),
            row.connection_id.clone().into(),
        ];
        values.extend(from.iter().map(|s| Value::from(*s)));
        let changed = txn
            .execute_raw(statement(
                txn.get_database_backend(),
                &format!(
                    "UPDATE connections SET status = ?, status_reason = ?, connected_by = COALESCE(?, connected_by), \
                     refresh_lease_owner = NULL, refresh_lease_until_ms = NULL, updated_at_ms = ? \
                     WHERE workspace_id = ? AND connection_id = ? AND status IN ({placeholders})"
                ),
                values,
            ))
            .await?
            .rows_affected();
        if changed == 1 {
            smez_service::events::publish_in(&txn, event).await?;
        }
        txn.commit().await?;
        if changed == 1 {
            self.store.outbox_written();
        }
        Ok(changed == 1)
    }

    /// Forgets who connected it (that account was deleted).
    pub async fn clear_connected_by(&self, workspace_id: &str, connection_id: &str) -> Result<(), DbErr> {
        self.execute(
            Scope::Workspace(workspace_id),
            "UPDATE connections SET connected_by = NULL WHERE workspace_id = ? AND connection_id = ?",
            [workspace_id.into(), connection_id.into()],
        )
        .await?;
        Ok(())
    }

    // --- OAuth states ------------------------------------------------------

    pub async fn insert_state(&self, state: &OAuthState) -> Result<(), DbErr> {
        self.execute(
            Scope::Workspace(&state.workspace_id),
            "INSERT INTO oauth_states (state_id, workspace_id, user_id, platform, browser_binding, \
             pkce_verifier_sealed, redirect_uri, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                state.state_id.clone().into(),
                state.workspace_id.clone().into(),
                state.user_id.clone().into(),
                state.platform.clone().into(),
                state.browser_binding.clone().into(),
                state.pkce_verifier_sealed.clone().into(),
                state.redirect_uri.clone().into(),
                now_ms().into(),
                state.expires_at_ms.into(),
            ],
        )
        .await?;
        Ok(())
    }

    pub async fn state(&self, workspace_id: &str, state_id: &str) -> Result<Option<OAuthState>, DbErr> {
        let rows = self
            .query(
                Scope::Workspace(workspace_id),
                "SELECT state_id, workspace_id, user_id, platform, browser_binding, pkce_verifier_sealed, \
                 redirect_uri, expires_at_ms, used_at_ms FROM oauth_states WHERE workspace_id = ? AND state_id = ?",
                [workspace_id.into(), state_id.into()],
            )
            .await?;
        rows.first()
            .map(|r| {
                Ok(OAuthState {
                    state_id: r.try_get_by_index(0)?,
                    workspace_id: r.try_get_by_index(1)?,
                    user_id: r.try_get_by_index(2)?,
                    platform: r.try_get_by_index(3)?,
                    browser_binding: r.try_get_by_index(4)?,
                    pkce_verifier_sealed: r.try_get_by_index(5)?,
                    redirect_uri: r.try_get_by_index(6)?,
                    expires_at_ms: r.try_get_by_index(7)?,
                    used_at_ms: r.try_get_by_index(8)?,
                })
            })
            .transpose()
    }

    /// Marks a state used; false when it already was (a replay).
    pub async fn use_state(&self, workspace_id: &str, state_id: &str) -> Result<bool, DbErr> {
        let used = self
            .execute(
                Scope::Workspace(workspace_id),
                "UPDATE oauth_states SET used_at_ms = ? WHERE workspace_id = ? AND state_id = ? AND used_at_ms IS NULL",
                [now_ms().into(), workspace_id.into(), state_id.into()],
            )
            .await?;
        Ok(used == 1)
    }

    /// Drops states and account choices that ended before `before_ms` (in every workspace).
    pub async fn prune_flows(&self, before_ms: i64) -> Result<u64, DbErr> {
        let mut pruned = 0;
        for table in ["oauth_states", "oauth_pending_choices"] {
            pruned += self
                .execute(
                    Scope::CrossTenant,
                    &format!("DELETE FROM {table} WHERE expires_at_ms < ?"),
                    [before_ms.into()],
                )
                .await?;
        }
        Ok(pruned)
    }

    // --- account choices ---------------------------------------------------

    pub async fn insert_pending(&self, workspace_id: &str, row: &PendingChoiceRow) -> Result<(), DbErr> {
        self.execute(
            Scope::Workspace(workspace_id),
            "INSERT INTO oauth_pending_choices (pending_id, workspace_id, user_id, platform, accounts, expires_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?)",
            [
                row.pending_id.clone().into(),
                workspace_id.into(),
                row.user_id.clone().into(),
                row.platform.clone().into(),
                row.accounts_json.clone().into(),
                row.expires_at_ms.into(),
            ],
        )
        .await?;
        Ok(())
    }

    pub async fn pending(&self, workspace_id: &str, pending_id: &str) -> Result<Option<PendingChoiceRow>, DbErr> {
        let rows = self
            .query(
                Scope::Workspace(workspace_id),
                "SELECT pending_id, user_id, platform, accounts, expires_at_ms FROM oauth_pending_choices \
                 WHERE workspace_id = ? AND pending_id = ?",
                [workspace_id.into(), pending_id.into()],
            )
            .await?;
        rows.first()
            .map(|r| {
                Ok(PendingChoiceRow {
                    pending_id: r.try_get_by_index(0)?,
                    user_id: r.try_get_by_index(1)?,
                    platform: r.try_get_by_index(2)?,
                    accounts_json: r.try_get_by_index(3)?,
                    expires_at_ms: r.try_get_by_index(4)?,
                })
            })
            .transpose()
    }

    pub async fn delete_pending(&self, workspace_id: &str, pending_id: &str) -> Result<(), DbErr> {
        self.execute(
            Scope::Workspace(workspace_id),
            "DELETE FROM oauth_pending_choices WHERE workspace_id = ? AND pending_id = ?",
            [workspace_id.into(), pending_id.into()],
        )
        .await?;
        Ok(())
    }
}
