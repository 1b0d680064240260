//! The render worker: takes `render.run` jobs one at a time (a render uses
//! every core it is given; scale by starting more `smez serve render-worker`
//! processes), claims the render's row, fetches its inputs from the media
//! service, runs ffmpeg, checks the result, stores it and records it.
//!
//! Crash safety: the claim is a lease the worker renews every second. A
//! worker that dies stops renewing; the reconciler sends the job again and
//! the next worker takes the render over from the start. Files are named by
//! the attempt, so a superseded attempt that wakes up can neither overwrite
//! nor record its output (its record fails and it removes what it stored).
//! Work files live in one folder per attempt, removed when it ends (and
//! swept at start after a crash).
//!
//! The pool also takes `package.build` jobs (re-encodes for a platform).

mod render;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use smez_bus::Job;
use smez_bus::worker::{JobError, WorkerOptions, run_worker};
use smez_kit::config::RenderSettings;
use smez_kit::metrics::Metrics;
use smez_media::storage::MediaStore;
use smez_proto::events::v1::event::Payload;
use smez_proto::events::v1::{RenderCompleted, RenderFailed, RenderProgress};
use smez_proto::jobs::v1::RenderRun;
use smez_service::ServiceContext;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::packages::PACKAGE_BUILD;
use crate::packages::build::Builder;
use crate::plans::now_ms;
use crate::renders::repo::{Finished, RenderRepo, RenderRow};
use crate::renders::{RENDER_RUN, output_key, poster_key};
use render::{Failure, Rendered};

/// How often a running render's lease is renewed and its progress recorded.
const HEARTBEAT: Duration = Duration::from_secs(1);

pub struct Worker {
    ctx: Arc<ServiceContext>,
    repo: RenderRepo,
    store: MediaStore,
    work_root: PathBuf,
}

/// Starts the pool: one render at a time per process.
pub async fn start(ctx: Arc<ServiceContext>, metrics: Metrics) -> anyhow::Result<()> {
    let settings = &ctx.settings;
    let work_root = settings.render.work_root(&settings.data_dir);
    tokio::fs::create_dir_all(&work_root).await?;
    // No render outlives its timeout: older folders belong to dead workers.
    sweep(&work_root, |_, age| {
        age > Duration::from_secs(settings.render.timeout_secs + settings.render.lease_secs)
    })
    .await;
    let worker = Arc::new(Worker {
        repo: RenderRepo::new(ctx.store.clone()),
        store: MediaStore::from_settings(&settings.media, &settings.data_dir)?,
        work_root,
        ctx: ctx.clone(),
    });
    let options = WorkerOptions {
        concurrency: 1,
        grace: settings.shutdown_grace(),
    };
    let builder = Arc::new(Builder::new(ctx.clone())?);
    let (bus, shutdown) = (ctx.bus.clone(), ctx.shutdown.clone());
    let (renders_metrics, renders_options) = (metrics.clone(), options.clone());
    tokio::spawn(async move {
        let handler = move |job: Job| worker.clone().handle(job);
        if let Err(e) = run_worker(
            bus,
            RENDER_RUN.to_owned(),
            renders_options,
            renders_metrics,
            shutdown,
            handler,
        )
        .await
        {
            tracing::error!(error = %e, "the render worker stopped");
        }
    });
    // Package re-encodes: rarer and shorter; their own queue, one at a time.
    let (bus, shutdown) = (ctx.bus.clone(), ctx.shutdown.clone());
    tokio::spawn(async move {
        let handler = move |job: Job| builder.clone().handle(job);
        if let Err(e) = run_worker(bus, PACKAGE_BUILD.to_owned(), options, metrics, shutdown, handler).await {
            tracing::error!(error = %e, "the package builder stopped");
        }
    });
    Ok(())
}

impl Worker {
    fn settings(&self) -> &RenderSettings {
        &self.ctx.settings.render
    }

