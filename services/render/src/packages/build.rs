//! `package.build`: the render re-encoded so it passes its platform's rules
//! (re-timed to 30 fps, scaled into bounds, or held under a bitrate), then
//! probed and checked again before the package is ready.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use prost::Message;
use smez_bus::Job;
use smez_bus::worker::JobError;
use smez_media::storage::MediaStore;
use smez_proto::jobs::v1::PackageBuild;
use smez_service::ServiceContext;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::repo::PackageRepo;
use super::rules::{self, Fix, Video};
use super::{Metadata, fixes_of};
use crate::ffmpeg::run::{progress_args, run};
use crate::ffmpeg::verify;
use crate::plans::now_ms;
use crate::renders::render_prefix;
use crate::renders::repo::RenderRepo;

pub struct Builder {
    ctx: Arc<ServiceContext>,
    repo: PackageRepo,
    renders: RenderRepo,
    store: MediaStore,
}

impl Builder {
    pub fn new(ctx: Arc<ServiceContext>) -> anyhow::Result<Self> {
        Ok(Self {
            repo: PackageRepo::new(ctx.store.clone()),
            renders: RenderRepo::new(ctx.store.clone()),
            store: MediaStore::from_settings(&ctx.settings.media, &ctx.settings.data_dir)?,
            ctx,
        })
    }

