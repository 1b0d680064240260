//! Edit plans through the gateway: a plan over real uploaded media is
//! checked, stored and read back; an invalid one is refused with every
//! problem and leaves nothing; revisions guard concurrent edits; the
//! OpenTimelineIO export imports back to the same plan; other workspaces
//! see nothing.

use reqwest::Method;
use serde_json::{Value, json};

use super::Stack;
use super::media::{Creator, real};
use crate::on_both_shapes;

const OTIO: &str = "application/vnd.opentimelineio+json";

fn ms(value: i64) -> Value {
    json!({"value": value, "rate": 1000})
}

/// The iPhone clip (2.202 s) cut to 0.2–2.0 s, the speech as a music bed, two captions.
fn plan(clip: &str, speech: &str) -> Value {
    json!({
        "schema": "smez.edit_plan/1",
        "video": [{"media_id": clip, "source_in": ms(200), "source_out": ms(2000), "fit": "blurred_background"}],
        "audio": {"music": {"media_id": speech, "volume_db": -20}},
        "captions": {"items": [
            {"start": ms(0), "end": ms(900), "text": "First"},
            {"start": ms(900), "end": ms(1800), "text": "Second"}
        ]},
        "targets": ["youtube"]
    })
}

async fn upload(creator: &Creator, name: &str) -> String {
    let bytes = std::fs::read(real(name)).unwrap();
    let uploaded = creator.upload(name, bytes).await.expect(201);
    uploaded.body["id"].as_str().unwrap().to_owned()
}

async fn send(creator: &Creator, method: Method, path: &str, headers: &[(&str, &str)], body: &Value) -> super::Reply {
    let text = match body {
        Value::String(raw) => raw.clone(),
        other => other.to_string(),
    };
    creator.send(method, path, headers, text.into_bytes()).await
}

async fn plan_rows(stack: &Stack) -> usize {
    stack.rows("render", "SELECT plan_id FROM edit_plans").await.len()
}

