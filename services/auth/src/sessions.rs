//! Sessions and their refresh tokens. Rotation is one conditional UPDATE, so
//! two concurrent refreshes with the same token cannot both win: the loser
//! sees a rotated token, which is what theft looks like, and the family dies.

use smez_proto::auth::v1::ClientInfo;
use smez_store::sea_orm::{ConnectionTrait, DbErr};
use smez_store::statement;

use crate::tokens::{new_refresh_token, token_hash};

/// A refresh token just issued, with its session.
pub struct Issued {
    pub session_id: String,
    pub refresh_token: String,
    pub refresh_expires_at_ms: i64,
}

/// What presenting a refresh token found.
pub enum Presented {
    /// Valid and now rotated: the session continues with a new token.
    Rotated { session_id: String, user_id: String },
    /// Already rotated before: stolen or replayed. The session must die.
    Reused { session_id: String, user_id: String },
    /// Rotated moments ago by a parallel refresh of the same client (two
    /// tabs sharing the cookie): refused, but the session lives on.
    Superseded,
    /// Unknown, or its session is revoked or expired.
    Invalid,
}

pub async fn create(
    db: &impl ConnectionTrait,
    user_id: &str,
    client: &ClientInfo,
    now: i64,
    ttl_ms: i64,
) -> Result<Issued, DbErr> {
    let session_id = uuid::Uuid::now_v7().to_string();
    db.execute_raw(statement(
        db.get_database_backend(),
        "INSERT INTO sessions (session_id, user_id, created_at_ms, last_used_at_ms, expires_at_ms, ip, user_agent) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            session_id.clone().into(),
            user_id.into(),
            now.into(),
            now.into(),
            (now + ttl_ms).into(),
            client.ip.clone().into(),
            client.user_agent.clone().into(),
        ],
    ))
    .await?;
    issue_token(db, &session_id, user_id, now, ttl_ms).await
}

