//! Renders through the gateway, on real ffmpeg: real and awkward inputs
//! come out as the plan says (checked here with ffprobe and a loudness meter
//! of our own, and by looking at frames where captions should and should
//! not be); progress streams as server-sent events; a render can be
//! canceled, and a worker killed mid-render is replaced and the render
//! completes once, leaving no stray file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::media::{Creator, make, real, with_exif_orientation};
use super::{Reply, Shape, Stack};
use crate::on_both_shapes;

pub(super) fn ms(value: i64) -> Value {
    json!({"value": value, "rate": 1000})
}

async fn upload(creator: &Creator, name: &str, bytes: Vec<u8>) -> String {
    let uploaded = creator.upload(name, bytes).await.expect(201);
    uploaded.body["id"].as_str().unwrap().to_owned()
}

pub(super) async fn upload_real(creator: &Creator, name: &str) -> String {
    upload(creator, name, std::fs::read(real(name)).unwrap()).await
}

pub(super) async fn post(creator: &Creator, path: &str, body: &Value) -> Reply {
    creator
        .send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await
}

/// Saves the plan and asks for its render; the render's id.
pub(super) async fn start_render(creator: &Creator, plan: &Value) -> String {
    let plan = post(creator, "/v1/edit-plans", plan).await.expect(201);
    let render = post(creator, "/v1/renders", &json!({"plan_id": plan.body["id"]}))
        .await
        .expect(202);
    assert_eq!(render.body["status"], "queued");
    render.body["id"].as_str().unwrap().to_owned()
}

/// Follows the render's event stream to its end: (event names, the final render).
pub(super) async fn follow(creator: &Creator, render: &str) -> (Vec<String>, Value) {
    let reply = tokio::time::timeout(
        Duration::from_secs(180),
        creator.get(&format!("/v1/renders/{render}/events")),
    )
    .await
    .expect("the render ends within 3 minutes")
    .expect(200);
    assert_eq!(reply.headers["content-type"], "text/event-stream");
    let text = reply.body.as_str().unwrap().to_owned();
    let mut names = Vec::new();
    let mut last = Value::Null;
    for block in text.split("\n\n") {
        let name = block.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("");
        let data = block.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("null");
        if name.is_empty() {
            continue;
        }
        names.push(name.to_owned());
        last = serde_json::from_str(data).unwrap_or(Value::Null);
    }
    (names, last)
}

/// Downloads the render into `dir`.
async fn download(creator: &Creator, render: &str, dir: &Path) -> PathBuf {
    let response = crate::process::http()
        .get(format!("{}/v1/renders/{render}/content", creator.base))
        .header("x-smez-client", "mobile")
        .header("x-smez-workspace", &creator.workspace)
        .bearer_auth(creator.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "video/mp4");
    let path = dir.join(format!("{render}.mp4"));
    std::fs::write(&path, response.bytes().await.unwrap()).unwrap();
    path
}

