//! Login throttling on two axes: per account (by a hash of the email, so an
//! unknown email is throttled exactly like a known one and no address is
//! stored) and per client address (an IPv6 client by its /64). Each reaches
//! its limit, locks, and the next lockout lasts twice as long, up to a cap.
//! Failures older than the cap are forgotten. An attempt is counted (one
//! upsert) before its password is checked, so concurrent guesses each take
//! a slot and no more than the limit are ever verified.

use smez_store::sea_orm::{ConnectionTrait, DbErr};
use smez_store::statement;

use crate::tokens::token_hash;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_failures: i64,
    pub base_ms: i64,
    pub max_ms: i64,
}

pub fn account_key(normalized_email: &str) -> String {
    format!("email:{}", token_hash(normalized_email))
}

pub fn address_key(ip: &str) -> String {
    format!("ip:{}", smez_kit::net::address_bucket(ip))
}

/// Until when `key` is locked, if it is now.
pub async fn locked_until(db: &impl ConnectionTrait, key: &str, now: i64) -> Result<Option<i64>, DbErr> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT locked_until_ms FROM login_throttles WHERE throttle_key = ? AND locked_until_ms > ?",
            [key.into(), now.into()],
        ))
        .await?;
    row.map(|r| r.try_get_by_index::<i64>(0)).transpose()
}

/// Counts a failure; returns the lock's end when this failure locked `key`.
pub async fn record_failure(
    db: &impl ConnectionTrait,
    key: &str,
    limits: Limits,
    now: i64,
) -> Result<Option<i64>, DbErr> {
    let backend = db.get_database_backend();
    let forgotten_before = now - limits.max_ms;
    let counted = db
        .query_one_raw(statement(
            backend,
            "INSERT INTO login_throttles (throttle_key, failures, lockouts, locked_until_ms, updated_at_ms) \
             VALUES (?, 1, 0, 0, ?) ON CONFLICT (throttle_key) DO UPDATE SET \
             failures = CASE WHEN login_throttles.updated_at_ms < ? THEN 1 ELSE login_throttles.failures + 1 END, \
             lockouts = CASE WHEN login_throttles.updated_at_ms < ? THEN 0 ELSE login_throttles.lockouts END, \
             updated_at_ms = excluded.updated_at_ms \
             RETURNING failures, lockouts",
            [key.into(), now.into(), forgotten_before.into(), forgotten_before.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("login throttle".into()))?;
    let failures: i64 = counted.try_get_by_index(0)?;
    let lockouts: i64 = counted.try_get_by_index(1)?;
    if failures < limits.max_failures {
        return Ok(None);
    }
    let duration = limits
        .base_ms
        .saturating_mul(1i64 << lockouts.clamp(0, 30))
        .min(limits.max_ms);
    let until = now + duration;
    let locked = db
        .execute_raw(statement(
            backend,
            "UPDATE login_throttles SET failures = 0, lockouts = lockouts + 1, locked_until_ms = ? \
             WHERE throttle_key = ? AND failures >= ?",
            [until.into(), key.into(), limits.max_failures.into()],
        ))
        .await?;
    Ok((locked.rows_affected() == 1).then_some(until))
}

/// Takes back one counted attempt (it turned out to be a success).
pub async fn forgive(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "UPDATE login_throttles SET failures = failures - 1 WHERE throttle_key = ? AND failures > 0",
        [key.into()],
    ))
    .await
    .map(drop)
}

/// Forgets `key`'s failures (after a successful login, or a deleted account).
pub async fn clear(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "DELETE FROM login_throttles WHERE throttle_key = ?",
        [key.into()],
    ))
    .await
    .map(drop)
}
