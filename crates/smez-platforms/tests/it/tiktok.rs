//! TikTok contract tests: the adapter against the TikTok simulator.

use serde_json::json;
use smez_platform_sim::tiktok::{CLIENT_KEY, CLIENT_SECRET, OPEN_ID, PROCESSING_SECS};
use smez_platforms::tiktok::{ChunkPlan, TikTok};
use smez_platforms::{
    AuthorizeRequest, ErrorClass, Pkce, PlatformAdapter, PlatformError, PostMetadata, Privacy, PublishHandle,
    PublishStatus, TokenSet, VideoFile,
};

use crate::support::{
    assert_error, assert_published, authorize_and_exchange, connected, good_video_file, open_mp4, posts, put_statuses,
    requests, requests_to, sim_endpoints, status_after,
};
use crate::{Harness, json_answer, param, video};

const REDIRECT: &str = "http://127.0.0.1:9999/oauth/tiktok/callback";
const SCOPES: [&str; 4] = ["user.info.basic", "video.publish", "video.upload", "video.list"];

fn adapter(h: &Harness) -> TikTok {
    TikTok::new(sim_endpoints(h, "tiktok", CLIENT_KEY, CLIENT_SECRET))
}

/// A request for every scope the tests use, without PKCE.
fn request(state: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        redirect_uri: REDIRECT.into(),
        state: state.into(),
        scopes: SCOPES.map(String::from).to_vec(),
        pkce_challenge: None,
    }
}

/// Authorize (with PKCE) and exchange: a connected creator.
async fn connect(h: &Harness, t: &TikTok) -> TokenSet {
    authorize_and_exchange(h, t, request("st-1"), Some(Pkce::generate())).await
}

fn post(caption: &str, privacy: Privacy) -> PostMetadata {
    PostMetadata {
        caption: caption.into(),
        title: None,
        privacy,
        cover_timestamp_ms: Some(500),
    }
}

/// Publishes `video`, public, to the simulated creator.
async fn publish_public(
    t: &TikTok,
    token: &str,
    video: &VideoFile,
    caption: &str,
) -> Result<PublishHandle, PlatformError> {
    t.publish(token, OPEN_ID, video, &post(caption, Privacy::Public)).await
}

/// Publishes the good video, public, to the simulated creator.
async fn publish_good(t: &TikTok, tokens: &TokenSet, caption: &str) -> Result<PublishHandle, PlatformError> {
    publish_public(t, &tokens.access_token, &good_video_file().await, caption).await
}

/// The publish's status once processing is over.
async fn settle(h: &Harness, t: &TikTok, token: &str, handle: &PublishHandle) -> PublishStatus {
    status_after(h, t, token, handle, PROCESSING_SECS + 1).await
}

/// Arms a creator_info answer of `status` carrying TikTok's business error `code`.
async fn creator_info_error(h: &Harness, status: u16, code: &str) {
    h.fault(
        "tiktok.creator_info",
        json!({"kind": "status", "status": status,
            "body": {"data": {}, "error": {"code": code, "message": "m", "log_id": "l"}}}),
        1,
    )
    .await;
}

/// Starts a direct-post upload by hand (no adapter): the simulator's JSON answer.
async fn init_by_hand(h: &Harness, token: &str, body: serde_json::Value) -> serde_json::Value {
    let init = crate::http()
        .post(format!("{}/v2/post/publish/video/init/", h.base("tiktok")))
        .bearer_auth(token)
        .json(&body);
    json_answer(init).await
}

#[tokio::test]
async fn tiktok_authorize_url_uses_client_key_comma_scopes_and_pkce() {
    let h = Harness::start().await;
    let t = adapter(&h);
    let url = t
        .authorize_url(&AuthorizeRequest {
            redirect_uri: REDIRECT.into(),
            state: "xyz".into(),
            scopes: vec!["user.info.basic".into(), "video.publish".into()],
            pkce_challenge: Some("challenge".into()),
        })
        .unwrap();
    let url = url::Url::parse(&url).unwrap();
    assert_eq!(url.path(), "/tiktok/v2/auth/authorize/");
    assert_eq!(param(&url, "client_key").as_deref(), Some(CLIENT_KEY));
    assert_eq!(param(&url, "client_id"), None);
    assert_eq!(param(&url, "scope").as_deref(), Some("user.info.basic,video.publish"));
    assert_eq!(param(&url, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&url, "response_type").as_deref(), Some("code"));
}

