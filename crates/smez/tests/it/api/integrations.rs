//! Connecting TikTok, Instagram and YouTube accounts: OAuth through the
//! gateway, following redirects as a browser does, against the platform
//! simulators. The test runs the simulators itself, so it sees what the
//! platforms saw (every request, every token issued) and arms their faults;
//! it also collects every span the process exports.
//!
//! On PostgreSQL the events go through RabbitMQ, where the test listens for
//! `connection.status_changed`.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use reqwest::Method;
use serde_json::{Value, json};
use smez_kit::identity::InternalAuth;
use smez_platform_sim::Sim;
use smez_platform_sim::consent::NextConsent;
use smez_platform_sim::faults::{Fault, FaultKind, LostAnswer};
use smez_proto::events::v1::event::Payload;
use smez_proto::publisher::v1::UsableAccessTokenRequest;
use smez_proto::publisher::v1::publisher_service_client::PublisherServiceClient;

use super::{Browser, ORIGIN, Shape, Stack, email};
use crate::collector::{Collector, exporter_env};
use crate::process::amqp_url;

/// A stack whose platforms are a simulator this test holds.
pub(super) struct Platforms {
    pub(super) stack: Stack,
    pub(super) sim: Sim,
    collector: Collector,
    internal: InternalAuth,
    /// The bus prefix, when events go through RabbitMQ.
    bus_prefix: Option<String>,
}

const HOSTS: [&str; 4] = ["AUTH_BASE", "TOKEN_BASE", "API_BASE", "UPLOAD_BASE"];

impl Platforms {
    async fn start(shape: Shape) -> Self {
        Self::start_with(shape, &[]).await
    }

    /// With extra settings (`SMEZ_…` variables).
    pub(super) async fn start_with(shape: Shape, extra: &[(&str, &str)]) -> Self {
        let sim = Sim::start().await.unwrap();
        let collector = Collector::start().await;
        let signing_key = smez_kit::identity::generate_key().signing_key;
        let mut env: Vec<(String, String)> = exporter_env(&collector)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        env.push(("SMEZ_INTERNAL_AUTH__SIGNING_KEY".into(), signing_key.clone()));
        env.push(("SMEZ_PLATFORMS__SIMULATORS".into(), "off".into()));
        for platform in smez_platform_sim::PLATFORMS {
            let prefix = format!("SMEZ_PLATFORMS__{}__", platform.to_uppercase());
            env.push((format!("{prefix}CLIENT_ID"), smez_platform_sim::CLIENT_ID.into()));
            env.push((
                format!("{prefix}CLIENT_SECRET"),
                smez_platform_sim::CLIENT_SECRET.into(),
            ));
            for host in HOSTS {
                env.push((format!("{prefix}{host}"), sim.base_url(platform)));
            }
        }
        let bus_prefix = (shape == Shape::Postgres).then(|| format!("smez-it.{}", uuid::Uuid::new_v4().simple()));
        if let Some(prefix) = &bus_prefix {
            env.push(("SMEZ_BUS__URL".into(), amqp_url()));
            env.push(("SMEZ_BUS__PREFIX".into(), prefix.clone()));
        }
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let stack = Stack::start(shape, &env).await;
        Self {
            stack,
            sim,
            collector,
            internal: InternalAuth::new(&signing_key, &[], 60).unwrap(),
            bus_prefix,
        }
    }

    pub(super) async fn stop(self) {
        if let Some(prefix) = &self.bus_prefix {
            crate::process::clean_bus(prefix, &["it.connections"]).await;
        }
        self.stack.stop().await;
    }

    /// Requests the simulators answered, as (method, path, status), whose path ends with `suffix`.
    pub(super) fn requests(&self, method: &str, suffix: &str) -> Vec<u16> {
        self.sim
            .core
            .records
            .snapshot()
            .requests
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .map(|r| r.status)
            .collect()
    }

    /// Every token the simulators issued, newest last, of one platform and kind.
    fn issued(&self, platform: &str, kind: &str) -> Vec<String> {
        self.sim
            .core
            .records
            .snapshot()
            .issued
            .into_iter()
            .filter(|i| i.platform == platform && i.kind == kind)
            .map(|i| i.value)
            .collect()
    }

