//! The `users` table.

use smez_proto::auth::v1::User;
use smez_store::sea_orm::{ConnectionTrait, DbErr, QueryResult};
use smez_store::statement;

/// A user row with its password hash (never leaves this service).
pub struct UserRow {
    pub user: User,
    pub password_hash: String,
}

const COLUMNS: &str = "user_id, email, display_name, date_of_birth, created_at_ms, password_hash";

fn from_row(row: &QueryResult) -> Result<UserRow, DbErr> {
    Ok(UserRow {
        user: User {
            id: row.try_get_by_index(0)?,
            email: row.try_get_by_index(1)?,
            display_name: row.try_get_by_index(2)?,
            date_of_birth: row.try_get_by_index(3)?,
            created_at_ms: row.try_get_by_index(4)?,
        },
        password_hash: row.try_get_by_index(5)?,
    })
}

/// Inserts a user; false when the email is taken.
pub async fn insert(db: &impl ConnectionTrait, user: &User, password_hash: &str) -> Result<bool, DbErr> {
    let inserted = db
        .execute_raw(statement(
            db.get_database_backend(),
            "INSERT INTO users (user_id, email, display_name, date_of_birth, password_hash, created_at_ms, \
             password_changed_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
            [
                user.id.clone().into(),
                user.email.clone().into(),
                user.display_name.clone().into(),
                user.date_of_birth.clone().into(),
                password_hash.into(),
                user.created_at_ms.into(),
                user.created_at_ms.into(),
            ],
        ))
        .await?;
    Ok(inserted.rows_affected() == 1)
}

pub async fn by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<UserRow>, DbErr> {
    one(db, "email", email).await
}

pub async fn by_id(db: &impl ConnectionTrait, user_id: &str) -> Result<Option<UserRow>, DbErr> {
    one(db, "user_id", user_id).await
}

async fn one(db: &impl ConnectionTrait, column: &str, value: &str) -> Result<Option<UserRow>, DbErr> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            &format!("SELECT {COLUMNS} FROM users WHERE {column} = ?"),
            [value.into()],
        ))
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<User>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = vec!["?"; ids.len()].join(", ");
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            &format!("SELECT {COLUMNS} FROM users WHERE user_id IN ({placeholders}) ORDER BY user_id"),
            ids.iter().map(|id| id.clone().into()),
        ))
        .await?;
    rows.iter().map(|row| from_row(row).map(|r| r.user)).collect()
}

pub async fn set_password(
    db: &impl ConnectionTrait,
    user_id: &str,
    password_hash: &str,
    now: i64,
) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "UPDATE users SET password_hash = ?, password_changed_at_ms = ? WHERE user_id = ?",
        [password_hash.into(), now.into(), user_id.into()],
    ))
    .await
    .map(drop)
}
