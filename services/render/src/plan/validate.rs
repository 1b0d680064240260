//! Plan validation: every problem found, each with the field it is in (the
//! path a client can point at: `video[2].source_out`), not just the first.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::model::{Caption, EditPlan, OverlayKind, SCHEMA, Target};
use super::time::RationalTime;

/// What validation needs to know of a medium the plan names (from the media
/// service, looked up in the plan's own workspace only).
#[derive(Clone, Copy, Debug)]
pub struct MediaFacts {
    pub kind: MediaKind,
    /// Absent for stills.
    pub duration: Option<RationalTime>,
    pub has_audio: bool,
    /// PQ or HLG: tone-mapped to SDR when rendered.
    pub hdr: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    Video,
    Image,
    Audio,
    Transcript,
}

impl MediaKind {
    fn as_str(self) -> &'static str {
        match self {
            MediaKind::Video => "a video",
            MediaKind::Image => "an image",
            MediaKind::Audio => "audio",
            MediaKind::Transcript => "a transcript",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// What a valid plan comes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The timeline's length.
    pub duration_micros: i64,
}

/// Clips a plan may hold: far more than a short video needs, few enough that
/// one ffmpeg graph stays manageable.
pub const MAX_CLIPS: usize = 200;
/// Caption lines: readable on a phone at the presets' sizes.
pub const MAX_CAPTION_LINES: usize = 2;
pub const MAX_CAPTION_LINE_CHARS: usize = 42;
const SPEEDS: std::ops::RangeInclusive<f64> = 0.25..=4.0;
const LOUDNESS: std::ops::RangeInclusive<f64> = -30.0..=-5.0;
const VOLUME_DB: std::ops::RangeInclusive<f64> = -60.0..=12.0;
const SIDE: std::ops::RangeInclusive<u32> = 144..=4096;

/// A platform's limits on what it takes (../shared/design/platforms.md,
/// the documented ones): duration in seconds, frame rate, shape.
struct Limits {
    name: &'static str,
    min_secs: i64,
    max_secs: i64,
    fps: Option<(f64, f64)>,
    /// Width must not exceed height (YouTube counts only those as Shorts).
    upright: bool,
}

fn limits(target: Target) -> Limits {
    match target {
        // Developer-sent maximum 10 min; the minimum is not documented (3 s is cited).
        Target::TikTok => Limits {
            name: "TikTok",
            min_secs: 3,
            max_secs: 600,
            fps: Some((23.0, 60.0)),
            upright: false,
        },
        Target::Instagram => Limits {
            name: "Instagram Reels",
            min_secs: 3,
            max_secs: 900,
            fps: Some((23.0, 60.0)),
            upright: false,
        },
        Target::YouTube => Limits {
            name: "YouTube Shorts",
            min_secs: 1,
            max_secs: 180,
            fps: None,
            upright: true,
        },
    }
}

/// Every media id the plan names, to look up before [`validate`].
pub fn media_ids(plan: &EditPlan) -> BTreeSet<&str> {
    let clips = plan.video.iter().map(|c| c.media_id.as_str());
    let music = plan.audio.music.iter().map(|m| m.media_id.as_str());
    let images = plan.overlays.iter().filter_map(|o| o.media_id.as_deref());
    clips.chain(music).chain(images).collect()
}

pub fn validate(plan: &EditPlan, media: &HashMap<String, MediaFacts>) -> Result<Checked, Vec<FieldError>> {
    let mut v = Validator {
        media,
        errors: Vec::new(),
    };
    if plan.schema != SCHEMA {
        v.error(
            "schema",
            format!("unknown schema `{}`: this server reads `{SCHEMA}`", plan.schema),
        );
    }
    v.output(plan);
    let duration_micros = v.video(plan);
    v.audio(plan);
    v.captions(&plan.captions.items, duration_micros);
    v.overlays(plan, duration_micros);
    v.targets(plan, duration_micros);
    if v.errors.is_empty() {
        Ok(Checked { duration_micros })
    } else {
        Err(v.errors)
    }
}

struct Validator<'a> {
    media: &'a HashMap<String, MediaFacts>,
    errors: Vec<FieldError>,
}

