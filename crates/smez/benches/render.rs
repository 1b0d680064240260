//! The render pipeline against ffmpeg by hand. A typical short: three 10 s
//! 1920×1080 clips reframed to 1080×1920 over a blurred copy of themselves,
//! 30 captions, a music bed ducked under the clips' sound, loudness to
//! −14 LUFS. Timed through `smez serve all` (from `POST /v1/renders` to
//! `succeeded`: job, input fetch, graph, loudness passes, checks, poster,
//! storage), and as the same passes written out by hand and run directly
//! on the same files. Prints both walls, their ratio, and speed against
//! real time.
//!
//! Run: `cargo bench -p smez --bench render` (`RENDER_RUNS`, default 2: the fastest counts).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::{http, post, start};

#[path = "support/mod.rs"]
mod support;

const CLIP_SECS: u32 = 10;
const CLIPS: usize = 3;
const CAPTIONS: usize = 30;

fn ffmpeg(args: &[&str]) -> String {
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-y"])
        .args(args)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "ffmpeg {args:?}: {said}");
    said
}

/// Camera-like inputs: a moving test card with a tone, and a music bed.
fn make_inputs(dir: &Path) -> (Vec<PathBuf>, PathBuf) {
    let clips: Vec<PathBuf> = (0..CLIPS)
        .map(|i| {
            let path = dir.join(format!("clip{i}.mp4"));
            let video = format!("testsrc2=size=1920x1080:rate=30:duration={CLIP_SECS}");
            let audio = format!(
                "sine=frequency={}:sample_rate=48000:duration={CLIP_SECS}",
                220 * (i + 1)
            );
            ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                &video,
                "-f",
                "lavfi",
                "-i",
                &audio,
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "18",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-shortest",
                path.to_str().unwrap(),
            ]);
            path
        })
        .collect();
    let music = dir.join("music.m4a");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=color=pink:duration=30:sample_rate=48000",
        "-c:a",
        "aac",
        music.to_str().unwrap(),
    ]);
    (clips, music)
}

fn ms(value: u32) -> Value {
    json!({"value": value, "rate": 1000})
}

fn caption_text(i: usize) -> String {
    format!("Caption number {}", i + 1)
}