    /// Asserts that no token, code or PKCE verifier the simulators saw
    /// appears in what the browsers saw, in the process's log, or in any
    /// exported span; nor any browser's session, CSRF or OAuth-binding
    /// cookie in the log or a span.
    async fn assert_no_secret_leaked(&self, browsers: &[&Browser]) {
        // Spans are exported in batches: give the last ones time to arrive.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let issued = self.sim.core.records.snapshot().issued;
        for kind in ["access_token", "code_verifier"] {
            assert!(issued.iter().any(|i| i.kind == kind), "the test saw a {kind}");
        }
        let log = self.stack.smez.log();
        let spans = self.collector.text();
        assert!(!spans.is_empty(), "spans were exported");
        for secret in &issued {
            let value = secret.value.as_str();
            assert!(!log.contains(value), "{} {} in the log", secret.platform, secret.kind);
            assert!(!spans.contains(value), "{} {} in a span", secret.platform, secret.kind);
            for browser in browsers {
                assert!(
                    !browser.seen.iter().any(|answer| answer.contains(value)),
                    "{} {} in an answer to the browser",
                    secret.platform,
                    secret.kind
                );
            }
        }
        for browser in browsers {
            for name in ["smez_access", "smez_refresh", "smez_csrf", "smez_oauth_browser"] {
                let Some(value) = browser.cookies.get(name).filter(|v| !v.is_empty()) else {
                    continue;
                };
                assert!(!log.contains(value.as_str()), "cookie {name} in the log");
                assert!(!spans.contains(value.as_str()), "cookie {name} in a span");
            }
        }
    }

    /// `GetUsableAccessToken` as the publisher's workers call it.
    async fn usable(
        &self,
        workspace: &str,
        connection: &str,
        refused_version: Option<i64>,
    ) -> Result<smez_proto::publisher::v1::UsableAccessToken, tonic::Status> {
        let mut client = PublisherServiceClient::connect(self.stack.smez.grpc_endpoint())
            .await
            .unwrap();
        let mut request = tonic::Request::new(UsableAccessTokenRequest {
            workspace_id: workspace.to_owned(),
            connection_id: connection.to_owned(),
            purpose: "publish".to_owned(),
            refused_version,
        });
        let token = self.internal.mint("publisher", "publisher", None);
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        client.get_usable_access_token(request).await.map(|r| r.into_inner())
    }

    /// Makes the stored access token of `connection` look expired to Smez.
    async fn age_access_token(&self, connection: &str) {
        let aged = self
            .stack
            .execute(
                "publisher",
                &format!("UPDATE connections SET access_expires_at_ms = 1 WHERE connection_id = '{connection}'"),
            )
            .await;
        assert_eq!(aged, 1);
    }
}

macro_rules! with_simulators {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let platforms = super::Platforms::start(super::Shape::Sqlite).await;
                super::$name(&platforms).await;
                platforms.stop().await;
            }

            #[tokio::test]
            async fn postgres() {
                let platforms = super::Platforms::start(super::Shape::Postgres).await;
                super::$name(&platforms).await;
                platforms.stop().await;
            }
        }
    };
}

/// Signs up and activates a new workspace; returns its id.
async fn owner_with_workspace(browser: &mut Browser, name: &str) -> String {
    browser.signup(&email(name), name).await.expect(201);
    new_workspace(browser, name).await
}

pub(super) async fn new_workspace(browser: &mut Browser, name: &str) -> String {
    let created = browser
        .call(Method::POST, "/v1/workspaces", Some(json!({"name": name})))
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    activate(browser, &id).await;
    id
}

pub(super) async fn activate(browser: &mut Browser, workspace: &str) {
    browser
        .call(Method::POST, &format!("/v1/workspaces/{workspace}/activate"), None)
        .await
        .expect(200);
}

/// A new user who joins `workspace` as `role` and makes it active.
pub(super) async fn member(stack: &Stack, owner: &mut Browser, workspace: &str, role: &str) -> Browser {
    let mut browser = stack.browser();
    let address = email(role);
    browser.signup(&address, role).await.expect(201);
    let invitation = owner
        .call(
            Method::POST,
            &format!("/v1/workspaces/{workspace}/invitations"),
            Some(json!({"email": address, "role": role})),
        )
        .await
        .expect(201);
    let token = invitation.body["token"].as_str().unwrap();
    browser
        .call(Method::POST, &format!("/v1/invitations/{token}/accept"), None)
        .await
        .expect(200);
    activate(&mut browser, workspace).await;
    browser
}

