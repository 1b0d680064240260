//! The workspace service's tables (`migrations/workspace/`), in raw SQL
//! with `?` placeholders and bound values only.
//!
//! Every table has `workspace_id`, so on PostgreSQL a statement sees rows only
//! in a scope it declared. Each statement about one workspace also filters by
//! it in SQL: row-level security is the second wall, not the first.
//! - [`Repo`]: single-statement reads, each in the narrowest scope that answers it.
//! - [`WorkspaceTxn`]: a transaction in one workspace; every change of a
//!   workspace happens in one, so no change is ever half made.
//! - free functions for the cross-tenant account-deletion transaction.

use smez_kit::roles::Role;
use smez_store::sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, QueryResult, Value};
use smez_store::{Scope, Store, statement};

pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub created_at_ms: i64,
}

pub struct MemberRow {
    pub user_id: String,
    pub role: Role,
    pub joined_at_ms: i64,
}

pub struct InvitationRow {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub role: Role,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn execute<I>(db: &impl ConnectionTrait, sql: &str, values: I) -> Result<u64, DbErr>
where
    I: IntoIterator<Item = Value>,
{
    let statement = statement(db.get_database_backend(), sql, values);
    Ok(db.execute_raw(statement).await?.rows_affected())
}

async fn query<I>(db: &impl ConnectionTrait, sql: &str, values: I) -> Result<Vec<QueryResult>, DbErr>
where
    I: IntoIterator<Item = Value>,
{
    db.query_all_raw(statement(db.get_database_backend(), sql, values))
        .await
}

fn role_at(row: &QueryResult, index: usize) -> Result<Role, DbErr> {
    let name: String = row.try_get_by_index(index)?;
    name.parse()
        .map_err(|_| DbErr::Custom(format!("a stored role is unknown: `{name}`")))
}

const WORKSPACE_COLUMNS: &str = "workspace_id, name, created_at_ms";

fn workspace_at(row: &QueryResult) -> Result<WorkspaceRow, DbErr> {
    Ok(WorkspaceRow {
        id: row.try_get_by_index(0)?,
        name: row.try_get_by_index(1)?,
        created_at_ms: row.try_get_by_index(2)?,
    })
}

const MEMBER_COLUMNS: &str = "user_id, role, joined_at_ms";

fn member_at(row: &QueryResult) -> Result<MemberRow, DbErr> {
    Ok(MemberRow {
        user_id: row.try_get_by_index(0)?,
        role: role_at(row, 1)?,
        joined_at_ms: row.try_get_by_index(2)?,
    })
}

/// The workspace service's database.
#[derive(Clone)]
pub struct Repo {
    store: Store,
}

impl Repo {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Begins the transaction of a change to `workspace_id`.
    pub async fn begin(&self, workspace_id: &str) -> Result<WorkspaceTxn, DbErr> {
        Ok(WorkspaceTxn {
            txn: self.store.begin_in_workspace(workspace_id).await?,
            workspace_id: workspace_id.to_owned(),
        })
    }

