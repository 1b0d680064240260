//! Instagram contract tests: the adapter against the simulator, every flow
//! and every failure class.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use smez_platform_sim::instagram::{CLIENT_ID, CLIENT_SECRET, PROCESSING_SECS, USER_ID, USERNAME};
use smez_platforms::instagram::Instagram;
use smez_platforms::{
    AuthorizeRequest, ErrorClass, PlatformAdapter, PostMetadata, Privacy, PublishHandle, PublishStatus, TokenSet,
};

use crate::support::{
    assert_error, assert_published, authorize_and_exchange, connected, good_video_file, open_mp4, posts, requests,
    sim_endpoints, status_after,
};
use crate::{Harness, good_vertical_video, json_answer, param, video};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const ALL_SCOPES: [&str; 4] = [
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_comments",
    "instagram_business_manage_insights",
];

fn adapter(h: &Harness) -> Instagram {
    Instagram::new(sim_endpoints(h, "instagram", CLIENT_ID, CLIENT_SECRET))
}

async fn setup() -> (Harness, Instagram) {
    let h = Harness::start().await;
    let ig = adapter(&h);
    (h, ig)
}

fn request(scopes: &[&str]) -> AuthorizeRequest {
    AuthorizeRequest {
        redirect_uri: REDIRECT.into(),
        state: "st-123".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        pkce_challenge: None,
    }
}

/// Authorize (consenting) and exchange the code.
async fn login(h: &Harness, ig: &Instagram) -> TokenSet {
    authorize_and_exchange(h, ig, request(&ALL_SCOPES), None).await
}

fn post(caption: &str) -> PostMetadata {
    PostMetadata {
        caption: caption.into(),
        title: None,
        privacy: Privacy::Public,
        cover_timestamp_ms: Some(500),
    }
}

/// The publish's status once the container's processing time has passed.
async fn after_processing(h: &Harness, ig: &Instagram, token: &str, handle: &PublishHandle) -> PublishStatus {
    status_after(h, ig, token, handle, PROCESSING_SECS + 1).await
}

/// Publishes the good video and waits (on the simulated clock) until live.
async fn publish_live(h: &Harness, ig: &Instagram, token: &str, caption: &str) -> (PublishHandle, String) {
    let video = good_video_file().await;
    let handle = ig
        .publish(token, USER_ID, &video, &post(caption))
        .await
        .expect("publish");
    match after_processing(h, ig, token, &handle).await {
        PublishStatus::Published { post_id, .. } => (handle, post_id),
        other => panic!("not published: {other:?}"),
    }
}

/// Creates a resumable Reels container by hand (no adapter), with `extra` form fields: the Graph API's JSON answer.
async fn container_by_hand(h: &Harness, token: &str, extra: &[(&str, &str)]) -> Value {
    let mut form = vec![("media_type", "REELS"), ("upload_type", "resumable")];
    form.extend_from_slice(extra);
    let create = crate::http()
        .post(format!("{}/v25.0/{USER_ID}/media", h.base("instagram")))
        .bearer_auth(token)
        .form(&form);
    json_answer(create).await
}

/// A rupload POST of a container's bytes from `offset`, declaring the whole `file_size`.
fn rupload(http: &reqwest::Client, uri: &str, token: &str, offset: u64, file_size: u64) -> reqwest::RequestBuilder {
    http.post(uri)
        .header("authorization", format!("OAuth {token}"))
        .header("offset", offset.to_string())
        .header("file_size", file_size.to_string())
}

fn graph_error(code: i64, subcode: Option<i64>, message: &str) -> Value {
    let mut error = json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Atest"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    json!({ "kind": "status", "status": 400, "body": { "error": error } })
}

// ------------------------------------------------------------------ OAuth