#[tokio::test]
async fn tiktok_oauth_exchange_profile_and_code_used_once() {
    let h = Harness::start().await;
    let t = adapter(&h);
    let pkce = Pkce::generate();
    let url = t
        .authorize_url(&AuthorizeRequest {
            pkce_challenge: Some(pkce.challenge()),
            ..request("st-9")
        })
        .unwrap();
    let back = h.authorize(&url).await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-9"));
    let code = param(&back, "code").unwrap();
    // A wrong verifier is refused.
    let wrong = t
        .exchange_code(&code, REDIRECT, Some("not-the-verifier"))
        .await
        .unwrap_err();
    assert_error(&wrong, ErrorClass::Permanent, "invalid_request");
    // Codes work once, even after a failed attempt: authorize again.
    let back = h.authorize(&url).await;
    let code = param(&back, "code").unwrap();
    let tokens = t.exchange_code(&code, REDIRECT, Some(&pkce.verifier)).await.unwrap();
    assert!(tokens.access_token.starts_with("act."));
    assert!(tokens.refresh_token.as_deref().unwrap().starts_with("rft."));
    assert_eq!(tokens.access_expires_in_secs, Some(7200));
    assert_eq!(tokens.refresh_expires_in_secs, Some(15_552_000));
    assert_eq!(tokens.subject.as_deref(), Some(OPEN_ID));
    assert_eq!(tokens.scopes.len(), 4);
    let again = t
        .exchange_code(&code, REDIRECT, Some(&pkce.verifier))
        .await
        .unwrap_err();
    assert_error(&again, ErrorClass::Permanent, "invalid_grant");
    // The error never carries the code.
    assert!(!again.to_string().contains(&code));
    let accounts = t.accounts(&tokens.access_token).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].id, OPEN_ID);
    assert_eq!(accounts[0].username, "sim.creator");
}

#[tokio::test]
async fn tiktok_consent_denied_and_unticked_scopes() {
    let h = Harness::start().await;
    let t = adapter(&h);
    let request = request("s");
    h.consent("tiktok", json!({"deny": true})).await;
    let back = h.authorize(&t.authorize_url(&request).unwrap()).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("s"));
    assert_eq!(param(&back, "code"), None);

    h.consent("tiktok", json!({"untick": ["video.publish"]})).await;
    let back = h.authorize(&t.authorize_url(&request).unwrap()).await;
    // Without PKCE (a web app may omit it).
    let tokens = t
        .exchange_code(&param(&back, "code").unwrap(), REDIRECT, None)
        .await
        .unwrap();
    assert!(!tokens.scopes.contains(&"video.publish".to_owned()));
    // Publishing then needs a reconnect.
    let e = publish_good(&t, &tokens, "x").await.unwrap_err();
    assert_error(&e, ErrorClass::AuthRevoked, "scope_not_authorized");
}

#[tokio::test]
async fn tiktok_refresh_rotates_and_old_refresh_token_is_refused() {
    let h = Harness::start().await;
    let t = adapter(&h);
    let first = connect(&h, &t).await;
    let old = first.refresh_token.clone().unwrap();
    let second = t.refresh(&old).await.unwrap();
    let new = second.refresh_token.clone().unwrap();
    assert_ne!(new, old);
    assert_ne!(second.access_token, first.access_token);
    let refused = t.refresh(&old).await.unwrap_err();
    assert_error(&refused, ErrorClass::AuthRevoked, "invalid_grant");
    assert!(!refused.to_string().contains(&old));
    // The new one works (and rotates again).
    let third = t.refresh(&new).await.unwrap();
    assert!(t.accounts(&third.access_token).await.is_ok());
    // A refresh token dies after 180 days.
    h.advance(15_552_001).await;
    let expired = t.refresh(third.refresh_token.as_deref().unwrap()).await.unwrap_err();
    assert_eq!(expired.class, ErrorClass::AuthRevoked);
}

