//! YouTube contract tests: the adapter against the simulator.

use std::time::Duration;

use serde_json::{Value, json};
use smez_platforms::youtube::YouTube;
use smez_platforms::{
    AuthorizeRequest, ErrorClass, Pkce, PlatformAdapter, PlatformError, PostMetadata, Privacy, PublishHandle,
    PublishStatus, TokenSet,
};

use crate::support::{
    assert_error, assert_published, authorize_and_exchange, connected, good_video_file, open_mp4, posts, put_statuses,
    requests, sim_endpoints, status_after,
};
use crate::{Harness, json_answer, param, video};

const REDIRECT: &str = "http://127.0.0.1:9/oauth/youtube/callback";
const UPLOAD: &str = "https://www.googleapis.com/auth/youtube.upload";
const READONLY: &str = "https://www.googleapis.com/auth/youtube.readonly";

/// Seconds the simulator takes to process an upload, plus one.
const PROCESSED_SECS: i64 = 31;

fn adapter(h: &Harness) -> YouTube {
    YouTube::new(sim_endpoints(h, "youtube", "sim-client", "sim-secret"))
        .with_chunk_size(256 * 1024)
        .with_resume_backoff(Duration::from_millis(1))
}

fn request(challenge: Option<String>) -> AuthorizeRequest {
    AuthorizeRequest {
        redirect_uri: REDIRECT.into(),
        state: "state-123".into(),
        scopes: vec![UPLOAD.into(), READONLY.into()],
        pkce_challenge: challenge,
    }
}

/// Authorize (consenting) and exchange the code.
async fn connect(h: &Harness, yt: &YouTube) -> TokenSet {
    authorize_and_exchange(h, yt, request(None), Some(Pkce::generate())).await
}

fn post(title: &str) -> PostMetadata {
    PostMetadata {
        caption: "A test Short #smez #test".into(),
        title: Some(title.into()),
        privacy: Privacy::Public,
        cover_timestamp_ms: None,
    }
}

async fn publish(yt: &YouTube, token: &TokenSet, post: &PostMetadata) -> Result<PublishHandle, PlatformError> {
    yt.publish(&token.access_token, "UCchannel", &good_video_file().await, post)
        .await
}

async fn sim_video(h: &Harness, id: &str) -> Value {
    json_answer(crate::http().get(format!("{}/_sim/videos/{id}", h.base("youtube")))).await
}

/// A 2 s 640×360 video: fine as a YouTube video, but no Short.
async fn landscape_video() -> std::path::PathBuf {
    video(
        "yt-landscape",
        "-f lavfi -i testsrc=size=640x360:rate=30 -t 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p",
    )
    .await
}

/// Opens a resumable upload session by hand (no adapter), for `length` bytes.
fn start_resumable(
    http: &reqwest::Client,
    h: &Harness,
    token: &TokenSet,
    length: u64,
    metadata: &Value,
) -> reqwest::RequestBuilder {
    http.post(format!(
        "{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
        h.base("youtube")
    ))
    .bearer_auth(&token.access_token)
    .header("X-Upload-Content-Length", length.to_string())
    .json(metadata)
}

fn google_error(code: u16, reason: &str) -> Value {
    json!({"kind": "status", "status": code, "body": {"error": {
        "code": code, "message": "simulated", "errors": [{"message": "simulated", "domain": "global", "reason": reason}]
    }}})
}

fn assert_no_secret(error: &PlatformError, token: &TokenSet) {
    let text = format!("{error} {error:?}");
    assert!(
        !text.contains(&token.access_token),
        "an access token leaked into an error"
    );
    if let Some(r) = &token.refresh_token {
        assert!(!text.contains(r.as_str()), "a refresh token leaked into an error");
    }
}