#[tokio::test]
async fn instagram_oauth_code_exchange_gives_a_long_lived_token() {
    let (h, ig) = setup().await;
    let url = ig.authorize_url(&request(&ALL_SCOPES)).unwrap();
    assert!(url.contains("/oauth/authorize?"), "{url}");
    assert!(url.contains("response_type=code"), "{url}");
    assert!(
        url.contains("scope=instagram_business_basic%2Cinstagram_business_content_publish"),
        "{url}"
    );
    let back = h.authorize(&url).await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(back.fragment(), Some("_"), "Instagram appends #_");
    let code = param(&back, "code").unwrap();
    // A code copied with its `#_` suffix still works.
    let tokens = ig.exchange_code(&format!("{code}#_"), REDIRECT, None).await.unwrap();
    assert_eq!(tokens.subject.as_deref(), Some(USER_ID));
    assert_eq!(tokens.scopes, ALL_SCOPES.map(String::from).to_vec());
    assert_eq!(tokens.access_expires_in_secs, Some(60 * 86_400));
    assert_eq!(tokens.refresh_token.as_deref(), Some(tokens.access_token.as_str()));
    // The sim issued a code, a short-lived and a long-lived token: the adapter kept the long-lived one.
    let records = h.records().await;
    let issued: Vec<&str> = records["issued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(issued, ["code", "access_token", "access_token"]);
    assert_eq!(records["issued"][2]["value"], tokens.access_token.as_str());
    // A code works once.
    let again = ig.exchange_code(&code, REDIRECT, None).await.unwrap_err();
    assert_eq!(again.class, ErrorClass::Permanent);
    assert!(again.message.contains("has been used"), "{}", again.message);
    assert!(!again.message.contains(&tokens.access_token));
}

#[tokio::test]
async fn instagram_consent_denied_redirects_with_an_error() {
    let (h, ig) = setup().await;
    h.consent("instagram", json!({"deny": true})).await;
    let back = h.authorize(&ig.authorize_url(&request(&ALL_SCOPES)).unwrap()).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&back, "code"), None);
}

#[tokio::test]
async fn instagram_unticked_publish_scope_is_reported_and_refused() {
    let (h, ig) = setup().await;
    h.consent("instagram", json!({"untick": ["instagram_business_content_publish"]}))
        .await;
    let tokens = login(&h, &ig).await;
    assert!(!tokens.scopes.iter().any(|s| s == "instagram_business_content_publish"));
    assert_eq!(ig.accounts(&tokens.access_token).await.unwrap().len(), 1);
    let video = good_video_file().await;
    let e = ig
        .publish(&tokens.access_token, USER_ID, &video, &post("hi"))
        .await
        .unwrap_err();
    assert_error(&e, ErrorClass::AuthRevoked, "200");
}

#[tokio::test]
async fn instagram_refresh_needs_a_day_old_token_and_returns_a_new_string() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let old = tokens.refresh_token.clone().unwrap();
    let early = ig.refresh(&old).await.unwrap_err();
    assert_eq!(early.class, ErrorClass::Permanent);
    assert!(early.message.contains("24 hours"), "{}", early.message);
    h.advance(24 * 3600 + 1).await;
    let refreshed = ig.refresh(&old).await.unwrap();
    assert_ne!(refreshed.access_token, old, "a new string");
    assert_eq!(
        refreshed.refresh_token.as_deref(),
        Some(refreshed.access_token.as_str())
    );
    assert_eq!(refreshed.access_expires_in_secs, Some(60 * 86_400));
    // The old string stays valid until its own expiry, then only the new one works.
    assert!(ig.accounts(&old).await.is_ok());
    h.advance(59 * 86_400).await;
    assert_eq!(ig.accounts(&old).await.unwrap_err().class, ErrorClass::AuthExpired);
    assert!(ig.accounts(&refreshed.access_token).await.is_ok());
}

#[tokio::test]
async fn instagram_expired_token_is_auth_expired_and_cannot_be_refreshed() {
    let (h, ig, tokens) = connected(adapter, login).await;
    h.advance(60 * 86_400 + 1).await;
    let e = ig.accounts(&tokens.access_token).await.unwrap_err();
    assert_error(&e, ErrorClass::AuthExpired, "190/463");
    assert!(!e.to_string().contains(&tokens.access_token));
    // An expired long-lived token cannot be refreshed: the user must reconnect.
    let e = ig.refresh(&tokens.access_token).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::AuthRevoked);
}

#[tokio::test]
async fn instagram_revoke_makes_every_token_auth_revoked() {
    let (h, ig, tokens) = connected(adapter, login).await;
    ig.revoke(&tokens.access_token).await.unwrap();
    let e = ig.accounts(&tokens.access_token).await.unwrap_err();
    assert_error(&e, ErrorClass::AuthRevoked, "190/458");
    h.advance(25 * 3600).await;
    assert_eq!(
        ig.refresh(&tokens.access_token).await.unwrap_err().class,
        ErrorClass::AuthRevoked
    );
    // A new login works again.
    let again = login(&h, &ig).await;
    assert!(ig.accounts(&again.access_token).await.is_ok());
}