fn ffprobe(path: &Path) -> Value {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Integrated loudness by ffmpeg's ebur128 meter.
fn loudness(path: &Path) -> f64 {
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-map", "0:a", "-af", "ebur128", "-f", "null", "-"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    said.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("I:"))
        .and_then(|v| v.trim().trim_end_matches("LUFS").trim().parse().ok())
        .unwrap_or_else(|| panic!("no loudness in: {said}"))
}

/// Pixels brighter than `level` (0–255) in the `crop` (w:h:x:y) of the frame at `at` seconds.
fn bright_pixels(path: &Path, at: f64, crop: &str, level: u8) -> usize {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{at:.3}"), "-i"])
        .arg(path)
        .args([
            "-frames:v",
            "1",
            "-vf",
            &format!("crop={crop},format=gray"),
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .unwrap();
    assert!(output.status.success() && !output.stdout.is_empty(), "no frame at {at}");
    output.stdout.iter().filter(|v| **v > level).count()
}

/// What every render promises: H.264 High yuv420p at the size and a
/// constant 30 fps, BT.709, AAC-LC 48 kHz stereo, the planned length to a
/// frame, the index first, and −14 LUFS within 1 LU (or silence, for a
/// plan without sound).
fn assert_delivers(path: &Path, width: u64, height: u64, planned_secs: f64, sound: bool) {
    let probe = ffprobe(path);
    let streams = probe["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2, "{probe}");
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    let audio = streams.iter().find(|s| s["codec_type"] == "audio").unwrap();
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(video["profile"], "High");
    assert_eq!(video["pix_fmt"], "yuv420p");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(width), Some(height))
    );
    assert_eq!(video["r_frame_rate"], "30/1");
    assert_eq!(video["avg_frame_rate"], "30/1", "constant frame rate");
    assert_eq!(video["color_transfer"], "bt709");
    assert_eq!(video["color_primaries"], "bt709");
    let duration: f64 = video["duration"].as_str().unwrap().parse().unwrap();
    assert!(
        (duration - planned_secs).abs() <= 1.0 / 30.0 + 1e-6,
        "{duration} s, planned {planned_secs}"
    );
    assert_eq!(audio["codec_name"], "aac");
    assert_eq!(audio["profile"], "LC");
    assert_eq!(audio["sample_rate"], "48000");
    assert_eq!(audio["channels"], 2);
    let bytes = std::fs::read(path).unwrap();
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat, "moov first (fast start)");
    let lufs = loudness(path);
    if sound {
        assert!((lufs + 14.0).abs() <= 1.0, "{lufs} LUFS");
    } else {
        assert!(lufs <= -69.0, "{lufs} LUFS from a plan without sound");
    }
}

on_both_shapes!(a_plan_renders_as_planned);
async fn a_plan_renders_as_planned(stack: &Stack) {
    let ana = Creator::new(stack, "Ana").await;
    let clip = upload_real(&ana, "iphone_rotated.mov").await;
    let speech = upload_real(&ana, "jfk_speech.wav").await;
    // The rotated, VFR iPhone clip twice (blurred fit, then cropped), the
    // speech as a ducked music bed, two captions (Latin, then Arabic) with
    // a gap between them, and a title.
    let plan = json!({
        "schema": "smez.edit_plan/1",
        "video": [
            {"media_id": clip, "source_in": ms(0), "source_out": ms(2200), "fit": "blurred_background"},
            {"media_id": clip, "source_in": ms(200), "source_out": ms(1800)}
        ],
        "audio": {"music": {"media_id": speech, "volume_db": -12}},
        "captions": {"items": [
            {"start": ms(0), "end": ms(1500), "text": "Hello there"},
            {"start": ms(1800), "end": ms(3600), "text": "مرحبا بالعالم"}
        ]},
        "overlays": [{"type": "text", "text": "Watch this", "start": ms(0), "end": ms(1000)}]
    });
    let render = start_render(&ana, &plan).await;
    let (events, done) = follow(&ana, &render).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("succeeded"),
        "{events:?} {done}"
    );
    assert!(events.iter().filter(|e| *e == "progress").count() >= 2, "{events:?}");
    assert_eq!(done["progress"], 1.0);
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["output"]["width"], 1080);
    assert!(done["output"]["has_poster"].as_bool().unwrap());

    let dir = crate::process::temp_dir("renders");
    let video = download(&ana, &render, &dir).await;
    assert_delivers(&video, 1080, 1920, 3.8, true);
    // Captions where the plan puts them, not where it does not: white text
    // in the caption band (above the bottom fifth), none in the gap.
    let band = "1080:220:0:1300";
    let with_caption = bright_pixels(&video, 0.7, band, 245);
    let in_the_gap = bright_pixels(&video, 1.65, band, 245);
    let arabic = bright_pixels(&video, 2.7, band, 245);
    assert!(
        with_caption > 500 && arabic > 500,
        "{with_caption} / {arabic} bright pixels"
    );
    assert!(in_the_gap < 50, "{in_the_gap} bright pixels between captions");
    let title_band = "1080:250:0:300";
    assert!(bright_pixels(&video, 0.5, title_band, 245) > 300, "the title shows");
    assert!(
        bright_pixels(&video, 1.2, title_band, 245) < 50,
        "the title is gone after 1 s"
    );

    let range = ana
        .send(
            Method::GET,
            &format!("/v1/renders/{render}/content"),
            &[("range", "bytes=0-99")],
            Vec::new(),
        )
        .await;
    assert_eq!(range.status, 206);
    let poster = ana.get(&format!("/v1/renders/{render}/poster")).await.expect(200);
    assert_eq!(poster.headers["content-type"], "image/jpeg");

    // Another workspace sees none of it.
    let bob = Creator::new(stack, "Bob").await;
    for path in ["", "/content", "/events", "/poster"] {
        bob.get(&format!("/v1/renders/{render}{path}")).await.expect(404);
    }
    bob.send(Method::DELETE, &format!("/v1/renders/{render}"), &[], Vec::new())
        .await
        .expect(404);

    // A finished render is removed with its files.
    let stored = stack.dir.join("data/media/renders");
    assert_eq!(files_under(&stored).len(), 2, "the video and its poster");
    ana.send(Method::DELETE, &format!("/v1/renders/{render}"), &[], Vec::new())
        .await
        .expect(204);
    ana.get(&format!("/v1/renders/{render}")).await.expect(404);
    assert_eq!(files_under(&stored), Vec::<PathBuf>::new());
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() { files_under(&path) } else { vec![path] }
        })
        .collect()
}