async fn issue_token(
    db: &impl ConnectionTrait,
    session_id: &str,
    user_id: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<Issued, DbErr> {
    let refresh_token = new_refresh_token();
    db.execute_raw(statement(
        db.get_database_backend(),
        "INSERT INTO refresh_tokens (token_hash, session_id, user_id, issued_at_ms) VALUES (?, ?, ?, ?)",
        [
            token_hash(&refresh_token).into(),
            session_id.into(),
            user_id.into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(Issued {
        session_id: session_id.to_owned(),
        refresh_token,
        refresh_expires_at_ms: now + ttl_ms,
    })
}

/// Rotates `token` if it is the live token of a live session.
/// How long after a rotation the same client presenting the old token is
/// taken for a parallel refresh rather than theft (security.md §5.2).
pub const PARALLEL_REFRESH_GRACE_MS: i64 = 10_000;

/// Rotates `token` if it is the live token of a live session. `client` is
/// who presents it: the session's own client, within
/// [`PARALLEL_REFRESH_GRACE_MS`] of the rotation, gets `Superseded`.
pub async fn present(
    db: &impl ConnectionTrait,
    token: &str,
    client: &ClientInfo,
    now: i64,
) -> Result<Presented, DbErr> {
    let backend = db.get_database_backend();
    let hash = token_hash(token);
    let rotated = db
        .query_one_raw(statement(
            backend,
            "UPDATE refresh_tokens SET rotated_at_ms = ? WHERE token_hash = ? AND rotated_at_ms IS NULL \
             AND session_id IN (SELECT session_id FROM sessions WHERE revoked_at_ms IS NULL AND expires_at_ms > ?) \
             RETURNING session_id, user_id",
            [now.into(), hash.clone().into(), now.into()],
        ))
        .await?;
    if let Some(row) = rotated {
        return Ok(Presented::Rotated {
            session_id: row.try_get_by_index(0)?,
            user_id: row.try_get_by_index(1)?,
        });
    }
    let known = db
        .query_one_raw(statement(
            backend,
            "SELECT t.session_id, t.user_id, t.rotated_at_ms, s.ip, s.user_agent FROM refresh_tokens t \
             JOIN sessions s ON s.session_id = t.session_id \
             WHERE t.token_hash = ? AND t.rotated_at_ms IS NOT NULL AND s.revoked_at_ms IS NULL",
            [hash.into()],
        ))
        .await?;
    let Some(row) = known else {
        return Ok(Presented::Invalid);
    };
    let rotated_at: i64 = row.try_get_by_index(2)?;
    let same_client =
        row.try_get_by_index::<String>(3)? == client.ip && row.try_get_by_index::<String>(4)? == client.user_agent;
    if same_client && now - rotated_at <= PARALLEL_REFRESH_GRACE_MS {
        return Ok(Presented::Superseded);
    }
    Ok(Presented::Reused {
        session_id: row.try_get_by_index(0)?,
        user_id: row.try_get_by_index(1)?,
    })
}

/// After a rotation: the session's next token, and its expiry slides forward.
pub async fn continue_session(
    db: &impl ConnectionTrait,
    session_id: &str,
    user_id: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<Issued, DbErr> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "UPDATE sessions SET last_used_at_ms = ?, expires_at_ms = ? WHERE session_id = ?",
        [now.into(), (now + ttl_ms).into(), session_id.into()],
    ))
    .await?;
    issue_token(db, session_id, user_id, now, ttl_ms).await
}

/// Whether `session_id` of `user_id` is live: not revoked, not expired.
pub async fn is_live(db: &impl ConnectionTrait, session_id: &str, user_id: &str, now: i64) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT 1 FROM sessions WHERE session_id = ? AND user_id = ? AND revoked_at_ms IS NULL AND expires_at_ms > ?",
            [session_id.into(), user_id.into(), now.into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// The live session a refresh token belongs to (rotated or not), for logout.
pub async fn of_token(db: &impl ConnectionTrait, token: &str) -> Result<Option<(String, String)>, DbErr> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT session_id, user_id FROM refresh_tokens WHERE token_hash = ?",
            [token_hash(token).into()],
        ))
        .await?;
    row.map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .transpose()
}

/// Revokes one session of `user_id`; false if there was no live one.
pub async fn revoke(
    db: &impl ConnectionTrait,
    user_id: &str,
    session_id: &str,
    reason: &str,
    now: i64,
) -> Result<bool, DbErr> {
    let revoked = db
        .execute_raw(statement(
            db.get_database_backend(),
            "UPDATE sessions SET revoked_at_ms = ?, revoked_reason = ? \
             WHERE session_id = ? AND user_id = ? AND revoked_at_ms IS NULL",
            [now.into(), reason.into(), session_id.into(), user_id.into()],
        ))
        .await?;
    Ok(revoked.rows_affected() == 1)
}

/// Revokes every live session of `user_id` except `keep`; returns how many.
pub async fn revoke_others(
    db: &impl ConnectionTrait,
    user_id: &str,
    keep: &str,
    reason: &str,
    now: i64,
) -> Result<u64, DbErr> {
    let revoked = db
        .execute_raw(statement(
            db.get_database_backend(),
            "UPDATE sessions SET revoked_at_ms = ?, revoked_reason = ? \
             WHERE user_id = ? AND session_id <> ? AND revoked_at_ms IS NULL",
            [now.into(), reason.into(), user_id.into(), keep.into()],
        ))
        .await?;
    Ok(revoked.rows_affected())
}

