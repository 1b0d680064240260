//! One attempt at a render: inputs fetched, fonts checked, the graph run,
//! loudness measured and applied, the result checked against the plan, a
//! poster drawn. Every path out says whether another attempt can help.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use smez_service::ServiceContext;
use tokio::process::Command;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ffmpeg::compose::{self, Encoder, Source};
use crate::ffmpeg::run::{RunError, run};
use crate::ffmpeg::verify::{self, OutputFacts};
use crate::ffmpeg::{ass, fonts, loudness};
use crate::media::{self, FetchError};
use crate::plan::model::{EditPlan, OverlayKind};
use crate::plan::validate;
use crate::renders::repo::RenderRow;

pub struct Rendered {
    pub video: PathBuf,
    pub poster: Option<PathBuf>,
    pub facts: OutputFacts,
}

pub enum Failure {
    /// Canceled, or the lease was lost: nothing to record.
    Stopped,
    /// Worth another attempt (a service or the network failed).
    Transient(String),
    /// Will fail again: the reason is the render's.
    Failed(String),
}

impl From<RunError> for Failure {
    fn from(error: RunError) -> Self {
        match error {
            RunError::Canceled => Failure::Stopped,
            RunError::Failed(reason) => Failure::Failed(reason),
        }
    }
}

/// Shares of the progress bar: the picture is most of the work.
const COMPOSE: (f64, f64) = (0.0, 0.85);
const MEASURE: (f64, f64) = (0.85, 0.05);
const FINISH: (f64, f64) = (0.9, 0.08);

pub async fn render(
    ctx: &ServiceContext,
    row: &RenderRow,
    work: &Path,
    progress: &watch::Sender<f64>,
    stop: &CancellationToken,
) -> Result<Rendered, Failure> {
    let plan: EditPlan =
        serde_json::from_str(&row.plan).map_err(|e| Failure::Failed(format!("the stored plan does not read: {e}")))?;
    let inputs = work.join("inputs");
    tokio::fs::create_dir_all(&inputs)
        .await
        .map_err(|e| Failure::Transient(format!("creating {}: {e}", inputs.display())))?;
    let settings = &ctx.settings;
    let (ffmpeg, ffprobe) = (settings.media.ffmpeg.as_str(), settings.media.ffprobe.as_str());

    // Inputs, as they are now in the media service (one may have gone).
    let ids = validate::media_ids(&plan);
    let facts = media::facts(&ctx.peers, &row.workspace_id, ids.iter().copied())
        .await
        .map_err(|e| Failure::Transient(format!("asking the media service: {}", e.message)))?;
    let mut paths = HashMap::new();
    for (n, id) in ids.iter().enumerate() {
        if !facts.contains_key(*id) {
            return Err(Failure::Failed(format!("the plan's media `{id}` was deleted")));
        }
        let path = inputs.join(format!("{n}"));
        tokio::select! {
            fetched = media::fetch(&ctx.peers, &row.workspace_id, id, &path) => fetched.map_err(|e| match e {
                FetchError::Gone(reason) => Failure::Failed(reason),
                FetchError::Unavailable(reason) => Failure::Transient(reason),
            })?,
            () = stop.cancelled() => return Err(Failure::Stopped),
        }
        paths.insert((*id).to_owned(), path);
    }
    let sources: HashMap<String, Source<'_>> = paths
        .iter()
        .map(|(id, path)| (id.clone(), Source { path, facts: facts[id] }))
        .collect();

    // Text, only when its font and every character can be drawn.
    let captions = if ass::has_text(&plan) {
        fonts::check(&texts(&plan)).await.map_err(Failure::Failed)?;
        let path = work.join("captions.ass");
        tokio::fs::write(&path, ass::script(&plan))
            .await
            .map_err(|e| Failure::Transient(format!("writing {}: {e}", path.display())))?;
        Some(path)
    } else {
        None
    };

    let composed = work.join("composed.mov");
    let encoder = Encoder {
        preset: &settings.render.x264_preset,
        crf: settings.render.crf,
    };
    let args = compose::args(&plan, &sources, captions.as_deref(), &encoder, &composed);
    tracing::debug!(render_id = %row.render_id, ?args, "composing");
    run(command(ffmpeg, args), row.duration_us, progress, COMPOSE, stop).await?;

    let said = run(
        command(ffmpeg, loudness::measure_args(&composed, plan.audio.loudness_lufs)),
        row.duration_us,
        progress,
        MEASURE,
        stop,
    )
    .await?;
    let measured = loudness::parse_measured(&said).map_err(Failure::Failed)?;
    let video = work.join("render.mp4");
    run(
        command(
            ffmpeg,
            loudness::finish_args(&composed, &measured, plan.audio.loudness_lufs, &video),
        ),
        row.duration_us,
        progress,
        FINISH,
        stop,
    )
    .await?;

    let facts = verify::verify(ffprobe, ffmpeg, &video, &plan, row.duration_us, measured.is_silent())
        .await
        .map_err(Failure::Failed)?;
    let poster = draw_poster(ffmpeg, &video, row.duration_us, &work.join("poster.jpg")).await;
    progress.send_replace(1.0);
    Ok(Rendered { video, poster, facts })
}

fn command(program: &str, args: Vec<std::ffi::OsString>) -> Command {
    let mut command = Command::new(program);
    command.args(args);
    command
}

/// Every text the render draws, with the field it comes from.
fn texts(plan: &EditPlan) -> Vec<(String, String)> {
    let captions = plan
        .captions
        .items
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("captions.items[{i}].text"), c.text.clone()));
    let titles = plan
        .overlays
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == OverlayKind::Text)
        .map(|(i, o)| (format!("overlays[{i}].text"), o.text.clone().unwrap_or_default()));
    captions.chain(titles).collect()
}

/// A frame a third of the way in, 540 px wide; none if it cannot be drawn
/// (the render stands without it).
async fn draw_poster(ffmpeg: &str, video: &Path, duration_us: i64, target: &Path) -> Option<PathBuf> {
    let at = crate::ffmpeg::secs(duration_us / 3);
    let output = Command::new(ffmpeg)
        .args(["-v", "error", "-nostdin", "-y", "-ss", &at, "-i"])
        .arg(video)
        .args(["-frames:v", "1", "-vf", "scale=540:-2", "-q:v", "4", "-f", "image2"])
        .arg(target)
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    let drawn = tokio::fs::metadata(target).await.map(|m| m.len()).unwrap_or(0);
    (output.status.success() && drawn > 0).then(|| target.to_owned())
}
