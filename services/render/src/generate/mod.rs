//! `POST /v1/edit-plans/generate`: an edit plan from chosen clips and their
//! transcripts, with no model: dead air trimmed (ffmpeg's silence
//! detection), the spoken parts kept in order up to a target length,
//! captions paged from the transcript through the cuts, and an optional
//! hook title over the first seconds. The result is an ordinary plan,
//! checked and stored like one the user wrote.

pub mod captions;
pub mod speech;

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use smez_kit::{Error, FieldViolation};
use smez_proto::render::v1::EditPlan as PlanMessage;
use smez_service::ServiceContext;
use smez_service::member::Member;

use crate::media::{self, FetchError};
use crate::plan::model::{
    Audio, Caption, CaptionStyle, Captions, EditPlan, Fit, FrameRate, Output, Overlay, OverlayKind, Placement, SCHEMA,
    Target, VideoClip,
};
use crate::plan::time::RationalTime;
use crate::plan::validate::MediaKind;
use crate::plans::{Plans, Source};
use captions::{Paging, Placed, Word};
use speech::{Rules, Span};

/// The request (JSON); unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default)]
    pub name: String,
    /// In the order they are to play.
    pub clips: Vec<ClipChoice>,
    /// The longest the result may be (60 s by default).
    #[serde(default = "default_target")]
    pub target_seconds: u32,
    /// A title over the first seconds.
    #[serde(default)]
    pub hook_title: Option<String>,
    #[serde(default)]
    pub output: Output,
    #[serde(default)]
    pub fit: Fit,
    #[serde(default)]
    pub caption_style: CaptionStyle,
    #[serde(default)]
    pub targets: Vec<Target>,
    #[serde(default)]
    pub silence: Silence,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipChoice {
    pub media_id: String,
    /// Its transcript; by default the one attached to the clip.
    #[serde(default)]
    pub transcript_id: Option<String>,
}

/// What counts as dead air.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    #[serde(default = "default_noise")]
    pub noise_db: f64,
    #[serde(default = "default_min_silence")]
    pub min_silence_ms: u32,
}

impl Default for Silence {
    fn default() -> Self {
        Self {
            noise_db: default_noise(),
            min_silence_ms: default_min_silence(),
        }
    }
}

fn default_target() -> u32 {
    60
}

fn default_noise() -> f64 {
    -35.0
}

fn default_min_silence() -> u32 {
    500
}

/// How long a still shows, and the hook title.
const STILL_US: i64 = 3_000_000;
const HOOK_US: i64 = 3_000_000;
const MAX_CLIPS: usize = 50;

pub struct Generator {
    ctx: Arc<ServiceContext>,
    plans: Arc<Plans>,
}

/// A clip's kept stretches and its words.
struct Cut {
    media_id: String,
    kind: MediaKind,
    /// The clip's own length.
    length: i64,
    spans: Vec<Span>,
    words: Vec<Word>,
}

impl Generator {
    pub fn new(ctx: Arc<ServiceContext>, plans: Arc<Plans>) -> Self {
        Self { ctx, plans }
    }