    /// `user_id`'s role in `workspace_id`; None when not a member (or no such workspace).
    pub async fn role_of(&self, workspace_id: &str, user_id: &str) -> Result<Option<Role>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                "SELECT role FROM memberships WHERE workspace_id = ? AND user_id = ?",
                [workspace_id.into(), user_id.into()],
            )
            .await?;
        rows.first().map(|row| role_at(row, 0)).transpose()
    }

    /// The workspace with `user_id`'s role in it; None when not a member.
    pub async fn workspace_of_member(
        &self,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<Option<(WorkspaceRow, Role)>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                "SELECT w.workspace_id, w.name, w.created_at_ms, m.role \
                 FROM workspaces w JOIN memberships m ON m.workspace_id = w.workspace_id \
                 WHERE w.workspace_id = ? AND m.user_id = ?",
                [workspace_id.into(), user_id.into()],
            )
            .await?;
        rows.first()
            .map(|row| Ok((workspace_at(row)?, role_at(row, 3)?)))
            .transpose()
    }

    /// The members of a workspace, in no particular order.
    pub async fn members(&self, workspace_id: &str) -> Result<Vec<MemberRow>, DbErr> {
        let rows = self
            .store
            .query_scoped(
                Scope::Workspace(workspace_id),
                &format!("SELECT {MEMBER_COLUMNS} FROM memberships WHERE workspace_id = ?"),
                [workspace_id.into()],
            )
            .await?;
        rows.iter().map(member_at).collect()
    }

    /// Every workspace `user_id` belongs to, with the role there, in no particular order.
    pub async fn workspaces_of(&self, user_id: &str) -> Result<Vec<(WorkspaceRow, Role)>, DbErr> {
        // Cross-tenant by nature: a user's workspaces are many tenants, and
        // there is no single workspace to declare. The user_id filter is what
        // confines the answer to the caller's own memberships.
        let rows = self
            .store
            .query_scoped(
                Scope::CrossTenant,
                "SELECT w.workspace_id, w.name, w.created_at_ms, m.role \
                 FROM memberships m JOIN workspaces w ON w.workspace_id = m.workspace_id \
                 WHERE m.user_id = ?",
                [user_id.into()],
            )
            .await?;
        rows.iter()
            .map(|row| Ok((workspace_at(row)?, role_at(row, 3)?)))
            .collect()
    }

    /// The unexpired invitation whose token hashes to `token_hash`.
    pub async fn live_invitation(&self, token_hash: &str) -> Result<Option<InvitationRow>, DbErr> {
        // Cross-tenant by nature: the token is the only key the accepting user
        // holds (they are not a member yet, so there is no workspace to declare);
        // the answer is at most the one row its hash names.
        let rows = self
            .store
            .query_scoped(
                Scope::CrossTenant,
                "SELECT id, workspace_id, email, role, created_at_ms, expires_at_ms \
                 FROM invitations WHERE token_hash = ? AND expires_at_ms > ?",
                [token_hash.into(), now_ms().into()],
            )
            .await?;
        rows.first()
            .map(|row| {
                Ok(InvitationRow {
                    id: row.try_get_by_index(0)?,
                    workspace_id: row.try_get_by_index(1)?,
                    email: row.try_get_by_index(2)?,
                    role: role_at(row, 3)?,
                    created_at_ms: row.try_get_by_index(4)?,
                    expires_at_ms: row.try_get_by_index(5)?,
                })
            })
            .transpose()
    }
}

/// A transaction scoped to one workspace (row-level security on PostgreSQL),
/// whose statements all filter by that workspace. Dropped uncommitted, it
/// rolls back.
pub struct WorkspaceTxn {
    txn: DatabaseTransaction,
    workspace_id: String,
}

impl WorkspaceTxn {
    /// For writers outside this module (the outbox, purge requests).
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    /// Locks the workspace for the rest of the transaction and returns it;
    /// None when it does not exist. See [`lock_workspace`].
    pub async fn lock(&self) -> Result<Option<WorkspaceRow>, DbErr> {
        lock_workspace(&self.txn, &self.workspace_id).await
    }

    pub async fn insert_workspace(&self, name: &str, created_at_ms: i64) -> Result<(), DbErr> {
        execute(
            &self.txn,
            "INSERT INTO workspaces (workspace_id, name, created_at_ms) VALUES (?, ?, ?)",
            [self.workspace_id.as_str().into(), name.into(), created_at_ms.into()],
        )
        .await
        .map(drop)
    }

    pub async fn rename(&self, name: &str) -> Result<(), DbErr> {
        execute(
            &self.txn,
            "UPDATE workspaces SET name = ? WHERE workspace_id = ?",
            [name.into(), self.workspace_id.as_str().into()],
        )
        .await
        .map(drop)
    }

    /// Deletes every row of the workspace from every table of this service.
    pub async fn purge(&self) -> Result<u64, DbErr> {
        Store::purge_workspace(&self.txn, &self.workspace_id).await
    }

    pub async fn member(&self, user_id: &str) -> Result<Option<MemberRow>, DbErr> {
        let rows = query(
            &self.txn,
            &format!("SELECT {MEMBER_COLUMNS} FROM memberships WHERE workspace_id = ? AND user_id = ?"),
            [self.workspace_id.as_str().into(), user_id.into()],
        )
        .await?;
        rows.first().map(member_at).transpose()
    }

    /// How many owners the workspace has now.
    pub async fn owners(&self) -> Result<u64, DbErr> {
        count_owners(&self.txn, &self.workspace_id).await
    }

    pub async fn insert_member(&self, member: &MemberRow) -> Result<(), DbErr> {
        execute(
            &self.txn,
            "INSERT INTO memberships (workspace_id, user_id, role, joined_at_ms) VALUES (?, ?, ?, ?)",
            [
                self.workspace_id.as_str().into(),
                member.user_id.as_str().into(),
                member.role.as_str().into(),
                member.joined_at_ms.into(),
            ],
        )
        .await
        .map(drop)
    }