#[tokio::test]
async fn tiktok_access_token_expires_after_two_hours_then_refresh_works() {
    let (h, t, tokens) = connected(adapter, connect).await;
    h.advance(7201).await;
    let e = t.accounts(&tokens.access_token).await.unwrap_err();
    assert_error(&e, ErrorClass::AuthExpired, "access_token_invalid");
    assert!(!e.to_string().contains(&tokens.access_token));
    let fresh = t.refresh(tokens.refresh_token.as_deref().unwrap()).await.unwrap();
    assert!(t.accounts(&fresh.access_token).await.is_ok());
}

#[tokio::test]
async fn tiktok_revoke_kills_access_and_refresh() {
    let (_h, t, tokens) = connected(adapter, connect).await;
    t.revoke(&tokens.access_token).await.unwrap();
    let e = t.accounts(&tokens.access_token).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::AuthRevoked);
    let r = t.refresh(tokens.refresh_token.as_deref().unwrap()).await.unwrap_err();
    assert_eq!(r.class, ErrorClass::AuthRevoked);
}

#[tokio::test]
async fn tiktok_wrong_client_secret_is_permanent() {
    let h = Harness::start().await;
    let mut endpoints = TikTok::real_endpoints(CLIENT_KEY, "wrong");
    let base = h.base("tiktok");
    endpoints.token_base = base.clone();
    endpoints.api_base = base;
    let t = TikTok::new(endpoints);
    let e = t.refresh("rft.whatever").await.unwrap_err();
    assert_error(&e, ErrorClass::Permanent, "invalid_client");
}

#[tokio::test]
async fn tiktok_publish_end_to_end_with_processing_then_metrics_grow() {
    let (h, t, tokens) = connected(adapter, connect).await;
    let video = good_video_file().await;
    let handle = publish_public(&t, &tokens.access_token, &video, "hello #smez @friend")
        .await
        .unwrap();
    assert!(handle.id.starts_with("v_pub_file~"));
    // Processing first.
    let status = t.publish_status(&tokens.access_token, &handle).await.unwrap();
    assert_eq!(
        status,
        PublishStatus::Processing {
            detail: "PROCESSING_UPLOAD".into()
        }
    );
    let PublishStatus::Published { post_id, url } = settle(&h, &t, &tokens.access_token, &handle).await else {
        panic!("not published")
    };
    assert!(post_id.parse::<u64>().is_ok());
    assert_eq!(
        url.unwrap(),
        format!("https://www.tiktok.com/@sim.creator/video/{post_id}")
    );
    let records = h.records().await;
    let posts = posts(&records);
    assert_eq!(posts.len(), 1, "published exactly once");
    assert_eq!(posts[0]["bytes"], video.size());
    assert_eq!(posts[0]["caption"], "hello #smez @friend");
    // One PUT (a small video goes whole), answered 201.
    assert_eq!(put_statuses(&records), [201]);

    let first = t
        .metrics(&tokens.access_token, std::slice::from_ref(&post_id))
        .await
        .unwrap();
    h.advance(3600).await;
    let later = t
        .metrics(&tokens.access_token, std::slice::from_ref(&post_id))
        .await
        .unwrap();
    assert_eq!(later[0].post_id, post_id);
    assert!(later[0].views.unwrap() > first[0].views.unwrap());
    assert!(later[0].likes.unwrap() > 0 && later[0].comments.is_some() && later[0].shares.is_some());
}

#[tokio::test]
async fn tiktok_private_post_has_no_public_id() {
    let (h, t, tokens) = connected(adapter, connect).await;
    let handle = t
        .publish(
            &tokens.access_token,
            OPEN_ID,
            &good_video_file().await,
            &post("private", Privacy::Private),
        )
        .await
        .unwrap();
    let status = settle(&h, &t, &tokens.access_token, &handle).await;
    assert_eq!(
        status,
        PublishStatus::Published {
            post_id: handle.id.clone(),
            url: None
        }
    );
}

#[test]
fn tiktok_chunk_plan_follows_the_media_transfer_rules() {
    let small = ChunkPlan::for_size(4_000_000);
    assert_eq!((small.chunk_size, small.chunk_count), (4_000_000, 1));
    let example = ChunkPlan::for_size(50_000_123);
    assert_eq!((example.chunk_size, example.chunk_count), (10_000_000, 5));
    assert_eq!(example.chunk_at(40_000_000), (40_000_000, 50_000_122));
    let mid = ChunkPlan::for_size(14_000_000);
    assert_eq!((mid.chunk_size, mid.chunk_count), (10_000_000, 1));
    assert_eq!(mid.chunk_at(0), (0, 13_999_999));
    let huge = ChunkPlan::for_size(4 * 1024 * 1024 * 1024);
    assert!(huge.chunk_count <= 1000);
    assert!(huge.video_size - (huge.chunk_count - 1) * huge.chunk_size <= 128 * 1024 * 1024);
}

