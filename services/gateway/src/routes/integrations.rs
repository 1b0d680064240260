//! Platform connections: connect (OAuth), the platform's redirect back, the
//! account choice, list, inspect, disconnect. The publisher service does
//! the work; tokens never pass through here.
//!
//! The callback is a browser navigation from the platform: it always
//! answers with a redirect to the configured landing page
//! (`integrations.frontend_url`) carrying an outcome, never a token.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use smez_kit::roles::Permission;
use smez_kit::secret::sha256_hex;
use smez_kit::{Error, ErrorCode};
use smez_proto::publisher::v1::complete_connect_response::Outcome;
use smez_proto::publisher::v1::{
    AccountChoice, CompleteConnectRequest, Connection, ConnectionRef, ListConnectionsRequest, PendingChoice,
    PendingChoiceRef, SelectPendingAccountRequest, StartConnectRequest,
};
use utoipa::{IntoParams, ToSchema};

use super::{rfc3339, upstream};
use crate::authn::Authenticated;
use crate::authz::{Note, for_member};
use crate::client::Client;
use crate::state::Gateway;

/// A connection as the API shows it (never a token).
#[derive(Serialize, ToSchema)]
pub(crate) struct ConnectionBody {
    id: String,
    /// tiktok, instagram or youtube.
    platform: String,
    /// The platform's id of the account.
    account_id: String,
    username: String,
    display_name: String,
    avatar_url: Option<String>,
    /// active, expiring (the grant ends soon: reconnect), reauthorization_required or revoked.
    status: String,
    /// Why, when not active.
    status_reason: String,
    /// The scopes the user granted.
    scopes: Vec<String>,
    /// Scopes publishing needs that were not granted (empty: it can publish).
    missing_for_publishing: Vec<String>,
    /// Scopes analytics and comments need that were not granted.
    missing_for_analytics: Vec<String>,
    access_expires_at: Option<String>,
    refresh_expires_at: Option<String>,
    connected_by: Option<String>,
    connected_at: String,
    updated_at: String,
}

impl From<Connection> for ConnectionBody {
    fn from(c: Connection) -> Self {
        Self {
            id: c.id,
            platform: c.platform,
            account_id: c.account_id,
            username: c.username,
            display_name: c.display_name,
            avatar_url: c.avatar_url,
            status: c.status,
            status_reason: c.status_reason,
            scopes: c.scopes,
            missing_for_publishing: c.missing_for_publishing,
            missing_for_analytics: c.missing_for_analytics,
            access_expires_at: c.access_expires_at_ms.map(rfc3339),
            refresh_expires_at: c.refresh_expires_at_ms.map(rfc3339),
            connected_by: Some(c.connected_by_user_id).filter(|id| !id.is_empty()),
            connected_at: rfc3339(c.connected_at_ms),
            updated_at: rfc3339(c.updated_at_ms),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ConnectBody {
    /// Send the browser here (a top-level navigation, not a fetch).
    authorize_url: String,
    /// The platform sends the browser back here; register exactly this URI with the platform.
    redirect_uri: String,
    /// The connect must come back before this.
    expires_at: String,
}

/// Start connecting a TikTok, Instagram or YouTube account to the active
/// workspace (integrations.manage). Sets the browser-binding cookie the
/// callback checks.
#[utoipa::path(post, path = "/v1/integrations/{platform}/connect", tag = "integrations",
    params(("platform" = String, Path, description = "tiktok, instagram or youtube")),
    responses((status = 200, body = ConnectBody), (status = 403), (status = 409, description = "no active workspace, or the platform is not configured")))]
pub(crate) async fn connect(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(platform): Path<String>,
) -> Result<Response, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::IntegrationsManage)
        .await?;
    let names = &gateway.cookies;
    let existing = crate::cookies::read(&headers, &names.oauth_browser).map(str::to_owned);
    let browser = existing.clone().unwrap_or_else(crate::cookies::random_value);
    let started = gateway
        .publisher
        .clone()
        .start_connect(for_member(
            StartConnectRequest {
                platform: platform.clone(),
                browser_binding: sha256_hex(&browser),
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    let note = Note::success("integration_connect_started", format!("{platform} connect started"));
    gateway
        .record_event(&user, &client, note.in_workspace(&member.workspace_id))
        .await;
    let mut response = Json(ConnectBody {
        authorize_url: started.authorize_url,
        redirect_uri: started.redirect_uri,
        expires_at: rfc3339(started.state_expires_at_ms),
    })
    .into_response();
    let ttl = gateway.settings.integrations.state_ttl_secs as i64;
    response
        .headers_mut()
        .append(header::SET_COOKIE, names.set(&names.oauth_browser, &browser, ttl, true));
    Ok(response)
}

/// What the platform appends to the redirect URI.
#[derive(Deserialize, IntoParams)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The platform sends the browser back here. Always answers 303 to the
/// landing page with `outcome` = `connected` (and `connection_id`),
/// `choose_account` (and `pending_id`) or `error` (and `reason`).
#[utoipa::path(get, path = "/v1/integrations/{platform}/callback", tag = "integrations",
    params(("platform" = String, Path, description = "tiktok, instagram or youtube"), CallbackQuery),
    responses((status = 303, description = "to the landing page, with the outcome in the query")))]
