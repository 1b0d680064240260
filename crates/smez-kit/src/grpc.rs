//! gRPC plumbing shared by every service.
//!
//! Callers hold generated clients over a [`Transport`]: either a network
//! channel to another process or the server itself in this process. Both go
//! through the same stamping (internal token + trace context) and the same
//! server-side [`Guarded`] check, so the one-process and distributed shapes run
//! the same code above the wire.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::HeaderValue;
use tonic::body::Body;
use tonic::server::NamedService;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder};
use tracing::Instrument;

use crate::config::{ConfigError, GrpcSettings};
use crate::error::Error;
use crate::identity::{Caller, InternalAuth, METADATA_KEY, OnBehalfOf};
use crate::metrics::{GrpcLabels, Metrics};
use crate::telemetry;
use crate::tls::{PemCerts, PemKey, invalid};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What generated clients run over, wherever the server is.
pub type Transport = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, TransportError>;

/// A transport failure (connect refused, connection reset) as one concrete type;
/// a bare boxed error here trips the compiler's `Send` checks of client futures.
#[derive(Debug)]
pub struct TransportError(BoxError);

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

/// How long a TLS handshake may take, on either side, before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// TLS of internal gRPC, from `grpc.tls_*`: files read and checked once, at start.
///
/// - Nothing set: the listener speaks plaintext; calls to `https://` endpoints
///   trust the system's root certificates.
/// - Certificate and key: the listener serves TLS; calls as above.
/// - Certificate, key and CA: mutual TLS. The listener requires a client
///   certificate that CA signed; calls to `https://` endpoints trust that CA
///   alone and present this process's certificate.
///
/// Internal tokens are checked on top, whatever the mode: TLS proves the peer
/// belongs to the deployment, the token proves which service it is.
#[derive(Clone, Default)]
pub struct GrpcTls {
    server: Option<tonic::transport::ServerTlsConfig>,
    /// Set for mutual TLS only; otherwise `https://` calls use the system roots.
    client: Option<tonic::transport::ClientTlsConfig>,
}

impl std::fmt::Debug for GrpcTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("GrpcTls").field(&self.mode()).finish()
    }
}

impl GrpcTls {
    /// Reads and checks the configured files; errors name the key at fault.
    pub fn from_settings(grpc: &GrpcSettings) -> Result<Self, ConfigError> {
        const CERT: &str = "grpc.tls_cert_file";
        const KEY: &str = "grpc.tls_key_file";
        const CA: &str = "grpc.tls_ca_file";
        if grpc.tls_cert_file.is_empty() {
            return Ok(Self::default());
        }
        let certs = PemCerts::load(CERT, &grpc.tls_cert_file)?;
        let key = PemKey::load(KEY, &grpc.tls_key_file)?;
        let identity = tonic::transport::Identity::from_pem(&certs.pem, key.pem.as_slice());
        let server = tonic::transport::ServerTlsConfig::new()
            .identity(identity.clone())
            .timeout(TLS_HANDSHAKE_TIMEOUT);
        if grpc.tls_ca_file.is_empty() {
            crate::tls::server_config((CERT, &certs), (KEY, &key), None)?;
            return Ok(Self {
                server: Some(server),
                client: None,
            });
        }
        let ca = PemCerts::load(CA, &grpc.tls_ca_file)?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in &ca.certs {
            roots
                .add(cert.clone())
                .map_err(|e| invalid(CA, format!("not a usable CA certificate: {e}")))?;
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crate::tls::provider())
                .build()
                .map_err(|e| invalid(CA, e.to_string()))?;
        // This certificate is also the one this process presents when it calls
        // other services; they trust the same CA, so it must pass that CA.
        let now = rustls::pki_types::UnixTime::now();
        match verifier.verify_client_cert(&certs.certs[0], &certs.certs[1..], now) {
            Ok(_) => {}
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::InvalidPurpose | rustls::CertificateError::InvalidPurposeContext { .. },
            )) => tracing::warn!(
                "{CERT}: the certificate is not meant for TLS clients (no clientAuth extended key usage), so other \
                 services will refuse the calls this process makes to them"
            ),
            Err(e) => {
                return Err(invalid(
                    CERT,
                    format!("not signed by the CA in {CA}, or not valid now: {e}"),
                ));
            }
        }
        crate::tls::server_config((CERT, &certs), (KEY, &key), Some(verifier))?;
        let ca = tonic::transport::Certificate::from_pem(&ca.pem);
        Ok(Self {
            server: Some(server.client_ca_root(ca.clone())),
            client: Some(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(ca)
                    .identity(identity)
                    .timeout(TLS_HANDSHAKE_TIMEOUT),
            ),
        })
    }

    /// `plaintext`, `tls` or `mutual TLS`, for logs.
    pub fn mode(&self) -> &'static str {
        match (&self.server, &self.client) {
            (None, _) => "plaintext",
            (Some(_), None) => "tls",
            (Some(_), Some(_)) => "mutual TLS",
        }
    }
}

