//! Media through the gateway: the real files of `shared/media/real` and
//! files made here with ffmpeg, each with its kind and facts or a precise
//! refusal; resumable uploads (tus 1.0) that survive a dropped connection;
//! ranges; transcripts; deletion; and other workspaces seeing nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};

use super::{Mobile, Reply, Shape, Stack, email};
use crate::on_both_shapes;

/// `../shared/media/real` beside the project (as CI has it), or `SMEZ_REAL_MEDIA_DIR`.
pub(super) fn real(name: &str) -> PathBuf {
    let dir = std::env::var_os("SMEZ_REAL_MEDIA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/media/real"));
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: the real test media live in ../shared/media/real",
        path.display()
    );
    path
}

/// A member with a workspace of their own, talking as a mobile client.
pub(super) struct Creator {
    client: Mobile,
    email: String,
    pub(super) workspace: String,
    pub(super) base: String,
}

impl Creator {
    pub(super) async fn new(stack: &Stack, name: &str) -> Self {
        let mut client = stack.mobile();
        let email = email(name);
        client.signup(&email, name).await.expect(201);
        let created = client
            .call(Method::POST, "/v1/workspaces", Some(json!({"name": name})))
            .await
            .expect(201);
        Self {
            client,
            email,
            workspace: created.body["id"].as_str().unwrap().to_owned(),
            base: stack.smez.url(""),
        }
    }

    /// A mobile session of an existing user, working in `workspace`.
    pub(super) async fn signed_in(stack: &Stack, email: &str, workspace: &str) -> Self {
        let mut client = stack.mobile();
        client.login(email, super::PASSWORD).await.expect(200);
        Self {
            client,
            email: email.to_owned(),
            workspace: workspace.to_owned(),
            base: stack.smez.url(""),
        }
    }

    /// A request in this creator's workspace with a raw body and extra headers.
    pub(super) async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        let mut request = crate::process::http()
            .request(method, format!("{}{path}", self.base))
            .header("x-smez-client", "mobile")
            .header("x-smez-workspace", &self.workspace)
            .bearer_auth(self.client.access.as_ref().unwrap())
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::from(request.send().await.unwrap()).await
    }

    pub(super) fn token(&self) -> &str {
        self.client.access.as_deref().unwrap()
    }

    pub(super) async fn upload(&self, name: &str, bytes: Vec<u8>) -> Reply {
        let path = format!("/v1/media?file_name={}", urlencode(name));
        self.send(Method::POST, &path, &[], bytes).await
    }

    pub(super) async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], Vec::new()).await
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn id(reply: &Reply) -> String {
    reply.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{:?}", reply.body))
        .to_owned()
}

#[track_caller]
fn refused(reply: &Reply, says: &str) {
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    assert_eq!(reply.body["field"], "file", "{:?}", reply.body);
    let detail = reply.body["detail"].as_str().unwrap();
    assert!(detail.contains(says), "`{detail}` does not say `{says}`");
}

/// Objects the local store holds for a workspace (files under data/media/ws/<id>).
fn objects(stack: &Stack, workspace: &str) -> Vec<PathBuf> {
    let root = stack.dir.join("data/media/ws").join(workspace);
    let mut found = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                dirs.push(entry.path());
            } else {
                found.push(entry.path());
            }
        }
    }
    found
}