pub(crate) async fn callback(
    State(gateway): State<Gateway>,
    client: Client,
    headers: HeaderMap,
    Path(platform): Path<String>,
    Query(query): Query<CallbackQuery>,
    request: axum::extract::Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    let landing = |pairs: &[(&str, &str)]| landing(&gateway, &platform, pairs);
    let user = match Authenticated::from_request_parts(&mut parts, &gateway).await {
        Ok(user) => user,
        Err(_) => return landing(&[("outcome", "error"), ("reason", "signed_out")]),
    };
    let member = match gateway
        .authorize_active(&user, &client, &headers, Permission::IntegrationsManage)
        .await
    {
        Ok(member) => member,
        Err(e) if e.code == ErrorCode::Conflict => {
            return landing(&[("outcome", "error"), ("reason", "no_active_workspace")]);
        }
        Err(_) => return landing(&[("outcome", "error"), ("reason", "forbidden")]),
    };
    let browser = crate::cookies::read(&headers, &gateway.cookies.oauth_browser).unwrap_or("");
    let completed = gateway
        .publisher
        .clone()
        .complete_connect(for_member(
            CompleteConnectRequest {
                platform: platform.clone(),
                state: query.state.unwrap_or_default(),
                code: query.code.unwrap_or_default(),
                error: query.error.unwrap_or_default(),
                error_description: query.error_description.unwrap_or_default(),
                browser_binding: if browser.is_empty() {
                    String::new()
                } else {
                    sha256_hex(browser)
                },
            },
            &member,
        ))
        .await;
    let workspace = member.workspace_id.as_str();
    let outcome = match completed {
        Ok(answer) => answer.into_inner().outcome,
        Err(status) => {
            tracing::warn!(%platform, error = %status.message(), "connect callback failed");
            None
        }
    };
    match outcome {
        Some(Outcome::Connected(connected)) => {
            let connection = connected.connection.unwrap_or_default();
            let note = Note::success(
                "integration_connect_completed",
                format!("{platform} account {} connected", connection.account_id),
            );
            gateway.record_event(&user, &client, note.in_workspace(workspace)).await;
            landing(&[("outcome", "connected"), ("connection_id", &connection.id)])
        }
        Some(Outcome::ChooseAccount(choice)) => {
            landing(&[("outcome", "choose_account"), ("pending_id", &choice.pending_id)])
        }
        Some(Outcome::Refused(refused)) => {
            let event = if refused.security_relevant {
                "oauth_state_rejected"
            } else {
                "integration_connect_failed"
            };
            let note = Note::failure(event, format!("{platform}: {}: {}", refused.reason, refused.message));
            gateway.record_event(&user, &client, note.in_workspace(workspace)).await;
            landing(&[("outcome", "error"), ("reason", &refused.reason)])
        }
        None => landing(&[("outcome", "error"), ("reason", "unavailable")]),
    }
}

/// A 303 to the landing page with `platform` and `pairs` added to its query.
fn landing(gateway: &Gateway, platform: &str, pairs: &[(&str, &str)]) -> Response {
    let base = gateway.settings.integrations.landing_url(&gateway.settings.gateway);
    let location = match url::Url::parse(&base) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .append_pair("platform", platform)
                .extend_pairs(pairs.iter().copied());
            url.to_string()
        }
        Err(_) => base,
    };
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The outcome a callback redirected with (what the landing page shows).
#[derive(Deserialize, Serialize, IntoParams, ToSchema)]
pub(crate) struct OutcomeQuery {
    /// connected, choose_account or error.
    outcome: Option<String>,
    platform: Option<String>,
    connection_id: Option<String>,
    pending_id: Option<String>,
    /// Why it failed, e.g. state_expired, consent_denied.
    reason: Option<String>,
}

/// The default landing page after a callback (when no `integrations.frontend_url`
/// is configured): the outcome as JSON.
#[utoipa::path(get, path = "/v1/integrations/outcome", tag = "integrations", params(OutcomeQuery),
    responses((status = 200, body = OutcomeQuery)))]
