//! Google OAuth 2.0 (web-server flow): the consent redirect with PKCE, the
//! token endpoint (code and refresh; Google does not rotate) and revoke.

use super::*;

pub(super) async fn authorize(State(yt): State<Yt>, Query(q): Query<HashMap<String, String>>) -> Response {
    crate::inject!(yt.core, "youtube.authorize");
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (
            StatusCode::UNAUTHORIZED,
            "Error 401: invalid_client. The OAuth client was not found.",
        )
            .into_response();
    }
    let Some(redirect) = q.get("redirect_uri").and_then(|r| url::Url::parse(r).ok()) else {
        return (StatusCode::BAD_REQUEST, "Error 400: redirect_uri_mismatch").into_response();
    };
    if !matches!(redirect.scheme(), "http" | "https") {
        return (StatusCode::BAD_REQUEST, "Error 400: redirect_uri_mismatch").into_response();
    }
    let state_param = q.get("state").cloned();
    let back = |pairs: &[(&str, &str)]| {
        let mut url = redirect.clone();
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in pairs {
                query.append_pair(k, v);
            }
            if let Some(s) = &state_param {
                query.append_pair("state", s);
            }
        }
        found(&url)
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return back(&[("error", "unsupported_response_type")]);
    }
    let requested: Vec<String> = q
        .get("scope")
        .map(|s| s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    if requested.is_empty() {
        return back(&[("error", "invalid_scope")]);
    }
    let challenge = match (
        q.get("code_challenge"),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(c), Some("S256")) => Some((c.clone(), "S256".to_owned())),
        (Some(c), Some("plain") | None) => Some((c.clone(), "plain".to_owned())),
        (Some(_), Some(_)) => return back(&[("error", "invalid_request")]),
        (None, _) => None,
    };
    let consent = yt.core.consent.take(PLATFORM);
    if consent.deny {
        return back(&[("error", "access_denied")]);
    }
    let scopes: Vec<String> = requested.into_iter().filter(|s| !consent.untick.contains(s)).collect();
    let channels = (1..=consent.accounts.unwrap_or(1).max(1))
        .map(|i| {
            let suffix = random_hex(6);
            Channel {
                id: format!("UC{}", random_hex(22)),
                title: format!("Sim Channel {i}"),
                handle: format!("@simchannel{i}-{suffix}"),
            }
        })
        .collect();
    let code = format!("4/0{}", random_hex(40));
    yt.core.records.issued(PLATFORM, "code", &code);
    let scope_string = scopes.join(" ");
    yt.state.lock().expect("youtube lock").codes.insert(
        code.clone(),
        PendingCode {
            redirect_uri: q["redirect_uri"].clone(),
            scopes,
            channels,
            challenge,
            offline: q.get("access_type").map(String::as_str) == Some("offline"),
            expires_at: yt.now() + Duration::seconds(CODE_LIFETIME_SECS),
            used: false,
        },
    );
    back(&[("code", &code), ("scope", &scope_string)])
}

pub(super) fn s256(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
}

/// A new access token for `grant`, and the token endpoint's answer carrying it.
fn issue_access(core: &Shared, state: &mut State_, grant: usize, now: DateTime<Utc>) -> Value {
    let access = format!("ya29.sim{}", random_hex(60));
    state.access.insert(
        access.clone(),
        AccessToken {
            grant,
            expires_at: now + Duration::seconds(ACCESS_TOKEN_LIFETIME_SECS),
        },
    );
    core.records.issued(PLATFORM, "access_token", &access);
    json!({
        "access_token": access,
        "expires_in": ACCESS_TOKEN_LIFETIME_SECS,
        "scope": state.grants[grant].scopes.join(" "),
        "token_type": "Bearer",
    })
}

pub(super) async fn token(State(yt): State<Yt>, body: axum::body::Bytes) -> Response {
    crate::inject!(yt.core, "youtube.token");
    let f = form(&body);
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }
    let now = yt.now();
    let bad_grant = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let mut state = yt.state.lock().expect("youtube lock");
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").map(String::as_str).unwrap_or("");
            let Some(pending) = state.codes.get_mut(code) else {
                return bad_grant("Malformed auth code.");
            };
            if pending.used || pending.expires_at <= now {
                return bad_grant("Bad Request");
            }
            if f.get("redirect_uri") != Some(&pending.redirect_uri) {
                return oauth_error(StatusCode::BAD_REQUEST, "redirect_uri_mismatch", "Bad Request");
            }
            if let Some((challenge, method)) = &pending.challenge {
                let verifier = f.get("code_verifier").map(String::as_str).unwrap_or("");
                let ok = match method.as_str() {
                    "S256" => &s256(verifier) == challenge,
                    _ => verifier == challenge,
                };
                if verifier.is_empty() {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing code verifier.");
                }
                if !ok {
                    return bad_grant("Invalid code verifier.");
                }
                yt.core.records.issued(PLATFORM, "code_verifier", verifier);
            }
            pending.used = true;
            let (scopes, channels, offline) = (pending.scopes.clone(), pending.channels.clone(), pending.offline);
            state.grants.push(Grant {
                scopes,
                channels,
                revoked: false,
            });
            let grant = state.grants.len() - 1;
            let mut body = issue_access(&yt.core, &mut state, grant, now);
            if offline {
                let refresh = format!("1//0sim{}", random_hex(60));
                state.refresh.insert(
                    refresh.clone(),
                    RefreshToken {
                        grant,
                        expires_at: now + Duration::seconds(REFRESH_TOKEN_TESTING_LIFETIME_SECS),
                    },
                );
                yt.core.records.issued(PLATFORM, "refresh_token", &refresh);
                body["refresh_token"] = json!(refresh);
            }
            axum::Json(body).into_response()
        }
        Some("refresh_token") => {
            let token = f.get("refresh_token").map(String::as_str).unwrap_or("");
            let Some(refresh) = state.refresh.get(token) else {
                return bad_grant("Token has been expired or revoked.");
            };
            let grant = refresh.grant;
            if refresh.expires_at <= now || state.grants[grant].revoked {
                return bad_grant("Token has been expired or revoked.");
            }
            // No refresh_token: Google does not rotate.
            axum::Json(issue_access(&yt.core, &mut state, grant, now)).into_response()
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Invalid grant_type"),
    }
}

pub(super) async fn revoke(
    State(yt): State<Yt>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    crate::inject!(yt.core, "youtube.revoke");
    let f = form(&body);
    let token = f.get("token").or_else(|| q.get("token")).cloned().unwrap_or_default();
    let mut state = yt.state.lock().expect("youtube lock");
    let grant = state
        .access
        .get(&token)
        .map(|a| a.grant)
        .or_else(|| state.refresh.get(&token).map(|r| r.grant));
    match grant {
        Some(g) if !state.grants[g].revoked => {
            state.grants[g].revoked = true;
            StatusCode::OK.into_response()
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "invalid_token", "Token expired or revoked"),
    }
}
