//! OpenTimelineIO (`.otio` JSON) export and import, for what maps, so a plan
//! can go to a desktop editor and come back.
//!
//! Mapping (OTIO lists tracks bottom first):
//! - the clips: a `Video` track of `Clip.2`s whose `ExternalReference.1`
//!   targets `smez://media/<id>`; speed as `LinearTimeWarp.1`, fit in
//!   `metadata.smez.fit`;
//! - each overlay: its own `Video` track, a `Gap.1` then a clip (an image
//!   reference, or a `GeneratorReference.1` of kind `smez.Text`);
//! - captions: a `Video` track of gaps and `GeneratorReference.1` clips of
//!   kind `smez.Caption` (other tools see titles);
//! - the music bed: an `Audio` track of one clip;
//! - the rest (output, loudness, caption style, targets) in the timeline's
//!   `metadata.smez`. Each track says its part in `metadata.smez.role`.
//!
//! On import, tracks without a Smez role are read as clips (the first video
//! track) or skipped with a warning; media must be Smez media.

use serde_json::{Value, json};

use super::model::{
    Audio, Caption, Captions, EditPlan, Fit, Music, Overlay, OverlayKind, Placement, SCHEMA, Target, VideoClip,
};
use super::time::RationalTime;
use super::validate::FieldError;

const MEDIA_URL: &str = "smez://media/";
const CAPTION: &str = "smez.Caption";
const TEXT: &str = "smez.Text";

/// The plan as an OTIO timeline.
pub fn export(plan: &EditPlan, name: &str) -> Value {
    let mut tracks = vec![video_track(plan)];
    tracks.extend(plan.overlays.iter().enumerate().map(|(i, o)| overlay_track(i, o)));
    if !plan.captions.items.is_empty() {
        tracks.push(caption_track(&plan.captions.items));
    }
    if let Some(music) = &plan.audio.music {
        let length = RationalTime::new(plan.video.iter().map(VideoClip::timeline_micros).sum(), 1_000_000);
        tracks.push(track(
            "Music",
            "Audio",
            "music",
            vec![clip(
                "music",
                media_reference(&music.media_id),
                music.source_in,
                length,
                vec![],
                json!({"volume_db": music.volume_db, "duck_under_speech": music.duck_under_speech}),
            )],
        ));
    }
    json!({
        "OTIO_SCHEMA": "Timeline.1",
        "name": name,
        "global_start_time": null,
        "metadata": {"smez": {
            "schema": plan.schema,
            "output": plan.output,
            "clip_audio": plan.audio.clip_audio,
            "loudness_lufs": plan.audio.loudness_lufs,
            "caption_style": plan.captions.style,
            "targets": plan.targets,
            "generator": plan.generator,
        }},
        "tracks": {
            "OTIO_SCHEMA": "Stack.1",
            "name": "tracks",
            "source_range": null,
            "effects": [],
            "markers": [],
            "metadata": {},
            "children": tracks,
        },
    })
}

fn video_track(plan: &EditPlan) -> Value {
    let clips = plan
        .video
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let effects = match c.speed {
                Some(speed) if speed != 1.0 => vec![json!({
                    "OTIO_SCHEMA": "LinearTimeWarp.1",
                    "name": "",
                    "effect_name": "LinearTimeWarp",
                    "time_scalar": speed,
                    "metadata": {},
                })],
                _ => vec![],
            };
            clip(
                &format!("clip {}", i + 1),
                media_reference(&c.media_id),
                c.source_in,
                c.source_out.minus(c.source_in),
                effects,
                json!({"fit": c.fit}),
            )
        })
        .collect();
    track("Clips", "Video", "video", clips)
}

fn overlay_track(index: usize, overlay: &Overlay) -> Value {
    let reference = match (overlay.kind, &overlay.media_id) {
        (OverlayKind::Image, Some(id)) => media_reference(id),
        _ => generator(TEXT, json!({"text": overlay.text})),
    };
    let mut children = Vec::new();
    if overlay.start.value > 0 {
        children.push(gap(overlay.start));
    }
    children.push(clip(
        &format!("overlay {}", index + 1),
        reference,
        RationalTime::ZERO,
        overlay.end.minus(overlay.start),
        vec![],
        json!({"position": overlay.position}),
    ));
    track(&format!("Overlay {}", index + 1), "Video", "overlay", children)
}

