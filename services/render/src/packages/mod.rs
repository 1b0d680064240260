//! Platform packages: a succeeded render made ready for one platform. The
//! metadata is checked against that platform's rules (every violation with
//! its field); the render is sent as it is unless it breaks a rule a
//! re-encode can mend (frame rate, frame size, bitrate), in which case a
//! `package.build` job re-encodes it ([`build`]).

pub mod build;
pub mod repo;
pub mod rules;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use smez_kit::{Error, ErrorCode, FieldViolation};
use smez_proto::jobs::v1::PackageBuild;
use smez_proto::render::v1::{ListPackagesRequest, ListPackagesResponse, Package};
use smez_service::ServiceContext;
use smez_service::member::Member;

use crate::ffmpeg::verify::OutputFacts;
use crate::plans::{now_ms, storage};
use crate::renders::repo::{RenderRepo, RenderRow};
use repo::{PackageRepo, PackageRow};
use rules::{Fix, Request, Video};

pub const PACKAGE_BUILD: &str = "package.build";

/// What is kept of the request: as checked, with the caption as it will be sent.
#[derive(Debug, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(flatten)]
    pub request: Request,
    /// The caption as sent (hashtags and mentions added).
    pub caption_sent: String,
}

pub struct Packages {
    ctx: Arc<ServiceContext>,
    pub repo: PackageRepo,
    renders: RenderRepo,
}

impl Packages {
    pub fn new(ctx: Arc<ServiceContext>) -> Self {
        Self {
            repo: PackageRepo::new(ctx.store.clone()),
            renders: RenderRepo::new(ctx.store.clone()),
            ctx,
        }
    }

    pub async fn create(&self, member: &Member, json: &str) -> Result<Package, Error> {
        let request: Request = serde_json::from_str(json)
            .map_err(|e| Error::invalid_field("request", format!("not a package request: {e}")))?;
        let render = self
            .renders
            .get(&member.workspace_id, &request.render_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| Error::invalid_field("render_id", "no such render in this workspace"))?;
        let (facts, video) = video_of(&render)?;
        let caption = rules::compose_caption(&request);
        let verdict = rules::check(&request, &caption, &video);
        if !verdict.violations.is_empty() {
            let violations: Vec<FieldViolation> = verdict
                .violations
                .into_iter()
                .map(|v| FieldViolation {
                    field: v.field,
                    message: v.message,
                })
                .collect();
            let first = format!("{}: {}", violations[0].field, violations[0].message);
            let more = match violations.len() {
                1 => String::new(),
                n => format!(" (and {} more: see `errors`)", n - 1),
            };
            return Err(Error::invalid_fields(
                format!(
                    "the package breaks {}'s rules: {first}{more}",
                    request.platform.as_str()
                ),
                violations,
            ));
        }
        let now = now_ms();
        let ready = verdict.fixes.is_empty();
        let row = PackageRow {
            package_id: uuid::Uuid::now_v7().to_string(),
            workspace_id: member.workspace_id.clone(),
            render_id: render.render_id.clone(),
            platform: request.platform.as_str().to_owned(),
            status: if ready { "ready" } else { "building" }.to_owned(),
            metadata: serde_json::to_string(&Metadata {
                request,
                caption_sent: caption,
            })
            .map_err(Error::internal)?,
            reencode: serde_json::to_string(&verdict.fixes).map_err(Error::internal)?,
            // The render's own file, when it passes as it is.
            video_key: ready.then(|| render.output_key.clone()).flatten(),
            video: if ready {
                Some(serde_json::to_string(&video).map_err(Error::internal)?)
            } else {
                None
            },
            error: String::new(),
            created_by: Some(member.user_id.clone()),
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.repo.insert(&row).await.map_err(storage)?;
        if !ready {
            // The row is the truth: a lost job is sent again by the reconciler.
            if let Err(e) = self.enqueue(&row.workspace_id, &row.package_id).await {
                tracing::warn!(package_id = %row.package_id, error = %e, "package job not sent; the reconciler will");
            }
        }
        tracing::info!(package_id = %row.package_id, platform = %row.platform, reencode = !ready, sha256 = %facts.sha256, "package made");
        Ok(message(&row))
    }

    pub async fn enqueue(&self, workspace_id: &str, package_id: &str) -> anyhow::Result<()> {
        let payload = prost::Message::encode_to_vec(&PackageBuild {
            workspace_id: workspace_id.to_owned(),
            package_id: package_id.to_owned(),
        });
        self.ctx.bus.enqueue(PACKAGE_BUILD, payload).await?;
        self.repo.touch(workspace_id, package_id, now_ms()).await?;
        Ok(())
    }

    pub async fn get(&self, member: &Member, package_id: &str) -> Result<Package, Error> {
        self.repo
            .get(&member.workspace_id, package_id)
            .await
            .map_err(storage)?
            .map(|row| message(&row))
            .ok_or_else(|| Error::not_found("no such package"))
    }

    /// A package of `workspace_id`, for the publisher (no member: its workers act for the workspace).
    pub async fn for_publish(&self, workspace_id: &str, package_id: &str) -> Result<Package, Error> {
        if workspace_id.is_empty() {
            return Err(Error::invalid_field("workspace_id", "workspace_id is required"));
        }
        self.repo
            .get(workspace_id, package_id)
            .await
            .map_err(storage)?
            .map(|row| message(&row))
            .ok_or_else(|| Error::not_found("no such package"))
    }

    /// The stored video a ready package sends, and a file name for it.
    pub async fn video_key(&self, workspace_id: &str, package_id: &str) -> Result<(String, String), Error> {
        let row = self
            .repo
            .get(workspace_id, package_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| Error::not_found("no such package"))?;
        match (&row.status[..], row.video_key) {
            ("ready", Some(key)) => Ok((key, format!("package-{package_id}.mp4"))),
            (status, _) => Err(Error::new(
                ErrorCode::Conflict,
                format!("the package is {status}: only a ready package has a video to send"),
            )),
        }
    }

    pub async fn list(&self, member: &Member, request: &ListPackagesRequest) -> Result<ListPackagesResponse, Error> {
        let limit = if request.limit == 0 { 50 } else { request.limit.min(200) };
        let before = if request.cursor.is_empty() {
            None
        } else {
            let (at, id) = request
                .cursor
                .split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| Error::invalid_field("cursor", "not a cursor this API gave"))?;
            Some((at, id))
        };
        let render_id = (!request.render_id.is_empty()).then_some(request.render_id.as_str());
        let rows = self
            .repo
            .list(&member.workspace_id, render_id, before, limit + 1)
            .await
            .map_err(storage)?;
        let more = rows.len() > limit as usize;
        let page = &rows[..rows.len().min(limit as usize)];
        let next_cursor = match (more, page.last()) {
            (true, Some(last)) => format!("{}.{}", last.created_at_ms, last.package_id),
            _ => String::new(),
        };
        Ok(ListPackagesResponse {
            packages: page.iter().map(message).collect(),
            next_cursor,
        })
    }

