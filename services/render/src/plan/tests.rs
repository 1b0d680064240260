use std::collections::HashMap;

use serde_json::json;

use super::model::{Aspect, EditPlan, Target};
use super::otio;
use super::time::RationalTime;
use super::validate::{FieldError, MediaFacts, MediaKind, validate};

fn media() -> HashMap<String, MediaFacts> {
    let facts = |kind, ms: Option<i64>, has_audio| MediaFacts {
        kind,
        duration: ms.map(RationalTime::from_millis),
        has_audio,
        hdr: false,
    };
    HashMap::from([
        ("iphone".to_owned(), facts(MediaKind::Video, Some(2202), true)),
        ("talk".to_owned(), facts(MediaKind::Video, Some(60_000), true)),
        ("logo".to_owned(), facts(MediaKind::Image, None, false)),
        ("music".to_owned(), facts(MediaKind::Audio, Some(30_000), true)),
        ("words".to_owned(), facts(MediaKind::Transcript, None, false)),
    ])
}

/// A plan using every part: 2.2 s, then 4 s at half speed (8 s); 30 fps.
fn full_plan() -> EditPlan {
    serde_json::from_value(json!({
        "schema": "smez.edit_plan/1",
        "video": [
            {"media_id": "iphone", "source_in": {"value": 0, "rate": 1000}, "source_out": {"value": 2200, "rate": 1000}},
            {"media_id": "talk", "source_in": {"value": 300, "rate": 30}, "source_out": {"value": 420, "rate": 30},
             "fit": "blurred_background", "speed": 0.5}
        ],
        "audio": {"music": {"media_id": "music", "volume_db": -20}},
        "captions": {"style": "boxed", "items": [
            {"start": {"value": 0, "rate": 1000}, "end": {"value": 1500, "rate": 1000}, "text": "Three things\nnobody tells you"},
            {"start": {"value": 1500, "rate": 1000}, "end": {"value": 3000, "rate": 1000}, "text": "about editing 🎬"}
        ]},
        "overlays": [
            {"type": "text", "text": "Watch this", "start": {"value": 0, "rate": 30}, "end": {"value": 45, "rate": 30}},
            {"type": "image", "media_id": "logo", "start": {"value": 30, "rate": 30}, "end": {"value": 180, "rate": 30},
             "position": {"x": 0.7, "y": 0.05, "width": 0.25}}
        ],
        "targets": ["tiktok", "instagram", "youtube"]
    }))
    .unwrap()
}

fn fields(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

fn message<'a>(errors: &'a [FieldError], field: &str) -> &'a str {
    &errors
        .iter()
        .find(|e| e.field == field)
        .unwrap_or_else(|| panic!("no error at {field}: {errors:?}"))
        .message
}

#[test]
fn a_minimal_plan_takes_the_documented_defaults() {
    let plan: EditPlan = serde_json::from_value(json!({
        "schema": "smez.edit_plan/1",
        "video": [{"media_id": "talk", "source_in": {"value": 0, "rate": 1}, "source_out": {"value": 5, "rate": 1}}]
    }))
    .unwrap();
    assert_eq!(plan.output.aspect, Aspect::Portrait);
    assert_eq!(plan.output.size(), (1080, 1920));
    assert_eq!((plan.output.fps.num, plan.output.fps.den), (30, 1));
    assert!(plan.audio.clip_audio);
    assert_eq!(plan.audio.loudness_lufs, -14.0);
    let checked = validate(&plan, &media()).unwrap();
    assert_eq!(checked.duration_micros, 5_000_000);
}

#[test]
fn a_typo_is_refused_with_the_field_named() {
    let error = serde_json::from_value::<EditPlan>(json!({
        "schema": "smez.edit_plan/1",
        "video": [{"media_id": "talk", "source_in": {"value": 0, "rate": 1}, "source_out": {"value": 5, "rate": 1}, "sped": 2}]
    }))
    .unwrap_err();
    assert!(error.to_string().contains("unknown field `sped`"), "{error}");
}

#[test]
fn a_full_plan_is_valid_and_lasts_its_clips() {
    let checked = validate(&full_plan(), &media()).unwrap();
    assert_eq!(checked.duration_micros, 2_200_000 + 8_000_000);
}