#[tokio::test]
async fn youtube_oauth_authorize_exchange_and_profile() {
    let h = Harness::start().await;
    let yt = adapter(&h);
    let url = url::Url::parse(&yt.authorize_url(&request(Some("challenge".into()))).unwrap()).unwrap();
    assert_eq!(url.path(), "/youtube/o/oauth2/v2/auth");
    assert_eq!(param(&url, "access_type").as_deref(), Some("offline"));
    assert_eq!(param(&url, "prompt").as_deref(), Some("consent"));
    assert_eq!(param(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(param(&url, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&url, "scope").unwrap(), format!("{UPLOAD} {READONLY}"));

    let tokens = connect(&h, &yt).await;
    assert!(tokens.access_token.starts_with("ya29."));
    assert!(tokens.refresh_token.is_some());
    assert_eq!(tokens.access_expires_in_secs, Some(3599));
    assert_eq!(tokens.scopes, vec![UPLOAD.to_owned(), READONLY.to_owned()]);

    let accounts = yt.accounts(&tokens.access_token).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert!(accounts[0].id.starts_with("UC"));
    assert!(accounts[0].username.starts_with('@'));

    let records = h.records().await;
    let issued: Vec<&str> = records["issued"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["platform"] == "youtube")
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(issued, ["code", "code_verifier", "access_token", "refresh_token"]);
}

#[tokio::test]
async fn youtube_code_is_single_use_and_checks_the_pkce_verifier() {
    let h = Harness::start().await;
    let yt = adapter(&h);
    let pkce = Pkce::generate();
    let back = h
        .authorize(&yt.authorize_url(&request(Some(pkce.challenge()))).unwrap())
        .await;
    let code = param(&back, "code").unwrap();
    let wrong = yt
        .exchange_code(&code, REDIRECT, Some("not-the-verifier-not-the-verifier-not-the-ver"))
        .await;
    assert_eq!(wrong.unwrap_err().class, ErrorClass::AuthRevoked);
    yt.exchange_code(&code, REDIRECT, Some(&pkce.verifier)).await.unwrap();
    let again = yt
        .exchange_code(&code, REDIRECT, Some(&pkce.verifier))
        .await
        .unwrap_err();
    assert_error(&again, ErrorClass::AuthRevoked, "invalid_grant");
}

#[tokio::test]
async fn youtube_bad_client_secret_is_permanent() {
    let h = Harness::start().await;
    let yt = YouTube::new(sim_endpoints(&h, "youtube", "sim-client", "wrong"));
    let back = h.authorize(&yt.authorize_url(&request(None)).unwrap()).await;
    let code = param(&back, "code").unwrap();
    let error = yt.exchange_code(&code, REDIRECT, None).await.unwrap_err();
    assert_error(&error, ErrorClass::Permanent, "invalid_client");
}

#[tokio::test]
async fn youtube_consent_denied_and_unticked_scopes() {
    let h = Harness::start().await;
    let yt = adapter(&h);
    h.consent("youtube", json!({"deny": true})).await;
    let back = h.authorize(&yt.authorize_url(&request(None)).unwrap()).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("state-123"));
    assert!(param(&back, "code").is_none());

    // Without the upload scope, publishing needs a new consent (reconnecting).
    h.consent("youtube", json!({"untick": [UPLOAD]})).await;
    let tokens = connect(&h, &yt).await;
    assert_eq!(tokens.scopes, vec![READONLY.to_owned()]);
    let error = publish(&yt, &tokens, &post("No scope")).await.unwrap_err();
    assert_error(&error, ErrorClass::AuthRevoked, "insufficientPermissions");
    assert_no_secret(&error, &tokens);
}

#[tokio::test]
async fn youtube_several_channels() {
    let h = Harness::start().await;
    let yt = adapter(&h);
    h.consent("youtube", json!({"accounts": 3})).await;
    let tokens = connect(&h, &yt).await;
    let accounts = yt.accounts(&tokens.access_token).await.unwrap();
    assert_eq!(accounts.len(), 3);
    let mut ids: Vec<_> = accounts.iter().map(|a| a.id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn youtube_refresh_keeps_the_refresh_token() {
    let (_h, yt, tokens) = connected(adapter, connect).await;
    let refresh = tokens.refresh_token.clone().unwrap();
    let first = yt.refresh(&refresh).await.unwrap();
    assert!(first.refresh_token.is_none(), "Google does not rotate refresh tokens");
    assert_ne!(first.access_token, tokens.access_token);
    // The old (only) refresh token keeps working.
    let second = yt.refresh(&refresh).await.unwrap();
    assert!(second.refresh_token.is_none());
    yt.accounts(&second.access_token).await.unwrap();
}

#[tokio::test]
async fn youtube_access_token_expires_then_refresh_recovers() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    h.advance(3600).await;
    let error = yt.accounts(&tokens.access_token).await.unwrap_err();
    assert_error(&error, ErrorClass::AuthExpired, "authError");
    assert_no_secret(&error, &tokens);
    let fresh = yt.refresh(tokens.refresh_token.as_deref().unwrap()).await.unwrap();
    yt.accounts(&fresh.access_token).await.unwrap();
}

#[tokio::test]
async fn youtube_testing_refresh_token_expires_after_7_days() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    let refresh = tokens.refresh_token.clone().unwrap();
    h.advance(6 * 86_400).await;
    yt.refresh(&refresh).await.unwrap();
    h.advance(86_400 + 1).await;
    let error = yt.refresh(&refresh).await.unwrap_err();
    assert_error(&error, ErrorClass::AuthRevoked, "invalid_grant");
    assert_no_secret(&error, &tokens);
}

#[tokio::test]
async fn youtube_revoke_ends_the_grant() {
    let (_h, yt, tokens) = connected(adapter, connect).await;
    let refresh = tokens.refresh_token.clone().unwrap();
    yt.revoke(&refresh).await.unwrap();
    let error = yt.accounts(&tokens.access_token).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::AuthExpired);
    let error = yt.refresh(&refresh).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::AuthRevoked);
    // Revoking again is not an error: the grant is gone either way.
    yt.revoke(&refresh).await.unwrap();
}

