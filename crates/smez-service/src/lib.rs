//! The chassis of a Smez service: what every service crate shares, so each
//! one only adds its own queries, jobs and tables.

use std::convert::Infallible;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use smez_bus::Bus;
use smez_kit::grpc::{GrpcServer, Guarded, Transport};
use smez_kit::identity::InternalAuth;
use smez_kit::metrics::Metrics;
use smez_proto::common::v1::{Caller, ServiceInfo};
use smez_store::{Migration, Store};
use tonic::body::Body;
use tonic::server::NamedService;
use tower::util::BoxCloneSyncService;

pub use futures_util;
pub use smez_proto;
pub use tonic;

/// What one service instance works with.
pub struct ServiceContext {
    pub name: &'static str,
    pub store: Store,
    pub bus: Bus,
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

/// A service's server as callers in the same process reach it.
pub type LocalServer = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// What the binary needs to run a service.
#[derive(Clone, Copy)]
pub struct ServiceDef {
    pub name: &'static str,
    /// The fully qualified gRPC service name, also its `grpc.health.v1` entry.
    pub grpc_name: &'static str,
    pub migrations: &'static [Migration],
    /// Adds the guarded server to `grpc` and returns it for in-process callers.
    pub mount: fn(Arc<ServiceContext>, &Arc<InternalAuth>, &Metrics, &mut GrpcServer) -> LocalServer,
    /// Calls `GetServiceInfo` over a transport to this service.
    pub describe: fn(Transport) -> BoxFuture<'static, Result<ServiceInfo, tonic::Status>>,
}

/// Wraps `server` in the internal-identity guard, adds it to `grpc`, and
/// returns the same guarded server for in-process calls.
pub fn mount<S>(
    server: S,
    name: &'static str,
    auth: &Arc<InternalAuth>,
    metrics: &Metrics,
    grpc: &mut GrpcServer,
) -> LocalServer
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let guarded = Guarded::new(server, name, auth.clone(), metrics.clone());
    grpc.add(guarded.clone());
    BoxCloneSyncService::new(guarded)
}

/// Declares a service crate's gRPC API type and its [`ServiceDef`]:
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

        /// How the `smez` binary runs this service.
        pub fn definition() -> $crate::ServiceDef {
            type Server = $crate::smez_proto::$pkg::v1::$server_mod::$server<$api>;
            $crate::ServiceDef {
                name: stringify!($pkg),
                grpc_name: <Server as $crate::tonic::server::NamedService>::NAME,
                migrations: $migrations,
                mount: |ctx, auth, metrics, grpc| {
                    $crate::mount(Server::new($api { ctx }), stringify!($pkg), auth, metrics, grpc)
                },
                describe: |transport| {
                    let mut client = $crate::smez_proto::$pkg::v1::$client_mod::$client::new(transport);
                    Box::pin(async move {
                        client
                            .get_service_info($crate::smez_proto::common::v1::GetServiceInfoRequest {})
                            .await
                            .map(|response| response.into_inner())
                    })
                },
            }
        }
    };
}
