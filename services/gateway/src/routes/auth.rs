//! Sign-up, login, refresh, logout. Web clients get their tokens as
//! HttpOnly cookies and never see them; mobile clients (`X-Smez-Client:
//! mobile`) get them in the body and send the refresh token back in the body.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header::SET_COOKIE};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use smez_kit::Error;
use smez_proto::auth::v1::{LoginRequest, LogoutRequest, RefreshRequest, Session, SignUpRequest};
use utoipa::ToSchema;

use super::{UserBody, rfc3339, upstream};
use crate::authn::{check_csrf, presented_token, uses_session_cookies};
use crate::client::Client;
use crate::cookies;
use crate::state::Gateway;

/// The header a mobile app sends to receive tokens in the body.
const CLIENT_HEADER: &str = "x-smez-client";

fn is_mobile(headers: &HeaderMap) -> bool {
    headers
        .get(CLIENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("mobile"))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct SignupBody {
    email: String,
    /// At least 10 characters.
    password: String,
    display_name: String,
    /// ISO 8601 date, e.g. 1990-04-21. Smez is not for anyone under 13.
    date_of_birth: String,
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct LoginBody {
    email: String,
    password: String,
}

#[derive(Deserialize, ToSchema, Default)]
pub(crate) struct RefreshBody {
    /// Mobile clients only; web clients send the refresh cookie.
    #[serde(default)]
    refresh_token: Option<String>,
}

/// A signed-in session. Tokens appear only for mobile clients.
#[derive(Serialize, ToSchema)]
pub(crate) struct SessionBody {
    user: UserBody,
    access_expires_at: String,
    refresh_expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
}

/// The answer for a new or refreshed session: cookies for the web, body for mobile.
fn session_response(gateway: &Gateway, headers: &HeaderMap, status: StatusCode, session: Session) -> Response {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let user = session.user.clone().unwrap_or_default().into();
    let mobile = is_mobile(headers);
    let body = SessionBody {
        user,
        access_expires_at: rfc3339(session.access_expires_at_ms),
        refresh_expires_at: rfc3339(session.refresh_expires_at_ms),
        access_token: mobile.then(|| session.access_token.clone()),
        refresh_token: mobile.then(|| session.refresh_token.clone()),
        token_type: mobile.then_some("Bearer"),
    };
    let mut response = (status, Json(body)).into_response();
    if !mobile {
        let names = &gateway.cookies;
        let access_age = (session.access_expires_at_ms - now_ms) / 1000;
        let refresh_age = (session.refresh_expires_at_ms - now_ms) / 1000;
        let cookies = response.headers_mut();
        cookies.append(
            SET_COOKIE,
            names.set(&names.access, &session.access_token, access_age, true),
        );
        cookies.append(
            SET_COOKIE,
            names.set(&names.refresh, &session.refresh_token, refresh_age, true),
        );
        cookies.append(
            SET_COOKIE,
            names.set(&names.csrf, &crate::cookies::random_value(), refresh_age, false),
        );
    }
    response
}

/// Create an account and sign in.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = SignupBody,
    responses((status = 201, body = SessionBody), (status = 409, description = "email taken"),
              (status = 422, description = "invalid field, e.g. under 13")))]
pub(crate) async fn signup(
    State(gateway): State<Gateway>,
    client: Client,
    headers: HeaderMap,
    Json(body): Json<SignupBody>,
) -> Result<Response, Error> {
    // A cross-site form must not sign anyone in (login CSRF).
    check_csrf(&Method::POST, &headers, &gateway, false)?;
    let session = gateway
        .auth
        .clone()
        .sign_up(SignUpRequest {
            email: body.email,
            password: body.password,
            display_name: body.display_name,
            date_of_birth: body.date_of_birth,
            client: Some(client.info()),
        })
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(session_response(&gateway, &headers, StatusCode::CREATED, session))
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = SessionBody), (status = 401, description = "wrong email or password"),
              (status = 429, description = "locked after repeated failures")))]
pub(crate) async fn login(
    State(gateway): State<Gateway>,
    client: Client,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> Result<Response, Error> {
    // A cross-site form must not sign anyone in (login CSRF).
    check_csrf(&Method::POST, &headers, &gateway, false)?;
    let session = gateway
        .auth
        .clone()
        .login(LoginRequest {
            email: body.email,
            password: body.password,
            client: Some(client.info()),
        })
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(session_response(&gateway, &headers, StatusCode::OK, session))
}

/// The refresh token of a request: the body's for mobile, else the cookie.
fn refresh_token_of(gateway: &Gateway, headers: &HeaderMap, body: &RefreshBody) -> Option<String> {
    body.refresh_token
        .clone()
        .filter(|t| !t.is_empty())
        .or_else(|| cookies::read(headers, &gateway.cookies.refresh).map(str::to_owned))
}

/// Exchange a refresh token for a new session (the token rotates).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body(content = RefreshBody, description = "mobile only"),
    responses((status = 200, body = SessionBody),
              (status = 401, description = "invalid, expired, or reused (the session is then revoked)")))]
pub(crate) async fn refresh(
    State(gateway): State<Gateway>,
    client: Client,
    headers: HeaderMap,
    body: Option<Json<RefreshBody>>,
) -> Result<Response, Error> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    check_csrf(
        &Method::POST,
        &headers,
        &gateway,
        uses_session_cookies(&headers, &gateway),
    )?;
    let refresh_token = refresh_token_of(&gateway, &headers, &body)
        .ok_or_else(|| Error::unauthenticated("no refresh token (cookie, or refresh_token in the body)"))?;
    let session = gateway
        .auth
        .clone()
        .refresh(RefreshRequest {
            refresh_token,
            client: Some(client.info()),
        })
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(session_response(&gateway, &headers, StatusCode::OK, session))
}

/// Sign out: the session's refresh token is revoked and the cookies cleared.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body(content = RefreshBody, description = "mobile only"),
    responses((status = 204)))]
pub(crate) async fn logout(
    State(gateway): State<Gateway>,
    client: Client,
    headers: HeaderMap,
    body: Option<Json<RefreshBody>>,
) -> Result<Response, Error> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    check_csrf(
        &Method::POST,
        &headers,
        &gateway,
        uses_session_cookies(&headers, &gateway),
    )?;
    let mut request = LogoutRequest {
        client: Some(client.info()),
        ..Default::default()
    };
    if let Some(token) = refresh_token_of(&gateway, &headers, &body) {
        request.refresh_token = token;
    }
    if let Some((token, _)) = presented_token(&headers, &gateway)
        && let Ok(claims) = gateway.tokens.verify(token).await
    {
        gateway.sessions.forget(&claims.sid);
        if request.refresh_token.is_empty() {
            request.session_id = claims.sid;
            request.user_id = claims.sub;
        }
    }
    if !request.refresh_token.is_empty() || !request.session_id.is_empty() {
        gateway.auth.clone().logout(request).await.map_err(upstream)?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    gateway.cookies.clear_all(response.headers_mut());
    Ok(response)
}