on_both_shapes!(plans_are_checked_stored_revised_and_exported);
async fn plans_are_checked_stored_revised_and_exported(stack: &Stack) {
    let ana = Creator::new(stack, "Ana").await;
    let clip = upload(&ana, "iphone_rotated.mov").await;
    let speech = upload(&ana, "jfk_speech.wav").await;
    let json_type = [("content-type", "application/json")];

    // A valid plan: stored with its defaults written out.
    let created = send(
        &ana,
        Method::POST,
        "/v1/edit-plans?name=Teaser",
        &json_type,
        &plan(&clip, &speech),
    )
    .await
    .expect(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.headers["etag"], "\"1\"");
    assert_eq!(created.headers["location"], format!("/v1/edit-plans/{id}").as_str());
    assert_eq!(created.body["name"], "Teaser");
    assert_eq!(created.body["revision"], 1);
    assert_eq!(created.body["duration_ms"], 1800);
    assert_eq!(created.body["plan"]["output"]["aspect"], "9:16");
    assert_eq!(created.body["plan"]["audio"]["loudness_lufs"], -14.0);
    let read = ana.get(&format!("/v1/edit-plans/{id}")).await.expect(200);
    assert_eq!(read.body["plan"], created.body["plan"]);

    // Everything wrong at once: each problem with its field; nothing stored.
    let bob = Creator::new(stack, "Bob").await;
    let bobs_clip = upload(&bob, "white.mp4").await;
    let rows_before = plan_rows(stack).await;
    let mut wrong = plan(&clip, &speech);
    wrong["video"][0]["source_out"] = ms(2500);
    wrong["video"].as_array_mut().unwrap().push(json!(
        {"media_id": bobs_clip, "source_in": ms(0), "source_out": ms(40)}));
    wrong["captions"]["items"][1]["start"] = ms(800);
    wrong["audio"]["music"]["media_id"] = json!("no-such-media");
    let refused = send(&ana, Method::POST, "/v1/edit-plans", &json_type, &wrong)
        .await
        .expect(422);
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    let fields: Vec<&str> = refused.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", refused.body))
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "plan.video[0].source_out",
            "plan.video[1].media_id",
            "plan.audio.music.media_id",
            "plan.captions.items[1].start"
        ],
        "{}",
        refused.body
    );
    assert_eq!(refused.body["field"], "plan.video[0].source_out");
    assert_eq!(
        refused.body["errors"][0]["message"],
        "2.500 s is past the end of the clip (2.202 s)"
    );
    assert_eq!(
        refused.body["errors"][1]["message"],
        format!("no media `{bobs_clip}` in this workspace").as_str()
    );
    assert!(
        refused.body["detail"].as_str().unwrap().contains("and 3 more"),
        "{}",
        refused.body
    );
    assert_eq!(plan_rows(stack).await, rows_before, "a refused plan leaves no row");

    // Documents that do not parse say where.
    let broken = send(
        &ana,
        Method::POST,
        "/v1/edit-plans",
        &json_type,
        &json!("{\"schema\": \"smez.edit_plan/1\",\n \"video\": [}"),
    )
    .await
    .expect(422);
    let detail = broken.body["detail"].as_str().unwrap();
    assert!(detail.contains("line 2 column 12"), "{detail}");
    let mut typo = plan(&clip, &speech);
    typo["video"][0]["sped"] = json!(2);
    let typo = send(&ana, Method::POST, "/v1/edit-plans", &json_type, &typo)
        .await
        .expect(422);
    assert!(
        typo.body["detail"].as_str().unwrap().contains("unknown field `sped`"),
        "{}",
        typo.body
    );

    // Too short for TikTok.
    let mut short = plan(&clip, &speech);
    short["targets"] = json!(["tiktok"]);
    let short = send(&ana, Method::POST, "/v1/edit-plans", &json_type, &short)
        .await
        .expect(422);
    assert_eq!(short.body["errors"][0]["field"], "plan.targets[0]");
    assert_eq!(
        short.body["errors"][0]["message"],
        "the timeline lasts 1.800 s; TikTok takes 3 s to 600 s"
    );

    // Replace with the revision the edit started from; a second edit from the same revision is stale.
    let mut edited = plan(&clip, &speech);
    edited["video"][0]["speed"] = json!(0.5);
    let path = format!("/v1/edit-plans/{id}");
    let replaced = send(
        &ana,
        Method::PUT,
        &path,
        &[("content-type", "application/json"), ("if-match", "\"1\"")],
        &edited,
    )
    .await
    .expect(200);
    assert_eq!(replaced.body["revision"], 2);
    assert_eq!(replaced.headers["etag"], "\"2\"");
    assert_eq!(replaced.body["duration_ms"], 3600);
    assert_eq!(replaced.body["name"], "Teaser");
    let stale = send(&ana, Method::PUT, &path, &[("if-match", "\"1\"")], &edited)
        .await
        .expect(409);
    assert!(
        stale.body["detail"].as_str().unwrap().contains("revision 2"),
        "{}",
        stale.body
    );

    // OpenTimelineIO out, and back in as a new plan: the same plan.
    let exported = ana.get(&format!("/v1/edit-plans/{id}/otio")).await.expect(200);
    assert_eq!(exported.headers["content-type"], OTIO);
    assert_eq!(exported.body["OTIO_SCHEMA"], "Timeline.1");
    let clip_url =
        &exported.body["tracks"]["children"][0]["children"][0]["media_references"]["DEFAULT_MEDIA"]["target_url"];
    assert_eq!(clip_url, &json!(format!("smez://media/{clip}")));
    let imported = send(
        &ana,
        Method::POST,
        "/v1/edit-plans?name=Back",
        &[("content-type", OTIO)],
        &exported.body,
    )
    .await
    .expect(201);
    assert_eq!(imported.body["plan"], replaced.body["plan"]);
    assert_ne!(imported.body["id"], json!(id));

    // Another workspace's member sees none of it.
    for (method, path) in [
        (Method::GET, path.clone()),
        (Method::PUT, path.clone()),
        (Method::GET, format!("{path}/otio")),
    ] {
        send(&bob, method, &path, &json_type, &edited).await.expect(404);
    }
}

/// Milliseconds of a plan time.
fn at_ms(time: &Value) -> f64 {
    time["value"].as_f64().unwrap() * 1000.0 / time["rate"].as_f64().unwrap()
}