    pub async fn set_role(&self, user_id: &str, role: Role) -> Result<(), DbErr> {
        execute(
            &self.txn,
            "UPDATE memberships SET role = ? WHERE workspace_id = ? AND user_id = ?",
            [role.as_str().into(), self.workspace_id.as_str().into(), user_id.into()],
        )
        .await
        .map(drop)
    }

    pub async fn remove_member(&self, user_id: &str) -> Result<(), DbErr> {
        execute(
            &self.txn,
            "DELETE FROM memberships WHERE workspace_id = ? AND user_id = ?",
            [self.workspace_id.as_str().into(), user_id.into()],
        )
        .await
        .map(drop)
    }

    /// Stores an invitation (its token only as `token_hash`).
    pub async fn insert_invitation(&self, invitation: &InvitationRow, token_hash: &str) -> Result<(), DbErr> {
        execute(
            &self.txn,
            "INSERT INTO invitations (id, workspace_id, token_hash, email, role, created_at_ms, expires_at_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                invitation.id.as_str().into(),
                self.workspace_id.as_str().into(),
                token_hash.into(),
                invitation.email.as_str().into(),
                invitation.role.as_str().into(),
                invitation.created_at_ms.into(),
                invitation.expires_at_ms.into(),
            ],
        )
        .await
        .map(drop)
    }

    /// Deletes the workspace's expired invitations; returns how many.
    pub async fn delete_expired_invitations(&self) -> Result<u64, DbErr> {
        execute(
            &self.txn,
            "DELETE FROM invitations WHERE workspace_id = ? AND expires_at_ms <= ?",
            [self.workspace_id.as_str().into(), now_ms().into()],
        )
        .await
    }

    /// Deletes a still-valid invitation; true for the one transaction that
    /// did (single use: of two concurrent accepts, the other deletes nothing).
    pub async fn claim_invitation(&self, invitation_id: &str) -> Result<bool, DbErr> {
        let deleted = execute(
            &self.txn,
            "DELETE FROM invitations WHERE id = ? AND workspace_id = ? AND expires_at_ms > ?",
            [invitation_id.into(), self.workspace_id.as_str().into(), now_ms().into()],
        )
        .await?;
        Ok(deleted == 1)
    }
}

/// Locks a workspace's row until the transaction ends and returns it (None
/// when there is no such workspace).
///
/// Every change to a workspace's memberships takes this lock first, so
/// changes of one workspace run one after the other and each sees the
/// committed result of the last: two owners demoting or removing each other
/// at once cannot both pass the last-owner check. The no-op UPDATE takes a
/// row lock on PostgreSQL (where `SELECT … FOR UPDATE` would not port to
/// SQLite); on SQLite every write transaction holds the database write lock
/// from its BEGIN, which serialises them already.
pub async fn lock_workspace(txn: &DatabaseTransaction, workspace_id: &str) -> Result<Option<WorkspaceRow>, DbErr> {
    let rows = query(
        txn,
        &format!("UPDATE workspaces SET name = name WHERE workspace_id = ? RETURNING {WORKSPACE_COLUMNS}"),
        [workspace_id.into()],
    )
    .await?;
    rows.first().map(workspace_at).transpose()
}

pub async fn count_owners(txn: &DatabaseTransaction, workspace_id: &str) -> Result<u64, DbErr> {
    let rows = query(
        txn,
        "SELECT COUNT(*) FROM memberships WHERE workspace_id = ? AND role = ?",
        [workspace_id.into(), Role::Owner.as_str().into()],
    )
    .await?;
    let count: i64 = match rows.first() {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(count.max(0) as u64)
}

/// The workspaces `user_id` owns, sorted (so concurrent account deletions
/// lock shared workspaces in the same order). Meant for a cross-tenant transaction.
pub async fn owned_workspaces(txn: &DatabaseTransaction, user_id: &str) -> Result<Vec<String>, DbErr> {
    let rows = query(
        txn,
        "SELECT workspace_id FROM memberships WHERE user_id = ? AND role = ? ORDER BY workspace_id",
        [user_id.into(), Role::Owner.as_str().into()],
    )
    .await?;
    rows.iter().map(|row| row.try_get_by_index(0)).collect()
}

/// Deletes the invitations, in every workspace, still waiting for `email`
/// (a deleted account's); returns how many. Inside a cross-tenant transaction.
pub async fn delete_invitations_to(txn: &DatabaseTransaction, email: &str) -> Result<u64, DbErr> {
    execute(txn, "DELETE FROM invitations WHERE email = ?", [email.into()]).await
}