    /// One reconciler round: builds whose job was lost or whose builder died go again.
    pub async fn reconcile(&self) -> anyhow::Result<()> {
        let now = now_ms();
        for (workspace_id, package_id) in self.repo.stranded(now, now - 5 * 60 * 1000, 100).await? {
            tracing::info!(%package_id, "package build stranded: sending its job again");
            self.enqueue(&workspace_id, &package_id).await?;
        }
        Ok(())
    }
}

/// The render's probed output, as the package rules see it.
fn video_of(render: &RenderRow) -> Result<(OutputFacts, Video), Error> {
    let facts: OutputFacts = match (&render.status[..], render.output.as_deref()) {
        ("succeeded", Some(json)) => serde_json::from_str(json).map_err(Error::internal)?,
        (status, _) => {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("the render is {status}: package it once it has succeeded"),
            ));
        }
    };
    let fps = crate::ffmpeg::verify::ratio(&facts.frame_rate);
    let video = Video {
        duration_us: facts.duration_us,
        width: facts.width,
        height: facts.height,
        fps,
        size_bytes: facts.size_bytes,
        sample_rate: facts.sample_rate,
    };
    Ok((facts, video))
}

fn message(row: &PackageRow) -> Package {
    Package {
        id: row.package_id.clone(),
        render_id: row.render_id.clone(),
        platform: row.platform.clone(),
        status: row.status.clone(),
        metadata_json: row.metadata.clone(),
        reencode_json: row.reencode.clone(),
        video_json: row.video.clone().unwrap_or_default(),
        error: row.error.clone(),
        created_by: row.created_by.clone().unwrap_or_default(),
        created_at_ms: row.created_at_ms,
        updated_at_ms: row.updated_at_ms,
    }
}

/// The fixes a stored package asked for.
pub fn fixes_of(row: &PackageRow) -> Vec<Fix> {
    serde_json::from_str(&row.reencode).unwrap_or_default()
}
