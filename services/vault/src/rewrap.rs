//! Moves stored ciphertexts to the newest key version, a batch at a time,
//! without downtime: each row is replaced only if it is still on the version
//! it was read at (compare-and-swap), so concurrent writers always win.

use std::sync::Arc;
use std::time::Duration;

use smez_kit::CancellationToken;

use crate::credentials::{ACCESS_TOKEN, REFRESH_TOKEN, open_pending, open_token, seal_pending, seal_tokens};
use crate::error::VaultError;
use crate::keyring::{Keyring, PENDING, TOKENS};
use crate::repo::{CredentialRow, PendingRow, Repo};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub rewrapped: u64,
    pub remaining: u64,
}

/// Rewraps until nothing older than the current versions is left (or a batch
/// makes no progress: rows changing under us are left for the next pass).
/// `only` limits the pass to one key.
pub async fn run(keyring: &Keyring, repo: &Repo, batch: u32, only: Option<&str>) -> Result<Progress, VaultError> {
    let wanted = |key: &str| only.is_none_or(|k| k == key);
    let mut total = 0;
    loop {
        let mut done = 0;
        if wanted(TOKENS) {
            done += credentials_batch(keyring, repo, batch).await?;
        }
        if wanted(PENDING) {
            done += pending_batch(keyring, repo, batch).await?;
        }
        total += done;
        if done == 0 {
            break;
        }
    }
    let remaining = older_than_current(keyring, repo).await?;
    if total > 0 {
        tracing::info!(rewrapped = total, remaining, "rewrap_progress");
    }
    Ok(Progress {
        rewrapped: total,
        remaining,
    })
}

async fn credentials_batch(keyring: &Keyring, repo: &Repo, batch: u32) -> Result<u64, VaultError> {
    let current = keyring.current_version(TOKENS);
    let mut done = 0;
    for row in repo.credentials_older_than(current, batch).await? {
        // One bad row (altered, or sealed under a retired version) is logged
        // and skipped; it must not stop every other row from moving.
        match rewrap_credential(keyring, repo, &row).await {
            Ok(true) => done += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(connection_id = %row.connection_id, error = %e, "cannot rewrap a credential"),
        }
    }
    Ok(done)
}

async fn rewrap_credential(keyring: &Keyring, repo: &Repo, row: &CredentialRow) -> Result<bool, VaultError> {
    let (ws, id) = (&row.workspace_id, &row.connection_id);
    let access = open_token(keyring, ws, id, ACCESS_TOKEN, &row.access_token).await?;
    let refresh = match &row.refresh_token {
        Some(sealed) => Some(open_token(keyring, ws, id, REFRESH_TOKEN, sealed).await?),
        None => None,
    };
    let sealed = seal_tokens(keyring, ws, id, access.expose(), refresh.as_ref().map(|r| r.expose())).await?;
    Ok(repo
        .rewrap_credential(
            id,
            &row.access_token,
            sealed.version,
            &sealed.access_token,
            sealed.refresh_token.as_deref(),
        )
        .await?)
}

async fn pending_batch(keyring: &Keyring, repo: &Repo, batch: u32) -> Result<u64, VaultError> {
    let current = keyring.current_version(PENDING);
    let mut done = 0;
    for row in repo.pending_older_than(current, batch).await? {
        match rewrap_pending(keyring, repo, &row).await {
            Ok(true) => done += 1,
            Ok(false) => {}
            Err(e) => tracing::error!(transfer_id = %row.id, error = %e, "cannot rewrap a pending transfer"),
        }
    }
    Ok(done)
}

async fn rewrap_pending(keyring: &Keyring, repo: &Repo, row: &PendingRow) -> Result<bool, VaultError> {
    let payload = open_pending(keyring, &row.workspace_id, &row.id, &row.user_id, &row.payload).await?;
    let (sealed, version) = seal_pending(keyring, &row.workspace_id, &row.id, &row.user_id, payload.expose()).await?;
    Ok(repo.rewrap_pending(&row.id, &row.payload, version, &sealed).await?)
}

async fn older_than_current(keyring: &Keyring, repo: &Repo) -> Result<u64, VaultError> {
    let mut older = 0;
    for (table, key) in [("vault_credentials", TOKENS), ("vault_pending_transfers", PENDING)] {
        let current = keyring.current_version(key);
        older += repo
            .stored_per_version(table)
            .await?
            .into_iter()
            .filter(|(version, _)| *version < current)
            .map(|(_, count)| count)
            .sum::<u64>();
    }
    Ok(older)
}

/// The background loop: picks up rotations by other replicas, purges expired
/// pending transfers and rewraps, every `interval`, until shutdown.
pub fn spawn(keyring: Arc<Keyring>, repo: Repo, interval: Duration, batch: u32, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
            let outcome = async {
                keyring.refresh().await?;
                let purged = repo.purge_expired_pending().await?;
                if purged > 0 {
                    tracing::info!(purged, "expired pending transfers deleted");
                }
                run(&keyring, &repo, batch, None).await
            }
            .await;
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "vault maintenance pass failed; next pass retries");
            }
        }
    });
}