#[tokio::test]
async fn instagram_login_holds_one_account() {
    let (h, ig) = setup().await;
    h.consent("instagram", json!({"accounts": 3})).await;
    let tokens = login(&h, &ig).await;
    let accounts = ig.accounts(&tokens.access_token).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].id, USER_ID);
    assert_eq!(accounts[0].username, USERNAME);
    assert!(accounts[0].avatar_url.is_some());
}

// ------------------------------------------------------------------ publishing

#[tokio::test]
async fn instagram_publish_processes_then_goes_live_exactly_once() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let token = tokens.access_token.as_str();
    let video = good_video_file().await;
    let handle = ig
        .publish(token, USER_ID, &video, &post("First reel #smez"))
        .await
        .unwrap();
    assert_eq!(handle.account_id, USER_ID);
    match ig.publish_status(token, &handle).await.unwrap() {
        PublishStatus::Processing { detail } => assert!(detail.contains("In Progress"), "{detail}"),
        other => panic!("{other:?}"),
    }
    let PublishStatus::Published { post_id, url } = after_processing(&h, &ig, token, &handle).await else {
        panic!("not published");
    };
    assert!(url.unwrap().starts_with("https://www.instagram.com/reel/"));
    // Asking again never calls media_publish again (Meta does not promise it
    // is idempotent): the container is PUBLISHED and its media id is the one
    // already received, so the answer says so instead of publishing twice.
    assert!(!post_id.is_empty());
    let again = ig.publish_status(token, &handle).await.unwrap();
    assert!(
        matches!(&again, PublishStatus::Unconfirmed { detail } if detail.contains("published")),
        "{again:?}"
    );
    let records = h.records().await;
    let posts = posts(&records);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["post_id"], post_id.as_str());
    assert_eq!(posts[0]["caption"], "First reel #smez");
    assert_eq!(posts[0]["bytes"], video.size());
    // The uploaded bytes were deleted after probing.
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name == format!("smez-sim-instagram-{}-{}.upload", h.sim.addr.port(), handle.id)
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[tokio::test]
async fn instagram_container_in_progress_at_publish_is_retried_after_the_wait() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let token = tokens.access_token.as_str();
    let video = good_video_file().await;
    let handle = ig.publish(token, USER_ID, &video, &post("wait for it")).await.unwrap();
    h.advance(PROCESSING_SECS + 1).await;
    // FINISHED, yet media_publish answers "not ready" (seen just after FINISHED).
    h.fault(
        "instagram.publish",
        graph_error(9007, Some(2207027), "Media ID is not available"),
        1,
    )
    .await;
    match ig.publish_status(token, &handle).await.unwrap() {
        PublishStatus::Processing { detail } => assert!(detail.contains("not ready"), "{detail}"),
        other => panic!("{other:?}"),
    }
    h.advance(60).await;
    assert_published(&ig.publish_status(token, &handle).await.unwrap());
    assert_eq!(posts(&h.records().await).len(), 1);
}

#[tokio::test]
async fn instagram_publishing_too_early_gets_the_graph_not_ready_error() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let video = good_video_file().await;
    let handle = ig
        .publish(&tokens.access_token, USER_ID, &video, &post("x"))
        .await
        .unwrap();
    // media_publish straight away, as a careless client would.
    let response = crate::http()
        .post(format!("{}/v25.0/{USER_ID}/media_publish", h.base("instagram")))
        .bearer_auth(&tokens.access_token)
        .query(&[("creation_id", handle.id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 9007);
    assert_eq!(body["error"]["error_subcode"], 2207027);
    assert!(body["error"]["fbtrace_id"].is_string());
}

#[tokio::test]
async fn instagram_upload_dropped_is_resumed_from_the_server_offset() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let token = tokens.access_token.as_str();
    h.fault("instagram.upload", json!({"kind": "drop"}), 1).await;
    let video = good_video_file().await;
    let handle = ig.publish(token, USER_ID, &video, &post("resumed")).await.unwrap();
    let records = h.records().await;
    let uploads: Vec<&Value> = requests(&records)
        .iter()
        .filter(|r| r["path"].as_str().unwrap().contains("/rupload/"))
        .collect();
    let methods: Vec<&str> = uploads.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["POST", "GET", "POST"], "upload, offset query, resume");
    assert_published(&after_processing(&h, &ig, token, &handle).await);
}

#[tokio::test]
async fn instagram_container_expires_after_24_hours() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let video = good_video_file().await;
    let handle = ig
        .publish(&tokens.access_token, USER_ID, &video, &post("late"))
        .await
        .unwrap();
    h.advance(24 * 3600).await;
    match ig.publish_status(&tokens.access_token, &handle).await.unwrap() {
        PublishStatus::Failed { error, class } => {
            assert!(error.starts_with("Expired"), "{error}");
            assert_eq!(class, ErrorClass::Transient);
        }
        other => panic!("{other:?}"),
    }
    assert!(posts(&h.records().await).is_empty());
}