/// A ~22 MB video: two chunks (10 MB + the rest).
async fn two_chunk_video() -> VideoFile {
    let path = video(
        "tiktok-two-chunks",
        "-f lavfi -i testsrc=size=720x1280:rate=30 -t 6 -c:v libx264 -preset ultrafast -b:v 30M -minrate 30M \
         -maxrate 30M -bufsize 30M -x264-params nal-hrd=cbr -pix_fmt yuv420p",
    )
    .await;
    let video = open_mp4(path).await;
    assert!(video.size() >= 20_000_000, "the test video is {} bytes", video.size());
    video
}

#[tokio::test]
async fn tiktok_chunked_upload_resumes_after_a_dropped_chunk() {
    let (h, t, tokens) = connected(adapter, connect).await;
    let video = two_chunk_video().await;
    // The first chunk PUT is cut mid-way once, then re-sent; the second follows.
    h.fault("tiktok.upload", json!({"kind": "drop"}), 1).await;
    let handle = publish_public(&t, &tokens.access_token, &video, "chunks")
        .await
        .unwrap();
    let status = settle(&h, &t, &tokens.access_token, &handle).await;
    assert_published(&status);
    let records = h.records().await;
    let puts = put_statuses(&records);
    assert_eq!(puts.len(), 3, "{puts:?}");
    assert_eq!(*puts.last().unwrap(), 201);
    assert!(puts.contains(&206));
    assert_eq!(posts(&records).len(), 1);
    assert_eq!(records["posts"][0]["bytes"], video.size());
}

#[tokio::test]
async fn tiktok_upload_that_keeps_failing_is_transient() {
    let (h, t, tokens) = connected(adapter, connect).await;
    h.fault("tiktok.upload", json!({"kind": "drop"}), 10).await;
    let e = publish_good(&t, &tokens, "x").await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(!e.to_string().contains("upload_token"));
}

#[tokio::test]
async fn tiktok_out_of_spec_videos_fail_with_tiktok_reasons() {
    let (h, t, tokens) = connected(adapter, connect).await;
    let cases = [
        (
            "tiktok-15fps",
            "-f lavfi -i testsrc=size=720x1280:rate=15 -t 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p",
            "frame_rate_check_failed",
        ),
        (
            "tiktok-tiny",
            "-f lavfi -i testsrc=size=320x240:rate=30 -t 2 -c:v libx264 -preset ultrafast -pix_fmt yuv420p",
            "picture_size_check_failed",
        ),
        (
            "tiktok-mpeg4",
            "-f lavfi -i testsrc=size=720x1280:rate=30 -t 2 -c:v mpeg4",
            "file_format_check_failed",
        ),
    ];
    for (i, (name, args, reason)) in cases.into_iter().enumerate() {
        let file = open_mp4(video(name, args).await).await;
        let handle = publish_public(&t, &tokens.access_token, &file, &format!("bad {i}"))
            .await
            .unwrap();
        let status = settle(&h, &t, &tokens.access_token, &handle).await;
        assert_eq!(
            status,
            PublishStatus::Failed {
                error: reason.into(),
                class: ErrorClass::InvalidMedia
            },
            "{name}"
        );
    }
    // Bytes that are no video at all.
    let junk = std::env::temp_dir().join(format!("smez-tiktok-junk-{}.mp4", uuid::Uuid::new_v4().simple()));
    std::fs::write(&junk, vec![7u8; 100_000]).unwrap();
    let file = open_mp4(&junk).await;
    let handle = publish_public(&t, &tokens.access_token, &file, "junk").await.unwrap();
    let status = settle(&h, &t, &tokens.access_token, &handle).await;
    std::fs::remove_file(&junk).unwrap();
    assert!(
        matches!(status, PublishStatus::Failed { ref error, class: ErrorClass::InvalidMedia } if error == "file_format_check_failed")
    );
    assert!(posts(&h.records().await).is_empty());
}