/// Starts a connect and lets the platform's consent screen answer: the URL
/// the platform sends the browser back to.
async fn consent(browser: &mut Browser, platform: &str) -> String {
    let started = browser
        .call(Method::POST, &format!("/v1/integrations/{platform}/connect"), None)
        .await
        .expect(200);
    let authorize = started.body["authorize_url"].as_str().unwrap();
    let answer = crate::process::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(authorize)
        .send()
        .await
        .unwrap();
    let callback = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("the consent screen redirected nowhere: {}", answer.status()))
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        callback.starts_with(&format!("{ORIGIN}/v1/integrations/{platform}/callback?")),
        "{callback}"
    );
    callback
}

/// Follows a callback URL to the landing page; returns the outcome it shows.
async fn land(browser: &mut Browser, callback: &str) -> Value {
    let (hops, landed) = browser.navigate(callback).await;
    assert_eq!(landed.status, 200, "{hops:?}: {:?}", landed.body);
    assert!(
        hops.last()
            .unwrap()
            .starts_with(&format!("{ORIGIN}/v1/integrations/outcome?")),
        "{hops:?}"
    );
    landed.body
}

/// Connects one account of `platform` end to end; returns the outcome.
pub(super) async fn connect(browser: &mut Browser, platform: &str) -> Value {
    let callback = consent(browser, platform).await;
    land(browser, &callback).await
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

with_simulators!(every_platform_connects_and_disconnects);
async fn every_platform_connects_and_disconnects(p: &Platforms) {
    let stack = &p.stack;
    let mut owner = stack.browser();
    let workspace = owner_with_workspace(&mut owner, "Studio").await;

    // TikTok: PKCE (the verifier never leaves the server), a browser-binding cookie.
    let started = owner
        .call(Method::POST, "/v1/integrations/tiktok/connect", None)
        .await
        .expect(200);
    let authorize = text(&started.body["authorize_url"]);
    assert!(authorize.starts_with(&p.sim.base_url("tiktok")), "{authorize}");
    assert!(authorize.contains("code_challenge="), "{authorize}");
    assert!(!authorize.contains("code_verifier"), "{authorize}");
    assert_eq!(
        started.body["redirect_uri"],
        format!("{ORIGIN}/v1/integrations/tiktok/callback")
    );
    assert!(
        started
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("smez_oauth_browser=") && c.contains("HttpOnly")),
        "{:?}",
        started.set_cookies()
    );
    let (_, landed) = owner.navigate(&authorize).await;
    assert_eq!(landed.body["outcome"], "connected", "{:?}", landed.body);
    assert_eq!(landed.body["platform"], "tiktok");
    let tiktok = text(&landed.body["connection_id"]);

    // Instagram, with one scope unticked on the consent screen: it shows as missing.
    p.sim.core.consent.set(
        "instagram",
        NextConsent {
            untick: vec!["instagram_business_manage_insights".into()],
            ..NextConsent::default()
        },
    );
    let outcome = connect(&mut owner, "instagram").await;
    assert_eq!(outcome["outcome"], "connected", "{outcome}");
    let instagram = text(&outcome["connection_id"]);
    let shown = owner
        .call(Method::GET, &format!("/v1/integrations/{instagram}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["missing_for_publishing"], json!([]));
    assert_eq!(
        shown["missing_for_analytics"],
        json!(["instagram_business_manage_insights"])
    );

    // YouTube, a login with three channels: the user chooses; the code is exchanged once.
    p.sim.core.consent.set(
        "youtube",
        NextConsent {
            accounts: Some(3),
            ..NextConsent::default()
        },
    );
    let outcome = connect(&mut owner, "youtube").await;
    assert_eq!(outcome["outcome"], "choose_account", "{outcome}");
    let pending = text(&outcome["pending_id"]);
    let choice = owner
        .call(Method::GET, &format!("/v1/integrations/pending/{pending}"), None)
        .await
        .expect(200)
        .body;
    let accounts = choice["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3, "{choice}");
    let chosen = text(&accounts[1]["account_id"]);
    let selected = owner
        .call(
            Method::POST,
            &format!("/v1/integrations/pending/{pending}/select"),
            Some(json!({"account_id": chosen})),
        )
        .await
        .expect(201)
        .body;
    assert_eq!(selected["account_id"], chosen.as_str());
    assert_eq!(selected["platform"], "youtube");
    owner
        .call(
            Method::POST,
            &format!("/v1/integrations/pending/{pending}/select"),
            Some(json!({"account_id": chosen})),
        )
        .await
        .expect(404);
    assert_eq!(p.requests("POST", "/youtube/token"), [200], "one code exchange");

    let listed = owner.call(Method::GET, "/v1/integrations", None).await.expect(200).body;
    let connections = listed["connections"].as_array().unwrap();
    assert_eq!(connections.len(), 3, "{listed}");
    assert!(connections.iter().all(|c| c["status"] == "active"), "{listed}");

    // Reconnecting the same TikTok account updates it in place.
    let again = connect(&mut owner, "tiktok").await;
    assert_eq!(again["outcome"], "connected", "{again}");
    assert_eq!(again["connection_id"], tiktok.as_str());

    // Editors and viewers see the connections but may not connect or disconnect.
    for role in ["editor", "viewer"] {
        let mut other = member(stack, &mut owner, &workspace, role).await;
        other
            .call(Method::POST, "/v1/integrations/youtube/connect", None)
            .await
            .expect(403);
        other
            .call(Method::DELETE, &format!("/v1/integrations/{tiktok}"), None)
            .await
            .expect(403);
        let seen = other.call(Method::GET, "/v1/integrations", None).await.expect(200).body;
        assert_eq!(seen["connections"].as_array().unwrap().len(), 3);
    }

    // Disconnect: revoked at TikTok, tokens gone from the vault, the row kept as history.
    assert_eq!(
        stack
            .rows(
                "vault",
                &format!("SELECT connection_id FROM vault_credentials WHERE connection_id = '{tiktok}'")
            )
            .await
            .len(),
        1
    );
    let gone = owner
        .call(Method::DELETE, &format!("/v1/integrations/{tiktok}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(gone["platform_revoked"], true, "{gone}");
    assert_eq!(gone["connection"]["status"], "revoked");
    assert_eq!(p.requests("POST", "/tiktok/v2/oauth/revoke/"), [200]);
    assert!(
        stack
            .rows(
                "vault",
                &format!("SELECT connection_id FROM vault_credentials WHERE connection_id = '{tiktok}'")
            )
            .await
            .is_empty(),
        "the credentials are deleted"
    );
    let listed = owner.call(Method::GET, "/v1/integrations", None).await.expect(200).body;
    assert_eq!(listed["connections"].as_array().unwrap().len(), 2);
    let history = owner
        .call(Method::GET, "/v1/integrations?include_revoked=true", None)
        .await
        .expect(200)
        .body;
    assert_eq!(history["connections"].as_array().unwrap().len(), 3);

    p.assert_no_secret_leaked(&[&owner]).await;
}

/// The callback URL with its `state` changed by `edit`.
fn with_state(callback: &str, edit: impl Fn(&str) -> String) -> String {
    let mut url = reqwest::Url::parse(callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" { edit(&v) } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

fn state_of(callback: &str) -> String {
    reqwest::Url::parse(callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

with_simulators!(forged_or_spent_states_are_refused);
async fn forged_or_spent_states_are_refused(p: &Platforms) {
    let stack = &p.stack;
    let mut owner = stack.browser();
    let workspace = owner_with_workspace(&mut owner, "Studio").await;
    let mut admin = member(stack, &mut owner, &workspace, "admin").await;
    let refused = |outcome: &Value, reason: &str| {
        assert_eq!(outcome["outcome"], "error", "{outcome}");
        assert_eq!(outcome["reason"], reason, "{outcome}");
    };

    // Replayed: the second visit of the same callback is refused.
    let callback = consent(&mut owner, "tiktok").await;
    assert_eq!(land(&mut owner, &callback).await["outcome"], "connected");
    refused(&land(&mut owner, &callback).await, "state_replayed");

    // Expired: the connect took longer than integrations.state_ttl_secs.
    let callback = consent(&mut owner, "tiktok").await;
    let state = state_of(&callback);
    let state_id = state.split('.').next().unwrap();
    stack
        .execute(
            "publisher",
            &format!("UPDATE oauth_states SET expires_at_ms = 1 WHERE state_id = '{state_id}'"),
        )
        .await;
    refused(&land(&mut owner, &callback).await, "state_expired");

    // Signed for another user: the admin started it; the owner's session brings it back.
    let callback = consent(&mut admin, "tiktok").await;
    refused(&land(&mut owner, &callback).await, "state_user_mismatch");

    // Signed for another workspace: started in Studio, back while another is active.
    let callback = consent(&mut owner, "tiktok").await;
    let elsewhere = new_workspace(&mut owner, "Elsewhere").await;
    refused(&land(&mut owner, &callback).await, "state_unknown");
    activate(&mut owner, &workspace).await;

    // Signed for another platform: a TikTok state brought to the YouTube callback.
    let callback = consent(&mut owner, "tiktok").await;
    let crossed = callback.replace("/integrations/tiktok/callback", "/integrations/youtube/callback");
    refused(&land(&mut owner, &crossed).await, "state_platform_mismatch");

    // Tampered: one character of the signature changed.
    let callback = consent(&mut owner, "tiktok").await;
    let forged = with_state(&callback, |state| {
        let (id, tag) = state.split_once('.').unwrap();
        let flipped = if tag.starts_with('A') { 'B' } else { 'A' };
        format!("{id}.{flipped}{}", &tag[1..])
    });
    refused(&land(&mut owner, &forged).await, "state_tampered");

    // Another browser (the same user's session without the binding cookie).
    let callback = consent(&mut owner, "tiktok").await;
    let binding = owner.cookies.remove("smez_oauth_browser").unwrap();
    refused(&land(&mut owner, &callback).await, "state_browser_mismatch");
    owner.cookies.insert("smez_oauth_browser".into(), binding);

    // Nothing refused reached the platform's token endpoint, and each left a security event.
    assert_eq!(
        p.requests("POST", "/tiktok/v2/oauth/token/"),
        [200],
        "one code exchanged"
    );
    let events = owner
        .call(
            Method::GET,
            &format!("/v1/workspaces/{workspace}/security-events?limit=200"),
            None,
        )
        .await
        .expect(200)
        .body;
    let rejected: Vec<String> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "oauth_state_rejected")
        .map(|e| text(&e["detail"]))
        .collect();
    for reason in [
        "state_replayed",
        "state_expired",
        "state_user_mismatch",
        "state_platform_mismatch",
        "state_tampered",
        "state_browser_mismatch",
    ] {
        assert_eq!(
            rejected.iter().filter(|d| d.contains(reason)).count(),
            1,
            "{reason} in {rejected:?}"
        );
    }
    let other = owner
        .call(
            Method::GET,
            &format!("/v1/workspaces/{elsewhere}/security-events?limit=200"),
            None,
        )
        .await
        .expect(200)
        .body;
    assert!(
        other["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "oauth_state_rejected" && text(&e["detail"]).contains("state_unknown")),
        "{other}"
    );

    // Refusals on the platform's side are not security events but are said plainly.
    p.sim.core.consent.set(
        "tiktok",
        NextConsent {
            deny: true,
            ..NextConsent::default()
        },
    );
    refused(&connect(&mut owner, "tiktok").await, "consent_denied");

    p.assert_no_secret_leaked(&[&owner, &admin]).await;
}

/// Waits for `connection.status_changed` events of `connection`; returns their statuses.
async fn status_changes(deliveries: &mut smez_bus::Deliveries, connection: &str, wait: Duration) -> Vec<String> {
    let mut statuses = Vec::new();
    while let Ok(Some(delivery)) = tokio::time::timeout(wait, deliveries.next()).await {
        let event = smez_proto::events::v1::Event::decode(delivery.job.payload.clone()).unwrap();
        if let Some(Payload::ConnectionStatusChanged(changed)) = event.payload
            && changed.connection_id == connection
        {
            statuses.push(changed.status);
        }
        delivery.ack().await.unwrap();
    }
    statuses
}

with_simulators!(tokens_refresh_once_and_fail_honestly);
async fn tokens_refresh_once_and_fail_honestly(p: &Platforms) {
    let stack = &p.stack;
    let mut owner = stack.browser();
    let workspace = owner_with_workspace(&mut owner, "Studio").await;
    let tiktok = text(&connect(&mut owner, "tiktok").await["connection_id"]);
    let youtube = text(&connect(&mut owner, "youtube").await["connection_id"]);
    let mut events = match &p.bus_prefix {
        Some(prefix) => {
            let backend = smez_bus::rabbit::RabbitBackend::connect(&amqp_url(), prefix)
                .await
                .unwrap();
            let bus = smez_bus::Bus::new(
                Arc::new(backend),
                smez_bus::RetryPolicy {
                    max_attempts: 1,
                    delays: vec![Duration::from_millis(100)],
                },
            );
            Some(
                bus.subscribe("it.connections", &["connection.status_changed"], 16)
                    .await
                    .unwrap(),
            )
        }
        None => None,
    };

    // Twenty workers find the access token expired at once: one refresh reaches TikTok.
    let first = p.usable(&workspace, &tiktok, None).await.unwrap();
    p.age_access_token(&tiktok).await;
    let before = p.requests("POST", "/tiktok/v2/oauth/token/").len();
    let answers = futures_util::future::join_all((0..20).map(|_| p.usable(&workspace, &tiktok, None))).await;
    let answers: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(p.requests("POST", "/tiktok/v2/oauth/token/").len() - before, 1);
    assert!(answers.iter().all(|a| a.access_token == answers[0].access_token));
    assert!(answers.iter().all(|a| a.version == first.version + 1));
    assert_ne!(answers[0].access_token, first.access_token);

    // A worker whose token the platform refused asks again: one more refresh,
    // with the rotated refresh token (TikTok refuses a spent one with 400).
    let second = p.usable(&workspace, &tiktok, Some(answers[0].version)).await.unwrap();
    assert_eq!(second.version, first.version + 2);
    let stale = p.usable(&workspace, &tiktok, Some(answers[0].version)).await.unwrap();
    assert_eq!(stale.version, second.version, "a stale refusal does not refresh again");
    assert!(
        p.requests("POST", "/tiktok/v2/oauth/token/").iter().all(|s| *s == 200),
        "no spent refresh token was sent: {:?}",
        p.requests("POST", "/tiktok/v2/oauth/token/")
    );

    // The token endpoint answers 503 once: retried, the connection stays active.
    p.sim.core.faults.add(Fault {
        endpoint: "tiktok.token".into(),
        fault: FaultKind::Status {
            status: 503,
            body: json!({"error": "server_error", "error_description": "try later"}),
        },
        times: 1,
    });
    let after_outage = p.usable(&workspace, &tiktok, Some(second.version)).await.unwrap();
    assert_eq!(after_outage.version, second.version + 1);
    let tail: Vec<u16> = p
        .requests("POST", "/tiktok/v2/oauth/token/")
        .into_iter()
        .rev()
        .take(2)
        .collect();
    assert_eq!(tail, [200, 503]);
    let shown = owner
        .call(Method::GET, &format!("/v1/integrations/{tiktok}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(shown["status"], "active");

    // TikTok rotates the token but its answer is lost; the retry with the
    // spent token is refused. That refusal may be our own doing, so the
    // connection stays active and no security event is recorded for it.
    p.sim.core.faults.lose_answers(LostAnswer {
        path_contains: "/tiktok/v2/oauth/token/".into(),
        method: Some("POST".into()),
        skip: 0,
        times: 1,
        hold_ms: 0,
    });
    let unclear = p
        .usable(&workspace, &tiktok, Some(after_outage.version))
        .await
        .unwrap_err();
    assert_eq!(unclear.code(), tonic::Code::Unavailable, "{unclear:?}");
    let shown = owner
        .call(Method::GET, &format!("/v1/integrations/{tiktok}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(shown["status"], "active", "{shown}");

    // Google answers a refresh without a refresh token: the stored one is kept.
    for _ in 0..2 {
        let current = p.usable(&workspace, &youtube, None).await.unwrap();
        let refreshed = p.usable(&workspace, &youtube, Some(current.version)).await.unwrap();
        assert_eq!(refreshed.version, current.version + 1);
    }
    assert_eq!(p.issued("youtube", "refresh_token").len(), 1);

    // The user revokes Smez at TikTok: reauthorization required, said once.
    let latest_refresh = p.issued("tiktok", "refresh_token").pop().unwrap();
    let revoked = crate::process::http()
        .post(format!("{}/v2/oauth/revoke/", p.sim.base_url("tiktok")))
        .form(&[
            ("client_key", smez_platform_sim::CLIENT_ID),
            ("client_secret", smez_platform_sim::CLIENT_SECRET),
            ("token", latest_refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let dead = p
        .usable(&workspace, &tiktok, Some(after_outage.version))
        .await
        .unwrap_err();
    assert_eq!(dead.code(), tonic::Code::FailedPrecondition, "{dead:?}");
    let again = p.usable(&workspace, &tiktok, None).await.unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition, "{again:?}");
    let shown = owner
        .call(Method::GET, &format!("/v1/integrations/{tiktok}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(shown["status"], "reauthorization_required", "{shown}");
    let security = owner
        .call(
            Method::GET,
            &format!("/v1/workspaces/{workspace}/security-events?limit=200"),
            None,
        )
        .await
        .expect(200)
        .body;
    let failures = security["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "token_refresh_failed")
        .count();
    assert_eq!(failures, 1, "{security}");
    if let Some(deliveries) = events.as_mut() {
        let statuses = status_changes(deliveries, &tiktok, Duration::from_secs(3)).await;
        assert_eq!(statuses, ["reauthorization_required"]);
    }

    p.assert_no_secret_leaked(&[&owner]).await;
}
