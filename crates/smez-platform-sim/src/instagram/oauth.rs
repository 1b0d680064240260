//! Instagram Login (§3A): the consent dialog, code exchange, long-lived
//! exchange and refresh, and revoking the app.

use super::*;

pub(super) async fn authorize(State(app): State<App>, Query(q): Query<Params>) -> Response {
    crate::inject!(app.core, "instagram.authorize");
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error("Invalid platform app");
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return oauth_error("Invalid response_type: only code is supported");
    }
    let Some(redirect) = q.get("redirect_uri").and_then(|r| url::Url::parse(r).ok()) else {
        return oauth_error("Invalid redirect_uri");
    };
    let consent = app.core.consent.take("instagram");
    let mut back = redirect.clone();
    if consent.deny {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_reason", "user_denied")
            .append_pair("error_description", "The user denied your request.");
        if let Some(state) = q.get("state") {
            back.query_pairs_mut().append_pair("state", state);
        }
    } else {
        let scopes = consented_scopes(&q, &consent.untick);
        let grant = Grant {
            user_id: USER_ID.to_owned(),
            scopes,
            accounts: vec![USER_ID.to_owned()],
            facebook: false,
        };
        let code = app.issue_code("AQB", grant, &redirect);
        back.query_pairs_mut().append_pair("code", &code);
        if let Some(state) = q.get("state") {
            back.query_pairs_mut().append_pair("state", state);
        }
        // Instagram appends `#_` to the redirect.
        back.set_fragment(Some("_"));
    }
    found(&back)
}

pub(super) async fn code_exchange(State(app): State<App>, body: Bytes) -> Response {
    crate::inject!(app.core, "instagram.token");
    let p = form(&body);
    if p.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || p.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error("Invalid client_id or client_secret");
    }
    if p.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error("Unsupported grant_type");
    }
    let code = p.get("code").cloned().unwrap_or_default();
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    let Some(grant) = state.codes.get_mut(&code) else {
        return oauth_error("Invalid authorization code");
    };
    if grant.used {
        return oauth_error("This authorization code has been used");
    }
    if grant.expires_at <= now {
        return oauth_error("This authorization code has expired");
    }
    let redirect_ok = p
        .get("redirect_uri")
        .and_then(|r| url::Url::parse(r).ok())
        .is_some_and(|r| r.to_string() == grant.redirect_uri);
    if !redirect_ok {
        return oauth_error(
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        );
    }
    grant.used = true;
    let grant = grant.grant.clone();
    let (user_id, scopes) = (grant.user_id.clone(), grant.scopes.clone());
    let (token, _) = app.issue_token(&mut state, grant, false);
    axum::Json(json!({"data": [{"access_token": token, "user_id": user_id, "permissions": scopes.join(",")}]}))
        .into_response()
}

pub(super) async fn long_lived_exchange(State(app): State<App>, Query(q): Query<Params>) -> Response {
    crate::inject!(app.core, "instagram.exchange");
    if q.get("grant_type").map(String::as_str) != Some("ig_exchange_token") {
        return graph_error(400, 100, None, "Unsupported grant_type", None);
    }
    if q.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
        return graph_error(400, 101, None, "Error validating client secret.", None);
    }
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    let token = q.get("access_token").cloned().unwrap_or_default();
    let Some(short) = state.tokens.get(&token) else {
        return unknown_token_error();
    };
    if short.expires_at <= now {
        return expired_token_error();
    }
    if short.long_lived {
        return graph_error(400, 100, None, "The access token is already long-lived", None);
    }
    let grant = short.grant.clone();
    let (token, ttl) = app.issue_token(&mut state, grant, true);
    token_answer(&token, ttl)
}

pub(super) async fn refresh(State(app): State<App>, Query(q): Query<Params>) -> Response {
    crate::inject!(app.core, "instagram.refresh");
    if q.get("grant_type").map(String::as_str) != Some("ig_refresh_token") {
        return graph_error(400, 100, None, "Unsupported grant_type", None);
    }
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    let token = q.get("access_token").cloned().unwrap_or_default();
    let Some(old) = state.tokens.get(&token) else {
        return unknown_token_error();
    };
    if let Some(revoked_at) = state.revoked_users.get(&old.grant.user_id)
        && old.issued_at <= *revoked_at
    {
        return revoked_token_error();
    }
    if old.expires_at <= now {
        return expired_token_error();
    }
    if !old.long_lived {
        return graph_error(400, 100, None, "Only long-lived access tokens can be refreshed", None);
    }
    if now - old.issued_at < REFRESH_MIN_AGE_SECS {
        return graph_error(
            400,
            100,
            None,
            "The access token must be at least 24 hours old to be refreshed",
            None,
        );
    }
    let grant = old.grant.clone();
    // A new string; the old one stays valid until its own expiry (§3A, UNVERIFIED).
    let (token, ttl) = app.issue_token(&mut state, grant, true);
    token_answer(&token, ttl)
}

pub(super) async fn revoke(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.revoke");
    let user_id = crate::checked!(app.authorize_call(bearer(&headers, &q), SCOPE_BASIC)).user_id;
    if id != "me" && id != user_id {
        return graph_error(400, 100, Some(33), "Unsupported delete request.", None);
    }
    let now = app.now();
    app.state
        .lock()
        .expect("instagram lock")
        .revoked_users
        .insert(user_id, now);
    axum::Json(json!({"success": true})).into_response()
}