/// Publishes `path`, waits out processing and returns the failure reason.
async fn rejected(path: PathBuf) -> String {
    let (h, ig, tokens) = connected(adapter, login).await;
    let video = open_mp4(path).await;
    let handle = ig
        .publish(&tokens.access_token, USER_ID, &video, &post("bad"))
        .await
        .unwrap();
    match after_processing(&h, &ig, &tokens.access_token, &handle).await {
        PublishStatus::Failed { error, class } => {
            assert_eq!(class, ErrorClass::InvalidMedia, "{error}");
            assert!(error.contains("2207026"), "{error}");
            error
        }
        other => panic!("{other:?}"),
    }
}

/// H.264 as Instagram wants it.
const H264: &str = "libx264 -preset ultrafast -pix_fmt yuv420p";

/// A test-pattern MP4 with 48 kHz AAC audio, made by ffmpeg (cached under `name`): `size` and `fps` of the
/// picture, `secs` long, `codec` the video codec and its options, the moov atom first when `faststart`.
/// Each rejection test bends one of these past Instagram's rules.
async fn reel(name: &str, size: &str, fps: u32, secs: u32, codec: &str, faststart: bool) -> PathBuf {
    let audio = "-f lavfi -i sine=frequency=440:sample_rate=48000 -c:a aac";
    let movflags = if faststart { "-movflags +faststart" } else { "" };
    let args =
        format!("-f lavfi -i testsrc=size={size}:rate={fps} {audio} -t {secs} -c:v {codec} {movflags} -shortest");
    video(name, &args).await
}

#[tokio::test]
async fn instagram_rejects_a_low_frame_rate() {
    let reason = rejected(reel("ig-15fps", "540x960", 15, 4, H264, true).await).await;
    assert!(reason.contains("Frame rate"), "{reason}");
}

#[tokio::test]
async fn instagram_rejects_a_wrong_codec() {
    let reason = rejected(reel("ig-mpeg4", "540x960", 30, 4, "mpeg4", true).await).await;
    assert!(reason.contains("codec mpeg4"), "{reason}");
}

#[tokio::test]
async fn instagram_rejects_too_short_and_too_wide_videos() {
    let reason = rejected(reel("ig-2s", "540x960", 30, 2, H264, true).await).await;
    assert!(reason.contains("Duration"), "{reason}");
    let reason = rejected(reel("ig-2000w", "2000x400", 30, 4, H264, true).await).await;
    assert!(reason.contains("Width 2000"), "{reason}");
}

#[tokio::test]
async fn instagram_rejects_moov_at_the_end_and_non_videos() {
    let reason = rejected(reel("ig-moov-last", "540x960", 30, 4, H264, false).await).await;
    assert!(reason.contains("moov"), "{reason}");
    let junk = std::env::temp_dir().join(format!("ig-junk-{}.mp4", std::process::id()));
    std::fs::write(&junk, vec![7u8; 4096]).unwrap();
    let reason = rejected(junk.clone()).await;
    assert!(reason.contains("not an MP4"), "{reason}");
    let _ = std::fs::remove_file(junk);
}

#[tokio::test]
async fn instagram_rejects_audio_above_48_khz() {
    let args = "-f lavfi -i testsrc=size=540x960:rate=30 -f lavfi -i sine=frequency=440:sample_rate=96000 -c:a aac -ar 96000 \
                -t 4 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -movflags +faststart -shortest";
    let reason = rejected(video("ig-96khz", args).await).await;
    assert!(reason.contains("48 kHz"), "{reason}");
}