/// Deletes sessions that ended (expired, or revoked more than `keep_ms` ago)
/// with their refresh tokens, and rotated tokens of live sessions older than
/// `keep_ms` (reuse is then no longer recognised as theft, only refused as
/// unknown). Returns the sessions deleted.
pub async fn prune(db: &impl ConnectionTrait, now: i64, keep_ms: i64) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let ended = "SELECT session_id FROM sessions WHERE expires_at_ms <= ? OR revoked_at_ms <= ?";
    db.execute_raw(statement(
        backend,
        &format!("DELETE FROM refresh_tokens WHERE session_id IN ({ended}) OR rotated_at_ms <= ?"),
        [now.into(), (now - keep_ms).into(), (now - keep_ms).into()],
    ))
    .await?;
    let deleted = db
        .execute_raw(statement(
            backend,
            "DELETE FROM sessions WHERE expires_at_ms <= ? OR revoked_at_ms <= ?",
            [now.into(), (now - keep_ms).into()],
        ))
        .await?;
    Ok(deleted.rows_affected())
}

#[cfg(test)]
mod tests {
    use smez_proto::auth::v1::ClientInfo;
    use smez_store::sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

    use super::*;

    /// A fresh auth database, migrated the way the service migrates it.
    async fn database() -> DatabaseConnection {
        let path = std::env::temp_dir().join(format!("smez-auth-{}/auth.sqlite", uuid::Uuid::new_v4().simple()));
        let location = smez_store::Location::SqliteFile(path);
        let store = smez_store::Store::open(&location, 1, "auth", crate::MIGRATIONS)
            .await
            .unwrap();
        store.connection().clone()
    }

    async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    }

    #[tokio::test]
    async fn rotation_then_reuse_then_pruning() {
        let db = database().await;
        let client = ClientInfo::default();
        let (now, ttl, day) = (1_000_000_000_i64, 3_600_000_i64, 86_400_000_i64);
        let issued = create(&db, "u1", &client, now, ttl).await.unwrap();
        let Presented::Rotated { session_id, .. } =
            present(&db, &issued.refresh_token, &client, now + 1).await.unwrap()
        else {
            panic!("a fresh token rotates");
        };
        let next = continue_session(&db, &session_id, "u1", now + 1, ttl).await.unwrap();
        // The same client a moment later: a parallel refresh, not theft.
        assert!(matches!(
            present(&db, &issued.refresh_token, &client, now + 2).await.unwrap(),
            Presented::Superseded
        ));
        // Another client, or the same one after the grace: theft.
        let thief = ClientInfo {
            ip: "203.0.113.9".into(),
            user_agent: "curl".into(),
        };
        assert!(matches!(
            present(&db, &issued.refresh_token, &thief, now + 2).await.unwrap(),
            Presented::Reused { .. }
        ));
        assert!(matches!(
            present(&db, &issued.refresh_token, &client, now + 2 + PARALLEL_REFRESH_GRACE_MS)
                .await
                .unwrap(),
            Presented::Reused { .. }
        ));
        assert!(is_live(&db, &session_id, "u1", now + 2).await.unwrap());

        // An ended session and one revoked long ago go; a live one stays,
        // minus its rotated token once that is older than a day.
        let expired = create(&db, "u2", &client, now - 2 * ttl, ttl).await.unwrap();
        let revoked = create(&db, "u3", &client, now, ttl).await.unwrap();
        revoke(&db, "u3", &revoked.session_id, "logout", now - 2 * day)
            .await
            .unwrap();
        let deleted = prune(&db, now + day + 10, day).await.unwrap();
        assert_eq!(
            deleted, 3,
            "the expired, the revoked and (its ttl passed) the first session"
        );
        let _ = (expired, next);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM sessions").await, 0);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM refresh_tokens").await, 0);

        let live = create(&db, "u4", &client, now, 10 * day).await.unwrap();
        let Presented::Rotated { session_id, .. } = present(&db, &live.refresh_token, &client, now).await.unwrap()
        else {
            panic!("rotates");
        };
        continue_session(&db, &session_id, "u4", now, 10 * day).await.unwrap();
        assert_eq!(prune(&db, now + 2 * day, day).await.unwrap(), 0, "a live session stays");
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM refresh_tokens").await,
            1,
            "only its current token"
        );
    }
}