impl Validator<'_> {
    fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn output(&mut self, plan: &EditPlan) {
        let output = &plan.output;
        let fps = output.fps;
        if fps.num == 0 || fps.den == 0 || !(1.0..=60.0).contains(&fps.per_second()) {
            self.error(
                "output.fps",
                format!("{}/{} is not a frame rate from 1 to 60 fps", fps.num, fps.den),
            );
        }
        let (width, height) = output.size();
        for (field, side) in [("output.width", width), ("output.height", height)] {
            if !SIDE.contains(&side) || side % 2 != 0 {
                self.error(
                    field,
                    format!(
                        "{side} px: sides are even numbers from {} to {}",
                        SIDE.start(),
                        SIDE.end()
                    ),
                );
            }
        }
        let (aw, ah) = output.aspect.ratio();
        // Within 1 %: 1080×1350 is 4:5 exactly, some sizes round.
        let off = (f64::from(width) * f64::from(ah) - f64::from(height) * f64::from(aw)).abs();
        if off > 0.01 * f64::from(height) * f64::from(aw) {
            self.error(
                "output.width",
                format!("{width}×{height} is not {}", output.aspect.as_str()),
            );
        }
    }

    /// Checks the clips; returns the timeline's length.
    fn video(&mut self, plan: &EditPlan) -> i64 {
        if plan.video.is_empty() {
            self.error("video", "a plan needs at least one clip");
        }
        if plan.video.len() > MAX_CLIPS {
            self.error("video", format!("{} clips: at most {MAX_CLIPS}", plan.video.len()));
        }
        let frame = plan.output.fps.frame();
        let mut total = 0i64;
        for (i, clip) in plan.video.iter().enumerate() {
            let at = format!("video[{i}]");
            let times_ok = self.times(&at, "source_in", clip.source_in, "source_out", clip.source_out);
            let speed_ok = clip
                .speed
                .is_none_or(|speed| speed.is_finite() && SPEEDS.contains(&speed));
            if !speed_ok {
                self.error(
                    format!("{at}.speed"),
                    format!(
                        "{} is not a speed from {} to {}",
                        clip.speed(),
                        SPEEDS.start(),
                        SPEEDS.end()
                    ),
                );
            }
            if times_ok {
                // Counted even when other fields are wrong (at speed 1 if the
                // speed is), so one mistake does not echo through every later time.
                let length = if speed_ok {
                    clip.timeline_micros()
                } else {
                    clip.source_out.minus(clip.source_in).micros()
                };
                if length < frame.micros() {
                    self.error(format!("{at}.source_out"), "the clip is shorter than one output frame");
                }
                total = total.saturating_add(length);
            }
            let Some(facts) = self.medium(&format!("{at}.media_id"), &clip.media_id) else {
                continue;
            };
            match facts.kind {
                MediaKind::Video => {
                    if let Some(duration) = facts.duration
                        && times_ok
                        && clip.source_out > duration
                    {
                        self.error(
                            format!("{at}.source_out"),
                            format!(
                                "{} s is past the end of the clip ({} s)",
                                secs(clip.source_out),
                                secs(duration)
                            ),
                        );
                    }
                }
                MediaKind::Image if times_ok && clip.source_in != RationalTime::ZERO => {
                    self.error(format!("{at}.source_in"), "a still starts at 0");
                }
                MediaKind::Image => {}
                other => self.error(
                    format!("{at}.media_id"),
                    format!(
                        "`{}` is {}: a clip needs a video or an image",
                        clip.media_id,
                        other.as_str()
                    ),
                ),
            }
        }
        total
    }

    fn audio(&mut self, plan: &EditPlan) {
        let audio = &plan.audio;
        if !(audio.loudness_lufs.is_finite() && LOUDNESS.contains(&audio.loudness_lufs)) {
            self.error(
                "audio.loudness_lufs",
                format!(
                    "{} LUFS: the target is from {} to {}",
                    audio.loudness_lufs,
                    LOUDNESS.start(),
                    LOUDNESS.end()
                ),
            );
        }
        let Some(music) = &audio.music else { return };
        if !(music.volume_db.is_finite() && VOLUME_DB.contains(&music.volume_db)) {
            self.error(
                "audio.music.volume_db",
                format!(
                    "{} dB: from {} to {}",
                    music.volume_db,
                    VOLUME_DB.start(),
                    VOLUME_DB.end()
                ),
            );
        }
        let in_ok = self.rate_ok("audio.music.source_in", music.source_in);
        let Some(facts) = self.medium("audio.music.media_id", &music.media_id) else {
            return;
        };
        if !facts.has_audio {
            self.error(
                "audio.music.media_id",
                format!("`{}` is {} without sound", music.media_id, facts.kind.as_str()),
            );
        } else if let Some(duration) = facts.duration
            && in_ok
            && music.source_in >= duration
        {
            self.error(
                "audio.music.source_in",
                format!(
                    "{} s is past the end of the music ({} s)",
                    secs(music.source_in),
                    secs(duration)
                ),
            );
        }
    }

    fn captions(&mut self, captions: &[Caption], timeline_micros: i64) {
        let mut previous_end: Option<(usize, RationalTime)> = None;
        for (i, caption) in captions.iter().enumerate() {
            let at = format!("captions.items[{i}]");
            if self.on_timeline(&at, caption.start, caption.end, timeline_micros)
                && let Some((j, end)) = previous_end
                && caption.start < end
            {
                self.error(
                    format!("{at}.start"),
                    format!("overlaps captions.items[{j}], which ends at {} s", secs(end)),
                );
            }
            previous_end = Some((i, caption.end));
            let lines: Vec<&str> = caption.text.lines().collect();
            if caption.text.trim().is_empty() {
                self.error(format!("{at}.text"), "a caption needs text");
            } else if lines.len() > MAX_CAPTION_LINES {
                self.error(
                    format!("{at}.text"),
                    format!("{} lines: at most {MAX_CAPTION_LINES}", lines.len()),
                );
            } else if let Some(long) = lines.iter().find(|l| l.chars().count() > MAX_CAPTION_LINE_CHARS) {
                self.error(
                    format!("{at}.text"),
                    format!(
                        "the line \"{long}\" has {} characters: at most {MAX_CAPTION_LINE_CHARS} a line",
                        long.chars().count()
                    ),
                );
            }
        }
    }

    fn overlays(&mut self, plan: &EditPlan, timeline_micros: i64) {
        for (i, overlay) in plan.overlays.iter().enumerate() {
            let at = format!("overlays[{i}]");
            self.on_timeline(&at, overlay.start, overlay.end, timeline_micros);
            match overlay.kind {
                OverlayKind::Text if overlay.text.as_deref().is_none_or(|t| t.trim().is_empty()) => {
                    self.error(format!("{at}.text"), "a text overlay needs text");
                }
                OverlayKind::Image => match overlay.media_id.as_deref() {
                    None => self.error(format!("{at}.media_id"), "an image overlay needs a media_id"),
                    Some(id) => {
                        if let Some(facts) = self.medium(&format!("{at}.media_id"), id)
                            && facts.kind != MediaKind::Image
                        {
                            self.error(
                                format!("{at}.media_id"),
                                format!("`{id}` is {}: an image overlay needs an image", facts.kind.as_str()),
                            );
                        }
                    }
                },
                OverlayKind::Text => {}
            }
            let p = overlay.position;
            let fractions = [p.x, p.y, p.width]
                .iter()
                .all(|f| f.is_finite() && (0.0..=1.0).contains(f));
            if !fractions || p.width == 0.0 || p.x + p.width > 1.0 {
                self.error(
                    format!("{at}.position"),
                    "x, y and width are fractions of the frame (0 to 1), with x + width at most 1",
                );
            }
        }
    }

    fn targets(&mut self, plan: &EditPlan, duration_micros: i64) {
        let mut seen = BTreeSet::new();
        let (width, height) = plan.output.size();
        for (i, target) in plan.targets.iter().enumerate() {
            let at = format!("targets[{i}]");
            if !seen.insert(target.as_str()) {
                self.error(at, format!("{} is listed twice", target.as_str()));
                continue;
            }
            let limits = limits(*target);
            if duration_micros < limits.min_secs * 1_000_000 || duration_micros > limits.max_secs * 1_000_000 {
                self.error(
                    at.clone(),
                    format!(
                        "the timeline lasts {:.3} s; {} takes {} s to {} s",
                        duration_micros as f64 / 1e6,
                        limits.name,
                        limits.min_secs,
                        limits.max_secs
                    ),
                );
            }
            if let Some((low, high)) = limits.fps {
                let fps = plan.output.fps.per_second();
                if !(low..=high).contains(&fps) {
                    self.error(
                        "output.fps",
                        format!("{fps:.3} fps: {} takes {low} to {high} fps", limits.name),
                    );
                }
            }
            if limits.upright && width > height {
                self.error(
                    "output.aspect",
                    format!(
                        "{}: {} must be square or taller",
                        plan.output.aspect.as_str(),
                        limits.name
                    ),
                );
            }
        }
    }

    /// The facts of a medium of the plan's workspace, or an error at `field`.
    fn medium(&mut self, field: &str, id: &str) -> Option<MediaFacts> {
        let found = self.media.get(id).copied();
        if found.is_none() {
            self.error(field, format!("no media `{id}` in this workspace"));
        }
        found
    }

    fn rate_ok(&mut self, field: &str, time: RationalTime) -> bool {
        if time.rate == 0 {
            self.error(field, "rate must be positive");
            return false;
        }
        if time.value < 0 {
            self.error(field, "must not be negative");
            return false;
        }
        true
    }

    /// A start and an end in order; false (after saying why) when not.
    fn times(&mut self, at: &str, from: &str, start: RationalTime, to: &str, end: RationalTime) -> bool {
        let start_ok = self.rate_ok(&format!("{at}.{from}"), start);
        let end_ok = self.rate_ok(&format!("{at}.{to}"), end);
        if start_ok && end_ok && end <= start {
            self.error(format!("{at}.{to}"), format!("must be after {from}"));
            return false;
        }
        start_ok && end_ok
    }

    /// Timeline times in order and within the timeline.
    fn on_timeline(&mut self, at: &str, start: RationalTime, end: RationalTime, timeline_micros: i64) -> bool {
        if !self.times(at, "start", start, "end", end) {
            return false;
        }
        if end.micros() > timeline_micros {
            self.error(
                format!("{at}.end"),
                format!(
                    "{} s is past the end of the timeline ({:.3} s)",
                    secs(end),
                    timeline_micros as f64 / 1e6
                ),
            );
            return false;
        }
        true
    }
}

fn secs(time: RationalTime) -> String {
    format!("{:.3}", time.seconds())
}