    async fn handle(self: Arc<Self>, job: Job) -> Result<(), JobError> {
        let run = RenderRun::decode(job.payload.as_ref())
            .map_err(|e| JobError::Permanent(format!("not a render.run payload: {e}")))?;
        let (workspace_id, render_id) = (run.workspace_id.as_str(), run.render_id.as_str());
        let attempt = uuid::Uuid::new_v4().simple().to_string();
        let lease_ms = self.lease_ms();
        let now = now_ms();
        let claimed = self
            .repo
            .claim(workspace_id, render_id, &attempt, now, now + lease_ms)
            .await
            .map_err(|e| JobError::Retry(format!("claiming the render: {e}")))?;
        if !claimed {
            tracing::info!(render_id, "render already taken, finished or canceled: nothing to do");
            return Ok(());
        }
        let Some(row) = self
            .repo
            .get(workspace_id, render_id)
            .await
            .map_err(|e| JobError::Retry(format!("reading the render: {e}")))?
        else {
            return Ok(());
        };
        tracing::info!(render_id, attempt = row.attempts, "render started");
        // An earlier attempt that died on this machine left its folder.
        sweep(&self.work_root, |name, _| name.starts_with(&format!("{render_id}-"))).await;
        let work = self.work_root.join(format!("{render_id}-{attempt}"));
        // `stop` ends the render (canceled, lease lost); `done` ends the
        // heartbeat, which goes on through storing the result so the lease
        // cannot lapse during a long upload — and ends if this job is dropped.
        let stop = CancellationToken::new();
        let done = CancellationToken::new();
        let _done_on_drop = done.clone().drop_guard();
        let (progress, watched) = watch::channel(0.0);
        let heartbeat =
            tokio::spawn(
                self.clone()
                    .heartbeat(row.clone(), attempt.clone(), watched, stop.clone(), done.clone()),
            );
        let limit = Duration::from_secs(self.settings().timeout_secs);
        let outcome = match tokio::time::timeout(limit, render::render(&self.ctx, &row, &work, &progress, &stop)).await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(Failure::Failed(format!(
                "the render took longer than render.timeout_secs ({} s) and was stopped",
                limit.as_secs()
            ))),
        };
        stop.cancel();
        let settled = self.settle(&row, &attempt, outcome).await;
        done.cancel();
        let _ = heartbeat.await;
        if let Err(e) = tokio::fs::remove_dir_all(&work).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(render_id, error = %e, "work files not removed (swept later)");
        }
        settled
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.settings().lease_secs * 1000).unwrap_or(i64::MAX)
    }

    /// Every beat: renew the lease with the progress made (a canceled render
    /// or a lost lease stops the work), and tell the bus.
    async fn heartbeat(
        self: Arc<Self>,
        row: RenderRow,
        attempt: String,
        mut progress: watch::Receiver<f64>,
        stop: CancellationToken,
        done: CancellationToken,
    ) {
        // Every second (progress for the event stream), and at least three
        // times per lease.
        let every = HEARTBEAT.min(Duration::from_millis(
            u64::try_from(self.lease_ms() / 3).unwrap_or(1).max(100),
        ));
        let mut ticks = tokio::time::interval(every);
        let mut told = -1i64;
        loop {
            tokio::select! {
                () = done.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let permille = (*progress.borrow_and_update() * 1000.0).round() as i64;
            let renewed = self
                .repo
                .renew(
                    &row.workspace_id,
                    &row.render_id,
                    &attempt,
                    now_ms() + self.lease_ms(),
                    permille,
                )
                .await;
            match renewed {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(render_id = %row.render_id, "render canceled or taken over: stopping");
                    stop.cancel();
                    return;
                }
                // The lease outlives a few missed beats.
                Err(e) => tracing::warn!(render_id = %row.render_id, error = %e, "lease not renewed this beat"),
            }
            if permille != told {
                told = permille;
                let event = smez_service::events::new_event(
                    "render.progress",
                    Some(&row.workspace_id),
                    Payload::RenderProgress(RenderProgress {
                        render_id: row.render_id.clone(),
                        fraction: permille as f64 / 1000.0,
                    }),
                );
                if let Err(e) = self.ctx.bus.emit("render.progress", event.encode_to_vec()).await {
                    tracing::debug!(error = %e, "progress event not sent");
                }
            }
        }
    }

    /// Records how the attempt ended.
    async fn settle(&self, row: &RenderRow, attempt: &str, outcome: Result<Rendered, Failure>) -> Result<(), JobError> {
        let (workspace_id, render_id) = (row.workspace_id.as_str(), row.render_id.as_str());
        let retry = |e: &dyn std::fmt::Display| JobError::Retry(format!("recording the render: {e}"));
        match outcome {
            Ok(rendered) => {
                let video = output_key(workspace_id, render_id, attempt);
                let poster = rendered
                    .poster
                    .as_ref()
                    .map(|_| poster_key(workspace_id, render_id, attempt));
                self.store
                    .put_file(&video, &rendered.video)
                    .await
                    .map_err(|e| retry(&e))?;
                if let (Some(key), Some(path)) = (&poster, &rendered.poster) {
                    self.store.put_file(key, path).await.map_err(|e| retry(&e))?;
                }
                let facts = serde_json::to_string(&rendered.facts).map_err(|e| retry(&e))?;
                let event = smez_service::events::new_event(
                    "render.completed",
                    Some(workspace_id),
                    Payload::RenderCompleted(RenderCompleted {
                        render_id: render_id.to_owned(),
                    }),
                );
                let finished = Finished {
                    output_key: &video,
                    poster_key: poster.as_deref(),
                    output: &facts,
                };
                let recorded = self
                    .repo
                    .succeed(workspace_id, render_id, attempt, &finished, now_ms(), &event)
                    .await
                    .map_err(|e| retry(&e))?;
                if !recorded {
                    // Canceled or taken over meanwhile: this attempt's files go.
                    for key in std::iter::once(&video).chain(poster.iter()) {
                        let _ = self.store.delete(key).await;
                    }
                    tracing::info!(
                        render_id,
                        "render finished after it was canceled or taken over: discarded"
                    );
                    return Ok(());
                }
                tracing::info!(render_id, bytes = rendered.facts.size_bytes, "render succeeded");
                Ok(())
            }
            Err(Failure::Stopped) => Ok(()),
            Err(Failure::Transient(reason)) => {
                tracing::warn!(render_id, %reason, "render interrupted; it goes back to the queue");
                let _ = self.repo.release(workspace_id, render_id, attempt).await;
                Err(JobError::Retry(reason))
            }
            Err(Failure::Failed(reason)) => {
                tracing::warn!(render_id, %reason, "render failed");
                let event = smez_service::events::new_event(
                    "render.failed",
                    Some(workspace_id),
                    Payload::RenderFailed(RenderFailed {
                        render_id: render_id.to_owned(),
                        reason: reason.clone(),
                    }),
                );
                self.repo
                    .fail(workspace_id, render_id, attempt, &reason, now_ms(), &event)
                    .await
                    .map_err(|e| retry(&e))?;
                Ok(())
            }
        }
    }
}

/// Removes the work folders `stale(name, age)` picks.
async fn sweep(root: &std::path::Path, stale: impl Fn(&str, Duration) -> bool) {
    let Ok(mut entries) = tokio::fs::read_dir(root).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let age = entry
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .unwrap_or_default();
        if stale(&entry.file_name().to_string_lossy(), age) {
            let _ = tokio::fs::remove_dir_all(entry.path()).await;
        }
    }
}