#[tokio::test]
async fn youtube_publish_processing_then_live() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    let file = good_video_file().await;
    assert!(file.size() > 256 * 1024, "the test video spans several chunks");
    let handle = yt
        .publish(&tokens.access_token, "UCx", &file, &post("Hello Shorts"))
        .await
        .unwrap();
    assert_eq!(handle.id.len(), 11);

    let status = yt.publish_status(&tokens.access_token, &handle).await.unwrap();
    assert!(matches!(status, PublishStatus::Processing { .. }), "{status:?}");
    let status = status_after(&h, &yt, &tokens.access_token, &handle, PROCESSED_SECS).await;
    assert_eq!(
        status,
        PublishStatus::Published {
            post_id: handle.id.clone(),
            url: Some(format!("https://www.youtube.com/shorts/{}", handle.id)),
        }
    );

    let record = sim_video(&h, &handle.id).await;
    assert_eq!(record["is_short"], true);
    assert_eq!(record["bytes"], file.size());
    assert_eq!(record["metadata"]["snippet"]["title"], "Hello Shorts");
    assert_eq!(record["metadata"]["snippet"]["tags"], json!(["smez", "test"]));

    let records = h.records().await;
    let posts: Vec<&Value> = posts(&records).iter().filter(|p| p["platform"] == "youtube").collect();
    assert_eq!(posts.len(), 1, "published exactly once");
    assert_eq!(posts[0]["post_id"], handle.id.as_str());
    // Chunked: 308s until the last chunk.
    let puts = put_statuses(&records);
    assert!(puts.len() > 1);
    assert!(puts[..puts.len() - 1].iter().all(|s| *s == 308));
    assert_eq!(*puts.last().unwrap(), 201);
}

#[tokio::test]
async fn youtube_upload_resumes_after_a_dropped_connection() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    h.fault("youtube.upload", json!({"kind": "drop"}), 1).await;
    let file = good_video_file().await;
    let handle = yt
        .publish(&tokens.access_token, "UCx", &file, &post("Resumed"))
        .await
        .unwrap();
    let status = status_after(&h, &yt, &tokens.access_token, &handle, PROCESSED_SECS).await;
    assert_published(&status);
    let record = sim_video(&h, &handle.id).await;
    assert_eq!(record["bytes"], file.size());
    assert_eq!(record["upload_status"], "processed");
    // The chunk was cut (the sim answered 200 then broke the body), then the
    // session was queried (`bytes */total` → 308) and the upload resumed.
    let records = h.records().await;
    let statuses = put_statuses(&records);
    assert_eq!(statuses[..2], [200, 308], "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 201);
    let puts = statuses.len() as u64;
    assert!(
        puts > file.size().div_ceil(256 * 1024),
        "a status query and a resent chunk"
    );
}