#[tokio::test]
async fn instagram_caption_rules_are_invalid_metadata() {
    let (_h, ig, tokens) = connected(adapter, login).await;
    let video = good_video_file().await;
    // 2200 characters (multi-byte ones count once) pass the length rule.
    let ok = "é".repeat(2200);
    assert!(
        ig.publish(&tokens.access_token, USER_ID, &video, &post(&ok))
            .await
            .is_ok()
    );
    let hashtags = (0..31).map(|i| format!("#tag{i}")).collect::<Vec<_>>().join(" ");
    let mentions = (0..21).map(|i| format!("@user{i}")).collect::<Vec<_>>().join(" ");
    for (caption, needle) in [
        ("é".repeat(2201), "too long"),
        (hashtags, "hashtags"),
        (mentions, "mentions"),
    ] {
        let e = ig
            .publish(&tokens.access_token, USER_ID, &video, &post(&caption))
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::InvalidMetadata, "{e}");
        assert_eq!(e.field.as_deref(), Some("caption"));
        assert!(e.message.contains(needle), "{}", e.message);
    }
    // Thirty hashtags and twenty mentions are fine.
    let fine = (0..30)
        .map(|i| format!("#t{i}"))
        .chain((0..20).map(|i| format!("@u{i}")))
        .collect::<Vec<_>>();
    assert!(
        ig.publish(&tokens.access_token, USER_ID, &video, &post(&fine.join(" ")))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn instagram_publishing_limit_is_a_rolling_24h_quota() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let token = tokens.access_token.as_str();
    let video = good_video_file().await;
    let mut handles = Vec::new();
    for i in 0..51 {
        handles.push(
            ig.publish(token, USER_ID, &video, &post(&format!("post {i}")))
                .await
                .unwrap(),
        );
    }
    h.advance(PROCESSING_SECS + 1).await;
    for handle in &handles[..50] {
        assert_published(&ig.publish_status(token, handle).await.unwrap());
    }
    // The 51st: the platform refuses with 9 / 2207042.
    let e = ig.publish_status(token, &handles[50]).await.unwrap_err();
    assert_error(&e, ErrorClass::QuotaExhausted, "9/2207042");
    assert!(e.reset_at.unwrap() > chrono::Utc::now() + chrono::Duration::hours(23));
    // And a new publish is refused before uploading, from content_publishing_limit.
    let e = ig.publish(token, USER_ID, &video, &post("one more")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::QuotaExhausted);
    assert!(e.reset_at.is_some());
    // The window rolls: a day later a new post goes through.
    h.advance(24 * 3600).await;
    let fresh = ig.publish(token, USER_ID, &video, &post("next day")).await.unwrap();
    assert_published(&after_processing(&h, &ig, token, &fresh).await);
}

// ------------------------------------------------------------------ failure classes by injection

#[tokio::test]
async fn instagram_rate_limit_codes_are_rate_limited_with_a_wait() {
    let (h, ig, tokens) = connected(adapter, login).await;
    for code in [4, 17, 32, 613] {
        h.fault(
            "instagram.me",
            graph_error(code, None, "(#4) Application request limit reached"),
            1,
        )
        .await;
        let e = ig.accounts(&tokens.access_token).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::RateLimited, "code {code}");
        assert_eq!(e.retry_after, Some(Duration::from_secs(60)));
    }
}

#[tokio::test]
async fn instagram_business_use_case_limit_says_when_to_retry() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let limit = smez_platform_sim::instagram::API_CALLS_PER_HOUR;
    for _ in 0..limit {
        ig.accounts(&tokens.access_token).await.unwrap();
    }
    let e = ig.accounts(&tokens.access_token).await.unwrap_err();
    assert_error(&e, ErrorClass::RateLimited, "80002");
    assert_eq!(e.retry_after, Some(Duration::from_secs(3600)));
    h.advance(3601).await;
    assert!(ig.accounts(&tokens.access_token).await.is_ok());
}

#[tokio::test]
async fn instagram_quota_code_9_is_quota_exhausted_with_a_reset_time() {
    let (h, ig, tokens) = connected(adapter, login).await;
    h.fault("instagram.me", graph_error(9, Some(2207042), "limit"), 1).await;
    let e = ig.accounts(&tokens.access_token).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::QuotaExhausted);
    assert!(e.reset_at.is_some());
}

#[tokio::test]
async fn instagram_server_errors_and_dropped_connections_are_transient() {
    let (h, ig, tokens) = connected(adapter, login).await;
    for fault in [
        graph_error(2, None, "Service temporarily unavailable"),
        graph_error(1, None, "An unknown error occurred"),
        json!({"kind": "status", "status": 503, "body": {}}),
        json!({"kind": "drop"}),
    ] {
        h.fault("instagram.me", fault.clone(), 1).await;
        let e = ig.accounts(&tokens.access_token).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Transient, "{fault}");
    }
}

#[tokio::test]
async fn instagram_unknown_objects_are_permanent() {
    let (_h, ig, tokens) = connected(adapter, login).await;
    let handle = PublishHandle {
        id: "999".into(),
        account_id: USER_ID.into(),
    };
    let e = ig.publish_status(&tokens.access_token, &handle).await.unwrap_err();
    assert_error(&e, ErrorClass::Permanent, "100/33");
}