fn caption_track(captions: &[Caption]) -> Value {
    let mut children = Vec::new();
    let mut at = RationalTime::ZERO;
    for (i, caption) in captions.iter().enumerate() {
        if caption.start > at {
            children.push(gap(caption.start.minus(at)));
        }
        children.push(clip(
            &format!("caption {}", i + 1),
            generator(CAPTION, json!({"text": caption.text})),
            RationalTime::ZERO,
            caption.end.minus(caption.start),
            vec![],
            json!({}),
        ));
        at = caption.end;
    }
    track("Captions", "Video", "captions", children)
}

fn track(name: &str, kind: &str, role: &str, children: Vec<Value>) -> Value {
    json!({
        "OTIO_SCHEMA": "Track.1",
        "name": name,
        "kind": kind,
        "source_range": null,
        "effects": [],
        "markers": [],
        "metadata": {"smez": {"role": role}},
        "children": children,
    })
}

fn clip(
    name: &str,
    reference: Value,
    start: RationalTime,
    duration: RationalTime,
    effects: Vec<Value>,
    smez: Value,
) -> Value {
    json!({
        "OTIO_SCHEMA": "Clip.2",
        "name": name,
        "source_range": range(start, duration),
        "media_references": {"DEFAULT_MEDIA": reference},
        "active_media_reference_key": "DEFAULT_MEDIA",
        "effects": effects,
        "markers": [],
        "enabled": true,
        "metadata": {"smez": smez},
    })
}

fn gap(duration: RationalTime) -> Value {
    json!({
        "OTIO_SCHEMA": "Gap.1",
        "name": "",
        "source_range": range(RationalTime::ZERO, duration),
        "effects": [],
        "markers": [],
        "enabled": true,
        "metadata": {},
    })
}

fn media_reference(media_id: &str) -> Value {
    json!({
        "OTIO_SCHEMA": "ExternalReference.1",
        "name": media_id,
        "target_url": format!("{MEDIA_URL}{media_id}"),
        "available_range": null,
        "metadata": {},
    })
}

fn generator(kind: &str, parameters: Value) -> Value {
    json!({
        "OTIO_SCHEMA": "GeneratorReference.1",
        "name": "",
        "generator_kind": kind,
        "parameters": parameters,
        "available_range": null,
        "metadata": {},
    })
}

fn range(start: RationalTime, duration: RationalTime) -> Value {
    json!({
        "OTIO_SCHEMA": "TimeRange.1",
        "start_time": time(start),
        "duration": time(duration),
    })
}

fn time(t: RationalTime) -> Value {
    json!({"OTIO_SCHEMA": "RationalTime.1", "value": t.value, "rate": t.rate})
}

/// A plan read from OTIO, and what did not map.
#[derive(Debug)]
pub struct Imported {
    pub plan: EditPlan,
    pub warnings: Vec<String>,
}

/// Reads an OTIO timeline. Errors name the JSON path of what cannot be read.
pub fn import(timeline: &Value) -> Result<Imported, Vec<FieldError>> {
    let mut reader = Reader::default();
    let plan = reader.timeline(timeline);
    match plan {
        Some(plan) if reader.errors.is_empty() => Ok(Imported {
            plan,
            warnings: reader.warnings,
        }),
        _ => Err(reader.errors),
    }
}

#[derive(Default)]
struct Reader {
    errors: Vec<FieldError>,
    warnings: Vec<String>,
}

