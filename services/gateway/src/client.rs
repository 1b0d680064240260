//! Who is on the other end of the connection: the client address (the
//! socket peer, or from `X-Forwarded-For` when the peer is a trusted proxy)
//! and the user agent, for rate limits and security events.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use smez_proto::auth::v1::ClientInfo;

/// Set on every request by the front door.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub ip: String,
    pub user_agent: String,
}

impl Client {
    pub fn info(&self) -> ClientInfo {
        ClientInfo {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }

    pub fn resolve(parts: &Parts, trusted_proxies: &[IpAddr]) -> Self {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let ip = match peer {
            Some(peer) if trusted_proxies.contains(&peer) => forwarded_client(parts, trusted_proxies).unwrap_or(peer),
            Some(peer) => peer,
            None => return Self::with_ip("unknown", parts),
        };
        Self::with_ip(&ip.to_string(), parts)
    }

    fn with_ip(ip: &str, parts: &Parts) -> Self {
        let user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(512)
            .collect();
        Self {
            ip: ip.to_owned(),
            user_agent,
        }
    }
}

/// The rightmost `X-Forwarded-For` address that is not a trusted proxy (the
/// leftmost ones are whatever the client chose to send).
fn forwarded_client(parts: &Parts, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let header = parts.headers.get("x-forwarded-for")?.to_str().ok()?;
    header
        .split(',')
        .rev()
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted_proxies.contains(ip))
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Client>()
            .cloned()
            .unwrap_or_else(|| Self::with_ip("unknown", parts)))
    }
}