#[tokio::test]
async fn awkward_inputs_render_and_unprintable_text_is_refused() {
    let stack = Stack::start(Shape::Sqlite, &[]).await;
    let ana = Creator::new(&stack, "Ana").await;
    let dir = crate::process::temp_dir("render-inputs");
    // 10-bit HLG HEVC (tone-mapped to SDR), odd size with non-square
    // pixels at 25 fps and 44.1 kHz audio, a still with an EXIF rotation, a
    // one-frame rotated clip and a clip without sound (silence), the speech
    // at 16 kHz at half speed.
    let hlg = make(
        &dir,
        "hlg.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=1",
            "-c:v",
            "libx265",
            "-pix_fmt",
            "yuv420p10le",
            "-x265-params",
            "log-level=error",
            "-color_primaries",
            "bt2020",
            "-color_trc",
            "arib-std-b67",
            "-colorspace",
            "bt2020nc",
            "-tag:v",
            "hvc1",
        ],
    );
    let odd = make(
        &dir,
        "odd.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=321x241:rate=25:duration=1",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100:duration=1",
            "-vf",
            "setsar=4/3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv444p",
            "-c:a",
            "flac",
            "-shortest",
        ],
    );
    let jpeg = make(
        &dir,
        "still.jpg",
        &["-f", "lavfi", "-i", "testsrc=size=400x300", "-frames:v", "1"],
    );
    let ids = [
        upload(&ana, "hlg.mp4", hlg).await,
        upload(&ana, "odd.mkv", odd).await,
        upload(&ana, "still.jpg", with_exif_orientation(&jpeg, 6)).await,
        upload_real(&ana, "video_rotation_90.mp4").await,
        upload_real(&ana, "white.mp4").await,
        upload_real(&ana, "jfk_speech.wav").await,
    ];
    let white = make(
        &dir,
        "logo.png",
        &["-f", "lavfi", "-i", "color=white:size=200x100", "-frames:v", "1"],
    );
    let logo = upload(&ana, "logo.png", white).await;
    let frame = json!({"value": 1, "rate": 30});
    let plan = json!({
        "schema": "smez.edit_plan/1",
        "output": {"aspect": "4:5"},
        "video": [
            {"media_id": ids[0], "source_in": ms(0), "source_out": ms(1000)},
            {"media_id": ids[1], "source_in": ms(0), "source_out": ms(1000), "fit": "blurred_background", "speed": 0.5},
            {"media_id": ids[2], "source_in": ms(0), "source_out": ms(800)},
            {"media_id": ids[3], "source_in": ms(0), "source_out": frame},
            {"media_id": ids[4], "source_in": ms(0), "source_out": ms(1000)}
        ],
        "audio": {"music": {"media_id": ids[5], "source_in": ms(500), "duck_under_speech": false}},
        "captions": {"items": [{"start": ms(100), "end": ms(900), "text": "Edge cases \u{263A}"}]},
        "overlays": [{"type": "image", "media_id": logo, "start": ms(1500), "end": ms(2500),
                      "position": {"x": 0.05, "y": 0.05, "width": 0.3}}]
    });
    let render = start_render(&ana, &plan).await;
    let (events, done) = follow(&ana, &render).await;
    assert_eq!(events.last().map(String::as_str), Some("succeeded"), "{done}");
    let video = download(&ana, &render, &dir).await;
    // 1 + 2 (half speed) + 0.8 + one frame + 1 seconds.
    assert_delivers(&video, 1080, 1350, 1.0 + 2.0 + 0.8 + 1.0 / 30.0 + 1.0, true);
    // Tone-mapped, not washed out or black: the HLG test card keeps its brights.
    assert!(
        bright_pixels(&video, 0.5, "1080:1350:0:0", 200) > 10_000,
        "an SDR picture"
    );
    // The image overlay (a white logo, 30 % of the width, top left) shows between 1.5 and 2.5 s only.
    let corner = "300:150:60:75";
    let before = bright_pixels(&video, 1.2, corner, 240);
    let during = bright_pixels(&video, 2.0, corner, 240);
    assert!(
        before < 20_000 && during > 40_000,
        "the overlay shows: {before} → {during}"
    );

    // A character no installed font has fails the render with the field and
    // the character, before ffmpeg could draw an empty box and exit 0.
    let mut unprintable = plan.clone();
    unprintable["captions"]["items"][0]["text"] = json!("Edge \u{10FFFD}");
    let render = start_render(&ana, &unprintable).await;
    let (events, done) = follow(&ana, &render).await;
    assert_eq!(events.last().map(String::as_str), Some("failed"), "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(
        error.starts_with("captions.items[0].text: no installed font can draw") && error.contains("U+10FFFD"),
        "{error}"
    );
    assert!(done["output"].is_null());
    assert_eq!(
        files_under(&stack.dir.join("data/render-work")),
        Vec::<PathBuf>::new(),
        "no work files left"
    );
    stack.stop().await;
}

