//! Steps every platform's contract tests take the same way: pointing an
//! adapter at its simulator, the connect flow, opening videos, waiting out
//! processing, reading the simulator's records and checking an error's class.
//! Kept here so each test file says only what is particular to its platform.

use std::path::Path;

use serde_json::Value;
use smez_platforms::{
    AuthorizeRequest, Endpoints, ErrorClass, Pkce, PlatformAdapter, PlatformError, PublishHandle, PublishStatus,
    TokenSet, VideoFile,
};

use crate::{Harness, good_vertical_video, param};

/// Endpoints that send every call (auth, token, API, upload) to `platform`'s simulator.
pub fn sim_endpoints(h: &Harness, platform: &str, client_id: &str, client_secret: &str) -> Endpoints {
    let base = h.base(platform);
    Endpoints {
        client_id: client_id.into(),
        client_secret: client_secret.into(),
        auth_base: base.clone(),
        token_base: base.clone(),
        api_base: base.clone(),
        upload_base: base,
    }
}

/// The opening of most tests: a fresh simulator, an adapter pointed at it
/// (made by `adapter`) and a creator connected through it (by `connect`).
pub async fn connected<A>(
    adapter: impl FnOnce(&Harness) -> A,
    connect: impl AsyncFnOnce(&Harness, &A) -> TokenSet,
) -> (Harness, A, TokenSet) {
    let h = Harness::start().await;
    let adapter = adapter(&h);
    let tokens = connect(&h, &adapter).await;
    (h, adapter, tokens)
}

/// The connect flow of a creator who consents: authorize (with PKCE when
/// `pkce` is given), check the state comes back, exchange the code.
pub async fn authorize_and_exchange(
    h: &Harness,
    adapter: &impl PlatformAdapter,
    mut request: AuthorizeRequest,
    pkce: Option<Pkce>,
) -> TokenSet {
    request.pkce_challenge = pkce.as_ref().map(Pkce::challenge);
    let back = h.authorize(&adapter.authorize_url(&request).unwrap()).await;
    assert_eq!(param(&back, "state"), Some(request.state));
    let code = param(&back, "code").expect("a code");
    adapter
        .exchange_code(&code, &request.redirect_uri, pkce.as_ref().map(|p| p.verifier.as_str()))
        .await
        .expect("the exchange succeeds")
}

/// `path` opened as an MP4 upload.
pub async fn open_mp4(path: impl AsRef<Path>) -> VideoFile {
    VideoFile::open(path.as_ref(), "video/mp4").await.unwrap()
}

/// [`good_vertical_video`], opened for upload.
pub async fn good_video_file() -> VideoFile {
    open_mp4(good_vertical_video().await).await
}

/// The publish's status once the simulated clock has moved on `secs`
/// (past the platform's processing time, when the test wants the outcome).
pub async fn status_after(
    h: &Harness,
    adapter: &impl PlatformAdapter,
    token: &str,
    handle: &PublishHandle,
    secs: i64,
) -> PublishStatus {
    h.advance(secs).await;
    adapter.publish_status(token, handle).await.unwrap()
}

/// Asserts the error's class and the platform's own code for it.
#[track_caller]
pub fn assert_error(error: &PlatformError, class: ErrorClass, platform_code: &str) {
    assert_eq!(error.class, class, "{error}");
    assert_eq!(error.platform_code.as_deref(), Some(platform_code), "{error}");
}

/// Every request the simulator recorded (from [`Harness::records`]), oldest first.
pub fn requests(records: &Value) -> &[Value] {
    records["requests"].as_array().unwrap()
}

/// Every post the simulator made live (from [`Harness::records`]).
pub fn posts(records: &Value) -> &[Value] {
    records["posts"].as_array().unwrap()
}

/// How many recorded requests went to a path containing `needle`.
pub fn requests_to(records: &Value, needle: &str) -> usize {
    requests(records)
        .iter()
        .filter(|r| r["path"].as_str().unwrap().contains(needle))
        .count()
}

/// The answer status of every recorded PUT (upload chunks), oldest first.
pub fn put_statuses(records: &Value) -> Vec<u64> {
    requests(records)
        .iter()
        .filter(|r| r["method"] == "PUT")
        .map(|r| r["status"].as_u64().unwrap())
        .collect()
}

/// Asserts the publish went live (whatever its post id and URL).
#[track_caller]
pub fn assert_published(status: &PublishStatus) {
    assert!(matches!(status, PublishStatus::Published { .. }), "{status:?}");
}
