//! The Facebook Login flavour (§3B): its dialog and token endpoint, the
//! Pages (with their Instagram accounts) and the granted permissions.

use super::*;

/// `GET /{version}/dialog/oauth`: the Facebook consent dialog; the consent's
/// `accounts` says how many Instagram accounts (behind Pages) the login holds.
pub(super) async fn fb_dialog(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Response {
    crate::inject!(app.core, "instagram.fb_authorize");
    if id != "dialog" {
        return graph_error(400, 100, None, "Unknown path", None);
    }
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return graph_error(
            400,
            101,
            None,
            "Error validating application. Invalid application ID.",
            None,
        );
    }
    let Some(redirect) = q.get("redirect_uri").and_then(|r| url::Url::parse(r).ok()) else {
        return graph_error(
            400,
            191,
            None,
            "The redirect_uri is not owned by the application.",
            None,
        );
    };
    let consent = app.core.consent.take("instagram");
    let mut back = redirect.clone();
    if consent.deny {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_code", "200")
            .append_pair("error_reason", "user_denied")
            .append_pair("error_description", "Permissions error");
    } else {
        let scopes = consented_scopes(&q, &consent.untick);
        let accounts = (0..consent.accounts.unwrap_or(1).max(1) as usize)
            .map(account_id)
            .collect();
        let grant = Grant {
            user_id: FB_USER_ID.to_owned(),
            scopes,
            accounts,
            facebook: true,
        };
        let code = app.issue_code("AQD", grant, &redirect);
        back.query_pairs_mut().append_pair("code", &code);
    }
    if let Some(state) = q.get("state") {
        back.query_pairs_mut().append_pair("state", state);
    }
    found(&back)
}

/// `GET /{version}/oauth/access_token`: code → short-lived user token, or
/// `grant_type=fb_exchange_token` → long-lived (60 days; a long-lived token
/// can be exchanged again, which is how it is renewed).
pub(super) async fn fb_token(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Response {
    crate::inject!(app.core, "instagram.fb_token");
    if id != "oauth" {
        return graph_error(400, 100, None, "Unknown path", None);
    }
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || q.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return graph_error(400, 1, None, "Error validating client secret.", None);
    }
    let now = app.now();
    let mut state = app.state.lock().expect("instagram lock");
    if q.get("grant_type").map(String::as_str) == Some("fb_exchange_token") {
        let token = q.get("fb_exchange_token").cloned().unwrap_or_default();
        let Some(old) = state.tokens.get(&token).filter(|t| t.grant.facebook) else {
            return unknown_token_error();
        };
        if let Some(revoked_at) = state.revoked_users.get(&old.grant.user_id)
            && old.issued_at <= *revoked_at
        {
            return graph_error(400, 190, Some(458), "The user has not authorized application.", None);
        }
        if old.expires_at <= now {
            return expired_token_error();
        }
        let grant = old.grant.clone();
        let (token, ttl) = app.issue_token(&mut state, grant, true);
        return token_answer(&token, ttl);
    }
    let code = q.get("code").cloned().unwrap_or_default();
    let Some(grant) = state.codes.get_mut(&code).filter(|g| g.grant.facebook) else {
        return graph_error(400, 100, None, "Invalid verification code format.", None);
    };
    if grant.used {
        return graph_error(400, 100, Some(36009), "This authorization code has been used.", None);
    }
    if grant.expires_at <= now {
        return graph_error(400, 100, Some(36007), "This authorization code has expired.", None);
    }
    let redirect_ok = q
        .get("redirect_uri")
        .and_then(|r| url::Url::parse(r).ok())
        .is_some_and(|r| r.to_string() == grant.redirect_uri);
    if !redirect_ok {
        return graph_error(
            400,
            100,
            Some(36008),
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
            None,
        );
    }
    grant.used = true;
    let grant = grant.grant.clone();
    let (token, _) = app.issue_token(&mut state, grant, false);
    if let Some(t) = state.tokens.get_mut(&token) {
        t.expires_at = now + FB_SHORT_TOKEN_TTL_SECS;
    }
    token_answer(&token, FB_SHORT_TOKEN_TTL_SECS)
}

pub(super) fn account_json(app: &Ig, n: usize) -> Value {
    json!({
        "id": account_id(n),
        "user_id": account_id(n),
        "username": account_username(n),
        "name": if n == 0 { "Sim Creator".to_owned() } else { format!("Sim Creator {}", n + 1) },
        "account_type": "BUSINESS",
        "profile_picture_url": format!("{}/instagram/static/avatar-{n}.jpg", app.core.origin),
    })
}

/// `GET /{version}/me/accounts`: the Pages of a Facebook login, each with its
/// linked Instagram professional account.
pub(super) async fn me_accounts(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.accounts");
    let caller = crate::checked!(app.authorize_call(bearer(&headers, &q), "pages_show_list"));
    if id != "me" || !caller.facebook {
        return graph_error(400, 100, Some(33), "Unsupported get request.", None);
    }
    let data: Vec<Value> = caller
        .accounts
        .iter()
        .enumerate()
        .map(|(n, _)| {
            json!({
                "id": (10_200_000_000_000_001u64 + n as u64).to_string(),
                "name": format!("Sim Page {}", n + 1),
                "instagram_business_account": account_json(&app, n),
            })
        })
        .collect();
    axum::Json(json!({ "data": data })).into_response()
}

/// `GET /{version}/me/permissions`: what the token was granted.
pub(super) async fn permissions(
    State(app): State<App>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    crate::inject!(app.core, "instagram.permissions");
    let token = bearer(&headers, &q);
    if id != "me" {
        return graph_error(400, 100, Some(33), "Unsupported get request.", None);
    }
    let scopes = {
        let state = app.state.lock().expect("instagram lock");
        token
            .as_ref()
            .and_then(|t| state.tokens.get(t))
            .map(|t| t.grant.scopes.clone())
    };
    if let Err(response) = app.authorize_call(
        token,
        scopes
            .as_ref()
            .and_then(|s| s.first())
            .map(String::as_str)
            .unwrap_or(""),
    ) {
        return *response;
    }
    let data: Vec<Value> = scopes
        .unwrap_or_default()
        .iter()
        .map(|s| json!({"permission": s, "status": "granted"}))
        .collect();
    axum::Json(json!({ "data": data })).into_response()
}
