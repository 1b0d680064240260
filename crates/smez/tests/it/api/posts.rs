//! Posts through the gateway, published by the workers to the platform
//! simulators (whose clock the test moves to end processing): now and on a
//! schedule, on all three platforms, each post once at the platform; bad
//! requests refused with their field; a revoked grant fails the target
//! with an actionable error; a known limit or a used-up quota makes the
//! target wait; dropped uploads, lost answers and a process killed after
//! the platform accepted never make a second post.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use smez_platform_sim::faults::{Fault, FaultKind, LostAnswer};

use super::integrations::{Platforms, connect, member, new_workspace};
use super::media::Creator;
use super::renders::{follow, ms, post, start_render, upload_real};
use super::{Browser, Shape, email};

const PLATFORMS: [&str; 3] = ["tiktok", "instagram", "youtube"];

/// A workspace with the three platforms connected and a package for each.
struct Studio {
    p: Platforms,
    owner: Browser,
    creator: Creator,
    workspace: String,
    connections: BTreeMap<&'static str, String>,
    packages: BTreeMap<&'static str, String>,
}

impl Studio {
    async fn open(shape: Shape, extra: &[(&str, &str)]) -> Self {
        let mut env = vec![
            ("SMEZ_PUBLISHING__SCHEDULER_TICK_MS", "100"),
            ("SMEZ_PUBLISHING__POLL_INTERVAL_MS", "100"),
            ("SMEZ_PUBLISHING__RETRY_BASE_MS", "100"),
        ];
        env.extend_from_slice(extra);
        let p = Platforms::start_with(shape, &env).await;
        let mut owner = p.stack.browser();
        let address = email("Rosa");
        owner.signup(&address, "Rosa").await.expect(201);
        let workspace = new_workspace(&mut owner, "Rosa's studio").await;
        let mut connections = BTreeMap::new();
        for platform in PLATFORMS {
            let outcome = connect(&mut owner, platform).await;
            assert_eq!(outcome["outcome"], "connected", "{outcome}");
            connections.insert(platform, outcome["connection_id"].as_str().unwrap().to_owned());
        }
        let creator = Creator::signed_in(&p.stack, &address, &workspace).await;
        let clip = upload_real(&creator, "iphone_rotated.mov").await;
        let render = start_render(
            &creator,
            &json!({"schema": "smez.edit_plan/1",
                    "video": [{"media_id": clip, "source_in": ms(0), "source_out": ms(2200)},
                              {"media_id": clip, "source_in": ms(200), "source_out": ms(1800)}]}),
        )
        .await;
        let (events, rendered) = follow(&creator, &render).await;
        assert_eq!(events.last().map(String::as_str), Some("succeeded"), "{rendered:#}");
        let requests = [
            json!({"render_id": render, "platform": "tiktok", "caption": "First post #smez"}),
            json!({"render_id": render, "platform": "instagram", "caption": "First reel #smez"}),
            json!({"render_id": render, "platform": "youtube", "title": "First Short", "caption": "#smez",
                   "youtube": {"made_for_kids": false}}),
        ];
        let mut packages = BTreeMap::new();
        for (platform, request) in PLATFORMS.into_iter().zip(requests) {
            let package = post(&creator, "/v1/packages", &request).await.expect(201);
            assert_eq!(package.body["status"], "ready", "{}", package.body);
            packages.insert(platform, package.body["id"].as_str().unwrap().to_owned());
        }
        Self {
            p,
            owner,
            creator,
            workspace,
            connections,
            packages,
        }
    }

    fn target(&self, platform: &str) -> Value {
        json!({"connection_id": self.connections[platform], "package_id": self.packages[platform]})
    }

