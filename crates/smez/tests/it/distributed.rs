//! One process per service, PostgreSQL and RabbitMQ, real gRPC between them.

use std::collections::HashMap;

use smez_store::sea_orm::{ConnectionTrait, Database};

use crate::process::{SERVICES, SERVING, Smez, amqp_url, get_json, grpc_health, postgres_url, temp_dir};

#[tokio::test]
async fn each_service_runs_alone_and_the_gateway_reaches_them_over_grpc() {
    let dir = temp_dir("distributed");
    crate::api::ensure_app_role().await;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let schema_prefix = format!("smez_it_{run_id}_");
    // One signing key per process; every process learns which key proves which service.
    let identities: Vec<&str> = std::iter::once("gateway").chain(smez_kit::config::SERVICES).collect();
    let keys: HashMap<&str, smez_kit::identity::GeneratedKey> = identities
        .iter()
        .map(|i| (*i, smez_kit::identity::generate_key()))
        .collect();
    let trusted = identities
        .iter()
        .map(|i| format!("{i}={}", keys[i].public_key))
        .collect::<Vec<_>>()
        .join(",");
    let signing = |identity: &str| keys[identity].signing_key.clone();
    let mut shared = HashMap::from([
        ("SMEZ_INTERNAL_AUTH__TRUSTED_KEYS".to_owned(), trusted),
        // As in production: services run as a role that owns nothing (or
        // they refuse to start), and the owner migrates.
        ("SMEZ_DATABASE__URL".to_owned(), crate::api::app_role_url()),
        ("SMEZ_DATABASE__OWNER_URL".to_owned(), postgres_url()),
        ("SMEZ_DATABASE__SCHEMA_PREFIX".to_owned(), schema_prefix.clone()),
        ("SMEZ_DATABASE__MAX_CONNECTIONS".to_owned(), "2".to_owned()),
        ("SMEZ_BUS__URL".to_owned(), amqp_url()),
        ("SMEZ_BUS__PREFIX".to_owned(), format!("smez-it.{run_id}")),
        ("SMEZ_ENVIRONMENT".to_owned(), "production".to_owned()),
        ("SMEZ_DATA_DIR".to_owned(), dir.join("data").display().to_string()),
    ]);

    let mut services = Vec::new();
    for (name, _) in SERVICES {
        let mut env = shared.clone();
        env.insert("SMEZ_INTERNAL_AUTH__SIGNING_KEY".to_owned(), signing(name));
        if name == "auth" {
            env.insert(
                "SMEZ_AUTH__SIGNING_KEYS".to_owned(),
                smez_kit::identity::generate_key().signing_key,
            );
        }
        if name == "vault" {
            // Only the vault process holds the root key.
            env.insert("SMEZ_VAULT__ROOT_KEY".to_owned(), smez_vault::generate_root_key());
        }
        if name == "publisher" {
            // Only the publisher signs OAuth states.
            env.insert(
                "SMEZ_INTEGRATIONS__STATE_KEY".to_owned(),
                smez_publisher::state::generate_key(),
            );
        }
        let service = Smez::start(name, &["serve", name], &env, &dir);
        // Later services learn where the earlier ones live (render calls media).
        shared.insert(
            format!("SMEZ_SERVICES__{}", name.to_uppercase()),
            service.grpc_endpoint(),
        );
        services.push(service);
    }
    for service in &mut services {
        let ready = service.wait_ready().await;
        assert_eq!(ready["modules"][&service.name], "running", "{ready}");
        assert!(
            ready["modules"].get("gateway").is_none(),
            "a service process runs only its service"
        );
    }
    for (service, (_, grpc_name)) in services.iter().zip(SERVICES) {
        let endpoint = service.grpc_endpoint();
        assert_eq!(grpc_health(&endpoint, grpc_name).await, SERVING, "{grpc_name}");
    }

    // The gateway in its own process, told where each service lives (`shared`).
    let mut gateway_env = shared.clone();
    gateway_env.insert("SMEZ_INTERNAL_AUTH__SIGNING_KEY".to_owned(), signing("gateway"));
    let mut gateway = Smez::start("gateway", &["serve", "gateway"], &gateway_env, &dir);
    gateway.wait_ready().await;
    let (code, status) = get_json(&gateway.url("/v1/status")).await;
    assert_eq!(code, 200);
    assert_eq!(status["status"], "ok", "{status}");
    for service in status["services"].as_array().unwrap() {
        assert_eq!(service["state"], "serving", "{service}");
        assert_eq!(service["database_backend"], "postgres");
        assert_eq!(service["bus_backend"], "rabbitmq");
        assert_eq!(
            service["seen_caller"], "gateway",
            "the token crossed the network and was verified"
        );
    }

    // An account deleted at the gateway is purged by every service process,
    // driven by events over RabbitMQ, until every purge request is confirmed.
    let user_id = sign_up_and_leave(&gateway).await;
    let db = Database::connect(postgres_url()).await.unwrap();
    let count = |sql: String| {
        let db = &db;
        async move {
            let row = db
                .query_one_raw(smez_store::sea_orm::Statement::from_string(
                    smez_store::sea_orm::DbBackend::Postgres,
                    sql,
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        }
    };
    let started = std::time::Instant::now();
    loop {
        let left = count(format!(
            "SELECT (SELECT count(*) FROM \"{schema_prefix}auth\".smez_purge_requests) \
                  + (SELECT count(*) FROM \"{schema_prefix}workspace\".smez_purge_requests) \
                  + (SELECT count(*) FROM \"{schema_prefix}workspace\".memberships WHERE user_id = '{user_id}') \
                  + (SELECT count(*) FROM \"{schema_prefix}auth\".users WHERE user_id = '{user_id}')"
        ))
        .await;
        if left == 0 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the purge did not complete over RabbitMQ: {left} row(s) left"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    db.close().await.unwrap();

    // Worker pools scale as processes of their own.
    let mut workers_env = shared.clone();
    workers_env.insert("SMEZ_INTERNAL_AUTH__SIGNING_KEY".to_owned(), signing("render"));
    let mut workers = Smez::start("workers", &["serve", "render-worker"], &workers_env, &dir);
    let ready = workers.wait_ready().await;
    assert_eq!(ready["modules"]["render-worker"], "running");

    // A gateway signing with a key nobody trusts is refused by every service.
    let mut stranger_env = shared.clone();
    stranger_env.insert(
        "SMEZ_INTERNAL_AUTH__SIGNING_KEY".to_owned(),
        smez_kit::identity::generate_key().signing_key,
    );
    let mut stranger = Smez::start("stranger-gateway", &["serve", "gateway"], &stranger_env, &dir);
    stranger.wait_ready().await;
    let (_, refused) = get_json(&stranger.url("/v1/status")).await;
    assert_eq!(refused["status"], "degraded");
    for service in refused["services"].as_array().unwrap() {
        assert_eq!(service["state"], "unauthenticated", "{service}");
    }
    // A gateway holding the publisher's key is a publisher, not a gateway:
    // the key proves one identity only.
    let mut confused_env = shared.clone();
    confused_env.insert("SMEZ_INTERNAL_AUTH__SIGNING_KEY".to_owned(), signing("publisher"));
    let mut confused = Smez::start("confused-gateway", &["serve", "gateway"], &confused_env, &dir);
    confused.wait_ready().await;
    let (_, refused) = get_json(&confused.url("/v1/status")).await;
    assert!(
        refused["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "unauthenticated"),
        "{refused}"
    );

    // Stopping a service shows up at the gateway as that service unavailable.
    let vault = services.pop().unwrap();
    drop(vault);
    let (_, degraded) = get_json(&gateway.url("/v1/status")).await;
    let vault_status = degraded["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "vault")
        .unwrap()
        .clone();
    assert_eq!(vault_status["state"], "unavailable", "{degraded}");

    for process in services
        .iter_mut()
        .chain([&mut gateway, &mut workers, &mut stranger, &mut confused])
    {
        let exit = process.terminate();
        assert!(exit.success(), "{} exit {exit}:\n{}", process.name, process.log());
    }
    drop_schemas(&schema_prefix).await;
    crate::process::clean_bus(&format!("smez-it.{run_id}"), &[]).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Signs up, makes a workspace, deletes the account; returns the user id.
async fn sign_up_and_leave(gateway: &Smez) -> String {
    let client = crate::process::http();
    let call = |method: reqwest::Method, path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut request = client
            .request(method, gateway.url(path))
            .header("x-smez-client", "mobile")
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let password = "distributed passphrase";
    let (status, session) = call(
        reqwest::Method::POST,
        "/v1/auth/signup",
        None,
        serde_json::json!({"email": format!("d.{}@example.com", uuid::Uuid::new_v4().simple()),
            "password": password, "display_name": "Dist", "date_of_birth": "1990-01-01"}),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    let token = session["access_token"].as_str().unwrap().to_owned();
    let (status, workspace) = call(
        reqwest::Method::POST,
        "/v1/workspaces",
        Some(&token),
        serde_json::json!({"name": "Soon gone"}),
    )
    .await;
    assert_eq!(status, 201, "{workspace}");
    // An edit plan crosses three processes: gateway → render → media (which
    // alone knows the workspace's media), and every problem comes back.
    let plan = client
        .post(gateway.url("/v1/edit-plans"))
        .header("x-smez-client", "mobile")
        .header("x-smez-workspace", workspace["id"].as_str().unwrap())
        .bearer_auth(&token)
        .json(&serde_json::json!({"schema": "smez.edit_plan/1", "video": [
            {"media_id": "nowhere", "source_in": {"value": 0, "rate": 1}, "source_out": {"value": 3, "rate": 1}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(plan.status(), 422);
    let problem: serde_json::Value = plan.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "plan.video[0].media_id", "{problem}");
    let (status, body) = call(
        reqwest::Method::DELETE,
        "/v1/me",
        Some(&token),
        serde_json::json!({"password": password}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    session["user"]["id"].as_str().unwrap().to_owned()
}

async fn drop_schemas(prefix: &str) {
    let db = Database::connect(postgres_url()).await.unwrap();
    for (name, _) in SERVICES {
        db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{prefix}{name}\" CASCADE"))
            .await
            .unwrap();
    }
}