#[tokio::test]
async fn tiktok_adapter_respects_the_creator_max_duration() {
    let (h, t, tokens) = connected(adapter, connect).await;
    // 181 s at 1 fps: over the creator's 180 s.
    let long = video(
        "tiktok-181s",
        "-f lavfi -i testsrc=size=360x640:rate=1 -t 181 -c:v libx264 -preset ultrafast -pix_fmt yuv420p",
    )
    .await;
    let file = open_mp4(long).await;
    let e = publish_public(&t, &tokens.access_token, &file, "long")
        .await
        .unwrap_err();
    assert_error(&e, ErrorClass::InvalidMedia, "duration_check_failed");
    assert_eq!(
        requests_to(&h.records().await, "/video/init/"),
        0,
        "refused before init"
    );
}

#[tokio::test]
async fn tiktok_title_over_2200_utf16_units_is_invalid_metadata() {
    let (_h, t, tokens) = connected(adapter, connect).await;
    // 1101 emoji = 2202 UTF-16 units (but only 1101 chars).
    let caption = "😀".repeat(1101);
    let e = publish_good(&t, &tokens, &caption).await.unwrap_err();
    assert_error(&e, ErrorClass::InvalidMetadata, "invalid_param");
    assert_eq!(e.field.as_deref(), Some("title"));
    // 1100 emoji = 2200 units: accepted.
    let ok = "😀".repeat(1100);
    publish_good(&t, &tokens, &ok).await.unwrap();
}

#[tokio::test]
async fn tiktok_privacy_not_offered_is_invalid_metadata() {
    let (h, t, tokens) = connected(adapter, connect).await;
    // The simulated creator is a public account: no FOLLOWER_OF_CREATOR, so followers-only maps to mutual friends.
    h.fault(
        "tiktok.creator_info",
        json!({"kind": "status", "status": 200, "body": {
            "data": {"privacy_level_options": ["SELF_ONLY"], "max_video_post_duration_sec": 180},
            "error": {"code": "ok", "message": "", "log_id": "x"}}}),
        1,
    )
    .await;
    let e = publish_good(&t, &tokens, "x").await.unwrap_err();
    assert_eq!(e.class, ErrorClass::InvalidMetadata);
    assert_eq!(e.field.as_deref(), Some("privacy_level"));
    assert_eq!(requests_to(&h.records().await, "/video/init/"), 0);
}

#[tokio::test]
async fn tiktok_init_rate_limit_is_six_per_minute() {
    let (h, t, tokens) = connected(adapter, connect).await;
    let video = good_video_file().await;
    for i in 0..6 {
        publish_public(&t, &tokens.access_token, &video, &format!("n{i}"))
            .await
            .unwrap();
    }
    let e = publish_public(&t, &tokens.access_token, &video, "n6")
        .await
        .unwrap_err();
    assert_error(&e, ErrorClass::RateLimited, "rate_limit_exceeded");
    let after = e.retry_after.unwrap().as_secs();
    assert!((1..=60).contains(&after), "{after}");
    h.advance(after as i64 + 1).await;
    publish_public(&t, &tokens.access_token, &video, "n7").await.unwrap();
}

#[tokio::test]
async fn tiktok_daily_cap_is_quota_exhausted_with_http_200() {
    let (h, t, tokens) = connected(adapter, connect).await;
    let video = good_video_file().await;
    for i in 0..smez_platform_sim::tiktok::DAILY_POST_CAP {
        if i > 0 && i % 6 == 0 {
            h.advance(61).await;
        }
        publish_public(&t, &tokens.access_token, &video, &format!("p{i}"))
            .await
            .unwrap();
    }
    h.advance(61).await;
    let e = publish_public(&t, &tokens.access_token, &video, "one too many")
        .await
        .unwrap_err();
    assert_error(&e, ErrorClass::QuotaExhausted, "spam_risk_too_many_posts");
    assert!(e.reset_at.unwrap() > chrono::Utc::now());
    // It came with HTTP 200, as TikTok does.
    let records = h.records().await;
    let last = requests(&records)
        .iter()
        .rev()
        .find(|r| r["path"].as_str().unwrap().ends_with("/creator_info/query/"))
        .unwrap()
        .clone();
    assert_eq!(last["status"], 200);
    // A day later the cap has rolled over.
    h.advance(86_400).await;
    let fresh = t.refresh(tokens.refresh_token.as_deref().unwrap()).await.unwrap();
    publish_public(&t, &fresh.access_token, &video, "next day")
        .await
        .unwrap();
}