#[test]
fn media_missing_or_of_another_workspace_is_named_per_field() {
    let mut plan = full_plan();
    plan.video[0].media_id = "elsewhere".into();
    plan.audio.music.as_mut().unwrap().media_id = "gone".into();
    plan.overlays[1].media_id = Some("talk".into());
    let errors = validate(&plan, &media()).unwrap_err();
    assert_eq!(
        fields(&errors),
        ["video[0].media_id", "audio.music.media_id", "overlays[1].media_id"]
    );
    assert_eq!(
        message(&errors, "video[0].media_id"),
        "no media `elsewhere` in this workspace"
    );
    assert!(message(&errors, "overlays[1].media_id").contains("needs an image"));
}

#[test]
fn in_and_out_points_must_lie_inside_the_clip() {
    let mut plan = full_plan();
    plan.video[0].source_out = RationalTime::new(67, 30); // 2.233 s of a 2.202 s clip
    plan.video[1].source_out = RationalTime::new(200, 30);
    plan.video[1].source_in = RationalTime::new(300, 30);
    let errors = validate(&plan, &media()).unwrap_err();
    assert_eq!(
        message(&errors, "video[0].source_out"),
        "2.233 s is past the end of the clip (2.202 s)"
    );
    assert_eq!(message(&errors, "video[1].source_out"), "must be after source_in");
}

#[test]
fn clips_must_be_pictures_and_stills_start_at_zero() {
    let mut plan = full_plan();
    plan.video[0].media_id = "music".into();
    plan.video[1].media_id = "logo".into();
    plan.video[1].source_in = RationalTime::new(1, 1);
    let errors = validate(&plan, &media()).unwrap_err();
    assert!(message(&errors, "video[0].media_id").contains("is audio: a clip needs a video or an image"));
    assert_eq!(message(&errors, "video[1].source_in"), "a still starts at 0");
}

#[test]
fn overlapping_captions_are_refused() {
    let mut plan = full_plan();
    plan.captions.items[1].start = RationalTime::new(44, 30); // 1.467 s, before the first ends at 1.5 s
    let errors = validate(&plan, &media()).unwrap_err();
    assert_eq!(fields(&errors), ["captions.items[1].start"]);
    assert_eq!(errors[0].message, "overlaps captions.items[0], which ends at 1.500 s");
}

#[test]
fn captions_stay_readable_and_on_the_timeline() {
    let mut plan = full_plan();
    plan.captions.items[0].text = "one\ntwo\nthree".into();
    plan.captions.items[1].text = "a line much longer than anyone reads in a flash".into();
    plan.captions.items[1].end = RationalTime::from_millis(11_000);
    let errors = validate(&plan, &media()).unwrap_err();
    assert_eq!(message(&errors, "captions.items[0].text"), "3 lines: at most 2");
    assert!(message(&errors, "captions.items[1].text").contains("at most 42 a line"));
    assert_eq!(
        message(&errors, "captions.items[1].end"),
        "11.000 s is past the end of the timeline (10.200 s)"
    );
}

#[test]
fn the_duration_must_suit_every_target() {
    let mut plan = full_plan();
    plan.video[1].source_out = RationalTime::new(300 + 30 * 200, 30); // 200 s more
    plan.video[1].source_in = RationalTime::new(0, 30);
    let mut media = media();
    media.get_mut("talk").unwrap().duration = Some(RationalTime::from_millis(600_000));
    let errors = validate(&plan, &media).unwrap_err();
    assert_eq!(fields(&errors), ["targets[2]"]);
    assert_eq!(
        errors[0].message,
        "the timeline lasts 422.200 s; YouTube Shorts takes 1 s to 180 s"
    );

    let mut short = full_plan();
    short.video.truncate(1);
    short.captions.items.clear();
    short.overlays.clear();
    short.targets = vec![Target::TikTok];
    let errors = validate(&short, &self::media()).unwrap_err();
    assert_eq!(
        errors[0].message,
        "the timeline lasts 2.200 s; TikTok takes 3 s to 600 s"
    );
}