on_both_shapes!(real_media_is_probed_stored_read_and_deleted);
async fn real_media_is_probed_stored_read_and_deleted(stack: &Stack) {
    let ana = Creator::new(stack, "ana").await;

    // The iPhone clip: rotated, variable frame rate, audio as the first stream.
    let iphone = ana
        .upload("iphone_rotated.mov", std::fs::read(real("iphone_rotated.mov")).unwrap())
        .await
        .expect(201);
    let body = &iphone.body;
    assert_eq!(body["kind"], "video");
    assert_eq!(body["content_type"], "video/quicktime");
    let video = &body["probe"]["video"];
    assert_eq!(
        (video["display_width"].as_u64(), video["display_height"].as_u64()),
        (Some(320), Some(568))
    );
    assert_eq!(
        (video["coded_width"].as_u64(), video["coded_height"].as_u64()),
        (Some(568), Some(320))
    );
    assert_eq!(video["rotation"], 90);
    assert_eq!(video["variable_frame_rate"], true);
    assert_eq!(video["bit_depth"], 8);
    assert_eq!(video["hdr"], false);
    assert_eq!(body["probe"]["audio"]["channels"], 1);
    assert_eq!(body["probe"]["audio"]["sample_rate"], 44100);
    assert_eq!(body["probe"]["duration_ms"], 2202);
    let clip = id(&iphone);

    let speech = ana
        .upload("jfk_speech.wav", std::fs::read(real("jfk_speech.wav")).unwrap())
        .await
        .expect(201);
    assert_eq!(speech.body["kind"], "audio");
    assert_eq!(speech.body["probe"]["audio"]["sample_rate"], 16000);
    assert_eq!(speech.body["poster_url"], Value::Null);

    let one_frame = ana
        .upload(
            "video_rotation_90.mp4",
            std::fs::read(real("video_rotation_90.mp4")).unwrap(),
        )
        .await
        .expect(201);
    assert_eq!(one_frame.body["probe"]["video"]["display_width"], 60);
    assert_eq!(one_frame.body["probe"]["video"]["display_height"], 100);

    let silent = ana
        .upload("white.mp4", std::fs::read(real("white.mp4")).unwrap())
        .await
        .expect(201);
    assert_eq!(silent.body["kind"], "video");
    assert_eq!(silent.body["probe"]["audio"], Value::Null);
    assert_eq!(silent.body["probe"]["video"]["variable_frame_rate"], false);

    let broken = ana
        .upload("broken.wav", std::fs::read(real("broken.wav")).unwrap())
        .await;
    refused(&broken, "corrupt");

    // Reading: whole, a range, a suffix, past the end; the poster.
    let original = std::fs::read(real("iphone_rotated.mov")).unwrap();
    let whole = ana.get(&format!("/v1/media/{clip}/content")).await.expect(200);
    assert_eq!(whole.headers["accept-ranges"], "bytes");
    assert_eq!(whole.headers["content-length"], original.len().to_string().as_str());
    let part = ana
        .send(
            Method::GET,
            &format!("/v1/media/{clip}/content"),
            &[("range", "bytes=100-199")],
            Vec::new(),
        )
        .await
        .expect(206);
    assert_eq!(
        part.headers["content-range"],
        format!("bytes 100-199/{}", original.len()).as_str()
    );
    assert_eq!(part.headers["content-length"], "100");
    let suffix = crate::process::http()
        .get(format!("{}/v1/media/{clip}/content", ana.base))
        .header("x-smez-client", "mobile")
        .header("x-smez-workspace", &ana.workspace)
        .bearer_auth(ana.client.access.as_ref().unwrap())
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(suffix.status(), 206);
    assert_eq!(suffix.bytes().await.unwrap().as_ref(), &original[original.len() - 10..]);
    let past = ana
        .send(
            Method::GET,
            &format!("/v1/media/{clip}/content"),
            &[("range", "bytes=99999999-")],
            Vec::new(),
        )
        .await;
    assert_eq!(past.status, 416);
    let poster = ana.get(&format!("/v1/media/{clip}/poster")).await.expect(200);
    assert_eq!(poster.headers["content-type"], "image/jpeg");

    // A transcript for the clip, and one that does not parse (the line is named).
    let srt =
        "1\n00:00:00,500 --> 00:00:01,800\nAnd so, my fellow Americans\n\n2\n00:00:02,000 --> 00:00:03,000\nask not\n";
    let attached = ana
        .send(
            Method::PUT,
            &format!("/v1/media/{clip}/transcript?file_name=speech.srt"),
            &[],
            srt.into(),
        )
        .await
        .expect(200);
    let transcript_id = attached.body["transcript_id"].as_str().unwrap().to_owned();
    let cues = ana.get(&format!("/v1/media/{clip}/transcript")).await.expect(200);
    assert_eq!(cues.body["id"], transcript_id.as_str());
    assert_eq!(cues.body["format"], "srt");
    assert_eq!(cues.body["cues"][1]["start_ms"], 2000);
    let bad = ana
        .send(
            Method::PUT,
            &format!("/v1/media/{clip}/transcript"),
            &[],
            "1\n00:00:00,500 --> 00:00:01,800\nHi\n\n2\n00:00:02,000 => 00:00:03,000\nthere\n".into(),
        )
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    assert!(
        bad.body["detail"].as_str().unwrap().contains("line 6"),
        "{:?}",
        bad.body
    );

    // Listing: filters and cursor pages.
    let videos = ana.get("/v1/media?kind=video").await.expect(200);
    assert_eq!(videos.body["media"].as_array().unwrap().len(), 3);
    let first = ana.get("/v1/media?limit=2").await.expect(200);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = ana
        .get(&format!("/v1/media?limit=10&cursor={cursor}"))
        .await
        .expect(200);
    let seen = first.body["media"].as_array().unwrap().len() + rest.body["media"].as_array().unwrap().len();
    assert_eq!(seen, 5, "four files and the transcript");
    assert_eq!(rest.body["next_cursor"], Value::Null);

    // Another workspace's member gets 404 for every route.
    let bo = Creator::new(stack, "bo").await;
    for (method, path) in [
        (Method::GET, format!("/v1/media/{clip}")),
        (Method::GET, format!("/v1/media/{clip}/content")),
        (Method::GET, format!("/v1/media/{clip}/poster")),
        (Method::GET, format!("/v1/media/{clip}/transcript")),
        (Method::PUT, format!("/v1/media/{clip}/transcript")),
        (Method::DELETE, format!("/v1/media/{clip}")),
    ] {
        let reply = bo.send(method.clone(), &path, &[], srt.into()).await;
        assert_eq!(reply.status, 404, "{method} {path}: {:?}", reply.body);
    }
    assert_eq!(bo.get("/v1/media").await.expect(200).body["media"], json!([]));

    // Deleting leaves no object behind.
    let before = objects(stack, &ana.workspace);
    assert!(before.iter().any(|p| p.to_string_lossy().contains(&clip)), "{before:?}");
    ana.send(Method::DELETE, &format!("/v1/media/{clip}"), &[], Vec::new())
        .await
        .expect(204);
    assert!(
        !objects(stack, &ana.workspace)
            .iter()
            .any(|p| p.to_string_lossy().contains(&clip))
    );
    ana.get(&format!("/v1/media/{clip}")).await.expect(404);
    let unlinked = ana.get(&format!("/v1/media/{}", id(&one_frame))).await.expect(200);
    assert_eq!(unlinked.body["kind"], "video");

    // Bo joins Ana's workspace as an editor, uploads, then deletes his account:
    // what he uploaded stays the workspace's, unattributed.
    let invitation = ana
        .send(
            Method::POST,
            &format!("/v1/workspaces/{}/invitations", ana.workspace),
            &[("content-type", "application/json")],
            json!({"email": bo.email, "role": "editor"}).to_string().into(),
        )
        .await
        .expect(201);
    let token = invitation.body["token"].as_str().unwrap();
    let mut bo = bo;
    bo.client
        .call(Method::POST, &format!("/v1/invitations/{token}/accept"), None)
        .await
        .expect(200);
    bo.workspace = ana.workspace.clone();
    let bo_upload = bo
        .upload("white.mp4", std::fs::read(real("white.mp4")).unwrap())
        .await
        .expect(201);
    let bo_media = id(&bo_upload);
    let bo_id = bo_upload.body["uploaded_by"].as_str().unwrap().to_owned();
    let gone = bo
        .client
        .call(Method::DELETE, "/v1/me", Some(json!({"password": super::PASSWORD})))
        .await;
    assert!(gone.status < 300, "{:?}", gone.body);
    let started = std::time::Instant::now();
    loop {
        let kept = ana.get(&format!("/v1/media/{bo_media}")).await.expect(200);
        if kept.body["uploaded_by"].is_null() {
            break;
        }
        assert_eq!(kept.body["uploaded_by"], bo_id.as_str());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "still attributed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Ana deletes her workspace: every object and row of it goes.
    ana.send(
        Method::DELETE,
        &format!("/v1/workspaces/{}", ana.workspace),
        &[],
        Vec::new(),
    )
    .await
    .expect(204);
    let started = std::time::Instant::now();
    loop {
        let rows = stack
            .rows(
                "media",
                &format!("SELECT media_id FROM media WHERE workspace_id = '{}'", ana.workspace),
            )
            .await;
        if rows.is_empty() && objects(stack, &ana.workspace).is_empty() {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{} rows and {:?} left",
            rows.len(),
            objects(stack, &ana.workspace)
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Runs ffmpeg with `args` and returns the file it wrote.
pub(super) fn make(dir: &Path, name: &str, args: &[&str]) -> Vec<u8> {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args:?}");
    std::fs::read(out).unwrap()
}

/// A JPEG with an EXIF orientation tag (what phones write instead of turning pixels).
pub(super) fn with_exif_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
    let tiff = [
        b'I',
        b'I',
        42,
        0,
        8,
        0,
        0,
        0,
        1,
        0,
        0x12,
        0x01,
        3,
        0,
        1,
        0,
        0,
        0,
        orientation,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ];
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[tokio::test]
async fn what_phones_and_editors_make_is_told_apart_or_refused_precisely() {
    let stack = Stack::start(Shape::Sqlite, &[]).await;
    let ana = Creator::new(&stack, "ana").await;
    let dir = crate::process::temp_dir("media-made");

    let odd = make(
        &dir,
        "odd.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=321x241:rate=25:duration=1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv444p",
        ],
    );
    let reply = ana.upload("odd.mp4", odd).await.expect(201);
    assert_eq!(reply.body["probe"]["video"]["display_width"], 321);
    assert_eq!(reply.body["probe"]["video"]["display_height"], 241);

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
    let reply = ana.upload("hlg.mp4", hlg.clone()).await.expect(201);
    let video = &reply.body["probe"]["video"];
    assert_eq!(video["codec"], "hevc");
    assert_eq!(video["bit_depth"], 10);
    assert_eq!(video["color_transfer"], "arib-std-b67");
    assert_eq!(video["hdr"], true);

    // Cut in half: the index (moov, at the end) is gone.
    let truncated = hlg[..hlg.len() / 2].to_vec();
    refused(&ana.upload("cut.mp4", truncated).await, "truncated");
    // Index first (faststart), media data cut: the box is short.
    let faststart = make(
        &dir,
        "fast.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25:duration=2",
            "-c:v",
            "libx264",
            "-movflags",
            "+faststart",
        ],
    );
    refused(
        &ana.upload("cut-fast.mp4", faststart[..faststart.len() * 2 / 3].to_vec())
            .await,
        "`mdat` box is missing",
    );

    let jpeg = make(
        &dir,
        "photo.jpg",
        &["-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1"],
    );
    let reply = ana
        .upload("photo.jpg", with_exif_orientation(&jpeg, 6))
        .await
        .expect(201);
    assert_eq!(reply.body["kind"], "image");
    let picture = &reply.body["probe"]["video"];
    assert_eq!(picture["exif_orientation"], 6);
    assert_eq!(
        (picture["display_width"].as_u64(), picture["display_height"].as_u64()),
        (Some(48), Some(64))
    );
    assert_eq!(reply.body["probe"]["duration_ms"], Value::Null);
    let poster_url = reply.body["poster_url"].as_str().unwrap().to_owned();
    let poster = crate::process::http()
        .get(format!("{}{poster_url}", ana.base))
        .header("x-smez-client", "mobile")
        .header("x-smez-workspace", &ana.workspace)
        .bearer_auth(ana.client.access.as_ref().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(dir.join("poster.jpg"), &poster).unwrap();
    let drawn = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0"])
        .arg(dir.join("poster.jpg"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&drawn.stdout).trim(),
        "48,64",
        "the poster is upright"
    );

    let m4a = make(
        &dir,
        "voice.m4a",
        &["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac"],
    );
    let reply = ana.upload("voice.m4a", m4a).await.expect(201);
    assert_eq!(reply.body["kind"], "audio");
    assert_eq!(reply.body["content_type"], "audio/mp4");
    assert_eq!(reply.body["probe"]["audio"]["codec"], "aac");

    std::fs::write(dir.join("subs.srt"), "1\n00:00:00,000 --> 00:00:01,000\nhello\n").unwrap();
    let subtitles_only = make(
        &dir,
        "subs.mp4",
        &["-i", dir.join("subs.srt").to_str().unwrap(), "-c:s", "mov_text"],
    );
    refused(
        &ana.upload("subs.mp4", subtitles_only).await,
        "no usable video or audio stream",
    );

    refused(
        &ana.upload("notes.mp4", b"%PDF-1.7\n1 0 obj\n".to_vec()).await,
        "PDF document",
    );
    refused(
        &ana.upload("random.bin", vec![0x13, 0x37, 0x00, 0x42, 0x99]).await,
        "not a recognised media format",
    );

    let vtt = "WEBVTT\n\n00:01.000 --> 00:02.500\n<v Ana>ask <00:01.500>not\n";
    let reply = ana.upload("talk.vtt", vtt.into()).await.expect(201);
    assert_eq!(reply.body["kind"], "transcript");
    assert_eq!(reply.body["transcript"]["word_timings"], true);
    let json_words =
        r#"{"words": [{"word": "ask", "start": 0.5, "end": 0.8}, {"word": "not", "start": "x", "end": 1.0}]}"#;
    refused(&ana.upload("words.json", json_words.into()).await, "line 1");

    // A hostile file name is display text only; the object's key is generated.
    let hostile = "../../../etc/passwd\u{7}\r\n\u{202E}vom.mp4";
    let reply = ana
        .upload(hostile, std::fs::read(real("white.mp4")).unwrap())
        .await
        .expect(201);
    assert_eq!(reply.body["file_name"], "passwdvom.mp4");
    let media_id = id(&reply);
    let stored = objects(&stack, &ana.workspace);
    assert!(
        stored
            .iter()
            .any(|p| p.ends_with(Path::new(&media_id).join("original"))),
        "{stored:?}"
    );
    assert!(!stack.dir.join("etc").exists() && !dir.join("etc").exists());

    // Nothing refused left an object or a row behind.
    let rows = stack.rows("media", "SELECT COUNT(*) FROM media").await;
    let listed = ana.get("/v1/media?limit=200").await.expect(200).body["media"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(rows[0][0].as_deref(), Some(listed.to_string().as_str()));
    let keys: Vec<String> = stored
        .iter()
        .filter(|p| p.ends_with("original"))
        .map(|p| p.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(keys.len(), listed, "one object per row: {keys:?}");
    let incoming = std::fs::read_dir(stack.dir.join("data/uploads/incoming"))
        .unwrap()
        .count();
    assert_eq!(incoming, 0, "no upload left in the receiving folder");

    let _ = std::fs::remove_dir_all(dir);
    stack.stop().await;
}

#[tokio::test]
async fn a_resumable_upload_survives_a_dropped_connection() {
    let stack = Stack::start(Shape::Sqlite, &[]).await;
    let ana = Creator::new(&stack, "ana").await;
    let file = std::fs::read(real("iphone_rotated.mov")).unwrap();
    let tus = [("tus-resumable", "1.0.0")];

    let options = ana
        .send(Method::OPTIONS, "/v1/media/uploads", &[], Vec::new())
        .await
        .expect(204);
    assert_eq!(options.headers["tus-version"], "1.0.0");
    assert!(options.headers["tus-extension"].to_str().unwrap().contains("creation"));
    ana.send(Method::POST, "/v1/media/uploads", &[], Vec::new())
        .await
        .expect(412);

    let length = file.len().to_string();
    let created = ana
        .send(
            Method::POST,
            "/v1/media/uploads",
            &[
                tus[0],
                ("upload-length", &length),
                ("upload-metadata", "filename aXBob25lLm1vdg=="),
            ],
            Vec::new(),
        )
        .await
        .expect(201);
    let location = created.headers["location"].to_str().unwrap().to_owned();

    // Half the bytes, then the connection drops (the request said more were coming).
    let half = file.len() / 2;
    send_cut(&ana, &location, &file[..half], file.len()).await;
    let mut offset = 0;
    for _ in 0..50 {
        let head = ana.send(Method::HEAD, &location, &tus, Vec::new()).await.expect(200);
        offset = head.headers["upload-offset"]
            .to_str()
            .unwrap()
            .parse::<usize>()
            .unwrap();
        if offset > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        offset > 0 && offset <= half,
        "the server kept what arrived: {offset} of {half}"
    );

    // The wrong offset is refused; the server's offset is resumed from.
    let wrong = ana
        .send(
            Method::PATCH,
            &location,
            &[
                tus[0],
                ("upload-offset", "0"),
                ("content-type", "application/offset+octet-stream"),
            ],
            file.clone(),
        )
        .await;
    assert_eq!(wrong.status, 409, "{:?}", wrong.body);
    let resumed = offset.to_string();
    let done = ana
        .send(
            Method::PATCH,
            &location,
            &[
                tus[0],
                ("upload-offset", &resumed),
                ("content-type", "application/offset+octet-stream"),
            ],
            file[offset..].to_vec(),
        )
        .await
        .expect(204);
    assert_eq!(done.headers["upload-offset"], length.as_str());
    let media_id = done.headers["smez-media-id"].to_str().unwrap().to_owned();
    let media = ana.get(&format!("/v1/media/{media_id}")).await.expect(200);
    assert_eq!(media.body["file_name"], "iphone.mov");
    assert_eq!(media.body["probe"]["video"]["rotation"], 90);
    let expected: String = ring::digest::digest(&ring::digest::SHA256, &file)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(media.body["sha256"], expected.as_str());
    ana.send(Method::HEAD, &location, &tus, Vec::new()).await.expect(404);

    // Termination; and another workspace cannot see an upload.
    let created = ana
        .send(
            Method::POST,
            "/v1/media/uploads",
            &[tus[0], ("upload-length", "100")],
            Vec::new(),
        )
        .await
        .expect(201);
    let location = created.headers["location"].to_str().unwrap().to_owned();
    let bo = Creator::new(&stack, "bo").await;
    bo.send(Method::HEAD, &location, &tus, Vec::new()).await.expect(404);
    bo.send(Method::DELETE, &location, &tus, Vec::new()).await.expect(404);
    ana.send(Method::DELETE, &location, &tus, Vec::new()).await.expect(204);
    ana.send(Method::HEAD, &location, &tus, Vec::new()).await.expect(404);
    let waiting = std::fs::read_dir(stack.dir.join("data/uploads/resumable"))
        .unwrap()
        .count();
    assert_eq!(waiting, 0, "no upload file left behind");
    stack.stop().await;
}

/// A PATCH whose connection closes after `sent` of the `total` bytes it announced.
async fn send_cut(creator: &Creator, location: &str, sent: &[u8], total: usize) {
    use tokio::io::AsyncWriteExt;
    let address = creator.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {address}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {total}\r\n\
         Authorization: Bearer {}\r\nX-Smez-Client: mobile\r\nX-Smez-Workspace: {}\r\n\r\n",
        creator.client.access.as_ref().unwrap(),
        creator.workspace
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(sent).await.unwrap();
    socket.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(socket);
}

/// The S3-compatible server the tests use (`moto_server` in CI), as `TEST_S3_URL`.
fn s3_url() -> String {
    std::env::var("TEST_S3_URL").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

/// Keys under `prefix` in `bucket` (the server accepts unsigned listings).
async fn s3_keys(bucket: &str, prefix: &str) -> Vec<String> {
    let listing = crate::process::http()
        .get(format!("{}/{bucket}?list-type=2&prefix={prefix}", s3_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    listing
        .split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
        .collect()
}

#[tokio::test]
async fn media_lives_in_an_s3_compatible_store() {
    let bucket = "smez-it-media";
    let prefix = format!("run-{}", uuid::Uuid::new_v4().simple());
    let created = crate::process::http()
        .put(format!("{}/{bucket}", s3_url()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("an S3-compatible server at {} (TEST_S3_URL): {e}", s3_url()));
    assert!(
        created.status().is_success() || created.status() == 409,
        "{}",
        created.status()
    );
    let endpoint = s3_url();
    let stack = Stack::start(
        Shape::Sqlite,
        &[
            ("SMEZ_MEDIA__STORE", "s3"),
            ("SMEZ_MEDIA__S3_BUCKET", bucket),
            ("SMEZ_MEDIA__S3_PREFIX", &prefix),
            ("SMEZ_MEDIA__S3_ENDPOINT", &endpoint),
            ("SMEZ_MEDIA__S3_ALLOW_HTTP", "true"),
            ("SMEZ_MEDIA__S3_ACCESS_KEY_ID", "test"),
            ("SMEZ_MEDIA__S3_SECRET_ACCESS_KEY", "test"),
        ],
    )
    .await;
    let ana = Creator::new(&stack, "ana").await;
    let file = std::fs::read(real("iphone_rotated.mov")).unwrap();
    let clip = id(&ana.upload("clip.mov", file.clone()).await.expect(201));
    let keys = s3_keys(bucket, &prefix).await;
    assert_eq!(keys.len(), 2, "the original and its poster: {keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.starts_with(&format!("{prefix}/ws/{}/{clip}/", ana.workspace)))
    );
    assert!(
        !stack.dir.join("data/media").join("ws").exists(),
        "nothing on the local disk"
    );

    let part = ana
        .send(
            Method::GET,
            &format!("/v1/media/{clip}/content"),
            &[("range", "bytes=4-11")],
            Vec::new(),
        )
        .await
        .expect(206);
    assert_eq!(
        part.body,
        Value::String(String::from_utf8_lossy(&file[4..12]).into_owned())
    );

    ana.send(Method::DELETE, &format!("/v1/media/{clip}"), &[], Vec::new())
        .await
        .expect(204);
    assert_eq!(s3_keys(bucket, &prefix).await, Vec::<String>::new());
    stack.stop().await;
}