#[tokio::test]
async fn tiktok_server_errors_and_dropped_connections_are_transient() {
    let (h, t, tokens) = connected(adapter, connect).await;
    creator_info_error(&h, 500, "internal_error").await;
    let e = publish_good(&t, &tokens, "x").await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    h.fault(
        "tiktok.status",
        json!({"kind": "status", "status": 503, "body": "unavailable"}),
        1,
    )
    .await;
    let handle = PublishHandle {
        id: "v_pub_file~v2-1.1".into(),
        account_id: OPEN_ID.into(),
    };
    let e = t.publish_status(&tokens.access_token, &handle).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    h.fault("tiktok.status", json!({"kind": "drop"}), 1).await;
    let e = t.publish_status(&tokens.access_token, &handle).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(!e.to_string().contains(&tokens.access_token));
    // Unknown publish ids are permanent.
    let e = t.publish_status(&tokens.access_token, &handle).await.unwrap_err();
    assert_error(&e, ErrorClass::Permanent, "invalid_publish_id");
}

#[tokio::test]
async fn tiktok_upload_url_expires_after_an_hour() {
    let (h, _t, tokens) = connected(adapter, connect).await;
    // Init by hand, let the hour pass, then PUT.
    let init = init_by_hand(
        &h,
        &tokens.access_token,
        json!({"post_info": {"privacy_level": "SELF_ONLY", "title": "t"},
            "source_info": {"source": "FILE_UPLOAD", "video_size": 10, "chunk_size": 10, "total_chunk_count": 1}}),
    )
    .await;
    assert_eq!(init["error"]["code"], "ok");
    let upload_url = init["data"]["upload_url"].as_str().unwrap();
    h.advance(3601).await;
    let put = crate::http()
        .put(upload_url)
        .header("content-type", "video/mp4")
        .header("content-range", "bytes 0-9/10")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 403);
    // A plan that breaks the chunk rules is refused with invalid_param.
    let bad = init_by_hand(
        &h,
        &tokens.access_token,
        json!({"post_info": {"privacy_level": "SELF_ONLY"},
            "source_info": {"source": "FILE_UPLOAD", "video_size": 50_000_123u64, "chunk_size": 1_000_000, "total_chunk_count": 50}}),
    )
    .await;
    assert_eq!(bad["error"]["code"], "invalid_param");
}

#[tokio::test]
async fn tiktok_comments_are_not_offered_and_no_request_is_made() {
    let h = Harness::start().await;
    let t = adapter(&h);
    let before = requests(&h.records().await).len();
    let e = t.comments("act.any", "7300000000000000001", None).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert_eq!(requests(&h.records().await).len(), before);
}

#[tokio::test]
async fn tiktok_sim_checks_duration_from_the_bytes() {
    let (h, t, tokens) = connected(adapter, connect).await;
    // A WebM (the adapter cannot read its duration, so the platform decides): 181 s at 1 fps.
    let long = video(
        "tiktok-181s-webm",
        "-f lavfi -i testsrc=size=360x640:rate=1 -t 181 -c:v libvpx -deadline realtime -cpu-used 8 -b:v 50k -f webm",
    )
    .await;
    let file = VideoFile::open(long, "video/webm").await.unwrap();
    let handle = publish_public(&t, &tokens.access_token, &file, "long").await.unwrap();
    let status = settle(&h, &t, &tokens.access_token, &handle).await;
    assert_eq!(
        status,
        PublishStatus::Failed {
            error: "duration_check_failed".into(),
            class: ErrorClass::InvalidMedia
        }
    );
}