impl Reader {
    fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    fn timeline(&mut self, timeline: &Value) -> Option<EditPlan> {
        if timeline["OTIO_SCHEMA"]
            .as_str()
            .is_none_or(|s| !s.starts_with("Timeline."))
        {
            self.error("OTIO_SCHEMA", "not an OTIO timeline (Timeline.1)");
            return None;
        }
        let smez = &timeline["metadata"]["smez"];
        let mut plan = EditPlan {
            schema: SCHEMA.to_owned(),
            output: self.setting(smez, "output", "metadata.smez.output").unwrap_or_default(),
            video: Vec::new(),
            audio: Audio {
                clip_audio: smez["clip_audio"].as_bool().unwrap_or(true),
                music: None,
                loudness_lufs: smez["loudness_lufs"].as_f64().unwrap_or(Audio::default().loudness_lufs),
            },
            captions: Captions {
                style: self
                    .setting(smez, "caption_style", "metadata.smez.caption_style")
                    .unwrap_or_default(),
                items: Vec::new(),
            },
            overlays: Vec::new(),
            targets: self
                .setting::<Vec<Target>>(smez, "targets", "metadata.smez.targets")
                .unwrap_or_default(),
            generator: smez.get("generator").filter(|g| !g.is_null()).cloned(),
        };
        let Some(tracks) = timeline["tracks"]["children"].as_array() else {
            self.error("tracks.children", "the timeline has no tracks");
            return None;
        };
        let mut have_clips = false;
        for (t, track) in tracks.iter().enumerate() {
            let at = format!("tracks.children[{t}]");
            let role = track["metadata"]["smez"]["role"].as_str();
            let kind = track["kind"].as_str().unwrap_or("");
            match (role, kind) {
                (Some("video"), _) | (None, "Video") if !have_clips => {
                    have_clips = true;
                    plan.video = self.clips(&at, track);
                }
                (Some("captions"), _) => plan.captions.items = self.captions(&at, track),
                (Some("overlay"), _) => plan.overlays.extend(self.overlay(&at, track)),
                (Some("music"), _) => plan.audio.music = self.music(&at, track),
                _ => self.warnings.push(format!(
                    "{at} (\"{}\", {kind}) has no Smez part: skipped",
                    track["name"].as_str().unwrap_or("")
                )),
            }
        }
        if !have_clips {
            self.error("tracks.children", "no video track with clips");
        }
        Some(plan)
    }