/// Builds transports that sign every call as `caller`.
#[derive(Clone, Debug)]
pub struct ClientFactory {
    auth: Arc<InternalAuth>,
    caller: &'static str,
    tls: GrpcTls,
}

impl ClientFactory {
    pub fn new(auth: Arc<InternalAuth>, caller: &'static str) -> Self {
        Self {
            auth,
            caller,
            tls: GrpcTls::default(),
        }
    }

    /// Calls to `https://` endpoints use `tls` (mutual TLS presents this
    /// process's certificate and trusts the configured CA alone).
    pub fn with_tls(mut self, tls: &GrpcTls) -> Self {
        self.tls = tls.clone();
        self
    }

    /// A transport to `target` in another process, connecting lazily (and
    /// reconnecting) so start order between processes does not matter.
    pub fn remote(&self, target: &'static str, endpoint: &str) -> anyhow::Result<Transport> {
        let mut channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
            .map_err(|e| anyhow::anyhow!("services.{target}: bad endpoint `{endpoint}`: {e}"))?
            .connect_timeout(std::time::Duration::from_secs(5));
        if channel.uri().scheme_str() == Some("https") {
            let tls = self.tls.client.clone().unwrap_or_else(|| {
                tonic::transport::ClientTlsConfig::new()
                    .with_native_roots()
                    .timeout(TLS_HANDSHAKE_TIMEOUT)
            });
            channel = channel
                .tls_config(tls)
                .map_err(|e| anyhow::Error::new(e).context(format!("services.{target}: TLS to `{endpoint}`")))?;
        } else if self.tls.client.is_some() {
            tracing::warn!(
                service = target,
                endpoint,
                "plaintext gRPC endpoint although mutual TLS is configured (grpc.tls_ca_file); use https://"
            );
        }
        Ok(self.stamped(target, channel.connect_lazy()))
    }

    /// A transport to `target` served by `server` in this process, without the network.
    pub fn local<S>(&self, target: &'static str, server: S) -> Transport
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.stamped(target, server)
    }

    fn stamped<S>(&self, target: &'static str, inner: S) -> Transport
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        let auth = self.auth.clone();
        let caller = self.caller;
        let service = ServiceBuilder::new()
            .map_request(move |mut request: http::Request<Body>| {
                let on_behalf_of = request.extensions().get::<OnBehalfOf>().cloned();
                let token = auth.mint(caller, target, on_behalf_of.as_ref());
                let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("a JWT is a valid header");
                request.headers_mut().insert(METADATA_KEY, value);
                telemetry::inject_headers(request.headers_mut());
                request
            })
            .map_err(|e: S::Error| TransportError(e.into()))
            .service(inner);
        BoxCloneSyncService::new(service)
    }
}

/// The verified caller of a request served by a [`Guarded`] service.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<&Caller, tonic::Status> {
    request
        .extensions()
        .get::<Caller>()
        .ok_or_else(|| Error::unauthenticated("no internal identity").into())
}

/// Wraps one service's gRPC server: refuses calls without a valid internal
/// token meant for this service, continues the caller's trace, records metrics.
#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    service: &'static str,
    auth: Arc<InternalAuth>,
    metrics: Metrics,
}

impl<S> Guarded<S> {
    pub fn new(inner: S, service: &'static str, auth: Arc<InternalAuth>, metrics: Metrics) -> Self {
        Self {
            inner,
            service,
            auth,
            metrics,
        }
    }
}

