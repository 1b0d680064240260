//! TLS: HTTPS on the HTTP listener, mutual TLS on internal gRPC between
//! processes, and bad certificate files refused at start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use smez_store::sea_orm::{ConnectionTrait, Database};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::process::{SERVICES, SERVING, Smez, amqp_url, get_json, postgres_url, run, temp_dir};

/// A throwaway CA and what it signed, as PEM files in a test's folder.
struct Pki {
    ca: PathBuf,
    /// For 127.0.0.1, good for both TLS servers and clients.
    cert: PathBuf,
    key: PathBuf,
}

/// A certificate and key from `ca`, valid for 127.0.0.1 as a server and a client.
struct Leaf {
    cert: String,
    key: String,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(ca: &CertifiedIssuer<'static, KeyPair>) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "smez node");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &**ca).unwrap();
    Leaf {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

impl Pki {
    fn create(dir: &Path) -> Self {
        let authority = ca("Smez test CA");
        let node = leaf(&authority);
        let pki = Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("node.pem"),
            key: dir.join("node.key"),
        };
        std::fs::write(&pki.ca, authority.pem()).unwrap();
        std::fs::write(&pki.cert, node.cert).unwrap();
        std::fs::write(&pki.key, node.key).unwrap();
        pki
    }

    fn ca_pem(&self) -> String {
        std::fs::read_to_string(&self.ca).unwrap()
    }

    fn identity(&self) -> Identity {
        Identity::from_pem(std::fs::read(&self.cert).unwrap(), std::fs::read(&self.key).unwrap())
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// One HTTP/1.1 request over TLS, trusting `ca_pem` only: (status, body, ALPN protocol).
async fn https_get(port: u16, request_path: &str, ca_pem: &str) -> std::io::Result<(u16, String, Option<Vec<u8>>)> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let server_name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await?;
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let request = format!("GET {request_path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    match tls.read_to_end(&mut response).await {
        Ok(_) => {}
        // A peer that closes without close_notify still sent the whole response.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {}
        Err(e) => return Err(e),
    }
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    Ok((status, body.to_owned(), alpn))
}

/// Waits for `/readyz` to answer 200 over HTTPS.
async fn wait_ready_https(smez: &mut Smez, ca_pem: &str) {
    let started = Instant::now();
    loop {
        if let Some(status) = smez.exited() {
            panic!(
                "{} exited with {status} before it was ready:\n{}",
                smez.name,
                smez.log()
            );
        }
        if let Ok((200, _, _)) = https_get(smez.http_port, "/readyz", ca_pem).await {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} not ready over HTTPS within 60 s:\n{}",
            smez.name,
            smez.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_http_listener_serves_https_and_refuses_plain_http() {
    let dir = temp_dir("tls-https");
    let pki = Pki::create(&dir);
    let env = HashMap::from([
        ("SMEZ_HTTP__TLS_CERT_FILE".to_owned(), path(&pki.cert)),
        ("SMEZ_HTTP__TLS_KEY_FILE".to_owned(), path(&pki.key)),
        ("SMEZ_DATA_DIR".to_owned(), path(&dir.join("data"))),
    ]);
    let mut smez = Smez::start("https", &["serve", "all"], &env, &dir);
    let ca_pem = pki.ca_pem();
    wait_ready_https(&mut smez, &ca_pem).await;

    let (status, body, alpn) = https_get(smez.http_port, "/healthz", &ca_pem).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"],
        "ok"
    );
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]), "ALPN settles on HTTP/1.1");
    // The whole router is behind TLS, the gateway's REST API included.
    let (status, body, _) = https_get(smez.http_port, "/v1/status", &ca_pem).await.unwrap();
    assert_eq!(status, 200, "{body}");

    // Plain HTTP to the same port gets no HTTP answer.
    let plain = crate::process::http()
        .get(smez.url("/healthz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");
    // A client that does not trust the CA does not get through either.
    let stranger = ca("Some other CA").pem();
    assert!(https_get(smez.http_port, "/healthz", &stranger).await.is_err());

    // Graceful shutdown works over TLS too.
    let exit = smez.terminate();
    assert!(exit.success(), "exit {exit}:\n{}", smez.log());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn bad_certificate_files_stop_the_process_at_start_naming_the_key() {
    let dir = temp_dir("tls-bad-files");
    let pki = Pki::create(&dir);
    let other = leaf(&ca("Some other CA"));
    let other_key = dir.join("other.key");
    let other_cert = dir.join("other.pem");
    std::fs::write(&other_key, other.key).unwrap();
    std::fs::write(&other_cert, other.cert).unwrap();
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let missing = dir.join("missing.pem");
    let data_dir = path(&dir.join("data"));
    let (cert, key, ca, other_key, other_cert, garbage, missing) = (
        path(&pki.cert),
        path(&pki.key),
        path(&pki.ca),
        path(&other_key),
        path(&other_cert),
        path(&garbage),
        path(&missing),
    );

    let cases = [
        (
            vec![
                ("SMEZ_HTTP__TLS_CERT_FILE", &missing),
                ("SMEZ_HTTP__TLS_KEY_FILE", &key),
            ],
            "http.tls_cert_file",
            "cannot read",
        ),
        (
            vec![
                ("SMEZ_HTTP__TLS_CERT_FILE", &garbage),
                ("SMEZ_HTTP__TLS_KEY_FILE", &key),
            ],
            "http.tls_cert_file",
            "no PEM certificate",
        ),
        (
            vec![
                ("SMEZ_HTTP__TLS_CERT_FILE", &cert),
                ("SMEZ_HTTP__TLS_KEY_FILE", &other_key),
            ],
            "http.tls_key_file",
            "does not belong to the certificate",
        ),
        (
            vec![
                ("SMEZ_GRPC__TLS_CERT_FILE", &cert),
                ("SMEZ_GRPC__TLS_KEY_FILE", &garbage),
            ],
            "grpc.tls_key_file",
            "no PEM private key",
        ),
        (
            vec![
                ("SMEZ_GRPC__TLS_CERT_FILE", &other_cert),
                ("SMEZ_GRPC__TLS_KEY_FILE", &other_key),
                ("SMEZ_GRPC__TLS_CA_FILE", &ca),
            ],
            "grpc.tls_cert_file",
            "not signed by the CA",
        ),
    ];
    for (env, key_named, reason) in cases {
        let env: Vec<(&str, &str)> = env
            .into_iter()
            .map(|(name, value)| (name, value.as_str()))
            .chain([("SMEZ_DATA_DIR", data_dir.as_str())])
            .collect();
        let (code, _, stderr) = run(&["serve", "all"], &env, &dir);
        assert_eq!(code, 2, "{env:?}: {stderr}");
        assert!(
            stderr.contains(key_named) && stderr.contains(reason),
            "{env:?}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `grpc.health.v1` Check of the whole server at `port` over TLS, as a client configured by `tls`.
async fn health_over_tls(port: u16, tls: ClientTlsConfig) -> Result<i32, String> {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let channel = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map(|response| response.into_inner().status)
        .map_err(|e| format!("check: {e:?}"))
}

#[tokio::test]
async fn services_and_gateway_in_two_processes_talk_mutual_tls() {
    let dir = temp_dir("tls-mtls");
    let pki = Pki::create(&dir);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let schema_prefix = format!("smez_it_{run_id}_");
    // Development keys: both processes share the internal signing key generated under one data folder.
    let shared = HashMap::from([
        ("SMEZ_DATA_DIR".to_owned(), path(&dir.join("data"))),
        ("SMEZ_DATABASE__URL".to_owned(), postgres_url()),
        ("SMEZ_DATABASE__SCHEMA_PREFIX".to_owned(), schema_prefix.clone()),
        ("SMEZ_DATABASE__MAX_CONNECTIONS".to_owned(), "2".to_owned()),
        ("SMEZ_BUS__URL".to_owned(), amqp_url()),
        ("SMEZ_BUS__PREFIX".to_owned(), format!("smez-it.{run_id}")),
        ("SMEZ_GRPC__TLS_CERT_FILE".to_owned(), path(&pki.cert)),
        ("SMEZ_GRPC__TLS_KEY_FILE".to_owned(), path(&pki.key)),
        ("SMEZ_GRPC__TLS_CA_FILE".to_owned(), path(&pki.ca)),
    ]);
    let every_service = SERVICES.map(|(name, _)| name).join(",");
    let mut services = Smez::start("services", &["serve", every_service.as_str()], &shared, &dir);
    services.wait_ready().await;

    let mut gateway_env = shared.clone();
    for (name, _) in SERVICES {
        gateway_env.insert(
            format!("SMEZ_SERVICES__{}", name.to_uppercase()),
            format!("https://127.0.0.1:{}", services.grpc_port),
        );
    }
    let mut gateway = Smez::start("gateway", &["serve", "gateway"], &gateway_env, &dir);
    gateway.wait_ready().await;
    let (code, status) = get_json(&gateway.url("/v1/status")).await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["status"], "ok", "{status}\n{}", gateway.log());
    assert_eq!(status["services"].as_array().unwrap().len(), SERVICES.len());
    for service in status["services"].as_array().unwrap() {
        assert_eq!(service["state"], "serving", "{service}");
        assert_eq!(
            service["seen_caller"], "gateway",
            "the internal token is still checked on top of mutual TLS"
        );
    }

    // The gRPC listener: a client with a certificate from the CA gets in...
    let port = services.grpc_port;
    let trusted = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pki.ca_pem()));
    let with_cert = trusted.clone().identity(pki.identity());
    assert_eq!(health_over_tls(port, with_cert.clone()).await, Ok(SERVING));
    // ... one without a client certificate does not,
    let refused = health_over_tls(port, trusted.clone()).await;
    assert!(refused.is_err(), "a client without a certificate got {refused:?}");
    // nor one whose certificate another CA signed,
    let stranger = leaf(&ca("Some other CA"));
    let foreign = trusted.identity(Identity::from_pem(stranger.cert, stranger.key));
    let refused = health_over_tls(port, foreign).await;
    assert!(refused.is_err(), "a client with a foreign certificate got {refused:?}");
    // nor plaintext.
    let plaintext = async {
        let channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .map_err(|e| e.to_string())
    };
    let refused = tokio::time::timeout(Duration::from_secs(10), plaintext)
        .await
        .expect("a plaintext call ends");
    assert!(refused.is_err(), "a plaintext client got {refused:?}");
    // A certificate is not an identity: without an internal token, still refused.
    let channel = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(with_cert)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let unsigned = smez_proto::vault::v1::vault_service_client::VaultServiceClient::new(channel)
        .get_service_info(smez_proto::common::v1::GetServiceInfoRequest {})
        .await
        .unwrap_err();
    assert_eq!(unsigned.code(), tonic::Code::Unauthenticated);

    for process in [&mut gateway, &mut services] {
        let exit = process.terminate();
        assert!(exit.success(), "{} exit {exit}:\n{}", process.name, process.log());
    }
    let db = Database::connect(postgres_url()).await.unwrap();
    for (name, _) in SERVICES {
        db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema_prefix}{name}\" CASCADE"))
            .await
            .unwrap();
    }
    crate::process::clean_bus(&format!("smez-it.{run_id}"), &[]).await;
    let _ = std::fs::remove_dir_all(dir);
}
