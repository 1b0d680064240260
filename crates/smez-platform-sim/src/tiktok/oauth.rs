//! Login Kit v2 OAuth: the authorize dialog with PKCE, the token endpoint
//! (code, and refresh with rotation) and revoke.

use super::*;

pub(super) async fn authorize(State(sim): State<Sim>, Query(q): Query<HashMap<String, String>>) -> Response {
    crate::inject!(sim.core, "tiktok.authorize");
    if q.get("client_key").map(String::as_str) != Some(CLIENT_KEY) {
        return (StatusCode::BAD_REQUEST, "client_key: unknown client").into_response();
    }
    let Some(redirect) = q.get("redirect_uri").and_then(|r| url::Url::parse(r).ok()) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri: missing or not absolute").into_response();
    };
    if redirect.fragment().is_some() || redirect.query().is_some() {
        return (StatusCode::BAD_REQUEST, "redirect_uri: must be static").into_response();
    }
    let state_param = q.get("state").cloned().unwrap_or_default();
    let mut back = redirect.clone();
    if q.get("response_type").map(String::as_str) != Some("code") {
        back.query_pairs_mut()
            .append_pair("error", "unsupported_response_type")
            .append_pair("error_description", "response_type must be code")
            .append_pair("state", &state_param);
        return found(&back);
    }
    let challenge = q.get("code_challenge").cloned();
    if challenge.is_some() && q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        back.query_pairs_mut()
            .append_pair("error", "invalid_request")
            .append_pair("error_description", "code_challenge_method must be S256")
            .append_pair("state", &state_param);
        return found(&back);
    }
    let consent = sim.core.consent.take("tiktok");
    if consent.deny {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "The user denied the authorization request.")
            .append_pair("state", &state_param);
        return found(&back);
    }
    let scopes: Vec<String> = q
        .get("scope")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let granted: Vec<String> = scopes.into_iter().filter(|s| !consent.untick.contains(s)).collect();
    let code = secret("");
    {
        let mut state = sim.state.lock().expect("tiktok state");
        let grant = state.id();
        state.grants.insert(
            grant,
            Grant {
                open_id: OPEN_ID.into(),
                scopes: granted.clone(),
                revoked: false,
            },
        );
        state.codes.insert(
            code.clone(),
            CodeGrant {
                grant,
                redirect_uri: redirect.to_string(),
                challenge,
                expires_at: sim.core.clock.now_secs() + CODE_TTL_SECS,
            },
        );
    }
    sim.core.records.issued("tiktok", "code", &code);
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("scopes", &granted.join(","))
        .append_pair("state", &state_param);
    found(&back)
}

pub(super) fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    challenge == b64 || challenge.eq_ignore_ascii_case(&hex)
}

/// The token and revoke endpoints take the client's key and secret in the
/// form: the refusal when they are not the registered client's.
fn client_refusal(f: &HashMap<String, String>) -> Option<Response> {
    let ours = f.get("client_key").map(String::as_str) == Some(CLIENT_KEY)
        && f.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET);
    (!ours).then(|| {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client key or secret is invalid.",
        )
    })
}

pub(super) async fn token(State(sim): State<Sim>, body: Bytes) -> Response {
    crate::inject!(sim.core, "tiktok.token");
    let f = form(&body);
    if let Some(refused) = client_refusal(&f) {
        return refused;
    }
    let now = sim.core.clock.now_secs();
    let mut state = sim.state.lock().expect("tiktok state");
    let grant_id = match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(code) = f.get("code") else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "code is required.");
            };
            // A code works once, whatever happens next.
            let Some(issued) = state.codes.remove(code) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Authorization code is expired.",
                );
            };
            if issued.expires_at <= now {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Authorization code is expired.",
                );
            }
            if f.get("redirect_uri")
                .map(|r| url::Url::parse(r).map(|u| u.to_string()).unwrap_or_default())
                != Some(issued.redirect_uri.clone())
            {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri does not match.");
            }
            if let Some(challenge) = &issued.challenge {
                match f.get("code_verifier") {
                    Some(verifier) if pkce_matches(challenge, verifier) => {
                        sim.core.records.issued("tiktok", "code_verifier", verifier);
                    }
                    _ => {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_request",
                            "Code verifier or code challenge is invalid.",
                        );
                    }
                }
            }
            issued.grant
        }
        Some("refresh_token") => {
            let Some(refresh) = f.get("refresh_token") else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is required.");
            };
            let Some(record) = state.refresh.get_mut(refresh) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Refresh token is invalid.");
            };
            if record.rotated || record.expires_at <= now {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Refresh token is invalid or expired.",
                );
            }
            record.rotated = true;
            let grant = record.grant;
            if state.grants[&grant].revoked {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Refresh token is revoked.");
            }
            grant
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type is not supported.",
            );
        }
    };
    let (access, refresh) = state.issue(&sim.core, grant_id, now);
    let grant = &state.grants[&grant_id];
    axum::Json(json!({
        "open_id": grant.open_id,
        "scope": grant.scopes.join(","),
        "access_token": access,
        "expires_in": ACCESS_TTL_SECS,
        "refresh_token": refresh,
        "refresh_expires_in": REFRESH_TTL_SECS,
        "token_type": "Bearer",
    }))
    .into_response()
}

pub(super) async fn revoke(State(sim): State<Sim>, body: Bytes) -> Response {
    crate::inject!(sim.core, "tiktok.revoke");
    let f = form(&body);
    if let Some(refused) = client_refusal(&f) {
        return refused;
    }
    let Some(token) = f.get("token") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "token is required.");
    };
    let mut state = sim.state.lock().expect("tiktok state");
    let grant = state
        .access
        .get(token)
        .map(|a| a.grant)
        .or_else(|| state.refresh.get(token).map(|r| r.grant));
    if let Some(grant) = grant.and_then(|g| state.grants.get_mut(&g)) {
        grant.revoked = true;
    }
    axum::Json(json!({})).into_response()
}

impl State_ {
    /// A new access and refresh token for `grant`.
    pub(super) fn issue(&mut self, core: &Shared, grant: u64, now: i64) -> (String, String) {
        let access = secret("act.");
        let refresh = secret("rft.");
        self.access.insert(
            access.clone(),
            AccessToken {
                grant,
                expires_at: now + ACCESS_TTL_SECS,
            },
        );
        self.refresh.insert(
            refresh.clone(),
            RefreshToken {
                grant,
                expires_at: now + REFRESH_TTL_SECS,
                rotated: false,
            },
        );
        core.records.issued("tiktok", "access_token", &access);
        core.records.issued("tiktok", "refresh_token", &refresh);
        (access, refresh)
    }
}