#[tokio::test]
async fn instagram_media_error_codes_are_invalid_media() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let video = good_video_file().await;
    h.fault(
        "instagram.create_container",
        graph_error(352, Some(2207026), "The video format is not supported"),
        1,
    )
    .await;
    let e = ig
        .publish(&tokens.access_token, USER_ID, &video, &post("x"))
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::InvalidMedia);
    assert!(e.message.contains("not supported"));
}

// ------------------------------------------------------------------ metrics and comments

#[tokio::test]
async fn instagram_metrics_grow_with_time() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let token = tokens.access_token.as_str();
    let (_, post_id) = publish_live(&h, &ig, token, "metrics").await;
    let at_start = ig.metrics(token, std::slice::from_ref(&post_id)).await.unwrap();
    assert_eq!(at_start[0].views, Some(0));
    h.advance(3600).await;
    let hour = ig
        .metrics(token, std::slice::from_ref(&post_id))
        .await
        .unwrap()
        .remove(0);
    h.advance(23 * 3600).await;
    let day = ig
        .metrics(token, std::slice::from_ref(&post_id))
        .await
        .unwrap()
        .remove(0);
    assert!(hour.views.unwrap() > 0);
    for (a, b) in [
        (hour.views, day.views),
        (hour.likes, day.likes),
        (hour.comments, day.comments),
        (hour.shares, day.shares),
        (hour.saves, day.saves),
        (hour.reach, day.reach),
        (hour.watch_time_secs, day.watch_time_secs),
    ] {
        assert!(b.unwrap() > a.unwrap(), "{a:?} → {b:?}");
    }
    assert!(day.raw["data"].is_array());
}

#[tokio::test]
async fn instagram_deprecated_metrics_are_refused_and_few_viewers_means_unknown() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let token = tokens.access_token.as_str();
    let (_, post_id) = publish_live(&h, &ig, token, "old metrics").await;
    for metric in ["plays", "video_views"] {
        let response = crate::http()
            .get(format!("{}/v25.0/{post_id}/insights", h.base("instagram")))
            .bearer_auth(token)
            .query(&[("metric", metric)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], 100, "{metric}");
    }
    h.fault(
        "instagram.insights",
        graph_error(10, None, "(#10) Not enough viewers for the media to show insights"),
        1,
    )
    .await;
    let metrics = ig.metrics(token, &[post_id]).await.unwrap();
    assert_eq!(metrics[0].views, None);
    assert_eq!(metrics[0].likes, None);
}

#[tokio::test]
async fn instagram_comments_page_through_with_replies() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let token = tokens.access_token.as_str();
    let (_, post_id) = publish_live(&h, &ig, token, "comments").await;
    h.advance(120 * 600).await;
    let mut cursor = None;
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let page = ig.comments(token, &post_id, cursor.as_deref()).await.unwrap();
        pages += 1;
        all.extend(page.comments);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3, "120 top-level comments, 50 a page");
    let top: Vec<_> = all.iter().filter(|c| c.parent_id.is_none()).collect();
    let replies: Vec<_> = all.iter().filter(|c| c.parent_id.is_some()).collect();
    assert_eq!(top.len(), 120);
    assert_eq!(replies.len(), 40);
    assert!(
        replies
            .iter()
            .all(|r| top.iter().any(|t| Some(&t.id) == r.parent_id.as_ref()))
    );
    assert!(all.iter().all(|c| c.published_at.is_some() && !c.author.is_empty()));
    let ids: std::collections::HashSet<_> = all.iter().map(|c| &c.id).collect();
    assert_eq!(ids.len(), all.len(), "no duplicates across pages");
    // The comments counter agrees.
    let metrics = ig.metrics(token, &[post_id]).await.unwrap();
    assert_eq!(metrics[0].comments, Some(160));
}

