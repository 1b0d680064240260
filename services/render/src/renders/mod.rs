//! Renders of a workspace's plans, as the API sees them: ask for one (it is
//! queued as a `render.run` job), follow it, cancel it, read what it made.
//! The work itself is the [`crate::worker`]'s.

pub mod reconcile;
pub mod repo;

use std::sync::Arc;

use smez_kit::{Error, ErrorCode};
use smez_media::content::Content;
use smez_media::storage::MediaStore;
use smez_proto::jobs::v1::RenderRun;
use smez_proto::render::v1::{Render, RenderOutput};
use smez_service::ServiceContext;
use smez_service::member::Member;

use crate::ffmpeg::verify::OutputFacts;
use crate::plan::model::EditPlan;
use crate::plans::{self, Plans, storage};
use repo::{QUEUED, RenderRepo, RenderRow};

/// The job kind the workers consume.
pub const RENDER_RUN: &str = "render.run";

pub struct Renders {
    ctx: Arc<ServiceContext>,
    pub repo: RenderRepo,
    plans: Arc<Plans>,
    pub store: Arc<MediaStore>,
}

/// A render's object keys: under the workspace's render prefix, named by
/// the attempt that made them (a late, superseded attempt can only ever
/// write and remove its own).
pub fn output_key(workspace_id: &str, render_id: &str, attempt: &str) -> String {
    format!("{}{attempt}.mp4", render_prefix(workspace_id, render_id))
}

pub fn poster_key(workspace_id: &str, render_id: &str, attempt: &str) -> String {
    format!("{}{attempt}.jpg", render_prefix(workspace_id, render_id))
}

/// Everything of one render (its packages' re-encodes too).
pub fn render_prefix(workspace_id: &str, render_id: &str) -> String {
    format!("{}{render_id}/", workspace_prefix(workspace_id))
}

pub fn workspace_prefix(workspace_id: &str) -> String {
    format!("renders/{workspace_id}/")
}

impl Renders {
    pub fn new(ctx: Arc<ServiceContext>, plans: Arc<Plans>) -> anyhow::Result<Self> {
        let store = MediaStore::from_settings(&ctx.settings.media, &ctx.settings.data_dir)?;
        Ok(Self {
            repo: RenderRepo::new(ctx.store.clone()),
            store: Arc::new(store),
            plans,
            ctx,
        })
    }

    /// Queues a render of the plan as it is now (checked again: media may
    /// have gone since it was saved).
    pub async fn create(&self, member: &Member, plan_id: &str) -> Result<Render, Error> {
        let stored = self.plans.row(member, plan_id).await?;
        let plan: EditPlan = serde_json::from_str(&stored.plan).map_err(Error::internal)?;
        let duration_us = self.plans.check(&member.workspace_id, &plan).await?;
        let now = plans::now_ms();
        let row = RenderRow {
            render_id: uuid::Uuid::now_v7().to_string(),
            workspace_id: member.workspace_id.clone(),
            plan_id: stored.plan_id,
            plan_revision: stored.revision,
            plan: stored.plan,
            duration_us,
            status: QUEUED.to_owned(),
            progress_permille: 0,
            error: String::new(),
            attempts: 0,
            output_key: None,
            poster_key: None,
            output: None,
            created_by: Some(member.user_id.clone()),
            created_at_ms: now,
            started_at_ms: None,
            finished_at_ms: None,
        };
        self.repo.insert(&row, now).await.map_err(storage)?;
        // The row is the truth; the job only wakes a worker. If sending it
        // fails, the reconciler sends it on its next round.
        if let Err(e) = self.enqueue(&row.workspace_id, &row.render_id).await {
            tracing::warn!(render_id = %row.render_id, error = %e, "render job not sent; the reconciler will");
            let _ = self.repo.mark_enqueued(&row.workspace_id, &row.render_id, 0).await;
        }
        tracing::info!(render_id = %row.render_id, plan_id, duration_us, "render queued");
        Ok(message(&row, false))
    }

    pub fn settings(&self) -> &smez_kit::config::RenderSettings {
        &self.ctx.settings.render
    }

    pub fn shutdown(&self) -> tokio_util::sync::CancellationToken {
        self.ctx.shutdown.clone()
    }

    /// Sends the render's job (again).
    pub async fn enqueue(&self, workspace_id: &str, render_id: &str) -> anyhow::Result<()> {
        let payload = prost::Message::encode_to_vec(&RenderRun {
            workspace_id: workspace_id.to_owned(),
            render_id: render_id.to_owned(),
        });
        self.ctx.bus.enqueue(RENDER_RUN, payload).await?;
        self.repo
            .mark_enqueued(workspace_id, render_id, plans::now_ms())
            .await?;
        Ok(())
    }