/// The hand-written passes: compose, measure, normalise.
fn by_hand(dir: &Path, clips: &[PathBuf], music: &Path) -> Duration {
    let mut ass = String::from(
        "[Script Info]\nScriptType: v4.00+\nPlayResX: 1080\nPlayResY: 1920\n\n[V4+ Styles]\n\
         Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, \
         Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, \
         MarginR, MarginV, Encoding\n\
         Style: Caption,DejaVu Sans,86,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,-1,0,0,0,100,100,0,0,1,6,0,2,86,86,384,1\n\n\
         [Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n",
    );
    for i in 0..CAPTIONS {
        ass.push_str(&format!(
            "Dialogue: 0,0:00:{:02}.00,0:00:{:02}.90,Caption,,0,0,0,,{}\n",
            i,
            i,
            caption_text(i)
        ));
    }
    let ass_path = dir.join("hand.ass");
    std::fs::write(&ass_path, ass).unwrap();
    let mut graph = String::new();
    for i in 0..CLIPS {
        graph.push_str(&format!(
            "[{i}:v]fps=30,split[f{i}][b{i}];[b{i}]scale=134:240:force_original_aspect_ratio=increase:flags=fast_bilinear,\
             crop=134:240,boxblur=5:1,scale=1080:1920:flags=fast_bilinear[bb{i}];[f{i}]scale=1080:1920:force_original_aspect_ratio=decrease:\
             force_divisible_by=2[ff{i}];[bb{i}][ff{i}]overlay=(W-w)/2:(H-h)/2,format=yuv420p,setsar=1[v{i}];\
             [{i}:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo[a{i}];"
        ));
    }
    graph.push_str(&format!(
        "[v0][a0][v1][a1][v2][a2]concat=n=3:v=1:a=1[v][a];[v]ass='{}'[vout];\
         [{CLIPS}:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,volume=-18dB[m];\
         [a]asplit[voice][key];[m][key]sidechaincompress=threshold=0.02:ratio=8:attack=20:release=400[bed];\
         [voice][bed]amix=inputs=2:duration=first:normalize=0[aout]",
        ass_path.display()
    ));
    let composed = dir.join("hand.mov");
    let out = dir.join("hand.mp4");
    let started = Instant::now();
    let mut args: Vec<String> = Vec::new();
    for clip in clips {
        args.extend(["-i".into(), clip.display().to_string()]);
    }
    args.extend([
        "-stream_loop".into(),
        "-1".into(),
        "-i".into(),
        music.display().to_string(),
    ]);
    args.extend(["-filter_complex".into(), graph]);
    args.extend(
        [
            "-map",
            "[vout]",
            "-map",
            "[aout]",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "21",
            "-profile:v",
            "high",
            "-pix_fmt",
            "yuv420p",
            "-r",
            "30",
            "-g",
            "60",
            "-c:a",
            "pcm_s16le",
            "-t",
            "30",
        ]
        .map(String::from),
    );
    args.push(composed.display().to_string());
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let said = ffmpeg(&[
        "-i",
        composed.to_str().unwrap(),
        "-af",
        "loudnorm=I=-14:TP=-1.5:LRA=11:print_format=json",
        "-f",
        "null",
        "-",
    ]);
    let field = |key: &str| -> String {
        let at = said.rfind(&format!("\"{key}\"")).unwrap();
        said[at..].split('"').nth(3).unwrap().to_owned()
    };
    let filter = format!(
        "loudnorm=I=-14:TP=-1.5:LRA=11:measured_I={}:measured_TP={}:measured_LRA={}:measured_thresh={}:offset={}:linear=true,aresample=48000",
        field("input_i"),
        field("input_tp"),
        field("input_lra"),
        field("input_thresh"),
        field("target_offset")
    );
    ffmpeg(&[
        "-i",
        composed.to_str().unwrap(),
        "-c:v",
        "copy",
        "-af",
        &filter,
        "-c:a",
        "aac",
        "-b:a",
        "160k",
        "-ar",
        "48000",
        "-movflags",
        "+faststart",
        out.to_str().unwrap(),
    ]);
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let runs: usize = support::env_number("RENDER_RUNS", 2);
    let dir = std::env::temp_dir().join(format!("smez-bench-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (clips, music) = make_inputs(&dir);

    let server = start(&[]).await;
    let client = http();
    let base = server.base.clone();
    let session = post(
        &client,
        format!("{base}/v1/auth/signup"),
        None,
        json!({"email": "bench@example.com", "password": "a long bench passphrase", "display_name": "Bench",
               "date_of_birth": "1990-01-01"}),
    )
    .await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let workspace = post(
        &client,
        format!("{base}/v1/workspaces"),
        Some(&token),
        json!({"name": "Bench"}),
    )
    .await;
    let workspace = workspace["id"].as_str().unwrap().to_owned();
    let call = |method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{base}{path}"))
            .header("x-smez-client", "mobile")
            .header("x-smez-workspace", &workspace)
            .bearer_auth(&token)
    };
    let mut ids = Vec::new();
    for path in clips.iter().chain(std::iter::once(&music)) {
        let uploaded: Value = call(reqwest::Method::POST, "/v1/media?file_name=input")
            .body(std::fs::read(path).unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(uploaded["id"].as_str().unwrap().to_owned());
    }
    let plan = json!({
        "schema": "smez.edit_plan/1",
        "video": (0..CLIPS).map(|i| json!({"media_id": ids[i], "source_in": ms(0), "source_out": ms(CLIP_SECS * 1000),
            "fit": "blurred_background"})).collect::<Vec<_>>(),
        "audio": {"music": {"media_id": ids[CLIPS], "volume_db": -18}},
        "captions": {"items": (0..CAPTIONS).map(|i| json!({"start": ms(i as u32 * 1000), "end": ms(i as u32 * 1000 + 900),
            "text": caption_text(i)})).collect::<Vec<_>>()},
    });
    let plan: Value = call(reqwest::Method::POST, "/v1/edit-plans")
        .json(&plan)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plan_id = plan["id"].as_str().unwrap().to_owned();

    let mut pipeline = Vec::new();
    let mut hand = Vec::new();
    for run in 0..runs {
        let started = Instant::now();
        let render: Value = call(reqwest::Method::POST, "/v1/renders")
            .json(&json!({"plan_id": plan_id}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let path = format!("/v1/renders/{}", render["id"].as_str().unwrap());
        loop {
            let now: Value = call(reqwest::Method::GET, &path)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            match now["status"].as_str().unwrap() {
                "succeeded" => break,
                "queued" | "running" => tokio::time::sleep(Duration::from_millis(50)).await,
                _ => panic!("the render did not succeed: {now}"),
            }
        }
        pipeline.push(started.elapsed());
        hand.push(by_hand(&dir, &clips, &music));
        println!(
            "run {}: pipeline {:.2} s, by hand {:.2} s",
            run + 1,
            pipeline[run].as_secs_f64(),
            hand[run].as_secs_f64()
        );
    }
    let best = |walls: &[Duration]| walls.iter().min().unwrap().as_secs_f64();
    let (p, h) = (best(&pipeline), best(&hand));
    let length = f64::from(CLIP_SECS) * CLIPS as f64;
    println!(
        "render of a {length} s 1080x1920 30 fps plan (3 clips blurred-background, {CAPTIONS} captions, music ducked, -14 LUFS):"
    );
    println!(
        "  pipeline (POST /v1/renders to succeeded): {p:.2} s = {:.2}x real time",
        length / p
    );
    println!(
        "  the same passes by hand:                  {h:.2} s = {:.2}x real time",
        length / h
    );
    println!("  ratio pipeline / by hand: {:.3} (target <= 1.05)", p / h);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
