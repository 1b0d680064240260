//! The render service. It owns edit plans, renders and platform packages.
//!
//! - Edit plans: the `smez.edit_plan/1` model with validation and
//!   OpenTimelineIO ([`plan`]), checked against the workspace's media
//!   ([`media`]) and stored with revisions ([`plans`], [`repo`]).
//! - Renders: queued as `render.run` jobs, followed, canceled, read
//!   ([`renders`]); done by the worker pool ([`worker`]) with ffmpeg
//!   ([`ffmpeg`]); a reconciler re-sends what was stranded.
//!
//! - Generation: plans from clips and transcripts ([`generate`]).
//! - Packages: a render made ready for one platform ([`packages`]).

pub mod api;
pub mod ffmpeg;
mod generate;
mod media;
mod packages;
pub mod plan;
mod plans;
mod renders;
mod repo;
mod worker;

use std::sync::Arc;

use smez_kit::grpc::BoxedServer;
use smez_service::ServiceContext;
use smez_service::purge::{BeforeDrop, Holds, OwnedSubject};

/// This service's own migrations (`migrations/render/`), applied after the common ones.
pub const MIGRATIONS: &[smez_store::Migration] = &[
    smez_store::Migration::new(
        1,
        "edit_plans",
        include_str!("../../../migrations/render/0001_edit_plans.sql"),
    ),
    smez_store::Migration::new(
        2,
        "renders",
        include_str!("../../../migrations/render/0002_renders.sql"),
    ),
    smez_store::Migration::new(
        3,
        "packages",
        include_str!("../../../migrations/render/0003_packages.sql"),
    ),
];

async fn build(ctx: Arc<ServiceContext>) -> anyhow::Result<BoxedServer> {
    let plans = Arc::new(plans::Plans::new(ctx.clone()));
    let renders = Arc::new(renders::Renders::new(ctx.clone(), plans.clone())?);
    let packages = Arc::new(packages::Packages::new(ctx.clone()));
    smez_service::events::spawn_outbox_relay(ctx.clone());
    renders::reconcile::spawn(renders.clone(), packages.clone());
    // A deleted workspace: its rows go (every table has `workspace_id`), and
    // its render files before them. A deleted account: its plans and renders
    // stay the workspace's, unattributed.
    smez_service::purge::spawn_holder_with(
        ctx.clone(),
        Holds {
            workspaces: true,
            users: true,
        },
        Some(before_drop(plans.clone(), renders.clone())),
    );
    Ok(smez_service::boxed(
        smez_proto::render::v1::render_service_server::RenderServiceServer::new(api::RenderApi::new(
            ctx.clone(),
            plans.clone(),
            renders,
            Arc::new(generate::Generator::new(ctx, plans)),
            packages,
        )),
    ))
}

fn before_drop(plans: Arc<plans::Plans>, renders: Arc<renders::Renders>) -> BeforeDrop {
    Arc::new(move |subject| {
        let (plans, renders) = (plans.clone(), renders.clone());
        Box::pin(async move {
            match subject {
                OwnedSubject::Workspace(workspace_id) => {
                    let removed = renders
                        .store
                        .delete_prefix(&renders::workspace_prefix(&workspace_id))
                        .await?;
                    tracing::info!(%workspace_id, files = removed, "a deleted workspace's render files removed");
                }
                OwnedSubject::User(user_id) => {
                    let plans = plans.repo.forget_creator(&user_id).await?;
                    let packages = packages::repo::PackageRepo::new(renders.repo.store().clone())
                        .forget_creator(&user_id)
                        .await?;
                    let renders = renders.repo.forget_creator(&user_id).await?;
                    tracing::info!(%user_id, plans, renders, packages, "a deleted account's plans, renders and packages kept, unattributed");
                }
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
    build,
    worker = worker::start
);
