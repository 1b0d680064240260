//! Who may call: the grants behind codes and tokens (Instagram Login or
//! Facebook Login), issuing them, and checking a token on every Graph call.

use super::*;

/// Who a code or token speaks for.
#[derive(Clone)]
pub(super) struct Grant {
    /// The Instagram user (Instagram Login) or the Facebook user (Facebook Login).
    pub(super) user_id: String,
    pub(super) scopes: Vec<String>,
    /// The Instagram professional accounts it can act for.
    pub(super) accounts: Vec<String>,
    pub(super) facebook: bool,
}

/// The caller of an API call.
pub(super) struct Caller {
    pub(super) user_id: String,
    pub(super) accounts: Vec<String>,
    pub(super) facebook: bool,
}

impl Caller {
    /// The Instagram account a path id names (`me` is the account itself on Instagram Login).
    pub(super) fn account(&self, id: &str) -> Option<String> {
        if id == "me" && !self.facebook {
            return self.accounts.first().cloned();
        }
        self.accounts.iter().find(|a| *a == id).cloned()
    }

    pub(super) fn owns(&self, account: &str) -> bool {
        self.accounts.iter().any(|a| a == account)
    }
}

pub(super) struct CodeGrant {
    pub(super) grant: Grant,
    pub(super) redirect_uri: String,
    pub(super) expires_at: i64,
    pub(super) used: bool,
}

pub(super) struct Token {
    pub(super) grant: Grant,
    pub(super) long_lived: bool,
    pub(super) issued_at: i64,
    pub(super) expires_at: i64,
}

/// The Facebook Login name of an Instagram Login scope (§3).
pub(super) fn facebook_scope(scope: &str) -> &str {
    match scope {
        SCOPE_BASIC => "instagram_basic",
        SCOPE_PUBLISH => "instagram_content_publish",
        SCOPE_COMMENTS => "instagram_manage_comments",
        SCOPE_INSIGHTS => "instagram_manage_insights",
        other => other,
    }
}

pub(super) fn bearer(headers: &HeaderMap, params: &Params) -> Option<String> {
    params.get("access_token").cloned().or_else(|| {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("OAuth "))
            .map(|t| t.trim().to_owned())
    })
}

impl Ig {
    /// The token's user, or the Graph error an API call gets; counts the call
    /// against the Business Use Case limit.
    pub(super) fn authorize_call(&self, token: Option<String>, scope: &str) -> Result<Caller, Box<Response>> {
        let now = self.now();
        let mut state = self.state.lock().expect("instagram lock");
        let Some(token) = token else {
            return Err(Box::new(no_token_error()));
        };
        let Some(found) = state.tokens.get(&token) else {
            return Err(Box::new(unknown_token_error()));
        };
        let user_id = found.grant.user_id.clone();
        let (accounts, facebook) = (found.grant.accounts.clone(), found.grant.facebook);
        if let Some(revoked_at) = state.revoked_users.get(&user_id)
            && found.issued_at <= *revoked_at
        {
            return Err(Box::new(revoked_token_error()));
        }
        if found.expires_at <= now {
            return Err(Box::new(expired_token_error()));
        }
        let scope = if facebook { facebook_scope(scope) } else { scope };
        if !found.grant.scopes.iter().any(|s| s == scope) {
            return Err(Box::new(graph_error(
                403,
                200,
                None,
                &format!("(#200) Requires {scope} permission to manage the object"),
                None,
            )));
        }
        if let Err(regain_secs) = state.calls.admit(&user_id, self.core.limit(API_CALLS_PER_HOUR), now) {
            let regain_minutes = (regain_secs as f64 / 60.0).ceil() as i64;
            let usage = json!({ user_id.clone(): [{
                "type": "instagram", "call_count": 100, "total_cputime": 10, "total_time": 10,
                "estimated_time_to_regain_access": regain_minutes,
            }]});
            let mut response = graph_error(
                400,
                80002,
                None,
                "There have been too many calls to this Instagram account. Wait a bit and try again.",
                None,
            );
            response.headers_mut().insert(
                "x-business-use-case-usage",
                usage.to_string().parse().expect("a header value"),
            );
            return Err(Box::new(response));
        }
        Ok(Caller {
            user_id,
            accounts,
            facebook,
        })
    }

    /// The Instagram account a path id names, for a caller allowed `scope`;
    /// `verb` words the error for an account the token cannot act for.
    pub(super) fn authorize_account(
        &self,
        token: Option<String>,
        scope: &str,
        id: &str,
        verb: &str,
    ) -> Result<String, Box<Response>> {
        let caller = self.authorize_call(token, scope)?;
        caller.account(id).ok_or_else(|| {
            let message = format!("Unsupported {verb} request.");
            Box::new(graph_error(400, 100, Some(33), &message, None))
        })
    }

    /// A copy of the reel `id` names, if the token may read it with `scope`.
    pub(super) fn readable_media(&self, token: Option<String>, scope: &str, id: &str) -> Result<Media, Box<Response>> {
        let caller = self.authorize_call(token, scope)?;
        let state = self.state.lock().expect("instagram lock");
        let media = state.media.get(id).filter(|m| caller.owns(&m.user_id)).cloned();
        media.ok_or_else(|| Box::new(graph_error(400, 100, Some(33), "Unsupported get request.", None)))
    }

    /// A one-time code for `grant`, valid [`CODE_TTL_SECS`] for `redirect` only.
    pub(super) fn issue_code(&self, prefix: &str, grant: Grant, redirect: &url::Url) -> String {
        let code = secret(prefix);
        self.core.records.issued("instagram", "code", &code);
        let expires_at = self.now() + CODE_TTL_SECS;
        self.state.lock().expect("instagram lock").codes.insert(
            code.clone(),
            CodeGrant {
                grant,
                redirect_uri: redirect.to_string(),
                expires_at,
                used: false,
            },
        );
        code
    }

    pub(super) fn issue_token(&self, state: &mut State_, grant: Grant, long_lived: bool) -> (String, i64) {
        let now = self.now();
        let ttl = if long_lived {
            LONG_TOKEN_TTL_SECS
        } else {
            SHORT_TOKEN_TTL_SECS
        };
        let value = secret(if long_lived { "IGAAL" } else { "IGAAS" });
        self.core.records.issued("instagram", "access_token", &value);
        state.tokens.insert(
            value.clone(),
            Token {
                grant,
                long_lived,
                issued_at: now,
                expires_at: now + ttl,
            },
        );
        (value, ttl)
    }
}

/// What every token grant and exchange answers.
pub(super) fn token_answer(token: &str, expires_in: i64) -> Response {
    axum::Json(json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in})).into_response()
}

/// The comma-separated `scope` a dialog asked for, less what the consent unticks.
pub(super) fn consented_scopes(q: &Params, untick: &[String]) -> Vec<String> {
    q.get("scope")
        .map(|s| s.split(',').map(|s| s.trim().to_owned()))
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty() && !untick.contains(s))
        .collect()
}
