//! The reconciler: no render or package build is silently dropped. Every
//! `render.reconcile_interval_secs` it sends the job again for renders left
//! queued (their job was lost, or never sent) and for running renders whose
//! worker stopped renewing its lease (it died); the next worker takes them
//! over from the start. Package builds likewise.

use std::sync::Arc;
use std::time::Duration;

use super::Renders;
use crate::packages::Packages;
use crate::plans::now_ms;

/// A queued render's job is sent again after this long without a worker
/// taking it (jobs wait their turn behind long renders: not too eagerly).
const QUEUED_PATIENCE_MS: i64 = 5 * 60 * 1000;
/// Renders looked at per round.
const BATCH: u32 = 100;

pub fn spawn(renders: Arc<Renders>, packages: Arc<Packages>) {
    let every = Duration::from_secs(renders.settings().reconcile_interval_secs);
    let shutdown = renders.shutdown();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if let Err(e) = round(&renders).await {
                tracing::warn!(error = %e, "render reconciliation failed; next round");
            }
            if let Err(e) = packages.reconcile().await {
                tracing::warn!(error = %e, "package reconciliation failed; next round");
            }
        }
    });
}

async fn round(renders: &Renders) -> anyhow::Result<()> {
    let now = now_ms();
    let lease_ms = i64::try_from(renders.settings().lease_secs * 1000).unwrap_or(i64::MAX);
    for (workspace_id, render_id) in renders
        .repo
        .stranded(now - QUEUED_PATIENCE_MS, now, now - lease_ms, BATCH)
        .await?
    {
        tracing::info!(%render_id, "render stranded (job lost or worker gone): sending its job again");
        renders.enqueue(&workspace_id, &render_id).await?;
    }
    Ok(())
}