    pub async fn handle(self: Arc<Self>, job: Job) -> Result<(), JobError> {
        let build = PackageBuild::decode(job.payload.as_ref())
            .map_err(|e| JobError::Permanent(format!("not a package.build payload: {e}")))?;
        let (workspace_id, package_id) = (build.workspace_id.as_str(), build.package_id.as_str());
        let owner = uuid::Uuid::new_v4().simple().to_string();
        let limit = Duration::from_secs(self.ctx.settings.render.timeout_secs);
        let now = now_ms();
        let until = now + i64::try_from(limit.as_millis()).unwrap_or(i64::MAX);
        let retry = |e: &dyn std::fmt::Display| JobError::Retry(format!("package {package_id}: {e}"));
        if !self
            .repo
            .claim(workspace_id, package_id, &owner, now, until)
            .await
            .map_err(|e| retry(&e))?
        {
            return Ok(());
        }
        let work = self
            .ctx
            .settings
            .render
            .work_root(&self.ctx.settings.data_dir)
            .join(format!("package-{package_id}-{owner}"));
        let outcome = match tokio::time::timeout(limit, self.build(workspace_id, package_id, &owner, &work)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("the re-encode took longer than {} s", limit.as_secs())),
        };
        let _ = tokio::fs::remove_dir_all(&work).await;
        let (recorded, key) = match &outcome {
            Ok((key, video)) => (
                self.repo
                    .finish(workspace_id, package_id, &owner, Ok((key, video)), now_ms())
                    .await,
                Some(key.clone()),
            ),
            Err(reason) => {
                tracing::warn!(package_id, %reason, "package build failed");
                (
                    self.repo
                        .finish(workspace_id, package_id, &owner, Err(reason), now_ms())
                        .await,
                    None,
                )
            }
        };
        match recorded {
            Ok(true) => Ok(()),
            Ok(false) => {
                // Taken over meanwhile: this attempt's file goes.
                if let Some(key) = key {
                    let _ = self.store.delete(&key).await;
                }
                Ok(())
            }
            Err(e) => Err(retry(&e)),
        }
    }

    /// The re-encoded file's key and probed facts (JSON), or why not.
    async fn build(
        &self,
        workspace_id: &str,
        package_id: &str,
        owner: &str,
        work: &Path,
    ) -> Result<(String, String), String> {
        let row = self
            .repo
            .get(workspace_id, package_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the package is gone")?;
        let render = self
            .renders
            .get(workspace_id, &row.render_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the render was removed")?;
        let source_key = render.output_key.ok_or("the render has no file")?;
        tokio::fs::create_dir_all(work).await.map_err(|e| e.to_string())?;
        let source = work.join("render.mp4");
        self.download(&source_key, &source).await?;
        let output = work.join("package.mp4");
        let settings = &self.ctx.settings;
        let args = reencode_args(
            &source,
            &fixes_of(&row),
            &settings.render.x264_preset,
            settings.render.crf,
            &output,
        );
        let mut command = Command::new(&settings.media.ffmpeg);
        command.args(args);
        let (progress, _) = watch::channel(0.0);
        run(
            command,
            render.duration_us,
            &progress,
            (0.0, 1.0),
            &CancellationToken::new(),
        )
        .await
        .map_err(|e| format!("{e:?}"))?;
        let video = probe(&settings.media.ffprobe, &output).await?;
        let metadata: Metadata = serde_json::from_str(&row.metadata).map_err(|e| e.to_string())?;
        let verdict = rules::check(&metadata.request, &metadata.caption_sent, &video);
        if !verdict.violations.is_empty() || !verdict.fixes.is_empty() {
            return Err(format!(
                "the re-encode still breaks {}'s rules: {:?} {:?}",
                row.platform, verdict.violations, verdict.fixes
            ));
        }
        let key = format!(
            "{}package-{package_id}-{owner}.mp4",
            render_prefix(workspace_id, &row.render_id)
        );
        self.store.put_file(&key, &output).await.map_err(|e| e.to_string())?;
        Ok((key, serde_json::to_string(&video).map_err(|e| e.to_string())?))
    }

    async fn download(&self, key: &str, target: &Path) -> Result<(), String> {
        let (_, mut bytes) = self.store.read(key, None).await.map_err(|e| e.to_string())?;
        let mut file = tokio::fs::File::create(target).await.map_err(|e| e.to_string())?;
        while let Some(chunk) = bytes.next().await {
            file.write_all(&chunk.map_err(|e| e.to_string())?)
                .await
                .map_err(|e| e.to_string())?;
        }
        file.flush().await.map_err(|e| e.to_string())
    }
}

/// ffmpeg's arguments for the fixes: picture re-encoded, sound copied.
pub fn reencode_args(source: &Path, fixes: &[Fix], preset: &str, crf: u32, output: &Path) -> Vec<OsString> {
    let mut filters = Vec::new();
    let mut rate: Vec<String> = vec!["-crf".into(), crf.to_string()];
    for fix in fixes {
        match fix {
            Fix::FrameRate { to, .. } => filters.push(format!("fps={to}")),
            Fix::Scale {
                width,
                height,
                max_width,
                max_height,
                min_side,
            } => {
                let (w, h) = (f64::from(*width), f64::from(*height));
                let mut factor = (f64::from(*max_width) / w).min(f64::from(*max_height) / h).min(1.0);
                if w.min(h) * factor < f64::from(*min_side) {
                    factor = f64::from(*min_side) / w.min(h);
                }
                let even = |v: f64| ((v / 2.0).round() as u32 * 2).max(2);
                filters.push(format!("scale={}:{},setsar=1", even(w * factor), even(h * factor)));
            }
            Fix::Bitrate { max_bps, .. } => {
                let target = max_bps * 9 / 10;
                rate = vec![
                    "-b:v".into(),
                    target.to_string(),
                    "-maxrate".into(),
                    max_bps.to_string(),
                    "-bufsize".into(),
                    (max_bps * 2).to_string(),
                ];
            }
        }
    }
    let mut args = progress_args(true);
    args.push("-i".into());
    args.push(source.into());
    if !filters.is_empty() {
        args.extend(["-vf".into(), filters.join(",").into()]);
    }
    args.extend(
        [
            "-c:v",
            "libx264",
            "-preset",
            preset,
            "-profile:v",
            "high",
            "-pix_fmt",
            "yuv420p",
        ]
        .map(OsString::from),
    );
    args.extend(rate.into_iter().map(OsString::from));
    args.extend(
        [
            "-color_primaries",
            "bt709",
            "-color_trc",
            "bt709",
            "-colorspace",
            "bt709",
            "-c:a",
            "copy",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ]
        .map(OsString::from),
    );
    args.push(output.into());
    args
}

/// What a video file is, as the package rules see it.
pub async fn probe(ffprobe: &str, path: &Path) -> Result<Video, String> {
    let probed = verify::probe(ffprobe, path).await?;
    let streams = probed["streams"].as_array().cloned().unwrap_or_default();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .ok_or("no picture")?;
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    let number = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    let fps = verify::ratio(video["avg_frame_rate"].as_str().unwrap_or("0/1"));
    Ok(Video {
        duration_us: (number(&probed["format"]["duration"]) * 1e6).round() as i64,
        width: video["width"].as_u64().unwrap_or(0) as u32,
        height: video["height"].as_u64().unwrap_or(0) as u32,
        fps,
        size_bytes: number(&probed["format"]["size"]) as u64,
        sample_rate: audio.map_or(0.0, |a| number(&a["sample_rate"])) as u32,
    })
}