impl<S: NamedService> NamedService for Guarded<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for Guarded<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone that was polled ready serves this call (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let mut method = request.uri().path().rsplit('/').next().unwrap_or_default().to_owned();
        let span = tracing::info_span!(
            "grpc.server",
            rpc.service = self.service,
            rpc.method = tracing::field::Empty
        );
        telemetry::set_parent(&span, telemetry::extract_headers(request.headers()));
        let verified = bearer(request.headers())
            .ok_or_else(|| Error::unauthenticated("internal token missing"))
            .and_then(|token| self.auth.verify(token, self.service));
        let metrics = self.metrics.clone();
        let service = self.service;
        Box::pin(
            async move {
                let started = Instant::now();
                let response = match verified {
                    Ok(caller) => {
                        tracing::Span::current().record("rpc.method", method.as_str());
                        request.extensions_mut().insert(caller);
                        inner.call(request).await?
                    }
                    Err(refused) => {
                        tracing::warn!(reason = %refused.message, "internal call refused");
                        // Unauthenticated callers choose the path: never a label.
                        method = "(refused)".to_owned();
                        tonic::Status::from(refused).into_http()
                    }
                };
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from);
                metrics.observe_grpc(
                    GrpcLabels {
                        service: service.to_owned(),
                        method,
                        code: format!("{code:?}"),
                    },
                    started.elapsed(),
                );
                Ok(response)
            }
            .instrument(span),
        )
    }
}

fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    headers.get(METADATA_KEY)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// A service's server as one type, whatever service it is.
pub type BoxedServer = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// The gRPC listener of a process: every service it runs, plus the standard
/// health service (one entry per service) and server reflection.
pub struct GrpcServer {
    routes: tonic::service::Routes,
    health: tonic_health::server::HealthReporter,
    tls: Option<tonic::transport::ServerTlsConfig>,
}

impl Default for GrpcServer {
    fn default() -> Self {
        Self::new()
    }
}

impl GrpcServer {
    pub fn new() -> Self {
        let (health, health_service) = tonic_health::server::health_reporter();
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(smez_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .expect("the embedded descriptor sets are valid");
        let mut routes = tonic::service::RoutesBuilder::default();
        routes.add_service(health_service).add_service(reflection);
        Self {
            routes: routes.routes(),
            health,
            tls: None,
        }
    }

    /// Serves TLS (or mutual TLS) as `tls` says; plaintext when it has no certificate.
    pub fn with_tls(mut self, tls: &GrpcTls) -> Self {
        self.tls = tls.server.clone();
        self
    }

    /// Adds a service; it reports NOT_SERVING until [`set_health`] says otherwise.
    pub fn add<S>(&mut self, service: S)
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.add_named(S::NAME, BoxCloneSyncService::new(service));
    }

    /// Adds a service under its fully qualified gRPC name (`smez.auth.v1.AuthService`).
    pub fn add_named(&mut self, grpc_name: &str, service: BoxedServer) {
        use tower::ServiceExt;
        let router = std::mem::take(self.routes.axum_router_mut());
        *self.routes.axum_router_mut() = router.route_service(
            &format!("/{grpc_name}/{{*rest}}"),
            service.map_request(|request: http::Request<axum::body::Body>| request.map(Body::new)),
        );
    }

    pub fn health(&self) -> tonic_health::server::HealthReporter {
        self.health.clone()
    }

    /// Serves until `shutdown` fires, then lets in-flight calls finish.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = self.tls {
            builder = builder
                .tls_config(tls)
                .map_err(|e| anyhow::Error::new(e).context("gRPC server TLS"))?;
        }
        builder
            .add_routes(self.routes)
            .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), shutdown)
            .await
            .map_err(|e| anyhow::anyhow!("gRPC server: {e}"))
    }
}

/// Binds a listener, naming the config key when the address is taken.
pub async fn bind(key: &str, addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("{key}: cannot listen on {addr}: {e}"))
}

/// Sets a service's health entry (`grpc.health.v1`).
pub async fn set_health(health: &tonic_health::server::HealthReporter, grpc_name: &str, serving: bool) {
    use tonic_health::ServingStatus;
    let status = if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    health.set_service_status(grpc_name, status).await;
}
