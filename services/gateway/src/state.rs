//! What every handler shares: the upstream clients and the gateway's caches.

use std::sync::Arc;

use smez_kit::Settings;
use smez_kit::grpc::Transport;
use smez_proto::auth::v1::auth_service_client::AuthServiceClient;
use smez_proto::media::v1::media_service_client::MediaServiceClient;
use smez_proto::publisher::v1::publisher_service_client::PublisherServiceClient;
use smez_proto::render::v1::render_service_client::RenderServiceClient;
use smez_proto::workspace::v1::workspace_service_client::WorkspaceServiceClient;
use smez_service::ServiceDef;

use crate::authn::{SessionCache, TokenVerifier};
use crate::authz::PermissionCache;
use crate::cookies::CookieNames;
use crate::limits::RateLimiter;

/// A service the gateway calls, and the transport to it (in-process or gRPC).
#[derive(Clone)]
pub struct Upstream {
    pub service: ServiceDef,
    pub transport: Transport,
}

#[derive(Clone)]
pub(crate) struct Gateway(Arc<Inner>);

pub(crate) struct Inner {
    pub upstreams: Vec<Upstream>,
    pub auth: AuthServiceClient<Transport>,
    pub workspace: WorkspaceServiceClient<Transport>,
    pub publisher: PublisherServiceClient<Transport>,
    pub render: RenderServiceClient<Transport>,
    pub media: MediaServiceClient<Transport>,
    /// The media transport itself, for client-streaming uploads.
    pub media_transport: Transport,
    pub settings: Arc<Settings>,
    pub cookies: CookieNames,
    pub tokens: TokenVerifier,
    pub sessions: SessionCache,
    pub permissions: PermissionCache,
    pub per_ip: RateLimiter,
    pub per_user: RateLimiter,
    pub auth_per_ip: RateLimiter,
    /// Origins allowed to send cookie-authenticated writes.
    pub origins: Vec<String>,
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl std::ops::Deref for Gateway {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Gateway {
    pub fn new(upstreams: Vec<Upstream>, settings: Arc<Settings>) -> anyhow::Result<Self> {
        let transport = |name: &str| {
            upstreams
                .iter()
                .find(|u| u.service.name == name)
                .map(|u| u.transport.clone())
                .ok_or_else(|| anyhow::anyhow!("the gateway needs a transport to the {name} service"))
        };
        let auth = AuthServiceClient::new(transport("auth")?);
        let workspace = WorkspaceServiceClient::new(transport("workspace")?);
        let publisher = PublisherServiceClient::new(transport("publisher")?);
        let render = RenderServiceClient::new(transport("render")?);
        let media_transport = transport("media")?;
        let media = MediaServiceClient::new(media_transport.clone());
        let gateway = &settings.gateway;
        let origins = std::iter::once(gateway.public_origin.clone())
            .chain(gateway.allowed_origins.iter().cloned())
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect();
        let trusted_proxies = settings
            .http
            .trusted_proxies
            .iter()
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        Ok(Self(Arc::new(Inner {
            tokens: TokenVerifier::new(auth.clone(), settings.auth.issuer.clone()),
            sessions: SessionCache::new(
                auth.clone(),
                std::time::Duration::from_secs(gateway.permission_cache_secs),
            ),
            permissions: PermissionCache::new(std::time::Duration::from_secs(gateway.permission_cache_secs)),
            per_ip: RateLimiter::per_minute(gateway.rate_limit_per_ip_per_minute),
            per_user: RateLimiter::per_minute(gateway.rate_limit_per_user_per_minute),
            auth_per_ip: RateLimiter::per_minute(gateway.auth_rate_limit_per_ip_per_minute),
            cookies: CookieNames::for_environment(settings.environment),
            origins,
            trusted_proxies,
            upstreams,
            auth,
            workspace,
            publisher,
            render,
            media,
            media_transport,
            settings,
        })))
    }
}