#[tokio::test]
async fn youtube_upload_resumes_after_a_5xx() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    h.fault("youtube.upload", google_error(503, "backendError"), 2).await;
    let handle = publish(&yt, &tokens, &post("After 503")).await.unwrap();
    assert_eq!(sim_video(&h, &handle.id).await["bytes"], good_video_file().await.size());
}

#[tokio::test]
async fn youtube_expired_upload_session_starts_over_once() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    h.fault("youtube.upload", google_error(404, "notFound"), 1).await;
    let handle = publish(&yt, &tokens, &post("New session")).await.unwrap();
    assert_eq!(sim_video(&h, &handle.id).await["bytes"], good_video_file().await.size());
    let records = h.records().await;
    let inserts = requests(&records)
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/youtube/upload/youtube/v3/videos")
        .count();
    assert_eq!(inserts, 2, "a second session after the 404");

    // Twice in a row: the publish fails, transient.
    h.fault("youtube.upload", google_error(404, "notFound"), 2).await;
    let error = publish(&yt, &tokens, &post("Gone twice")).await.unwrap_err();
    assert_error(&error, ErrorClass::Transient, "uploadSessionExpired");
}

#[tokio::test]
async fn youtube_non_short_is_refused_before_uploading() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    let landscape = landscape_video().await;
    let file = open_mp4(&landscape).await;
    let error = yt
        .publish(&tokens.access_token, "UCx", &file, &post("Wide"))
        .await
        .unwrap_err();
    assert_error(&error, ErrorClass::InvalidMedia, "notShort");
    let records = h.records().await;
    assert!(
        !requests(&records)
            .iter()
            .any(|r| r["path"].as_str().unwrap().starts_with("/youtube/upload")),
        "nothing was uploaded"
    );
}

#[tokio::test]
async fn youtube_sim_accepts_landscape_as_a_normal_video() {
    let (h, _yt, tokens) = connected(adapter, connect).await;
    let landscape = landscape_video().await;
    let bytes = std::fs::read(&landscape).unwrap();
    let http = crate::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = json!({"snippet": {"title": "Landscape"}, "status": {"privacyStatus": "public"}});
    let start = start_resumable(&http, &h, &tokens, bytes.len() as u64, &metadata)
        .header("X-Upload-Content-Type", "video/mp4")
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 200);
    let session = start.headers()["location"].to_str().unwrap().to_owned();
    let done = http.put(&session).body(bytes).send().await.unwrap();
    assert_eq!(done.status(), 201);
    let resource: Value = done.json().await.unwrap();
    assert_eq!(resource["status"]["uploadStatus"], "uploaded");
    assert_eq!(sim_video(&h, resource["id"].as_str().unwrap()).await["is_short"], false);
}

