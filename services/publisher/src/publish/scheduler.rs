//! The scheduler: every `publishing.scheduler_tick_ms` it claims the
//! targets that are due (one conditional update; `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so several publisher processes never claim the same target)
//! and sends each a `publish.run` job.
//!
//! The reconciler: nothing is lost to a restart or a broker outage. A
//! claimed target whose job never arrived (lost, or never sent), or whose
//! worker died (its lease lapsed), gets its job again; the worker's claim is
//! conditional, so a duplicate job does nothing. A target still not started
//! `publishing.alert_after_secs` after its due time raises an alert: the
//! `smez_publish_overdue_total` counter and a `post.delayed` event.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use prost::Message;
use smez_kit::metrics::Metrics;
use smez_proto::jobs::v1::PublishRun;
use smez_service::ServiceContext;

use super::{PUBLISH_RUN, outcome_event};
use crate::posts::repo::PostRepo;
use crate::repo::now_ms;

/// Targets re-driven or alerted on per reconciler round.
const RECONCILE_BATCH: u32 = 500;

pub fn spawn(ctx: Arc<ServiceContext>, repo: PostRepo, metrics: Metrics) {
    let settings = ctx.settings.publishing.clone();
    let tick = Duration::from_millis(settings.scheduler_tick_ms);
    let (dispatch_ctx, dispatch_repo) = (ctx.clone(), repo.clone());
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = dispatch_ctx.shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            // A full batch means more may be due: go again at once.
            loop {
                match dispatch(&dispatch_ctx, &dispatch_repo, settings.dispatch_batch).await {
                    Ok(n) if n == settings.dispatch_batch as usize => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "dispatching due posts failed; next tick");
                        break;
                    }
                }
            }
        }
    });
    let every = Duration::from_secs(ctx.settings.publishing.reconcile_interval_secs);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = ctx.shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            if let Err(e) = reconcile(&ctx, &repo, &metrics).await {
                tracing::warn!(error = %e, "publish reconciliation failed; next round");
            }
        }
    });
}

/// Jobs one scheduler has in flight to the broker at once: each waits for
/// the broker's confirm, so one at a time would cap dispatch at one
/// round trip per target.
const SENDS_IN_FLIGHT: usize = 64;

/// One round: claims due targets and sends their jobs. A job that cannot
/// be sent is left to the reconciler (the target stays claimed and queued).
pub async fn dispatch(ctx: &ServiceContext, repo: &PostRepo, batch: u32) -> anyhow::Result<usize> {
    let claimed = repo.claim_due(now_ms(), batch).await?;
    futures_util::stream::iter(&claimed)
        .for_each_concurrent(SENDS_IN_FLIGHT, |(workspace_id, target_id)| {
            send(ctx, workspace_id, target_id)
        })
        .await;
    Ok(claimed.len())
}

async fn send(ctx: &ServiceContext, workspace_id: &str, target_id: &str) {
    let payload = PublishRun {
        workspace_id: workspace_id.to_owned(),
        target_id: target_id.to_owned(),
    }
    .encode_to_vec();
    if let Err(e) = ctx.bus.enqueue(PUBLISH_RUN, payload).await {
        tracing::warn!(%target_id, error = %e, "publish.run not sent; the reconciler sends it again");
    }
}

async fn reconcile(ctx: &ServiceContext, repo: &PostRepo, metrics: &Metrics) -> anyhow::Result<()> {
    let settings = &ctx.settings.publishing;
    let now = now_ms();
    let patience = i64::try_from(settings.queued_patience_secs * 1000).unwrap_or(i64::MAX);
    for (workspace_id, target_id) in repo.stranded(now - patience, now, RECONCILE_BATCH).await? {
        tracing::info!(%target_id, "publish target stranded (job lost or worker gone): sending its job again");
        send(ctx, &workspace_id, &target_id).await;
    }
    let alert_after = i64::try_from(settings.alert_after_secs * 1000).unwrap_or(i64::MAX);
    let overdue = repo.overdue(now - alert_after, now, RECONCILE_BATCH).await?;
    for target in &overdue {
        tracing::error!(
            target_id = %target.target_id,
            post_id = %target.post_id,
            platform = %target.platform,
            state = %target.state,
            "publish overdue: still not started {} s after its due time",
            settings.alert_after_secs
        );
        let event = outcome_event("post.delayed", target, |outcome| {
            outcome.due_at_ms = target.dispatch_at_ms.unwrap_or_default();
        });
        let payload = event.encode_to_vec();
        if let Err(e) = ctx.bus.emit("post.delayed", payload).await {
            tracing::warn!(error = %e, "post.delayed not sent");
        }
    }
    metrics.publish_overdue.inc_by(overdue.len() as u64);
    Ok(())
}