    pub async fn generate(&self, member: &Member, json: &str) -> Result<PlanMessage, Error> {
        let request: Request = serde_json::from_str(json)
            .map_err(|e| Error::invalid_field("request", format!("not a generation request: {e}")))?;
        check(&request)?;
        let work = self
            .ctx
            .settings
            .render
            .work_root(&self.ctx.settings.data_dir)
            .join(format!("generate-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::create_dir_all(&work)
            .await
            .map_err(|e| Error::internal(format!("creating {}: {e}", work.display())))?;
        let cuts = self.cut(member, &request, &work).await;
        let _ = tokio::fs::remove_dir_all(&work).await;
        let plan = assemble(&request, cuts?)?;
        let document = serde_json::to_string(&plan).map_err(Error::internal)?;
        let name = if request.name.trim().is_empty() {
            "Generated plan"
        } else {
            &request.name
        };
        self.plans.create(member, name, Source::Plan(&document)).await
    }

    /// For every clip: what to keep, and its words.
    async fn cut(&self, member: &Member, request: &Request, work: &Path) -> Result<Vec<Cut>, Error> {
        let mut ids: Vec<&str> = Vec::new();
        for clip in &request.clips {
            ids.push(&clip.media_id);
            ids.extend(clip.transcript_id.as_deref());
        }
        let described = media::describe(&self.ctx.peers, &member.workspace_id, ids).await?;
        let mut problems = Vec::new();
        let grid = request.output.fps;
        let rules = Rules {
            noise_db: request.silence.noise_db,
            min_silence_us: i64::from(request.silence.min_silence_ms) * 1000,
            ..Rules::default()
        };
        let mut cuts = Vec::new();
        for (i, choice) in request.clips.iter().enumerate() {
            let field = format!("clips[{i}].media_id");
            let Some((media, facts)) = described.get(&choice.media_id).and_then(|m| Some((m, media::of(m)?))) else {
                problems.push(violation(
                    &field,
                    format!("no media `{}` in this workspace", choice.media_id),
                ));
                continue;
            };
            let duration = facts.duration.map_or(STILL_US, RationalTime::micros);
            let spans = match facts.kind {
                MediaKind::Image => vec![Span {
                    start: 0,
                    end: STILL_US,
                }],
                MediaKind::Video => {
                    if facts.has_audio {
                        self.speech(member, &choice.media_id, i, duration, &rules, grid, work)
                            .await?
                    } else {
                        vec![Span {
                            start: 0,
                            end: speech::frames_floor(duration, grid),
                        }]
                    }
                }
                other => {
                    problems.push(violation(
                        &field,
                        format!("`{}` is {other:?}: clips are videos or images", choice.media_id).to_lowercase(),
                    ));
                    continue;
                }
            };
            let transcript_id = choice.transcript_id.clone().or_else(|| media.transcript_id.clone());
            let words = match transcript_id {
                Some(id) => match self.words(member, &id).await {
                    Ok(words) => words,
                    Err(e) => {
                        problems.push(violation(&format!("clips[{i}].transcript_id"), e.message));
                        continue;
                    }
                },
                None => Vec::new(),
            };
            cuts.push(Cut {
                media_id: choice.media_id.clone(),
                kind: facts.kind,
                length: duration,
                spans,
                words,
            });
        }
        if !problems.is_empty() {
            let first = format!("{}: {}", problems[0].field, problems[0].message);
            return Err(Error::invalid_fields(
                format!("the plan cannot be generated: {first}"),
                problems,
            ));
        }
        Ok(cuts)
    }

    #[allow(clippy::too_many_arguments)]
    async fn speech(
        &self,
        member: &Member,
        media_id: &str,
        index: usize,
        duration: i64,
        rules: &Rules,
        grid: FrameRate,
        work: &Path,
    ) -> Result<Vec<Span>, Error> {
        let path = work.join(index.to_string());
        media::fetch(&self.ctx.peers, &member.workspace_id, media_id, &path)
            .await
            .map_err(|e| match e {
                FetchError::Gone(reason) => Error::invalid_field(format!("clips[{index}].media_id"), reason),
                FetchError::Unavailable(reason) => Error::unavailable(reason),
            })?;
        let silences = speech::silences(&self.ctx.settings.media.ffmpeg, &path, rules)
            .await
            .map_err(Error::internal)?;
        Ok(speech::speech(duration, &silences, rules, grid))
    }

    async fn words(&self, member: &Member, transcript_id: &str) -> Result<Vec<Word>, Error> {
        let transcript = media::transcript(&self.ctx.peers, &member.workspace_id, transcript_id).await?;
        let timed = |list: &[smez_proto::media::v1::TimedText]| -> Vec<Word> {
            list.iter()
                .map(|t| Word {
                    start: t.start_ms * 1000,
                    end: t.end_ms * 1000,
                    text: t.text.trim().to_owned(),
                })
                .filter(|w| !w.text.is_empty())
                .collect()
        };
        Ok(if transcript.words.is_empty() {
            captions::words_of_cues(&timed(&transcript.cues))
        } else {
            timed(&transcript.words)
        })
    }
}

fn violation(field: &str, message: impl Into<String>) -> FieldViolation {
    FieldViolation {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn check(request: &Request) -> Result<(), Error> {
    if request.clips.is_empty() || request.clips.len() > MAX_CLIPS {
        return Err(Error::invalid_field("clips", format!("from 1 to {MAX_CLIPS} clips")));
    }
    if !(1..=900).contains(&request.target_seconds) {
        return Err(Error::invalid_field("target_seconds", "from 1 to 900 seconds"));
    }
    if !(-90.0..=0.0).contains(&request.silence.noise_db) {
        return Err(Error::invalid_field("silence.noise_db", "from -90 to 0 dB"));
    }
    if !(100..=10_000).contains(&request.silence.min_silence_ms) {
        return Err(Error::invalid_field("silence.min_silence_ms", "from 100 to 10000 ms"));
    }
    Ok(())
}

/// The plan: kept stretches in order up to the target, captions through
/// the cuts, the hook title.
fn assemble(request: &Request, cuts: Vec<Cut>) -> Result<EditPlan, Error> {
    let target = i64::from(request.target_seconds) * 1_000_000;
    let grid = request.output.fps;
    let mut video = Vec::new();
    let mut placed: Vec<Placed> = Vec::new();
    let mut at = 0i64;
    for cut in &cuts {
        let mut laid = Vec::new();
        for span in &cut.spans {
            let room = speech::frames_floor(target - at, grid);
            if room <= 0 {
                break;
            }
            let span = Span {
                start: span.start,
                end: span.start + span.len().min(room),
            };
            laid.push((span, at));
            video.push(VideoClip {
                media_id: cut.media_id.clone(),
                source_in: micros(if cut.kind == MediaKind::Image { 0 } else { span.start }),
                source_out: micros(if cut.kind == MediaKind::Image {
                    span.len()
                } else {
                    span.end
                }),
                fit: request.fit,
                speed: None,
            });
            at += span.len();
        }
        captions::place(&cut.words, &laid, &mut placed);
    }
    if video.is_empty() {
        return Err(Error::invalid_field(
            "clips",
            "nothing to keep: every clip is silent at this silence.noise_db",
        ));
    }
    let pages = captions::pages(&placed, at, &Paging::default());
    let hook = request
        .hook_title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|text| Overlay {
            kind: OverlayKind::Text,
            text: Some(text.to_owned()),
            media_id: None,
            start: RationalTime::new(0, 1000),
            end: micros(HOOK_US.min(at)),
            position: Placement::default(),
        });
    let cut_out: Vec<serde_json::Value> = cuts
        .iter()
        .map(|c| serde_json::json!({"media_id": c.media_id, "kept_ms": c.spans.iter().map(|s| [s.start / 1000, s.end / 1000]).collect::<Vec<_>>()}))
        .collect();
    Ok(EditPlan {
        schema: SCHEMA.to_owned(),
        output: request.output.clone(),
        video,
        audio: Audio::default(),
        captions: Captions {
            style: request.caption_style,
            items: pages
                .into_iter()
                .map(|p| Caption {
                    start: micros(p.start),
                    end: micros(p.end),
                    text: p.text,
                })
                .collect(),
        },
        overlays: hook.into_iter().collect(),
        targets: request.targets.clone(),
        generator: Some(serde_json::json!({
            "name": "smez.generate",
            "version": 1,
            "target_seconds": request.target_seconds,
            "silence": {"noise_db": request.silence.noise_db, "min_silence_ms": request.silence.min_silence_ms},
            "source_ms": cuts.iter().map(|c| c.length).sum::<i64>() / 1000,
            "kept_ms": at / 1000,
            "clips": cut_out,
        })),
    })
}

/// Microseconds as a plan time (milliseconds when exact, for readability).
fn micros(us: i64) -> RationalTime {
    if us % 1000 == 0 {
        RationalTime::from_millis(us / 1000)
    } else {
        RationalTime::new(us, 1_000_000)
    }
}