#[tokio::test]
async fn tiktok_sim_upload_protocol_206_201_416_and_temp_file_removed() {
    let (h, t, tokens) = connected(adapter, connect).await;
    let http = crate::http();
    let total = 12_000_000u64;
    let init = init_by_hand(
        &h,
        &tokens.access_token,
        json!({"post_info": {"privacy_level": "SELF_ONLY", "title": "t"},
            "source_info": {"source": "FILE_UPLOAD", "video_size": total, "chunk_size": 5_000_000, "total_chunk_count": 2}}),
    )
    .await;
    let upload_url = url::Url::parse(init["data"]["upload_url"].as_str().unwrap()).unwrap();
    let upload_id = upload_url.path().rsplit('/').next().unwrap().to_owned();
    let temp = std::env::temp_dir().join(format!("smez-sim-tiktok-{upload_id}.upload"));
    let put = |first: u64, last: u64| {
        http.put(upload_url.clone())
            .header("content-type", "video/mp4")
            .header("content-range", format!("bytes {first}-{last}/{total}"))
            .body(vec![0u8; (last - first + 1) as usize])
            .send()
    };
    // Out of order: 416.
    assert_eq!(put(5_000_000, total - 1).await.unwrap().status().as_u16(), 416);
    let first = put(0, 4_999_999).await.unwrap();
    assert_eq!(first.status().as_u16(), 206);
    assert_eq!(first.headers()["content-range"], "bytes 0-4999999/12000000");
    assert!(temp.is_file());
    assert_eq!(put(5_000_000, total - 1).await.unwrap().status().as_u16(), 201);
    assert!(!temp.exists(), "the upload's temp file is deleted once processed");
    // Zeros are no video.
    let handle = PublishHandle {
        id: init["data"]["publish_id"].as_str().unwrap().into(),
        account_id: OPEN_ID.into(),
    };
    let status = settle(&h, &t, &tokens.access_token, &handle).await;
    assert!(matches!(
        status,
        PublishStatus::Failed {
            class: ErrorClass::InvalidMedia,
            ..
        }
    ));
}

#[tokio::test]
async fn tiktok_status_fetch_rate_limit_is_thirty_per_minute() {
    let (_h, t, tokens) = connected(adapter, connect).await;
    let handle = publish_good(&t, &tokens, "poll").await.unwrap();
    for _ in 0..30 {
        t.publish_status(&tokens.access_token, &handle).await.unwrap();
    }
    let e = t.publish_status(&tokens.access_token, &handle).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited);
    assert!(e.retry_after.is_some());
}

#[tokio::test]
async fn tiktok_business_error_codes_map_to_classes() {
    let (h, t, tokens) = connected(adapter, connect).await;
    let cases = [
        (200, "spam_risk_user_banned_from_posting", ErrorClass::Permanent),
        (200, "reached_active_user_cap", ErrorClass::QuotaExhausted),
        (401, "scope_permission_missed", ErrorClass::AuthRevoked),
        (
            403,
            "unaudited_client_can_only_post_to_private_accounts",
            ErrorClass::Permanent,
        ),
        (429, "rate_limit_exceeded", ErrorClass::RateLimited),
        (500, "internal_error", ErrorClass::Transient),
    ];
    for (status, code, class) in cases {
        creator_info_error(&h, status, code).await;
        let e = publish_good(&t, &tokens, "x").await.unwrap_err();
        assert_error(&e, class, code);
    }
    // An init refused for its metadata names the field.
    h.fault(
        "tiktok.init",
        json!({"kind": "status", "status": 400,
            "body": {"data": {}, "error": {"code": "invalid_param", "message": "post_info.video_cover_timestamp_ms is invalid", "log_id": "l"}}}),
        1,
    )
    .await;
    let e = publish_good(&t, &tokens, "x").await.unwrap_err();
    assert_eq!(e.class, ErrorClass::InvalidMetadata);
    assert_eq!(e.field.as_deref(), Some("video_cover_timestamp_ms"));
    assert_eq!(posts(&h.records().await).len(), 0);
}

#[tokio::test]
async fn tiktok_lost_answer_to_the_last_chunk_is_not_a_second_upload() {
    let (h, t, tokens) = connected(adapter, connect).await;
    let video = good_video_file().await;
    // TikTok took the last (here: only) chunk and closed the task; its answer never arrived.
    h.lose_answer("PUT", "/tiktok/upload/", 0).await;
    let handle = publish_public(&t, &tokens.access_token, &video, "once").await.unwrap();
    assert!(matches!(
        settle(&h, &t, &tokens.access_token, &handle).await,
        PublishStatus::Published { .. }
    ));
    assert_eq!(posts(&h.records().await).len(), 1, "published exactly once");
}
