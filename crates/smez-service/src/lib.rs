//! The chassis of a Smez service: what every service crate shares, so each
//! one only adds its own queries, jobs and tables.

pub mod events;
pub mod member;
pub mod peers;
pub mod purge;
pub mod sandbox;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use smez_bus::Bus;
use smez_kit::grpc::{BoxedServer, Transport};
use smez_kit::{CancellationToken, Settings};
use smez_proto::common::v1::{Caller, ServiceInfo};
use smez_store::{Migration, Store};
use tonic::body::Body;
use tower::util::BoxCloneSyncService;

pub use futures_util;
pub use smez_proto;
pub use tonic;

/// What one service instance works with.
pub struct ServiceContext {
    pub name: &'static str,
    pub settings: Arc<Settings>,
    pub store: Store,
    pub bus: Bus,
    /// Cancelled when the process stops; background tasks watch it.
    pub shutdown: CancellationToken,
    /// Other services, for the services that call them.
    pub peers: Arc<peers::Peers>,
    /// The platforms this process may call (publisher and analytics; empty elsewhere).
    pub platforms: smez_platforms::Adapters,
}

impl ServiceContext {
    /// Answers `GetServiceInfo`: reads the service's own database and echoes
    /// the caller its internal token proved.
    pub async fn service_info<T>(
        &self,
        request: &tonic::Request<T>,
    ) -> Result<tonic::Response<ServiceInfo>, tonic::Status> {
        let caller = smez_kit::grpc::caller(request)?;
        let schema_version = self
            .store
            .schema_version()
            .await
            .map_err(|e| smez_kit::Error::unavailable(format!("{} database: {e}", self.name)))?;
        let on_behalf_of = caller.on_behalf_of.clone();
        Ok(tonic::Response::new(ServiceInfo {
            service: self.name.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            database_backend: self.store.backend().as_str().to_owned(),
            schema_version,
            bus_backend: self.bus.backend_name().to_owned(),
            caller: Some(Caller {
                service: caller.service.clone(),
                user_id: on_behalf_of.as_ref().map(|o| o.user_id.clone()),
                workspace_id: on_behalf_of.as_ref().and_then(|o| o.workspace_id.clone()),
                role: on_behalf_of.and_then(|o| o.role),
            }),
        }))
    }
}

/// What the binary needs to run a service.
#[derive(Clone, Copy)]
pub struct ServiceDef {
    pub name: &'static str,
    /// The fully qualified gRPC service name, also its `grpc.health.v1` entry.
    pub grpc_name: &'static str,
    pub migrations: &'static [Migration],
    /// Builds the service's gRPC server. The binary wraps it in the
    /// internal-identity guard and serves it locally and on the network.
    pub build: fn(Arc<ServiceContext>) -> BoxFuture<'static, anyhow::Result<BoxedServer>>,
    /// Calls `GetServiceInfo` over a transport to this service.
    pub describe: fn(Transport) -> BoxFuture<'static, Result<ServiceInfo, tonic::Status>>,
    /// Starts the service's worker pool (`<name>-worker`), when it has one:
    /// resolves once its consumers are running.
    pub worker: Option<WorkerStart>,
}

/// Starts a worker pool with its context and the process's metrics.
pub type WorkerStart = fn(Arc<ServiceContext>, smez_kit::metrics::Metrics) -> BoxFuture<'static, anyhow::Result<()>>;

/// Boxes a generated server so every service has one type.
pub fn boxed<S>(server: S) -> BoxedServer
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    BoxCloneSyncService::new(server)
}

/// The [`ServiceDef`] of a service crate whose gRPC server is `$server`,
/// built by `$build: async fn(Arc<ServiceContext>) -> anyhow::Result<BoxedServer>`.
#[macro_export]
macro_rules! service_def {
    ($pkg:ident, $server_mod:ident :: $server:ident, $client_mod:ident :: $client:ident, $migrations:expr, $build:expr) => {
        $crate::service_def!(
            $pkg,
            $server_mod::$server,
            $client_mod::$client,
            $migrations,
            $build,
            None
        );
    };
    ($pkg:ident, $server_mod:ident :: $server:ident, $client_mod:ident :: $client:ident, $migrations:expr, $build:expr, worker = $worker:expr) => {
        $crate::service_def!(
            $pkg,
            $server_mod::$server,
            $client_mod::$client,
            $migrations,
            $build,
            Some(|ctx, metrics| Box::pin($worker(ctx, metrics)))
        );
    };
    ($pkg:ident, $server_mod:ident :: $server:ident, $client_mod:ident :: $client:ident, $migrations:expr, $build:expr, $worker:expr) => {
        /// How the `smez` binary runs this service.
        pub fn definition() -> $crate::ServiceDef {
            $crate::ServiceDef {
                name: stringify!($pkg),
                grpc_name: $crate::smez_proto::$pkg::v1::$server_mod::SERVICE_NAME,
                migrations: $migrations,
                build: |ctx| Box::pin($build(ctx)),
                describe: |transport| {
                    let mut client = $crate::smez_proto::$pkg::v1::$client_mod::$client::new(transport);
                    Box::pin(async move {
                        client
                            .get_service_info($crate::smez_proto::common::v1::GetServiceInfoRequest {})
                            .await
                            .map(|response| response.into_inner())
                    })
                },
                worker: $worker,
            }
        }
    };
}

/// A service whose only query so far is `GetServiceInfo`:
/// `define_service!(auth::{AuthApi, auth_service_server::{AuthService, AuthServiceServer},
/// auth_service_client::AuthServiceClient}, MIGRATIONS);`
#[macro_export]
macro_rules! define_service {
    ($pkg:ident :: { $api:ident, $server_mod:ident :: { $svc:ident, $server:ident }, $client_mod:ident :: $client:ident }, $migrations:expr) => {
        /// The gRPC API of this service.
        #[derive(Clone)]
        pub struct $api {
            ctx: ::std::sync::Arc<$crate::ServiceContext>,
        }

        #[$crate::tonic::async_trait]
        impl $crate::smez_proto::$pkg::v1::$server_mod::$svc for $api {
            async fn get_service_info(
                &self,
                request: $crate::tonic::Request<$crate::smez_proto::common::v1::GetServiceInfoRequest>,
            ) -> Result<$crate::tonic::Response<$crate::smez_proto::common::v1::ServiceInfo>, $crate::tonic::Status>
            {
                self.ctx.service_info(&request).await
            }
        }

        $crate::service_def!(
            $pkg,
            $server_mod::$server,
            $client_mod::$client,
            $migrations,
            |ctx: ::std::sync::Arc<$crate::ServiceContext>| async move {
                // Holds no tables of its own yet, but answers purges so a
                // deleted workspace or account completes everywhere.
                $crate::events::spawn_outbox_relay(ctx.clone());
                $crate::purge::spawn_holder(
                    ctx.clone(),
                    $crate::purge::Holds {
                        workspaces: true,
                        users: true,
                    },
                );
                Ok($crate::boxed(
                    $crate::smez_proto::$pkg::v1::$server_mod::$server::new($api { ctx }),
                ))
            }
        );
    };
}