#[tokio::test]
async fn instagram_rupload_keeps_the_bytes_of_a_broken_upload_and_resumes_at_the_offset() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let token = tokens.access_token.clone();
    let base = h.base("instagram");
    let http = crate::http();
    let container = container_by_hand(&h, &token, &[("caption", "by hand")]).await;
    let (id, uri) = (container["id"].as_str().unwrap(), container["uri"].as_str().unwrap());
    assert!(
        uri.starts_with(&format!("{base}/rupload/ig-api-upload/v25.0/")),
        "{uri}"
    );
    let bytes = std::fs::read(good_vertical_video().await).unwrap();
    let half = bytes.len() / 2;
    // Half the file, then the connection breaks (once the server has the half on disk).
    let first = bytes::Bytes::copy_from_slice(&bytes[..half]);
    let offset_of = {
        let (http, uri, token) = (http.clone(), uri.to_owned(), token.clone());
        move || {
            let (http, uri, token) = (http.clone(), uri.clone(), token.clone());
            async move {
                let answer = json_answer(http.get(&uri).header("authorization", format!("OAuth {token}"))).await;
                answer["offset"].as_u64().unwrap() as usize
            }
        }
    };
    let until_stored = offset_of.clone();
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(first)]).chain(futures_util::stream::once(
        async move {
            for _ in 0..500 {
                if until_stored().await > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err(std::io::Error::other("cable pulled"))
        },
    ));
    let size = bytes.len() as u64;
    let broken = rupload(&http, uri, &token, 0, size)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    assert!(broken.is_err() || !broken.unwrap().status().is_success());
    // The server kept what arrived. It may still be storing the tail of the
    // broken request when the client sees the error: wait until the offset
    // holds still before resuming from it.
    let mut offset = offset_of().await;
    let mut still = 0;
    for _ in 0..500 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = offset_of().await;
        still = if now == offset { still + 1 } else { 0 };
        offset = now;
        if still == 5 {
            break;
        }
    }
    assert!(offset > 0 && offset <= half, "offset {offset} of {half}");
    // Sending from a wrong offset is refused; from the server's offset, accepted.
    let wrong = rupload(&http, uri, &token, 0, size)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["debug_info"]["type"], "OffsetMismatch");
    let rest = rupload(&http, uri, &token, offset as u64, size)
        .body(bytes[offset..].to_vec())
        .send()
        .await
        .unwrap();
    assert!(rest.status().is_success());
    let handle = PublishHandle {
        id: id.to_owned(),
        account_id: USER_ID.into(),
    };
    assert_published(&after_processing(&h, &ig, &token, &handle).await);
}

// ------------------------------------------------------------------ Facebook Login flavour (§3B)

const FB_SCOPES: [&str; 6] = [
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "instagram_manage_insights",
    "pages_show_list",
    "pages_read_engagement",
];

fn facebook(h: &Harness) -> Instagram {
    Instagram::facebook_login(sim_endpoints(h, "instagram", CLIENT_ID, CLIENT_SECRET))
}

#[tokio::test]
async fn instagram_facebook_login_lists_several_accounts_and_publishes_to_one() {
    let h = Harness::start().await;
    let fb = facebook(&h);
    h.consent("instagram", json!({"accounts": 3, "untick": ["pages_read_engagement"]}))
        .await;
    let url = fb.authorize_url(&request(&FB_SCOPES)).unwrap();
    assert!(url.contains("/v25.0/dialog/oauth?"), "{url}");
    let back = h.authorize(&url).await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    let code = param(&back, "code").unwrap();
    let tokens = fb.exchange_code(&code, REDIRECT, None).await.unwrap();
    assert_eq!(tokens.access_expires_in_secs, Some(60 * 86_400));
    assert_eq!(tokens.scopes.len(), 5, "{:?}", tokens.scopes);
    assert!(!tokens.scopes.iter().any(|s| s == "pages_read_engagement"));
    let used = fb.exchange_code(&code, REDIRECT, None).await.unwrap_err();
    assert_error(&used, ErrorClass::Permanent, "100/36009");

    let accounts = fb.accounts(&tokens.access_token).await.unwrap();
    let ids: Vec<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], USER_ID);
    assert_eq!(accounts[1].username, format!("{USERNAME}_2"));

    // Publish to the second account.
    let second = accounts[1].id.clone();
    let video = good_video_file().await;
    let handle = fb
        .publish(&tokens.access_token, &second, &video, &post("via Facebook"))
        .await
        .unwrap();
    assert_published(&after_processing(&h, &fb, &tokens.access_token, &handle).await);
    let records = h.records().await;
    assert_eq!(records["posts"][0]["account_id"], second.as_str());

    // Renewal: exchanging the long-lived token again gives a new one.
    let renewed = fb.refresh(tokens.refresh_token.as_deref().unwrap()).await.unwrap();
    assert_ne!(renewed.access_token, tokens.access_token);
    assert_eq!(fb.accounts(&renewed.access_token).await.unwrap().len(), 3);
    // Revoking removes the app: every token of the user is refused.
    fb.revoke(&renewed.access_token).await.unwrap();
    assert_eq!(
        fb.accounts(&tokens.access_token).await.unwrap_err().class,
        ErrorClass::AuthRevoked
    );
}