    pub async fn get(&self, member: &Member, render_id: &str) -> Result<Render, Error> {
        Ok(message(&self.row(member, render_id).await?, false))
    }

    async fn row(&self, member: &Member, render_id: &str) -> Result<RenderRow, Error> {
        self.repo
            .get(&member.workspace_id, render_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| Error::not_found("no such render"))
    }

    /// Cancels a queued or running render (its worker stops within a
    /// second and leaves nothing); a finished one is removed with its files
    /// and its packages.
    pub async fn cancel(&self, member: &Member, render_id: &str) -> Result<Render, Error> {
        let row = self.row(member, render_id).await?;
        if self
            .repo
            .cancel(&member.workspace_id, render_id, plans::now_ms())
            .await
            .map_err(storage)?
        {
            tracing::info!(render_id, "render canceled");
            return Ok(message(&self.row(member, render_id).await?, false));
        }
        // The rows first: a package build finishing meanwhile then fails to
        // record and removes its own file. Then everything under the
        // render's prefix (its video, poster and packages' re-encodes).
        self.repo
            .delete(&member.workspace_id, render_id)
            .await
            .map_err(storage)?;
        self.store
            .delete_prefix(&render_prefix(&member.workspace_id, render_id))
            .await
            .map_err(Error::internal)?;
        tracing::info!(render_id, "render removed with its files and packages");
        Ok(message(&row, true))
    }

    /// The rendered file or its poster, from `offset` (`length` bytes, or to the end).
    pub async fn content(
        &self,
        member: &Member,
        render_id: &str,
        variant: &str,
        offset: u64,
        length: Option<u64>,
    ) -> Result<Content, Error> {
        let row = self.row(member, render_id).await?;
        let (key, content_type, extension) = match variant {
            "" | "video" => (row.output_key.clone(), "video/mp4", "mp4"),
            "poster" => (row.poster_key.clone(), "image/jpeg", "jpg"),
            other => {
                return Err(Error::invalid_field(
                    "variant",
                    format!("`{other}` is not video or poster"),
                ));
            }
        };
        let key = key.ok_or_else(|| {
            Error::new(
                ErrorCode::Conflict,
                format!("the render is {}: it has no file yet", row.status),
            )
        })?;
        let total = self.store.size(&key).await.map_err(Error::internal)?;
        if offset >= total.max(1) || length == Some(0) {
            return Err(Error::new(
                ErrorCode::PayloadTooLarge,
                format!("the range starts past the end ({total} bytes)"),
            ));
        }
        let end = length.map_or(total, |l| offset.saturating_add(l).min(total));
        let (total_size, bytes) = self
            .store
            .read(&key, Some(offset..end))
            .await
            .map_err(Error::internal)?;
        let sha256 = facts(&row)
            .map(|f| f.sha256)
            .filter(|_| extension == "mp4")
            .unwrap_or_default();
        Ok(Content {
            total_size,
            content_type: content_type.to_owned(),
            file_name: format!("render-{render_id}.{extension}"),
            sha256,
            bytes,
        })
    }
}

impl Renders {
    /// A whole stored MP4 (a package's video), to stream out.
    pub async fn read_whole(&self, key: &str, file_name: String) -> Result<Content, Error> {
        let (total_size, bytes) = self.store.read(key, None).await.map_err(Error::internal)?;
        Ok(Content {
            total_size,
            content_type: "video/mp4".to_owned(),
            file_name,
            sha256: String::new(),
            bytes,
        })
    }
}

fn facts(row: &RenderRow) -> Option<OutputFacts> {
    row.output.as_deref().and_then(|json| serde_json::from_str(json).ok())
}

pub fn message(row: &RenderRow, removed: bool) -> Render {
    let output = facts(row).map(|f| RenderOutput {
        size_bytes: f.size_bytes,
        duration_us: f.duration_us,
        width: f.width,
        height: f.height,
        frame_rate: f.frame_rate,
        video_codec: f.video_codec,
        video_profile: f.video_profile,
        pixel_format: f.pixel_format,
        audio_codec: f.audio_codec,
        sample_rate: f.sample_rate,
        channels: f.channels,
        loudness_lufs: f.loudness_lufs,
        sha256: f.sha256,
        has_poster: row.poster_key.is_some(),
    });
    Render {
        id: row.render_id.clone(),
        plan_id: row.plan_id.clone(),
        plan_revision: row.plan_revision,
        status: row.status.clone(),
        progress: row.progress_permille as f64 / 1000.0,
        error: row.error.clone(),
        attempts: row.attempts,
        duration_us: row.duration_us,
        created_by: row.created_by.clone().unwrap_or_default(),
        created_at_ms: row.created_at_ms,
        started_at_ms: row.started_at_ms,
        finished_at_ms: row.finished_at_ms,
        output,
        removed,
    }
}
