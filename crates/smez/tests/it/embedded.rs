//! `smez serve all`: every service in one process on the embedded defaults.

use std::collections::HashMap;

use crate::process::{SERVICES, SERVING, Smez, get_json, grpc_health, reflected_services, temp_dir};

#[tokio::test]
async fn serve_all_runs_every_service_in_one_process() {
    let dir = temp_dir("embedded");
    let data_dir = dir.join("data");
    let mut smez = Smez::start(
        "all",
        &["serve", "all", "--data-dir", data_dir.to_str().unwrap()],
        &HashMap::new(),
        &dir,
    );
    let ready = smez.wait_ready().await;
    let modules = ready["modules"].as_object().unwrap();
    for module in ["bus", "grpc", "gateway", "render-worker", "publisher-worker"]
        .into_iter()
        .chain(SERVICES.iter().map(|(name, _)| *name))
    {
        assert_eq!(modules[module], "running", "{module} in {ready}");
    }
    assert_eq!(get_json(&smez.url("/healthz")).await.0, 200);

    // One gRPC listener serves them all: the standard health check says SERVING.
    let endpoint = smez.grpc_endpoint();
    assert_eq!(grpc_health(&endpoint, "").await, SERVING);
    for (_, grpc_name) in SERVICES {
        assert_eq!(grpc_health(&endpoint, grpc_name).await, SERVING, "{grpc_name}");
    }
    // Server reflection lists every service, so grpcurl works without .proto files.
    let listed = reflected_services(&endpoint).await;
    for name in SERVICES.iter().map(|(_, grpc)| *grpc).chain(["grpc.health.v1.Health"]) {
        assert!(listed.iter().any(|l| l == name), "{name} missing from {listed:?}");
    }

    // The gateway reaches every service through the in-process transport,
    // signed and verified like a network call.
    let (code, status) = get_json(&smez.url("/v1/status")).await;
    assert_eq!(code, 200);
    assert_eq!(status["status"], "ok", "{status}");
    let services = status["services"].as_array().unwrap();
    assert_eq!(services.len(), SERVICES.len());
    for service in services {
        assert_eq!(service["state"], "serving", "{service}");
        assert_eq!(service["database_backend"], "sqlite");
        assert_eq!(service["bus_backend"], "in-process");
        assert_eq!(service["seen_caller"], "gateway");
        assert!(service["schema_version"].as_i64().unwrap() >= 1);
    }
    // Each service has its own SQLite file under the data folder.
    for (name, _) in SERVICES {
        assert!(data_dir.join(format!("db/{name}.sqlite")).is_file(), "{name}.sqlite");
    }

    // No platform credentials: the simulators run in-process, and the log says so.
    let log = smez.log();
    for platform in ["tiktok", "instagram", "youtube"] {
        assert!(
            log.lines()
                .any(|l| l.contains("in-process simulator") && l.contains(&format!("\"platform\":\"{platform}\""))),
            "{platform} simulator not announced:\n{log}"
        );
    }

    // Calling a service over gRPC without an internal token is refused.
    let mut direct = smez_proto::vault::v1::vault_service_client::VaultServiceClient::connect(endpoint.clone())
        .await
        .unwrap();
    let refused = direct
        .get_service_info(smez_proto::common::v1::GetServiceInfoRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    // Errors are problem+json; metrics are Prometheus text.
    let missing = reqwest::get(smez.url("/v1/nothing-here")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(problem["code"], "not_found");
    let wrong_method = crate::process::http()
        .post(smez.url("/v1/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["content-type"], "application/problem+json");
    let metrics = reqwest::get(smez.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("smez_grpc_requests_total{"), "{metrics}");
    assert!(
        metrics.contains("code=\"Unauthenticated\""),
        "the refused call is counted"
    );

    // The operator command reaches the vault of the running process.
    let (code, stdout, stderr) = crate::process::run(
        &["vault", "status", "--data-dir", data_dir.to_str().unwrap()],
        &[("SMEZ_SERVICES__VAULT", endpoint.as_str())],
        &dir,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("oauth-tokens") && stdout.contains("current v1"),
        "{stdout}"
    );

    // SIGTERM: a clean, successful exit.
    let status = smez.terminate();
    assert!(status.success(), "exit {status}:\n{}", smez.log());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_data_folder_can_come_from_configuration() {
    let dir = temp_dir("data-dir-config");
    let mut env = HashMap::new();
    env.insert("SMEZ_DATA_DIR".to_owned(), dir.join("elsewhere").display().to_string());
    let mut smez = Smez::start("all", &["serve"], &env, &dir);
    smez.wait_ready().await;
    assert!(dir.join("elsewhere/db/auth.sqlite").is_file());
    assert!(dir.join("elsewhere/keys/internal-signing.key").is_file());
    assert!(!dir.join(".smez").exists(), "nothing written to the default folder");
    assert!(smez.terminate().success());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn at_shutdown_the_process_reports_not_ready_before_it_stops_serving() {
    let dir = temp_dir("drain");
    let env = HashMap::from([("SMEZ_SHUTDOWN__DRAIN_DELAY_SECS".to_owned(), "3".to_owned())]);
    let mut smez = Smez::start("all", &["serve", "all", "--data-dir", "data"], &env, &dir);
    smez.wait_ready().await;
    let endpoint = smez.grpc_endpoint();
    smez.send_term();
    // During the drain delay: still answering, but not ready.
    let started = std::time::Instant::now();
    let (code, body) = loop {
        let (code, body) = get_json(&smez.url("/readyz")).await;
        if code == 503 || started.elapsed() > std::time::Duration::from_secs(2) {
            break (code, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["modules"]["auth"], "stopping");
    assert_eq!(grpc_health(&endpoint, "").await, 2, "NOT_SERVING while draining");
    assert_eq!(grpc_health(&endpoint, "smez.vault.v1.VaultService").await, 2);
    assert!(smez.terminate().success(), "{}", smez.log());
    let _ = std::fs::remove_dir_all(dir);
}
