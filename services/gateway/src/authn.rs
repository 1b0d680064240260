//! Who is calling. An access token comes from `Authorization: Bearer`
//! (mobile) or the access cookie (web); it is verified here against the
//! auth service's JWKS, so a request needs no call to auth. A token signed
//! by a key the gateway has not seen makes it fetch the JWKS again (at most
//! every few seconds), which is how a key rotation reaches it.
//!
//! Cookie-authenticated requests that change something must pass the CSRF
//! checks: not `Sec-Fetch-Site: cross-site`, an allowed `Origin` when one is
//! sent, and an `X-CSRF-Token` header equal to the CSRF cookie.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::{HeaderMap, Method};
use smez_kit::access_token::{AccessClaims, AccessTokenVerifier};
use smez_kit::grpc::Transport;
use smez_kit::{Error, ErrorCode};
use smez_proto::auth::v1::auth_service_client::AuthServiceClient;
use smez_proto::auth::v1::{CheckSessionRequest, GetJwksRequest};

use crate::cookies;
use crate::state::Gateway;
use crate::ttl_cache::TtlCache;

/// The shortest time between two JWKS fetches.
const JWKS_REFETCH: Duration = Duration::from_secs(5);
/// The header a web page echoes the CSRF cookie in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

pub(crate) struct TokenVerifier {
    auth: AuthServiceClient<Transport>,
    issuer: String,
    current: RwLock<Option<Arc<AccessTokenVerifier>>>,
    last_fetch: Mutex<Option<Instant>>,
}

impl TokenVerifier {
    pub fn new(auth: AuthServiceClient<Transport>, issuer: String) -> Self {
        Self {
            auth,
            issuer,
            current: RwLock::default(),
            last_fetch: Mutex::default(),
        }
    }

    pub async fn verify(&self, token: &str) -> Result<AccessClaims, Error> {
        let current = self.current.read().expect("verifier lock").clone();
        let verifier = match current {
            Some(verifier) if verifier.knows_kid_of(token) => verifier,
            stale => match self.refetch().await? {
                Some(fresh) => fresh,
                None => stale.ok_or_else(|| Error::unavailable("the access-token keys are not available yet"))?,
            },
        };
        verifier.verify(token)
    }

    /// Fetches the JWKS unless it was fetched moments ago.
    async fn refetch(&self) -> Result<Option<Arc<AccessTokenVerifier>>, Error> {
        {
            let mut last = self.last_fetch.lock().expect("fetch lock");
            if last.is_some_and(|at| at.elapsed() < JWKS_REFETCH) && self.current.read().expect("lock").is_some() {
                return Ok(None);
            }
            *last = Some(Instant::now());
        }
        let jwks = self
            .auth
            .clone()
            .get_jwks(GetJwksRequest {})
            .await
            .map_err(|s| Error::from_status(&s))?
            .into_inner();
        let fresh = Arc::new(
            AccessTokenVerifier::from_jwks(&jwks.json, &self.issuer)
                .map_err(|e| Error::internal(format!("the auth service's JWKS: {e}")))?,
        );
        *self.current.write().expect("verifier lock") = Some(fresh.clone());
        Ok(Some(fresh))
    }
}

/// Sessions known to be live, each for a short while: a signed access token
/// alone would outlive a logout, a password change or a deleted account by
/// up to its 15 minutes; with this check it outlives them by at most the
/// cache time (`gateway.permission_cache_secs`, 5 s).
pub(crate) struct SessionCache {
    auth: AuthServiceClient<Transport>,
    live: TtlCache<String, ()>,
}

impl SessionCache {
    pub fn new(auth: AuthServiceClient<Transport>, ttl: Duration) -> Self {
        Self {
            auth,
            live: TtlCache::new(ttl),
        }
    }

    pub async fn check(&self, claims: &AccessClaims) -> Result<(), Error> {
        if self.live.get(&claims.sid).is_some() {
            return Ok(());
        }
        self.auth
            .clone()
            .check_session(CheckSessionRequest {
                session_id: claims.sid.clone(),
                user_id: claims.sub.clone(),
            })
            .await
            .map_err(|status| Error::from_status(&status))?;
        self.live.put(claims.sid.clone(), ());
        Ok(())
    }

    /// Forgets a session this gateway just ended.
    pub fn forget(&self, session_id: &str) {
        self.live.forget(|sid| sid == session_id);
    }
}

/// A caller with a valid access token.
#[derive(Clone, Debug)]
pub(crate) struct Authenticated {
    pub user_id: String,
    pub session_id: String,
}

/// The access token of a request and whether it came in a cookie.
pub(crate) fn presented_token<'a>(headers: &'a HeaderMap, gateway: &Gateway) -> Option<(&'a str, bool)> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    match bearer {
        Some(token) => Some((token.trim(), false)),
        None => cookies::read(headers, &gateway.cookies.access).map(|t| (t, true)),
    }
}

/// Whether a request uses cookies for its credentials (access or refresh).
pub(crate) fn uses_session_cookies(headers: &HeaderMap, gateway: &Gateway) -> bool {
    headers.get(http::header::AUTHORIZATION).is_none()
        && (cookies::read(headers, &gateway.cookies.access).is_some()
            || cookies::read(headers, &gateway.cookies.refresh).is_some())
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses a cross-site write. `cookie_authenticated` adds the token check.
pub(crate) fn check_csrf(
    method: &Method,
    headers: &HeaderMap,
    gateway: &Gateway,
    cookie_authenticated: bool,
) -> Result<(), Error> {
    if !is_unsafe(method) {
        return Ok(());
    }
    let refuse = |why: &str| Error::permission_denied(format!("cross-site request refused: {why}"));
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return Err(refuse("the browser says it comes from another site"));
    }
    // Every Origin value must be allowed (a browser sends one; a request with
    // several is not a browser's, and the first must not vouch for the rest).
    let allowed = |origin: &str| gateway.origins.iter().any(|a| a == origin.trim_end_matches('/'));
    if headers
        .get_all("origin")
        .iter()
        .any(|value| value.to_str().map_or(true, |origin| !allowed(origin)))
    {
        return Err(refuse("origin not allowed"));
    }
    if cookie_authenticated {
        let cookie = cookies::read(headers, &gateway.cookies.csrf);
        let sent = header(CSRF_HEADER);
        let matches = match (cookie, sent) {
            (Some(cookie), Some(sent)) => constant_time_eq(cookie.as_bytes(), sent.as_bytes()),
            _ => false,
        };
        if !matches {
            return Err(refuse("the X-CSRF-Token header must repeat the CSRF cookie"));
        }
    }
    Ok(())
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<Gateway> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, gateway: &Gateway) -> Result<Self, Self::Rejection> {
        if let Some(known) = parts.extensions.get::<Authenticated>() {
            return Ok(known.clone());
        }
        let (token, via_cookie) = presented_token(&parts.headers, gateway)
            .ok_or_else(|| Error::unauthenticated("sign in first: no access token (Bearer header or cookie)"))?;
        let claims = gateway.tokens.verify(token).await?;
        check_csrf(&parts.method, &parts.headers, gateway, via_cookie)?;
        gateway.sessions.check(&claims).await?;
        gateway.per_user.check(&claims.sub).map_err(|wait| {
            Error::new(ErrorCode::RateLimited, "too many requests for this account").with_retry_after(wait)
        })?;
        let authenticated = Authenticated {
            user_id: claims.sub,
            session_id: claims.sid,
        };
        parts.extensions.insert(authenticated.clone());
        Ok(authenticated)
    }
}