    /// Polls the post until `done` holds (the workers and scheduler run on their own).
    async fn wait(&self, post_id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = std::time::Instant::now();
        loop {
            let now = self.creator.get(&format!("/v1/posts/{post_id}")).await.expect(200).body;
            if done(&now) {
                return now;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{what}: {now:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every target has handed its video over (or ended), then
    /// lets the platforms' processing (30 s of simulated time) end.
    async fn finish_processing(&self, post_id: &str) {
        self.wait(post_id, "every target uploaded", |post| {
            targets(post).iter().all(|t| {
                matches!(
                    t["state"].as_str(),
                    Some("processing" | "published" | "unconfirmed" | "failed")
                )
            })
        })
        .await;
        self.p.sim.core.clock.advance(31);
    }

    /// Posts `platform`'s target now; returns the post's id.
    async fn publish_now(&self, platform: &str) -> String {
        let created = post(&self.creator, "/v1/posts", &json!({"targets": [self.target(platform)]}))
            .await
            .expect(201);
        created.body["id"].as_str().unwrap().to_owned()
    }

    /// Waits until `platform`'s target has reached a final state.
    async fn wait_final(&self, post_id: &str, platform: &str) -> Value {
        let ended = self
            .wait(post_id, "a final state", |p| {
                matches!(
                    target_on(p, platform)["state"].as_str(),
                    Some("published" | "failed" | "unconfirmed" | "canceled")
                )
            })
            .await;
        target_on(&ended, platform).clone()
    }

    /// Requests the simulators answered with this method and a path containing `path`.
    fn calls(&self, method: &str, path: &str) -> usize {
        let requests = self.p.sim.core.records.snapshot().requests;
        requests
            .iter()
            .filter(|r| r.method == method && r.path.contains(path))
            .count()
    }

    /// Loses the answers to the next request matching `method` and `path`
    /// (handled in full at the platform), after `hold_ms`.
    fn lose_answer(&self, method: &str, path: &str, hold_ms: u64) {
        self.p.sim.core.faults.lose_answers(LostAnswer {
            path_contains: path.into(),
            method: Some(method.into()),
            skip: 0,
            times: 1,
            hold_ms,
        });
    }

    /// Posts the platforms accepted, per platform.
    fn accepted(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for accepted in self.p.sim.core.records.snapshot().posts {
            *counts.entry(accepted.platform).or_default() += 1;
        }
        counts
    }
}

fn targets(post: &Value) -> Vec<Value> {
    post["targets"].as_array().cloned().unwrap_or_default()
}

fn target_on<'a>(post: &'a Value, platform: &str) -> &'a Value {
    post["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["platform"] == platform)
        .unwrap_or_else(|| panic!("no {platform} target: {post:#}"))
}

fn rfc3339_in(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn every_platform_publishes_now_and_on_schedule(shape: Shape) {
    let studio = Studio::open(shape, &[]).await;
    let creator = &studio.creator;

    // Now, to all three accounts.
    let created = post(
        creator,
        "/v1/posts",
        &json!({"targets": PLATFORMS.map(|p| studio.target(p)), "publish_at": "now"}),
    )
    .await
    .expect(201);
    let post_id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["schedule"]["kind"], "now");
    assert_eq!(targets(&created.body).len(), 3);
    studio.finish_processing(&post_id).await;
    let published = studio
        .wait(&post_id, "published everywhere", |p| p["state"] == "published")
        .await;
    for platform in PLATFORMS {
        let target = target_on(&published, platform);
        assert_eq!(target["state"], "published", "{target:#}");
        assert!(
            target["platform_post_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{target:#}"
        );
        assert!(target["published_at"].is_string(), "{target:#}");
        let history = target["history"].as_array().unwrap();
        assert_eq!(history.last().unwrap()["outcome"], "published", "{target:#}");
        assert!(history.iter().all(|a| a["outcome"] != "failed"), "{target:#}");
    }
    for platform in ["instagram", "youtube"] {
        let url = target_on(&published, platform)["public_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(url.starts_with("https://"), "{platform}: {url}");
    }
    let once: BTreeMap<String, usize> = PLATFORMS.iter().map(|p| ((*p).to_owned(), 1)).collect();
    assert_eq!(studio.accepted(), once, "one post per platform");

    // Scheduled a few seconds ahead: waits as scheduled, then goes out once.
    let at = rfc3339_in(3);
    let scheduled = post(
        creator,
        "/v1/posts",
        &json!({"targets": [studio.target("tiktok")], "publish_at": at}),
    )
    .await
    .expect(201);
    assert_eq!(scheduled.body["state"], "scheduled", "{}", scheduled.body);
    assert_eq!(scheduled.body["schedule"]["kind"], "instant");
    let scheduled_id = scheduled.body["id"].as_str().unwrap().to_owned();
    // Moved once before it starts: the answer shows the new time.
    let later = rfc3339_in(4);
    let moved = studio
        .creator
        .send(
            Method::PATCH,
            &format!("/v1/posts/{scheduled_id}"),
            &[("content-type", "application/json")],
            json!({"publish_at": later}).to_string().into_bytes(),
        )
        .await
        .expect(200);
    let due = chrono::DateTime::parse_from_rfc3339(moved.body["schedule"]["publish_at"].as_str().unwrap()).unwrap();
    assert_eq!(due, chrono::DateTime::parse_from_rfc3339(&later).unwrap());
    let queued_at = studio
        .wait(&scheduled_id, "started", |p| p["state"] != "scheduled")
        .await;
    assert!(chrono::Utc::now() >= due, "started before its time: {queued_at:#}");
    studio.finish_processing(&scheduled_id).await;
    let went_out = studio
        .wait(&scheduled_id, "published", |p| p["state"] == "published")
        .await;
    let live = target_on(&went_out, "tiktok");
    let live_at = chrono::DateTime::parse_from_rfc3339(live["published_at"].as_str().unwrap()).unwrap();
    assert!(live_at >= due, "{went_out:#}");
    assert_eq!(studio.accepted()["tiktok"], 2);
    // Too late to move or cancel it now.
    studio
        .creator
        .send(
            Method::PATCH,
            &format!("/v1/posts/{scheduled_id}"),
            &[("content-type", "application/json")],
            json!({"publish_at": rfc3339_in(60)}).to_string().into_bytes(),
        )
        .await
        .expect(409);
    post(creator, &format!("/v1/posts/{scheduled_id}/cancel"), &json!({}))
        .await
        .expect(409);

    // Canceled before its time: never sent.
    let canceled = post(
        creator,
        "/v1/posts",
        &json!({"targets": [studio.target("instagram")], "publish_at": rfc3339_in(600)}),
    )
    .await
    .expect(201);
    let canceled_id = canceled.body["id"].as_str().unwrap();
    let after = post(creator, &format!("/v1/posts/{canceled_id}/cancel"), &json!({}))
        .await
        .expect(200);
    assert_eq!(after.body["state"], "canceled");

    // Listing: newest due first, filtered by state and platform, paged.
    let listed = creator.get("/v1/posts?state=published&limit=1").await.expect(200);
    assert_eq!(listed.body["posts"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["posts"][0]["id"], scheduled_id.as_str());
    let cursor = listed.body["next_cursor"].as_str().unwrap();
    let next = creator
        .get(&format!("/v1/posts?state=published&limit=1&cursor={cursor}"))
        .await
        .expect(200);
    assert_eq!(next.body["posts"][0]["id"], post_id.as_str());
    assert!(next.body["next_cursor"].is_null(), "{}", next.body);
    let youtube = creator.get("/v1/posts?platform=youtube").await.expect(200);
    assert_eq!(youtube.body["posts"].as_array().unwrap().len(), 1);
    let canceled_list = creator.get("/v1/posts?state=canceled").await.expect(200);
    assert_eq!(canceled_list.body["posts"][0]["id"], canceled_id);
    studio.p.stop().await;
}

async fn bad_posts_are_refused_with_their_field(shape: Shape) {
    let mut studio = Studio::open(shape, &[]).await;
    let creator = &studio.creator;
    let refused = |body: Value, field: &'static str| {
        let creator = &studio.creator;
        async move {
            let reply = post(creator, "/v1/posts", &body).await.expect(422);
            assert_eq!(reply.body["field"], field, "{}", reply.body);
            reply.body
        }
    };
    refused(
        json!({"targets": [studio.target("tiktok")], "publish_at": "2020-01-01T00:00:00Z"}),
        "publish_at",
    )
    .await;
    refused(
        json!({"targets": [studio.target("tiktok")], "publish_at": "tomorrow"}),
        "publish_at",
    )
    .await;
    refused(
        json!({"targets": [studio.target("tiktok")], "local_time": "2030-03-10T02:30", "time_zone": "Mars/Base"}),
        "time_zone",
    )
    .await;
    refused(json!({"targets": []}), "targets").await;
    let wrong = refused(
        json!({"targets": [
            {"connection_id": studio.connections["tiktok"], "package_id": studio.packages["youtube"]},
            {"connection_id": "no-such-connection", "package_id": studio.packages["tiktok"]},
        ]}),
        "targets[0].package_id",
    )
    .await;
    let fields: Vec<&str> = wrong["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["targets[0].package_id", "targets[1].connection_id"]);

    // A wall time in a zone: the gap and the fold of New York in 2030, by the documented rule.
    let gap = post(
        creator,
        "/v1/posts",
        &json!({"targets": [studio.target("tiktok")], "local_time": "2030-03-10T02:30", "time_zone": "America/New_York"}),
    )
    .await
    .expect(201);
    assert_eq!(gap.body["schedule"]["publish_at"], "2030-03-10T07:30:00.000Z");
    assert_eq!(gap.body["schedule"]["resolution"], "gap");
    assert_eq!(gap.body["schedule"]["local_time"], "2030-03-10T02:30:00");
    let fold = post(
        creator,
        "/v1/posts",
        &json!({"targets": [studio.target("tiktok")], "local_time": "2030-11-03T01:30", "time_zone": "America/New_York"}),
    )
    .await
    .expect(201);
    assert_eq!(fold.body["schedule"]["publish_at"], "2030-11-03T05:30:00.000Z");
    assert_eq!(fold.body["schedule"]["resolution"], "fold");

    // A viewer may read posts but not publish; another workspace sees nothing.
    let viewer = member(&studio.p.stack, &mut studio.owner, &studio.workspace, "viewer").await;
    let mut viewer = viewer;
    let denied = viewer
        .call(
            Method::POST,
            "/v1/posts",
            Some(json!({"targets": [studio.target("tiktok")]})),
        )
        .await;
    assert_eq!(denied.status, 403, "{:?}", denied.body);
    let gap_id = gap.body["id"].as_str().unwrap();
    viewer
        .call(Method::GET, &format!("/v1/posts/{gap_id}"), None)
        .await
        .expect(200);
    let stranger = Creator::new(&studio.p.stack, "Stranger").await;
    stranger.get(&format!("/v1/posts/{gap_id}")).await.expect(404);
    assert!(studio.accepted().is_empty(), "nothing was published");
    studio.p.stop().await;
}

async fn revoked_grants_and_known_limits(shape: Shape) {
    // Instagram allows one post per 24 h here, so the second one waits.
    let studio = Studio::open(shape, &[("SMEZ_PUBLISHING__INSTAGRAM_POSTS_PER_24H", "1")]).await;
    let creator = &studio.creator;

    // The user revoked Smez at TikTok: the publish fails with what to do, once.
    revoke(&studio, "tiktok", "/v2/oauth/revoke/").await;
    let revoked = post(creator, "/v1/posts", &json!({"targets": [studio.target("tiktok")]}))
        .await
        .expect(201);
    let revoked_id = revoked.body["id"].as_str().unwrap();
    let failed = studio.wait(revoked_id, "failed", |p| p["state"] == "failed").await;
    let target = target_on(&failed, "tiktok");
    assert_eq!(target["error"]["class"], "auth_revoked", "{target:#}");
    assert_eq!(target["error"]["retryable"], true, "{target:#}");
    assert!(
        target["error"]["message"].as_str().unwrap().contains("reconnect"),
        "{target:#}"
    );
    let connection = studio
        .creator
        .get(&format!("/v1/integrations/{}", studio.connections["tiktok"]))
        .await
        .expect(200);
    assert_eq!(connection.body["status"], "reauthorization_required");
    assert!(!studio.accepted().contains_key("tiktok"));

    // The Instagram limit: the first post goes out, the second waits for the window.
    let first = post(creator, "/v1/posts", &json!({"targets": [studio.target("instagram")]}))
        .await
        .expect(201);
    let first_id = first.body["id"].as_str().unwrap();
    studio.finish_processing(first_id).await;
    studio.wait(first_id, "published", |p| p["state"] == "published").await;
    let second = post(creator, "/v1/posts", &json!({"targets": [studio.target("instagram")]}))
        .await
        .expect(201);
    let second_id = second.body["id"].as_str().unwrap();
    let waiting = studio
        .wait(second_id, "waiting for the window", |p| {
            target_on(p, "instagram")["history"]
                .as_array()
                .is_some_and(|h| h.iter().any(|a| a["outcome"] == "waiting"))
        })
        .await;
    let target = target_on(&waiting, "instagram");
    assert_eq!(target["state"], "queued", "{target:#}");
    assert_eq!(target["attempts"], 0, "a known wait spends no attempt: {target:#}");
    let next = chrono::DateTime::parse_from_rfc3339(target["next_attempt_at"].as_str().unwrap()).unwrap();
    assert!(next > chrono::Utc::now() + chrono::Duration::hours(23), "{target:#}");
    assert_eq!(studio.accepted()["instagram"], 1);

    // YouTube's quota is used up: the target waits for the reset at
    // midnight Pacific (07:00 or 08:00 UTC), not retried in a loop.
    studio.p.sim.core.faults.add(Fault {
        endpoint: "youtube.insert".into(),
        fault: FaultKind::Status {
            status: 403,
            body: json!({"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your quota.",
                                   "errors": [{"reason": "quotaExceeded", "domain": "youtube.quota"}]}}),
        },
        times: 1,
    });
    let quota = studio.publish_now("youtube").await;
    let waiting = studio
        .wait(&quota, "waiting for the quota", |p| {
            target_on(p, "youtube")["history"]
                .as_array()
                .is_some_and(|h| h.iter().any(|a| a["outcome"] == "waiting"))
        })
        .await;
    let target = target_on(&waiting, "youtube");
    assert_eq!(target["state"], "queued", "{target:#}");
    assert_eq!(target["attempts"], 0, "{target:#}");
    assert!(
        target["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("quota"),
        "{target:#}"
    );
    let reset = chrono::DateTime::parse_from_rfc3339(target["next_attempt_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    use chrono::Timelike;
    assert!(
        reset > chrono::Utc::now() && reset <= chrono::Utc::now() + chrono::Duration::hours(24),
        "{target:#}"
    );
    assert!(
        matches!(reset.hour(), 7 | 8) && reset.minute() == 0 && reset.second() == 0,
        "{target:#}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(studio.calls("POST", YOUTUBE_UPLOADS), 1, "asked once, then waited");
    assert!(!studio.accepted().contains_key("youtube"));
    studio.p.stop().await;
}

const YOUTUBE_UPLOADS: &str = "/youtube/upload/youtube/v3/videos";
const INSTAGRAM_PUBLISH: &str = "/media_publish";

/// Sent or done but unheard: each ends with one post at the platform,
/// resumed in the platform object an earlier attempt recorded.
async fn faults_never_post_twice(shape: Shape) {
    let studio = Studio::open(shape, &[]).await;

    // YouTube: the connection drops half way through the video. The upload
    // resumes in its session: one session, one video.
    studio.p.sim.core.faults.add(Fault {
        endpoint: "youtube.upload".into(),
        fault: FaultKind::Drop,
        times: 1,
    });
    let dropped = studio.publish_now("youtube").await;
    studio.finish_processing(&dropped).await;
    let target = studio.wait_final(&dropped, "youtube").await;
    assert_eq!(target["state"], "published", "{target:#}");
    assert_eq!(studio.calls("POST", YOUTUBE_UPLOADS), 1, "one upload session");
    assert!(
        studio.calls("PUT", YOUTUBE_UPLOADS) >= 2,
        "the bytes were sent again after the drop"
    );
    assert_eq!(studio.accepted().get("youtube"), Some(&1));

    // YouTube: the last bytes arrive and the video is made, but the answer
    // is lost. Asking the session tells the outcome; nothing is re-sent.
    studio.lose_answer("PUT", YOUTUBE_UPLOADS, 0);
    let unheard = studio.publish_now("youtube").await;
    studio.finish_processing(&unheard).await;
    let target = studio.wait_final(&unheard, "youtube").await;
    assert!(
        matches!(target["state"].as_str(), Some("published" | "unconfirmed")),
        "{target:#}"
    );
    assert_eq!(
        studio.calls("POST", YOUTUBE_UPLOADS),
        2,
        "no new session for the lost answer"
    );
    assert_eq!(studio.accepted().get("youtube"), Some(&2));

    // TikTok: the upload's answer is lost. The publish id recorded after
    // the init is asked for its status; no second init.
    studio.lose_answer("PUT", "/tiktok/upload/", 0);
    let tiktok = studio.publish_now("tiktok").await;
    studio.finish_processing(&tiktok).await;
    let target = studio.wait_final(&tiktok, "tiktok").await;
    assert_eq!(target["state"], "published", "{target:#}");
    assert_eq!(studio.calls("POST", "/tiktok/v2/post/publish/video/init/"), 1);
    assert_eq!(studio.accepted().get("tiktok"), Some(&1));

    // Instagram: the platform publishes the container after the worker
    // stopped listening. The container recorded before is found published:
    // reported, never published again.
    studio.lose_answer("POST", INSTAGRAM_PUBLISH, 0);
    let instagram = studio.publish_now("instagram").await;
    studio.finish_processing(&instagram).await;
    let target = studio.wait_final(&instagram, "instagram").await;
    assert!(
        matches!(target["state"].as_str(), Some("published" | "unconfirmed")),
        "{target:#}"
    );
    assert_eq!(studio.calls("POST", INSTAGRAM_PUBLISH), 1);
    assert_eq!(studio.accepted().get("instagram"), Some(&1));

    // TikTok holds the video when the user withdraws Smez: it may still go
    // live, so the target is unconfirmed with what to check, never retried.
    let held = studio.publish_now("tiktok").await;
    studio
        .wait(&held, "uploaded", |p| target_on(p, "tiktok")["state"] == "processing")
        .await;
    revoke(&studio, "tiktok", "/v2/oauth/revoke/").await;
    let target = studio.wait_final(&held, "tiktok").await;
    assert_eq!(target["state"], "unconfirmed", "{target:#}");
    assert!(
        target["error"]["message"]
            .as_str()
            .unwrap()
            .contains("check the account"),
        "{target:#}"
    );
    let target_id = target["id"].as_str().unwrap();
    post(
        &studio.creator,
        &format!("/v1/posts/{held}/targets/{target_id}/retry"),
        &json!({}),
    )
    .await
    .expect(409);
    assert_eq!(studio.calls("POST", "/tiktok/v2/post/publish/video/init/"), 2);
    studio.p.stop().await;
}

/// The user withdraws Smez at `platform` (its revoke endpoint, at `path`), as from the platform's settings.
async fn revoke(studio: &Studio, platform: &str, path: &str) {
    let token = studio
        .p
        .sim
        .core
        .records
        .snapshot()
        .issued
        .into_iter()
        .filter(|i| i.platform == platform && i.kind == "refresh_token")
        .map(|i| i.value)
        .next_back()
        .unwrap();
    crate::process::http()
        .post(format!("{}{path}", studio.p.sim.base_url(platform)))
        .form(&[
            ("client_key", smez_platform_sim::CLIENT_ID),
            ("client_id", smez_platform_sim::CLIENT_ID),
            ("client_secret", smez_platform_sim::CLIENT_SECRET),
            ("token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
}

/// The process dies after the platform published and before Smez heard:
/// the target is taken over after its lease and never posted twice.
async fn a_worker_killed_after_the_platform_accepted_posts_nothing_twice(shape: Shape) {
    let mut studio = Studio::open(
        shape,
        &[
            ("SMEZ_PUBLISHING__LEASE_SECS", "2"),
            ("SMEZ_PUBLISHING__RECONCILE_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    // The platform publishes, then keeps the worker waiting for the answer.
    studio.lose_answer("POST", INSTAGRAM_PUBLISH, 60_000);
    let post_id = studio.publish_now("instagram").await;
    studio.finish_processing(&post_id).await;
    let started = std::time::Instant::now();
    while studio.accepted().get("instagram") != Some(&1) {
        assert!(started.elapsed() < Duration::from_secs(60), "never published");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    studio.p.stack.crash_and_restart().await;
    studio.creator.base = studio.p.stack.smez.url("");
    let target = studio.wait_final(&post_id, "instagram").await;
    assert!(
        matches!(target["state"].as_str(), Some("published" | "unconfirmed")),
        "{target:#}"
    );
    assert_eq!(studio.calls("POST", INSTAGRAM_PUBLISH), 1, "published once");
    assert_eq!(studio.accepted().get("instagram"), Some(&1));
    studio.p.stop().await;
}

/// Three publisher processes (`serve all` and two `serve publisher-worker`,
/// each with its scheduler and workers) and 501 targets due at the same
/// moment: each is published exactly once, as the simulators count.
#[tokio::test]
async fn three_publisher_processes_publish_each_of_501_targets_once() {
    const POSTS: usize = 167;
    let studio = Studio::open(
        Shape::Postgres,
        &[
            ("SMEZ_PUBLISHING__POLL_INTERVAL_MS", "1000"),
            ("SMEZ_PUBLISHING__WORKER_CONCURRENCY", "8"),
            ("SMEZ_PUBLISHING__INSTAGRAM_POSTS_PER_24H", "1000"),
            ("SMEZ_PUBLISHING__YOUTUBE_UPLOADS_PER_DAY", "1000"),
            ("SMEZ_PUBLISHING__TIKTOK_INITS_PER_MINUTE", "1000"),
            ("SMEZ_DATABASE__MAX_CONNECTIONS", "4"),
        ],
    )
    .await;
    // Three accounts take 167 posts each: the platforms' caps, raised alike.
    studio
        .p
        .sim
        .core
        .limit_scale
        .store(100, std::sync::atomic::Ordering::Relaxed);
    let more = [
        studio.p.stack.start_more("publisher-2", "publisher-worker").await,
        studio.p.stack.start_more("publisher-3", "publisher-worker").await,
    ];
    // Created for later, then all made due at one moment (creating them
    // one by one takes longer than any lead time would safely allow).
    let mut post_ids = Vec::with_capacity(POSTS);
    for _ in 0..POSTS {
        let created = post(
            &studio.creator,
            "/v1/posts",
            &json!({"targets": PLATFORMS.map(|p| studio.target(p)), "publish_at": rfc3339_in(3600)}),
        )
        .await
        .expect(201);
        post_ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    let due = chrono::Utc::now().timestamp_millis() + 1000;
    let stack = &studio.p.stack;
    stack
        .execute("publisher", &format!("UPDATE posts SET publish_at_ms = {due}"))
        .await;
    let moved = stack
        .execute("publisher", &format!("UPDATE post_targets SET dispatch_at_ms = {due}"))
        .await;
    assert_eq!(moved, 3 * POSTS as u64);
    let everything = |post: &Value| -> bool { post["state"] == "published" };
    let started = std::time::Instant::now();
    let mut advanced = 0;
    for post_id in &post_ids {
        loop {
            let now = studio
                .creator
                .get(&format!("/v1/posts/{post_id}"))
                .await
                .expect(200)
                .body;
            if everything(&now) {
                break;
            }
            let waits = |t: &Value| {
                t["history"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|a| a["outcome"] == "waiting"))
            };
            assert!(
                targets(&now)
                    .iter()
                    .all(|t| !matches!(t["state"].as_str(), Some("failed" | "unconfirmed")) && !waits(t)),
                "nothing fails and nothing waits for a limit: {now:#}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "not all published: {now:#}"
            );
            // Processing ends as simulated time passes.
            studio.p.sim.core.clock.advance(31);
            advanced += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let accepted = studio.accepted();
    let each: BTreeMap<String, usize> = PLATFORMS.iter().map(|p| ((*p).to_owned(), POSTS)).collect();
    assert_eq!(
        accepted, each,
        "each target published once (clock advanced {advanced} times)"
    );
    let mut ids: Vec<String> = studio
        .p
        .sim
        .core
        .records
        .snapshot()
        .posts
        .into_iter()
        .map(|p| format!("{}/{}", p.platform, p.post_id))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3 * POSTS, "no platform post twice");
    for process in std::iter::once(&studio.p.stack.smez).chain(&more) {
        assert!(
            process.log().contains("publish attempt ended"),
            "{} published nothing",
            process.name
        );
    }
    let db = studio.p.stack.db("publisher").await;
    use smez_store::sea_orm::ConnectionTrait;
    let rows = db
        .query_all_raw(smez_store::sea_orm::Statement::from_string(
            smez_store::sea_orm::DbBackend::Postgres,
            "SELECT count(*) FROM post_targets WHERE state = 'published'".to_owned(),
        ))
        .await
        .unwrap();
    assert_eq!(rows[0].try_get_by_index::<i64>(0).unwrap(), 3 * POSTS as i64);
    studio.p.stop().await;
}

/// Each scenario on SQLite with the in-process bus, and on PostgreSQL with RabbitMQ.
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Shape::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(super::Shape::Postgres).await;
            }
        }
    };
}

on_both!(every_platform_publishes_now_and_on_schedule);
on_both!(bad_posts_are_refused_with_their_field);
on_both!(revoked_grants_and_known_limits);
on_both!(faults_never_post_twice);
on_both!(a_worker_killed_after_the_platform_accepted_posts_nothing_twice);