/// The sim's side of the resumable protocol, spoken raw: chunk rules, gaps, status queries, expiry.
#[tokio::test]
async fn youtube_sim_resumable_protocol_rules() {
    let (h, _yt, tokens) = connected(adapter, connect).await;
    let http = crate::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let total = 600 * 1024u64;
    let response = start_resumable(&http, &h, &tokens, total, &json!({"snippet": {"title": "Raw"}}))
        .header("X-Upload-Content-Type", "application/octet-stream")
        .send()
        .await
        .unwrap();
    let session = response.headers()["location"].to_str().unwrap().to_owned();
    let put = |range: String, body: Vec<u8>| http.put(&session).header("Content-Range", range).body(body).send();
    // Nothing received yet: 308 without Range.
    let r = put(format!("bytes */{total}"), vec![]).await.unwrap();
    assert_eq!(r.status(), 308);
    assert!(r.headers().get("range").is_none());
    // A non-final chunk that is not a multiple of 256 KiB is refused.
    let r = put(format!("bytes 0-99999/{total}"), vec![0; 100_000]).await.unwrap();
    assert_eq!(r.status(), 400);
    // One 256 KiB chunk: 308 with the received range.
    let r = put(format!("bytes 0-262143/{total}"), vec![0; 262_144]).await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["range"], "bytes=0-262143");
    // A gap: nothing accepted, the range is unchanged.
    let r = put(format!("bytes 524288-614399/{total}"), vec![0; 90_112])
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["range"], "bytes=0-262143");
    // The session expires.
    h.advance(7 * 86_400 + 1).await;
    let r = put(format!("bytes */{total}"), vec![]).await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn youtube_undecodable_bytes_fail_processing() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    let path = std::env::temp_dir().join(format!("smez-yt-garbage-{}.mp4", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, vec![0x5au8; 300 * 1024]).unwrap();
    let file = open_mp4(&path).await;
    let handle = yt
        .publish(&tokens.access_token, "UCx", &file, &post("Garbage"))
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    match status_after(&h, &yt, &tokens.access_token, &handle, PROCESSED_SECS).await {
        PublishStatus::Failed { error, class } => {
            assert_eq!(class, ErrorClass::InvalidMedia);
            assert!(error.contains("invalidFile"), "{error}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let records = h.records().await;
    assert!(!posts(&records).iter().any(|p| p["platform"] == "youtube"));
}

#[tokio::test]
async fn youtube_invalid_metadata_names_the_field() {
    let (_h, yt, tokens) = connected(adapter, connect).await;
    let cases = [
        (post(&"t".repeat(101)), "invalidTitle", "snippet.title"),
        (post("a <b> title"), "invalidTitle", "snippet.title"),
        (
            PostMetadata {
                caption: "é".repeat(2501),
                ..post("Long description")
            },
            "invalidDescription",
            "snippet.description",
        ),
        (
            PostMetadata {
                caption: (0..60).map(|i| format!("#tag{i:05}")).collect::<Vec<_>>().join(" "),
                ..post("Many tags")
            },
            "invalidTags",
            "snippet.tags",
        ),
    ];
    for (metadata, reason, field) in cases {
        let error = publish(&yt, &tokens, &metadata).await.unwrap_err();
        assert_eq!(error.class, ErrorClass::InvalidMetadata, "{reason}");
        assert_eq!(error.platform_code.as_deref(), Some(reason));
        assert_eq!(error.field.as_deref(), Some(field));
        assert_no_secret(&error, &tokens);
    }
    // 100 characters (not bytes) is fine.
    publish(&yt, &tokens, &post(&"é".repeat(100))).await.unwrap();
}

#[tokio::test]
async fn youtube_upload_quota_exhausted_until_midnight_pacific() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    let http = crate::http();
    for _ in 0..100 {
        let r = start_resumable(&http, &h, &tokens, 1000, &json!({"snippet": {"title": "Filler"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let error = publish(&yt, &tokens, &post("One too many")).await.unwrap_err();
    assert_error(&error, ErrorClass::QuotaExhausted, "quotaExceeded");
    assert_no_secret(&error, &tokens);
    let reset = error.reset_at.expect("a reset time");
    let now = chrono::Utc::now();
    assert!(reset > now && reset <= now + chrono::Duration::days(1));
    assert_eq!(
        reset.format("%H:%M:%S").to_string(),
        "08:00:00",
        "midnight Pacific (UTC-8)"
    );
    // Other methods have their own bucket.
    yt.accounts(&tokens.access_token).await.unwrap();
    // After the reset, uploads work again (with a refreshed token: a day passed).
    h.advance((reset - now).num_seconds() + 1).await;
    let fresh = yt.refresh(tokens.refresh_token.as_deref().unwrap()).await.unwrap();
    publish(&yt, &fresh, &post("Next day")).await.unwrap();
}

#[tokio::test]
async fn youtube_rate_limits_are_classified_with_retry_after() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    h.fault("youtube.channels", google_error(403, "rateLimitExceeded"), 1)
        .await;
    h.fault("youtube.channels", google_error(429, "userRateLimitExceeded"), 1)
        .await;
    for reason in ["rateLimitExceeded", "userRateLimitExceeded"] {
        let error = yt.accounts(&tokens.access_token).await.unwrap_err();
        assert_error(&error, ErrorClass::RateLimited, reason);
        assert_eq!(error.retry_after, Some(Duration::from_secs(60)));
    }
    yt.accounts(&tokens.access_token).await.unwrap();
}

#[tokio::test]
async fn youtube_transient_and_permanent_failures() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    h.fault("youtube.channels", google_error(503, "backendError"), 1).await;
    let error = yt.accounts(&tokens.access_token).await.unwrap_err();
    assert_error(&error, ErrorClass::Transient, "backendError");

    h.fault("youtube.videos", json!({"kind": "drop"}), 1).await;
    let error = yt.metrics(&tokens.access_token, &["abc".into()]).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient);

    h.fault("youtube.token", google_error(500, "internalError"), 1).await;
    let error = yt.refresh(tokens.refresh_token.as_deref().unwrap()).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient);

    h.fault("youtube.insert", google_error(403, "forbidden"), 1).await;
    let error = publish(&yt, &tokens, &post("Forbidden")).await.unwrap_err();
    assert_error(&error, ErrorClass::Permanent, "forbidden");

    let error = yt
        .comments(&tokens.access_token, "nosuchvideo", None)
        .await
        .unwrap_err();
    assert_error(&error, ErrorClass::Permanent, "videoNotFound");
}

#[tokio::test]
async fn youtube_metrics_grow_with_time() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    let handle = publish(&yt, &tokens, &post("Counting")).await.unwrap();
    let before = yt
        .metrics(&tokens.access_token, std::slice::from_ref(&handle.id))
        .await
        .unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].views, Some(0));
    assert_eq!(before[0].shares, None, "YouTube gives no share count");
    h.advance(30 + 3000).await;
    let after = yt
        .metrics(&tokens.access_token, std::slice::from_ref(&handle.id))
        .await
        .unwrap();
    assert_eq!(after[0].post_id, handle.id);
    assert_eq!(after[0].views, Some(500));
    assert_eq!(after[0].likes, Some(20));
    assert_eq!(after[0].comments, Some(5 + 2));
    assert_eq!(after[0].raw["viewCount"], "500");
    let ids: Vec<String> = std::iter::once(handle.id.clone())
        .chain((0..60).map(|i| format!("missing{i:04}")))
        .collect();
    let many = yt.metrics(&tokens.access_token, &ids).await.unwrap();
    assert_eq!(many.len(), 1, "batches of 50 ids, unknown ids left out");
}

