//! Publishing: the scheduler and reconciler ([`scheduler`]), the workers
//! that take `publish.run` jobs ([`worker`]), and the limits checked before
//! calling a platform ([`limits`]).
//!
//! The one rule above all: a post is never published twice and never
//! silently lost. Every step the platform cannot take back is recorded
//! before the next (the adapter's [`smez_platforms::PublishProgress`]), so a
//! retry or a takeover resumes the same platform object; an outcome Smez
//! cannot confirm ends `unconfirmed` and is never retried automatically.

pub mod limits;
pub mod scheduler;
pub mod worker;

use std::sync::Arc;

use smez_kit::metrics::Metrics;
use smez_proto::events::v1::event::Payload;
use smez_proto::events::v1::{Event, PostTargetOutcome};
use smez_service::ServiceContext;

use crate::posts::repo::{PostRepo, TargetRow};

pub const PUBLISH_RUN: &str = "publish.run";

/// Starts the publisher's worker pool: the scheduler, the reconciler and the
/// `publish.run` consumers. Several processes may run it at once.
pub async fn start(ctx: Arc<ServiceContext>, metrics: Metrics) -> anyhow::Result<()> {
    let repo = PostRepo::new(ctx.store.clone());
    worker::start(ctx.clone(), metrics.clone()).await?;
    // Outcome events go to the outbox of the publisher's database; the
    // publisher service's relay sends them on.
    scheduler::spawn(ctx, repo, metrics);
    Ok(())
}

/// A publish event about one target; `fill` sets what the outcome adds.
pub fn outcome_event(event_type: &str, target: &TargetRow, fill: impl FnOnce(&mut PostTargetOutcome)) -> Event {
    let mut outcome = PostTargetOutcome {
        post_id: target.post_id.clone(),
        target_id: target.target_id.clone(),
        connection_id: target.connection_id.clone(),
        platform: target.platform.clone(),
        state: target.state.clone(),
        ..PostTargetOutcome::default()
    };
    fill(&mut outcome);
    smez_service::events::new_event(
        event_type,
        Some(&target.workspace_id),
        Payload::PostTargetOutcome(outcome),
    )
}
