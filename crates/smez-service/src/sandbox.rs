//! A service on `127.0.0.1:0` in this process, behind the same guard and
//! gRPC listener as in production, for tests and benchmarks that call it over
//! real gRPC.

use std::sync::Arc;

use smez_bus::Bus;
use smez_kit::grpc::{ClientFactory, GrpcServer, Guarded, Transport, set_health};
use smez_kit::identity::InternalAuth;
use smez_kit::metrics::Metrics;
use smez_kit::{CancellationToken, Settings};
use smez_store::{Location, Store};

use crate::{ServiceContext, ServiceDef};

pub struct Sandbox {
    pub endpoint: String,
    pub auth: Arc<InternalAuth>,
    pub store: Store,
    pub settings: Arc<Settings>,
    shutdown: CancellationToken,
    serving: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Sandbox {
    /// Starts `service` with its database at `location` and an in-process bus.
    pub async fn start(service: ServiceDef, settings: Settings, location: &Location) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let auth = Arc::new(InternalAuth::from_settings(&settings, &[service.name])?);
        let store = Store::open(
            location,
            settings.database.max_connections,
            service.name,
            service.migrations,
        )
        .await?;
        let bus = Bus::from_settings(&settings.bus).await?;
        let shutdown = CancellationToken::new();
        let ctx = Arc::new(ServiceContext {
            name: service.name,
            settings: settings.clone(),
            store: store.clone(),
            bus,
            shutdown: shutdown.clone(),
            peers: Arc::new(peers_without_locals(&auth, service.name, &settings)),
            platforms: smez_platforms::Adapters::default(),
        });
        let server = (service.build)(ctx).await?;
        let mut grpc = GrpcServer::new();
        grpc.add_named(
            service.grpc_name,
            crate::boxed(Guarded::new(server, service.name, auth.clone(), Metrics::new())),
        );
        set_health(&grpc.health(), service.grpc_name, true).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let serving = tokio::spawn(grpc.serve(listener, shutdown.clone().cancelled_owned()));
        Ok(Self {
            endpoint,
            auth,
            store,
            settings,
            shutdown,
            serving,
        })
    }

    /// A transport that signs calls as `caller`, meant for `audience`.
    pub fn transport_as(&self, caller: &'static str, audience: &'static str) -> Transport {
        ClientFactory::new(self.auth.clone(), caller)
            .remote(audience, &self.endpoint)
            .expect("a valid endpoint")
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.serving.await;
    }
}

/// Peers reached over the network only (a sandbox serves one service).
fn peers_without_locals(auth: &Arc<InternalAuth>, service: &'static str, settings: &Settings) -> crate::peers::Peers {
    let peers = crate::peers::Peers::new(ClientFactory::new(auth.clone(), service), settings.services.clone());
    peers.set_locals(Default::default());
    peers
}