#[tokio::test]
async fn youtube_comments_with_replies_paginated() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    let handle = publish(&yt, &tokens, &post("Talk to me")).await.unwrap();
    h.advance(30 + 150 * 600).await;
    let access = yt
        .refresh(tokens.refresh_token.as_deref().unwrap())
        .await
        .unwrap()
        .access_token;
    let first = yt.comments(&access, &handle.id, None).await.unwrap();
    let tops = first.comments.iter().filter(|c| c.parent_id.is_none()).count();
    assert_eq!(tops, 100);
    let reply = first.comments.iter().find(|c| c.parent_id.is_some()).expect("a reply");
    assert!(first.comments.iter().any(|c| Some(&c.id) == reply.parent_id.as_ref()));
    assert!(first.comments[0].published_at.is_some());
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = yt.comments(&access, &handle.id, Some(&cursor)).await.unwrap();
    assert_eq!(second.comments.iter().filter(|c| c.parent_id.is_none()).count(), 50);
    assert!(second.next_cursor.is_none());
    let metrics = yt.metrics(&access, std::slice::from_ref(&handle.id)).await.unwrap();
    assert_eq!(
        metrics[0].comments,
        Some((first.comments.len() + second.comments.len()) as u64)
    );
}

#[tokio::test]
async fn youtube_lost_answer_to_the_last_chunk_is_not_a_second_video() {
    let (h, yt, tokens) = connected(adapter, connect).await;
    let file = good_video_file().await;
    let chunks = file.size().div_ceil(256 * 1024) as u32;
    // The last chunk completes the video; its answer is lost. The session is
    // asked where it stands and says done: no new session, no second video.
    h.lose_answer("PUT", "/upload/youtube/v3/videos", chunks - 1).await;
    let handle = yt
        .publish(&tokens.access_token, "UCx", &file, &post("Once"))
        .await
        .unwrap();
    let status = status_after(&h, &yt, &tokens.access_token, &handle, PROCESSED_SECS).await;
    assert!(matches!(status, PublishStatus::Published { .. }), "{status:?}");
    let records = h.records().await;
    let sessions = requests(&records)
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/upload/youtube/v3/videos") && r["method"] == "POST")
        .count();
    assert_eq!(sessions, 1, "one upload session");
    assert_eq!(posts(&records).len(), 1);
}