on_both_shapes!(plans_are_generated_from_speech_and_transcripts);
async fn plans_are_generated_from_speech_and_transcripts(stack: &Stack) {
    let ana = Creator::new(stack, "Ana").await;
    // 8 s of "speech" (a tone) with dead air at 2–3.5 s and 6–6.8 s.
    let dir = crate::process::temp_dir("generate");
    let clip = super::media::make(
        &dir,
        "talk.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=30:duration=8",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300:sample_rate=48000:duration=8",
            "-af",
            "volume='if(between(t,2,3.5)+between(t,6,6.8),0,1)':eval=frame",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ],
    );
    let clip = ana.upload("talk.mp4", clip).await.expect(201).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Its transcript: an "um" said in the dead air goes with it.
    let srt = "1\n00:00:00,100 --> 00:00:01,900\nThree things nobody tells you.\n\n\
               2\n00:00:02,500 --> 00:00:03,000\num\n\n\
               3\n00:00:03,600 --> 00:00:05,900\nabout editing your own videos at home\n\n\
               4\n00:00:06,900 --> 00:00:07,900\nWatch.\n";
    ana.send(
        Method::PUT,
        &format!("/v1/media/{clip}/transcript?file_name=talk.srt"),
        &[],
        srt.into(),
    )
    .await
    .expect(200);

    let json_type = [("content-type", "application/json")];
    let request =
        json!({"name": "Auto", "clips": [{"media_id": clip}], "hook_title": "Three edits", "targets": ["tiktok"]});
    let generated = send(&ana, Method::POST, "/v1/edit-plans/generate", &json_type, &request)
        .await
        .expect(201);
    let plan = &generated.body["plan"];
    // The dead air is cut, 0.2 s kept around the speech, cut points on frames.
    let kept: Vec<(f64, f64)> = plan["video"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (at_ms(&c["source_in"]), at_ms(&c["source_out"])))
        .collect();
    let expected = [(0.0, 2200.0), (3300.0, 6200.0), (6600.0, 8000.0)];
    assert_eq!(kept.len(), 3, "{kept:?}");
    for ((start, end), (want_start, want_end)) in kept.iter().zip(expected) {
        assert!(
            (start - want_start).abs() <= 34.0 && (end - want_end).abs() <= 34.0,
            "{kept:?}"
        );
    }
    let total = generated.body["duration_ms"].as_i64().unwrap();
    assert!((6430..=6570).contains(&total), "{total} ms");
    assert_eq!(plan["generator"]["source_ms"], 8000);
    // Captions from the transcript, through the cuts, in readable pages.
    let captions = plan["captions"]["items"].as_array().unwrap();
    let text: Vec<&str> = captions.iter().map(|c| c["text"].as_str().unwrap()).collect();
    let all = text.join(" ");
    assert!(!all.contains("um"), "{text:?}");
    assert!(all.starts_with("Three things") && all.ends_with("Watch."), "{text:?}");
    for caption in captions {
        let lines: Vec<&str> = caption["text"].as_str().unwrap().lines().collect();
        assert!(
            lines.len() <= 2 && lines.iter().all(|l| l.chars().count() <= 24),
            "{caption}"
        );
    }
    assert!((at_ms(&captions[0]["start"]) - 100.0).abs() < 1.0);
    let about = captions
        .iter()
        .find(|c| c["text"].as_str().unwrap().starts_with("about"))
        .unwrap();
    // Said at 3.6 s of the clip, 0.3 s into the stretch that starts at 2.2 s of the timeline.
    assert!((at_ms(&about["start"]) - 2500.0).abs() <= 34.0, "{about}");
    assert_eq!(plan["overlays"][0]["text"], "Three edits");
    assert_eq!(at_ms(&plan["overlays"][0]["end"]), 3000.0);

    // A shorter target keeps the first seconds.
    let short = json!({"clips": [{"media_id": clip}], "target_seconds": 4});
    let short = send(&ana, Method::POST, "/v1/edit-plans/generate", &json_type, &short)
        .await
        .expect(201);
    assert_eq!(short.body["duration_ms"], 4000);
    assert_eq!(short.body["name"], "Generated plan");

    // Unknown media and unknown fields are refused precisely.
    let wrong = json!({"clips": [{"media_id": clip}, {"media_id": "nowhere"}]});
    let refused = send(&ana, Method::POST, "/v1/edit-plans/generate", &json_type, &wrong)
        .await
        .expect(422);
    assert_eq!(
        refused.body["errors"][0]["field"], "clips[1].media_id",
        "{}",
        refused.body
    );
    let typo = json!({"clips": [{"media_id": clip}], "target_secs": 5});
    let typo = send(&ana, Method::POST, "/v1/edit-plans/generate", &json_type, &typo)
        .await
        .expect(422);
    assert!(
        typo.body["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `target_secs`")
    );

    // The generated plan is an ordinary plan: it renders.
    let render = send(
        &ana,
        Method::POST,
        "/v1/renders",
        &json_type,
        &json!({"plan_id": generated.body["id"]}),
    )
    .await
    .expect(202);
    let path = format!("/v1/renders/{}", render.body["id"].as_str().unwrap());
    let started = std::time::Instant::now();
    loop {
        let now = ana.get(&path).await.expect(200).body;
        if now["status"] == "succeeded" {
            assert_eq!(now["output"]["duration_ms"].as_i64().unwrap(), total);
            break;
        }
        assert!(now["status"] == "queued" || now["status"] == "running", "{now}");
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "{now}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