#[tokio::test]
async fn instagram_login_token_cannot_act_for_another_account() {
    let (_h, ig, tokens) = connected(adapter, login).await;
    let video = good_video_file().await;
    let other = smez_platform_sim::instagram::account_id(1);
    let e = ig
        .publish(&tokens.access_token, &other, &video, &post("not mine"))
        .await
        .unwrap_err();
    assert_error(&e, ErrorClass::Permanent, "100/33");
}

// ------------------------------------------------------------------ video_url (Meta fetches the file)

/// Serves `body` to every GET on a loopback port (a stand-in for public hosting).
async fn serve_file(body: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let found = String::from_utf8_lossy(&request[..n]).starts_with("GET /reel.mp4 ");
                let head = if found {
                    format!(
                        "HTTP/1.0 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                } else {
                    "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned()
                };
                let _ = socket.write_all(head.as_bytes()).await;
                if found {
                    let _ = socket.write_all(&body).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

/// Polls until the container leaves IN_PROGRESS (the fetch runs in real time, for a few ms).
async fn settle(h: &Harness, ig: &Instagram, token: &str, handle: &PublishHandle) -> PublishStatus {
    for _ in 0..200 {
        h.advance(PROCESSING_SECS + 1).await;
        let status = ig.publish_status(token, handle).await.unwrap();
        if !matches!(status, PublishStatus::Processing { .. }) {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("still processing");
}

#[tokio::test]
async fn instagram_video_url_is_fetched_validated_and_published() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let token = tokens.access_token.as_str();
    let host = serve_file(std::fs::read(good_vertical_video().await).unwrap()).await;
    let handle = ig
        .publish_from_url(token, USER_ID, &format!("{host}/reel.mp4"), &post("from a URL"))
        .await
        .unwrap();
    assert_published(&settle(&h, &ig, token, &handle).await);
    let missing = ig
        .publish_from_url(token, USER_ID, &format!("{host}/gone.mp4"), &post("404"))
        .await
        .unwrap();
    match settle(&h, &ig, token, &missing).await {
        PublishStatus::Failed { error, class } => {
            assert_eq!(class, ErrorClass::InvalidMedia);
            assert!(error.contains("2207052"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn instagram_oversized_files_are_invalid_media() {
    let (h, ig, tokens) = connected(adapter, login).await;
    // A sparse 301 MiB file: refused by the adapter before any upload.
    let big = std::env::temp_dir().join(format!("ig-big-{}.mp4", std::process::id()));
    std::fs::File::create(&big).unwrap().set_len(301 * 1024 * 1024).unwrap();
    let video = open_mp4(big.clone()).await;
    let e = ig
        .publish(&tokens.access_token, USER_ID, &video, &post("big"))
        .await
        .unwrap_err();
    let _ = std::fs::remove_file(&big);
    assert_eq!(e.class, ErrorClass::InvalidMedia);
    // The platform refuses a declared size over the cap too, with its own error.
    let container = container_by_hand(&h, &tokens.access_token, &[]).await;
    let response = rupload(
        &crate::http(),
        container["uri"].as_str().unwrap(),
        &tokens.access_token,
        0,
        400 << 20,
    )
    .body("x")
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 352);
    assert_eq!(body["error"]["error_subcode"], 2207026);
    let handle = PublishHandle {
        id: container["id"].as_str().unwrap().into(),
        account_id: USER_ID.into(),
    };
    match ig.publish_status(&tokens.access_token, &handle).await.unwrap() {
        PublishStatus::Failed { error, class } => {
            assert_eq!(class, ErrorClass::InvalidMedia);
            assert!(error.contains("larger than"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn instagram_lost_answer_to_the_upload_is_not_a_second_upload() {
    let (h, ig, tokens) = connected(adapter, login).await;
    let token = tokens.access_token.as_str();
    // Every byte stored, the answer lost: the resume finds the offset at the end and stops.
    h.lose_answer("POST", "/rupload/", 0).await;
    let video = good_video_file().await;
    let handle = ig.publish(token, USER_ID, &video, &post("once")).await.unwrap();
    assert_published(&after_processing(&h, &ig, token, &handle).await);
    let records = h.records().await;
    let uploads = requests(&records)
        .iter()
        .filter(|r| r["path"].as_str().unwrap().contains("/rupload/") && r["method"] == "POST")
        .count();
    assert_eq!(uploads, 1, "the bytes went once");
    assert_eq!(posts(&records).len(), 1);
}