#[test]
fn the_output_shape_and_rate_suit_the_targets() {
    let mut plan = full_plan();
    plan.output.aspect = Aspect::Landscape;
    plan.output.fps.num = 15;
    let errors = validate(&plan, &media()).unwrap_err();
    assert_eq!(fields(&errors), ["output.fps", "output.fps", "output.aspect"]);
    assert!(message(&errors, "output.aspect").contains("YouTube Shorts must be square or taller"));

    let mut odd = full_plan();
    odd.output.width = Some(1081);
    let errors = validate(&odd, &media()).unwrap_err();
    assert_eq!(errors[0].message, "1081 px: sides are even numbers from 144 to 4096");

    let mut square = full_plan();
    square.output.height = Some(1080);
    let errors = validate(&square, &media()).unwrap_err();
    assert_eq!(fields(&errors), ["output.width"]);
    assert_eq!(errors[0].message, "1080×1080 is not 9:16");
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut plan = full_plan();
    plan.schema = "smez.edit_plan/9".into();
    plan.video[0].speed = Some(10.0);
    plan.audio.loudness_lufs = 0.0;
    plan.overlays[0].text = None;
    let errors = validate(&plan, &media()).unwrap_err();
    assert_eq!(
        fields(&errors),
        ["schema", "video[0].speed", "audio.loudness_lufs", "overlays[0].text"]
    );
}

#[test]
fn otio_round_trips_what_maps() {
    let plan = full_plan();
    let exported = otio::export(&plan, "Launch teaser");
    assert_eq!(exported["OTIO_SCHEMA"], "Timeline.1");
    let tracks = exported["tracks"]["children"].as_array().unwrap();
    assert_eq!(tracks.len(), 5, "clips, two overlays, captions, music");
    assert_eq!(
        tracks[0]["children"][0]["media_references"]["DEFAULT_MEDIA"]["target_url"],
        "smez://media/iphone"
    );
    assert_eq!(
        tracks[3]["children"][1]["media_references"]["DEFAULT_MEDIA"]["generator_kind"],
        "smez.Caption"
    );
    // As a file would carry it: text, parsed again.
    let text = serde_json::to_string_pretty(&exported).unwrap();
    let imported = otio::import(&serde_json::from_str(&text).unwrap()).unwrap();
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    assert_eq!(imported.plan, plan);
}

#[test]
fn otio_from_elsewhere_maps_what_it_can_and_says_what_it_cannot() {
    let time = |value: f64, rate: f64| json!({"OTIO_SCHEMA": "RationalTime.1", "value": value, "rate": rate});
    let clip = |url: &str, effects: serde_json::Value| {
        json!({
            "OTIO_SCHEMA": "Clip.2",
            "source_range": {"OTIO_SCHEMA": "TimeRange.1", "start_time": time(24.0, 24.0), "duration": time(48.0, 24.0)},
            "media_references": {"DEFAULT_MEDIA": {"OTIO_SCHEMA": "ExternalReference.1", "target_url": url}},
            "active_media_reference_key": "DEFAULT_MEDIA",
            "effects": effects
        })
    };
    let timeline = |clips: Vec<serde_json::Value>| {
        json!({"OTIO_SCHEMA": "Timeline.1", "tracks": {"OTIO_SCHEMA": "Stack.1", "children": [
            {"OTIO_SCHEMA": "Track.1", "kind": "Video", "name": "V1", "children": clips},
            {"OTIO_SCHEMA": "Track.1", "kind": "Audio", "name": "A1", "children": []}
        ]}})
    };
    let imported = otio::import(&timeline(vec![clip(
        "smez://media/talk",
        json!([{"OTIO_SCHEMA": "Effect.1", "effect_name": "Blur"}]),
    )]))
    .unwrap();
    assert_eq!(imported.plan.video.len(), 1);
    assert_eq!(imported.plan.video[0].source_in, RationalTime::new(1, 1));
    assert_eq!(imported.plan.video[0].source_out, RationalTime::new(3, 1));
    assert_eq!(imported.warnings.len(), 2, "{:?}", imported.warnings);
    assert!(imported.warnings[0].contains("`Blur`) is not supported"));
    assert!(imported.warnings[1].contains("\"A1\", Audio"));

    let errors = otio::import(&timeline(vec![clip("file:///Users/ana/clip.mov", json!([]))])).unwrap_err();
    assert_eq!(
        fields(&errors),
        ["tracks.children[0].children[0].media_references.DEFAULT_MEDIA.target_url"]
    );
    assert!(errors[0].message.contains("is not Smez media"));
}