    fn setting<T: serde::de::DeserializeOwned>(&mut self, smez: &Value, key: &str, field: &str) -> Option<T> {
        let value = smez.get(key)?;
        match serde_json::from_value(value.clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(field, e.to_string());
                None
            }
        }
    }

    fn items<'a>(&mut self, at: &str, track: &'a Value) -> &'a [Value] {
        match track["children"].as_array() {
            Some(items) => items,
            None => {
                self.error(&format!("{at}.children"), "a track holds a list of items");
                &[]
            }
        }
    }

    fn clips(&mut self, at: &str, track: &Value) -> Vec<VideoClip> {
        let mut clips = Vec::new();
        for (i, item) in self.items(at, track).iter().enumerate() {
            let at = format!("{at}.children[{i}]");
            match schema(item) {
                "Clip" => {
                    let Some((start, duration)) = self.range(&at, item) else {
                        continue;
                    };
                    let Some(media_id) = self.media_id(&at, item) else {
                        continue;
                    };
                    let speed = self.speed(&at, item);
                    let fit =
                        serde_json::from_value::<Fit>(item["metadata"]["smez"]["fit"].clone()).unwrap_or_default();
                    clips.push(VideoClip {
                        media_id,
                        source_in: start,
                        source_out: add(start, duration),
                        fit,
                        speed,
                    });
                }
                "Gap" => self.error(
                    &at,
                    "gaps between clips are not supported: remove the gap or fill it with a clip",
                ),
                "Transition" => self
                    .warnings
                    .push(format!("{at}: transitions are not supported yet: a cut is made")),
                other => self.error(&at, format!("`{other}` is not something a Smez video track holds")),
            }
        }
        clips
    }

    fn captions(&mut self, at: &str, track: &Value) -> Vec<Caption> {
        let mut captions = Vec::new();
        let mut position = RationalTime::ZERO;
        for (i, item) in self.items(at, track).iter().enumerate() {
            let at = format!("{at}.children[{i}]");
            let Some((_, duration)) = self.range(&at, item) else {
                continue;
            };
            let start = zero_at_rate_of(position, duration);
            let end = add(position, duration);
            if schema(item) == "Clip" {
                let text = self.generated_text(&at, item, CAPTION);
                captions.push(Caption {
                    start,
                    end,
                    text: text.unwrap_or_default(),
                });
            }
            position = end;
        }
        captions
    }

    fn overlay(&mut self, at: &str, track: &Value) -> Option<Overlay> {
        let mut position = RationalTime::ZERO;
        for (i, item) in self.items(at, track).iter().enumerate() {
            let at = format!("{at}.children[{i}]");
            let (_, duration) = self.range(&at, item)?;
            if schema(item) != "Clip" {
                position = add(position, duration);
                continue;
            }
            let reference = &item["media_references"]["DEFAULT_MEDIA"];
            let (kind, text, media_id) = if schema(reference) == "GeneratorReference" {
                (OverlayKind::Text, self.generated_text(&at, item, TEXT), None)
            } else {
                (OverlayKind::Image, None, Some(self.media_id(&at, item)?))
            };
            let placement =
                serde_json::from_value::<Placement>(item["metadata"]["smez"]["position"].clone()).unwrap_or_default();
            return Some(Overlay {
                kind,
                text,
                media_id,
                start: zero_at_rate_of(position, duration),
                end: add(position, duration),
                position: placement,
            });
        }
        None
    }

    fn music(&mut self, at: &str, track: &Value) -> Option<Music> {
        let item = self.items(at, track).first()?;
        let at = format!("{at}.children[0]");
        let (start, _) = self.range(&at, item)?;
        let smez = &item["metadata"]["smez"];
        Some(Music {
            media_id: self.media_id(&at, item)?,
            source_in: start,
            volume_db: smez["volume_db"].as_f64().unwrap_or(-18.0),
            duck_under_speech: smez["duck_under_speech"].as_bool().unwrap_or(true),
        })
    }

    fn range(&mut self, at: &str, item: &Value) -> Option<(RationalTime, RationalTime)> {
        let range = &item["source_range"];
        let start = self.time(&format!("{at}.source_range.start_time"), &range["start_time"]);
        let duration = self.time(&format!("{at}.source_range.duration"), &range["duration"]);
        Some((start?, duration?))
    }

    /// OTIO writes floats; a Smez time is whole ticks at a whole rate.
    fn time(&mut self, at: &str, time: &Value) -> Option<RationalTime> {
        let value = time["value"].as_f64();
        let rate = time["rate"].as_f64();
        match (value, rate) {
            (Some(v), Some(r)) if v.fract() == 0.0 && r.fract() == 0.0 && r >= 1.0 && r <= f64::from(u32::MAX) => {
                Some(RationalTime::new(v as i64, r as u32))
            }
            (Some(v), Some(r)) if r >= 1.0 => {
                // Fractional ticks (rare): to microseconds, the finest a render uses.
                Some(RationalTime::new((v / r * 1e6).round() as i64, 1_000_000))
            }
            _ => {
                self.error(at, "a RationalTime needs a value and a positive rate");
                None
            }
        }
    }

    fn media_id(&mut self, at: &str, item: &Value) -> Option<String> {
        let url = item["media_references"]["DEFAULT_MEDIA"]["target_url"]
            .as_str()
            .unwrap_or("");
        match url.strip_prefix(MEDIA_URL).filter(|id| !id.is_empty()) {
            Some(id) => Some(id.to_owned()),
            None => {
                self.error(
                    &format!("{at}.media_references.DEFAULT_MEDIA.target_url"),
                    format!("`{url}` is not Smez media (smez://media/<id>): upload it and relink the clip"),
                );
                None
            }
        }
    }

    fn generated_text(&mut self, at: &str, item: &Value, kind: &str) -> Option<String> {
        let reference = &item["media_references"]["DEFAULT_MEDIA"];
        if reference["generator_kind"].as_str() != Some(kind) {
            self.error(
                &format!("{at}.media_references.DEFAULT_MEDIA.generator_kind"),
                format!("expected a `{kind}` generator"),
            );
            return None;
        }
        reference["parameters"]["text"].as_str().map(str::to_owned)
    }

    fn speed(&mut self, at: &str, item: &Value) -> Option<f64> {
        let effects = item["effects"].as_array()?;
        let mut speed = None;
        for (e, effect) in effects.iter().enumerate() {
            if schema(effect) == "LinearTimeWarp" {
                speed = effect["time_scalar"].as_f64();
            } else {
                self.warnings.push(format!(
                    "{at}.effects[{e}] (`{}`) is not supported: ignored",
                    effect["effect_name"].as_str().unwrap_or("?")
                ));
            }
        }
        speed
    }
}

/// `Clip.2` → `Clip`.
fn schema(item: &Value) -> &str {
    item["OTIO_SCHEMA"]
        .as_str()
        .and_then(|s| s.split('.').next())
        .unwrap_or("")
}

/// A track's start (zero) written at the rate of the item there, as the
/// exported plan most likely had it.
fn zero_at_rate_of(position: RationalTime, item: RationalTime) -> RationalTime {
    if position.value == 0 {
        RationalTime::new(0, item.rate)
    } else {
        position
    }
}

fn add(a: RationalTime, b: RationalTime) -> RationalTime {
    a.minus(RationalTime::new(-b.value, b.rate))
}