/// Polls the render until `ready` says so (or panics after a minute).
async fn wait_for(creator: &Creator, render: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let started = std::time::Instant::now();
    loop {
        let now = creator.get(&format!("/v1/renders/{render}")).await.expect(200).body;
        if ready(&now) {
            return now;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{what}: {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn renders_can_be_canceled_and_survive_a_killed_worker() {
    // A short lease and a busy reconciler: a dead worker is noticed in seconds.
    let mut stack = Stack::start(
        Shape::Sqlite,
        &[
            ("SMEZ_RENDER__LEASE_SECS", "2"),
            ("SMEZ_RENDER__RECONCILE_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    let mut ana = Creator::new(&stack, "Ana").await;
    let white = upload_real(&ana, "white.mp4").await;
    let plan = json!({
        "schema": "smez.edit_plan/1",
        "video": [
            {"media_id": white, "source_in": ms(0), "source_out": ms(10_000), "fit": "blurred_background"},
            {"media_id": white, "source_in": ms(0), "source_out": ms(4000)}
        ]
    });
    let stored = stack.dir.join("data/media/renders");
    let work = stack.dir.join("data/render-work");
    let running = |r: &Value| r["status"] == "running" && r["progress"].as_f64().unwrap_or(0.0) >= 0.1;

    // Canceled while running: it stops, and nothing is kept.
    let render = start_render(&ana, &plan).await;
    wait_for(&ana, &render, "running", running).await;
    let canceled = ana
        .send(Method::DELETE, &format!("/v1/renders/{render}"), &[], Vec::new())
        .await
        .expect(200);
    assert_eq!(canceled.body["status"], "canceled");
    let started = std::time::Instant::now();
    while !files_under(&work).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the worker stops within seconds"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = ana.get(&format!("/v1/renders/{render}")).await.expect(200).body;
    assert_eq!(after["status"], "canceled");
    assert!(after["output"].is_null());
    assert_eq!(files_under(&stored), Vec::<PathBuf>::new());

    // The process dies mid-render: after the restart the render is taken
    // over, done once, and only its one output and poster remain.
    let render = start_render(&ana, &plan).await;
    wait_for(&ana, &render, "running", running).await;
    stack.crash_and_restart().await;
    ana.base = stack.smez.url("");
    let done = wait_for(&ana, &render, "taken over and finished", |r| r["status"] == "succeeded").await;
    assert_eq!(done["attempts"], 2, "{done}");
    assert_eq!(files_under(&stored).len(), 2, "{:?}", files_under(&stored));
    assert_eq!(
        files_under(&work),
        Vec::<PathBuf>::new(),
        "the dead attempt's work files were swept"
    );
    let dir = crate::process::temp_dir("renders-crash");
    assert_delivers(&download(&ana, &render, &dir).await, 1080, 1920, 14.0, false);
    stack.stop().await;
}

#[tokio::test]
async fn renders_are_packaged_for_each_platform() {
    let stack = Stack::start(Shape::Sqlite, &[]).await;
    let ana = Creator::new(&stack, "Ana").await;
    let clip = upload_real(&ana, "iphone_rotated.mov").await;
    let two_takes = |fps: u32| {
        json!({
            "schema": "smez.edit_plan/1",
            "output": {"fps": {"num": fps, "den": 1}},
            "video": [
                {"media_id": clip, "source_in": ms(0), "source_out": ms(2200)},
                {"media_id": clip, "source_in": ms(200), "source_out": ms(1800)}
            ]
        })
    };
    let render = start_render(&ana, &two_takes(30)).await;
    let (events, _) = follow(&ana, &render).await;
    assert_eq!(events.last().map(String::as_str), Some("succeeded"));

    // A render that passes TikTok's rules is sent as it is.
    let tiktok = post(
        &ana,
        "/v1/packages",
        &json!({"render_id": render, "platform": "tiktok", "caption": "Three edits 😀", "hashtags": ["edit", "#shorts"],
                "mentions": ["smez"], "privacy": "followers", "cover_ms": 1000, "tiktok": {"allow_duet": false, "ai_generated": true}}),
    )
    .await
    .expect(201);
    assert_eq!(tiktok.body["status"], "ready");
    assert_eq!(tiktok.body["reencode"], json!([]));
    assert_eq!(
        tiktok.body["metadata"]["caption_sent"],
        "Three edits 😀\n\n#edit #shorts @smez"
    );
    assert_eq!(tiktok.body["metadata"]["tiktok"]["allow_duet"], false);
    assert_eq!(tiktok.body["metadata"]["tiktok"]["allow_comments"], true);
    assert_eq!(tiktok.body["video"]["width"], 1080);

    // Every broken rule, with its field, nothing stored.
    let youtube = post(
        &ana,
        "/v1/packages",
        &json!({"render_id": render, "platform": "youtube", "title": "x".repeat(101), "caption": "<b>bold</b>",
                "youtube": {"tags": ["one"]}}),
    )
    .await
    .expect(422);
    let fields: Vec<&str> = youtube.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["title", "caption", "youtube.made_for_kids"],
        "{}",
        youtube.body
    );
    let instagram = post(
        &ana,
        "/v1/packages",
        &json!({"render_id": render, "platform": "instagram", "privacy": "private", "tiktok": {}}),
    )
    .await
    .expect(422);
    let fields: Vec<&str> = instagram.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["tiktok", "privacy"], "{}", instagram.body);
    let listed = ana.get(&format!("/v1/packages?render_id={render}")).await.expect(200);
    assert_eq!(listed.body["packages"].as_array().unwrap().len(), 1);

    // A render outside a rule a re-encode can mend (15 fps for TikTok) is re-encoded to 30.
    let slow = start_render(&ana, &two_takes(15)).await;
    let (events, _) = follow(&ana, &slow).await;
    assert_eq!(events.last().map(String::as_str), Some("succeeded"));
    let building = post(
        &ana,
        "/v1/packages",
        &json!({"render_id": slow, "platform": "tiktok", "caption": "slow"}),
    )
    .await
    .expect(201);
    assert_eq!(building.body["status"], "building");
    assert_eq!(
        building.body["reencode"],
        json!([{"fix": "frame_rate", "from": 15.0, "to": 30}])
    );
    let path = format!("/v1/packages/{}", building.body["id"].as_str().unwrap());
    let started = std::time::Instant::now();
    let ready = loop {
        let now = ana.get(&path).await.expect(200).body;
        if now["status"] != "building" {
            break now;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["video"]["fps"], 30.0);
    assert_eq!(
        ready["video"]["duration_us"]
            .as_i64()
            .map(|d| (d - 3_800_000).abs() < 70_000),
        Some(true),
        "{ready}"
    );

    // A render that has not succeeded cannot be packaged.
    let canceled = start_render(&ana, &two_takes(30)).await;
    ana.send(Method::DELETE, &format!("/v1/renders/{canceled}"), &[], Vec::new())
        .await
        .expect(200);
    post(
        &ana,
        "/v1/packages",
        &json!({"render_id": canceled, "platform": "tiktok"}),
    )
    .await
    .expect(409);

    // Another workspace sees none of it and cannot package it.
    let bob = Creator::new(&stack, "Bob").await;
    bob.get(&path).await.expect(404);
    let refused = post(
        &bob,
        "/v1/packages",
        &json!({"render_id": render, "platform": "tiktok"}),
    )
    .await
    .expect(422);
    assert_eq!(refused.body["field"], "render_id");

    // Removing a render removes its packages and their files.
    ana.send(Method::DELETE, &format!("/v1/renders/{slow}"), &[], Vec::new())
        .await
        .expect(204);
    ana.get(&path).await.expect(404);
    let left = files_under(&stack.dir.join("data/media/renders"));
    assert!(left.iter().all(|f| !f.to_string_lossy().contains(&slow)), "{left:?}");
    stack.stop().await;
}

#[tokio::test]
async fn a_render_past_its_timeout_is_stopped_and_failed() {
    let stack = Stack::start(Shape::Sqlite, &[("SMEZ_RENDER__TIMEOUT_SECS", "1")]).await;
    let ana = Creator::new(&stack, "Ana").await;
    let white = upload_real(&ana, "white.mp4").await;
    let plan = json!({
        "schema": "smez.edit_plan/1",
        "video": [{"media_id": white, "source_in": ms(0), "source_out": ms(10_000), "fit": "blurred_background"}]
    });
    let render = start_render(&ana, &plan).await;
    let (events, done) = follow(&ana, &render).await;
    assert_eq!(events.last().map(String::as_str), Some("failed"), "{done}");
    assert_eq!(
        done["error"],
        "the render took longer than render.timeout_secs (1 s) and was stopped"
    );
    assert!(files_under(&stack.dir.join("data/media/renders")).is_empty());
    assert!(files_under(&stack.dir.join("data/render-work")).is_empty());
    stack.stop().await;
}
