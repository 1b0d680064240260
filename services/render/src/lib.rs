//! The render service. It owns edit plans, renders and platform packages.
//!
//! Built so far: edit plans — the `smez.edit_plan/1` model with validation
//! and OpenTimelineIO ([`plan`]), checked against the workspace's media
//! ([`media`]) and stored with revisions ([`plans`], [`repo`]). Generation,
//! render workers and packages land with the rest of their issue.

pub mod api;
mod media;
pub mod plan;
mod plans;
mod repo;

use std::sync::Arc;

use smez_kit::grpc::BoxedServer;
use smez_service::ServiceContext;
use smez_service::purge::{BeforeDrop, Holds, OwnedSubject};

/// This service's own migrations (`migrations/render/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[smez_store::Migration::new(
    1,
    "edit_plans",
    include_str!("../../../migrations/render/0001_edit_plans.sql"),
)];

async fn build(ctx: Arc<ServiceContext>) -> anyhow::Result<BoxedServer> {
    let plans = Arc::new(plans::Plans::new(ctx.clone()));
    smez_service::events::spawn_outbox_relay(ctx.clone());
    // A deleted workspace: its plans go (every table has `workspace_id`).
    // A deleted account: its plans stay the workspace's, unattributed.
    smez_service::purge::spawn_holder_with(
        ctx.clone(),
        Holds {
            workspaces: true,
            users: true,
        },
        Some(forget_creator(plans.clone())),
    );
    Ok(smez_service::boxed(
        smez_proto::render::v1::render_service_server::RenderServiceServer::new(api::RenderApi::new(ctx, plans)),
    ))
}

fn forget_creator(plans: Arc<plans::Plans>) -> BeforeDrop {
    Arc::new(move |subject| {
        let plans = plans.clone();
        Box::pin(async move {
            if let OwnedSubject::User(user_id) = subject {
                let forgotten = plans.repo.forget_creator(&user_id).await?;
                tracing::info!(%user_id, plans = forgotten, "a deleted account's edit plans kept, unattributed");
            }
            Ok(())
        })
    })
}

smez_service::service_def!(
    render,
    render_service_server::RenderServiceServer,
    render_service_client::RenderServiceClient,
    MIGRATIONS,
    build
);
