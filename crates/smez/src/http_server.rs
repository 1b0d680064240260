//! The process's HTTP listener: plain HTTP, or HTTPS when `http.tls_cert_file`
//! and `http.tls_key_file` are set (HTTP/1.1 over rustls with the ring
//! provider).
//!
//! Both modes behave the same for handlers and at shutdown:
//! - every request carries its client's address as
//!   `axum::extract::ConnectInfo<SocketAddr>` (the socket peer);
//! - when `shutdown` fires the listener closes and in-flight requests finish
//!   (idle keep-alive connections close at once); the caller bounds the wait
//!   with its grace period.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use smez_kit::CancellationToken;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` fires, over TLS when `tls` is set.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    match tls {
        None => axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .context("HTTP server"),
        Some(config) => {
            serve_tls(listener, router, tokio_rustls::TlsAcceptor::from(config), shutdown).await;
            Ok(())
        }
    }
}

async fn serve_tls(
    listener: TcpListener,
    router: Router,
    acceptor: tokio_rustls::TlsAcceptor,
    shutdown: CancellationToken,
) {
    // The same per-connection service `axum::serve` builds: the router with
    // the peer's address as a request extension.
    let make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let graceful = GracefulShutdown::new();
    // Dropping the set (the caller gave up after its grace period) aborts them all.
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let service = make_service
            .clone()
            .oneshot(peer)
            .await
            .unwrap_or_else(|never| match never {});
        // Taken now, so shutdown waits for connections still in their handshake too.
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %e, "HTTPS connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    while connections.join_next().await.is_some() {}
}

/// A failed accept: a connection that died in the backlog is nothing; anything
/// else (out of file descriptors) is logged and retried after a pause.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "HTTPS listener: accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use axum::Router;
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use smez_kit::CancellationToken;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::Notify;

    /// A self-signed certificate for 127.0.0.1: the server's config and a client trusting it.
    fn tls_pair() -> (Arc<rustls::ServerConfig>, tokio_rustls::TlsConnector) {
        let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let cert: CertificateDer<'static> = generated.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
        let server = rustls::ServerConfig::builder_with_provider(smez_kit::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(smez_kit::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (Arc::new(server), tokio_rustls::TlsConnector::from(Arc::new(client)))
    }

    async fn request(mut io: impl AsyncRead + AsyncWrite + Unpin, path: &str) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        io.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        let _ = io.read_to_end(&mut response).await;
        String::from_utf8(response).unwrap()
    }

    /// GET `path`, over TLS when `tls` is set: (the client's own address, the response).
    async fn get_from(addr: SocketAddr, path: &str, tls: Option<&tokio_rustls::TlsConnector>) -> (SocketAddr, String) {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let response = match tls {
            None => request(tcp, path).await,
            Some(connector) => {
                let name = ServerName::try_from("127.0.0.1").unwrap();
                request(connector.connect(name, tcp).await.unwrap(), path).await
            }
        };
        (local, response)
    }

    #[tokio::test]
    async fn handlers_see_the_peer_address_with_and_without_tls() {
        let (config, connector) = tls_pair();
        for tls in [None, Some(config)] {
            let router = Router::new().route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
            );
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let shutdown = CancellationToken::new();
            let with_tls = tls.is_some();
            let server = tokio::spawn(super::serve(listener, router, tls, shutdown.clone()));
            let (local, response) = get_from(addr, "/peer", with_tls.then_some(&connector)).await;
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            assert!(response.ends_with(&local.to_string()), "tls {with_tls}: {response}");
            shutdown.cancel();
            server.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn https_shutdown_stops_accepting_and_lets_in_flight_requests_finish() {
        let (config, connector) = tls_pair();
        let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (on_start, on_release) = (started.clone(), release.clone());
        let router = Router::new().route(
            "/slow",
            get(move || async move {
                on_start.notify_one();
                on_release.notified().await;
                "done"
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(super::serve(listener, router, Some(config), shutdown.clone()));
        let in_flight = tokio::spawn(async move { get_from(addr, "/slow", Some(&connector)).await.1 });
        started.notified().await;

        shutdown.cancel();
        let mut refused = false;
        for _ in 0..100 {
            if TcpStream::connect(addr).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(refused, "the listener still accepts after shutdown");
        assert!(!server.is_finished(), "the server waits for the request in flight");

        release.notify_one();
        let response = in_flight.await.unwrap();
        assert!(
            response.starts_with("HTTP/1.1 200") && response.ends_with("done"),
            "{response}"
        );
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server stops once the request is done")
            .unwrap()
            .unwrap();
    }
}