pub(crate) async fn outcome(Query(query): Query<OutcomeQuery>) -> Json<OutcomeQuery> {
    Json(query)
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AccountChoiceBody {
    account_id: String,
    username: String,
    display_name: String,
    avatar_url: Option<String>,
}

impl From<AccountChoice> for AccountChoiceBody {
    fn from(a: AccountChoice) -> Self {
        Self {
            account_id: a.account_id,
            username: a.username,
            display_name: a.display_name,
            avatar_url: a.avatar_url,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PendingChoiceBody {
    id: String,
    platform: String,
    accounts: Vec<AccountChoiceBody>,
    expires_at: String,
}

impl From<PendingChoice> for PendingChoiceBody {
    fn from(p: PendingChoice) -> Self {
        Self {
            id: p.pending_id,
            platform: p.platform,
            accounts: p.accounts.into_iter().map(Into::into).collect(),
            expires_at: rfc3339(p.expires_at_ms),
        }
    }
}

/// The accounts a login offered (several YouTube channels, several
/// Instagram accounts), while the user chooses.
#[utoipa::path(get, path = "/v1/integrations/pending/{id}", tag = "integrations",
    params(("id" = String, Path, description = "pending_id from the callback")),
    responses((status = 200, body = PendingChoiceBody), (status = 404)))]
pub(crate) async fn pending(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<PendingChoiceBody>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::IntegrationsManage)
        .await?;
    let choice = gateway
        .publisher
        .clone()
        .get_pending_choice(for_member(PendingChoiceRef { pending_id: id }, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(Json(choice.into()))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct SelectBody {
    /// One of the offered accounts.
    account_id: String,
}

/// Connect the chosen account (once: the waiting tokens are taken).
#[utoipa::path(post, path = "/v1/integrations/pending/{id}/select", tag = "integrations", request_body = SelectBody,
    params(("id" = String, Path, description = "pending_id from the callback")),
    responses((status = 201, body = ConnectionBody), (status = 404), (status = 422)))]
pub(crate) async fn select(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<SelectBody>,
) -> Result<(StatusCode, Json<ConnectionBody>), Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::IntegrationsManage)
        .await?;
    let connection = gateway
        .publisher
        .clone()
        .select_pending_account(for_member(
            SelectPendingAccountRequest {
                pending_id: id,
                account_id: body.account_id,
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    let note = Note::success(
        "integration_connect_completed",
        format!("{} account {} connected", connection.platform, connection.account_id),
    );
    gateway
        .record_event(&user, &client, note.in_workspace(&member.workspace_id))
        .await;
    Ok((StatusCode::CREATED, Json(connection.into())))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// Also disconnected (revoked) connections.
    #[serde(default)]
    include_revoked: bool,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ConnectionList {
    connections: Vec<ConnectionBody>,
}

/// The active workspace's connections (any member).
#[utoipa::path(get, path = "/v1/integrations", tag = "integrations", params(ListQuery),
    responses((status = 200, body = ConnectionList), (status = 409, description = "no active workspace")))]
pub(crate) async fn list(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Json<ConnectionList>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    let connections = gateway
        .publisher
        .clone()
        .list_connections(for_member(
            ListConnectionsRequest {
                include_revoked: query.include_revoked,
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner()
        .connections;
    Ok(Json(ConnectionList {
        connections: connections.into_iter().map(Into::into).collect(),
    }))
}

/// One connection of the active workspace (any member).
#[utoipa::path(get, path = "/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, description = "connection id")),
    responses((status = 200, body = ConnectionBody), (status = 404)))]
pub(crate) async fn get(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ConnectionBody>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::ContentRead)
        .await?;
    let connection = gateway
        .publisher
        .clone()
        .get_connection(for_member(ConnectionRef { connection_id: id }, &member))
        .await
        .map_err(upstream)?
        .into_inner();
    Ok(Json(connection.into()))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DisconnectedBody {
    connection: ConnectionBody,
    /// Whether the platform confirmed the revoke.
    platform_revoked: bool,
    platform_revoke_detail: String,
}

/// Disconnect (integrations.manage): revoked at the platform where it
/// offers that, tokens deleted, the connection kept as `revoked` for the
/// post history.
#[utoipa::path(delete, path = "/v1/integrations/{id}", tag = "integrations",
    params(("id" = String, Path, description = "connection id")),
    responses((status = 200, body = DisconnectedBody), (status = 403), (status = 404)))]
pub(crate) async fn disconnect(
    State(gateway): State<Gateway>,
    user: Authenticated,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<DisconnectedBody>, Error> {
    let member = gateway
        .authorize_active(&user, &client, &headers, Permission::IntegrationsManage)
        .await?;
    let answer = gateway
        .publisher
        .clone()
        .disconnect(for_member(
            ConnectionRef {
                connection_id: id.clone(),
            },
            &member,
        ))
        .await
        .map_err(upstream)?
        .into_inner();
    let note = Note::success(
        "integration_disconnected",
        format!(
            "connection {id} disconnected; platform revoke: {}",
            if answer.platform_revoked { "done" } else { "not done" }
        ),
    );
    gateway
        .record_event(&user, &client, note.in_workspace(&member.workspace_id))
        .await;
    Ok(Json(DisconnectedBody {
        connection: answer.connection.unwrap_or_default().into(),
        platform_revoked: answer.platform_revoked,
        platform_revoke_detail: answer.platform_revoke_detail,
    }))
}
