//! Usable access tokens: refreshed ahead of expiry and when a platform says
//! expired, as a single flight per connection across every worker and
//! process. The flight is a lease on the connection's row: whoever takes it
//! re-reads the row (another holder may have just refreshed), refreshes,
//! stores the new tokens and releases it in one update; everyone else waits
//! for the release and uses what it stored. So a rotating refresh token is
//! never spent twice.
//!
//! A transient failure (network, 5xx, rate limit) is retried and never marks
//! the connection; only an invalid-grant answer moves it to
//! `reauthorization_required`, once per episode (one status event, one
//! security event).

use std::sync::Arc;
use std::time::Duration;

use smez_kit::{Error, ErrorCode};
use smez_platforms::{ErrorClass, PlatformError};
use smez_proto::auth::v1::auth_service_client::AuthServiceClient;
use smez_proto::auth::v1::{RecordSecurityEventRequest, SecurityEvent};
use smez_proto::publisher::v1::{UsableAccessToken, UsableAccessTokenRequest};

use crate::core::{Core, expiry, parse_platform, secs_to_ms, storage, upstream};
use crate::repo::{ConnectionRow, Refreshed, now_ms};
use crate::vault::Tokens;
use crate::view::{ACTIVE, REAUTHORIZATION_REQUIRED, StatusChange};

/// How often a caller waiting for another's refresh looks again.
const LEASE_POLL: Duration = Duration::from_millis(50);
/// Pauses between refresh attempts after transient failures.
const RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(250), Duration::from_secs(1)];
/// The longest pause a platform's Retry-After gets before giving up this round.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Connections one sweep refreshes at most.
const SWEEP_BATCH: u32 = 100;

impl Core {
    /// A token the caller can use now. `refused_version`: the version the
    /// caller saw refused as expired (refresh unless a newer one exists).
    pub async fn usable_token(
        self: &Arc<Self>,
        request: &UsableAccessTokenRequest,
    ) -> Result<UsableAccessToken, Error> {
        let workspace_id = request.workspace_id.as_str();
        let connection_id = request.connection_id.as_str();
        if workspace_id.is_empty() || connection_id.is_empty() {
            return Err(Error::invalid_field(
                "connection_id",
                "workspace_id and connection_id are required",
            ));
        }
        let purpose = if request.purpose.is_empty() {
            "unspecified"
        } else {
            &request.purpose
        };
        let lease = Duration::from_secs(self.settings().refresh_lease_secs);
        // A lease holder that died is replaced once its lease runs out.
        let deadline = tokio::time::Instant::now() + lease * 2 + Duration::from_secs(1);
        loop {
            let row = self.current(workspace_id, connection_id).await?;
            if !self.needs_refresh(&row, request.refused_version) {
                return self.token_of(&row, purpose).await;
            }
            let owner = uuid::Uuid::new_v4().to_string();
            let now = now_ms();
            let until = now + secs_to_ms(lease.as_secs());
            if self
                .repo
                .take_lease(workspace_id, connection_id, &owner, now, until)
                .await
                .map_err(storage)?
            {
                // The holder's work runs on its own task: a caller that gives
                // up (a cancelled RPC) must not cut it between the platform
                // rotating the refresh token and the vault storing the new one.
                let holder = tokio::spawn(self.clone().refresh_holding(
                    workspace_id.to_owned(),
                    connection_id.to_owned(),
                    owner,
                    request.refused_version,
                ));
                holder
                    .await
                    .map_err(|e| Error::internal(format!("token refresh task failed: {e}")))??;
                let row = self.current(workspace_id, connection_id).await?;
                return self.token_of(&row, purpose).await;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::unavailable(
                    "another refresh of this connection is taking too long; try again",
                ));
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    async fn current(&self, workspace_id: &str, connection_id: &str) -> Result<ConnectionRow, Error> {
        let row = self
            .repo
            .connection(workspace_id, connection_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| Error::not_found("no such connection"))?;
        if row.status != ACTIVE {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!("the connection is {}: the user must reconnect it", row.status),
            ));
        }
        Ok(row)
    }

    fn needs_refresh(&self, row: &ConnectionRow, refused_version: Option<i64>) -> bool {
        let refused = refused_version.is_some_and(|v| v >= row.token_version);
        let ahead = secs_to_ms(self.settings().refresh_ahead_secs);
        let expiring = row.access_expires_at_ms.is_some_and(|at| at - now_ms() < ahead);
        refused || expiring
    }

    async fn token_of(&self, row: &ConnectionRow, purpose: &str) -> Result<UsableAccessToken, Error> {
        let access_token = self
            .vault
            .access_token(&row.workspace_id, &row.connection_id, purpose)
            .await
            .map_err(upstream)?;
        Ok(UsableAccessToken {
            access_token,
            version: row.token_version,
            expires_at_ms: row.access_expires_at_ms,
            platform: row.platform.clone(),
            account_id: row.account_id.clone(),
        })
    }

    /// Holding the lease: re-read (another holder may have refreshed just
    /// before), refresh and store (which releases it), or release it.
    async fn refresh_holding(
        self: Arc<Self>,
        workspace_id: String,
        connection_id: String,
        owner: String,
        refused_version: Option<i64>,
    ) -> Result<(), Error> {
        let outcome = async {
            let row = self.current(&workspace_id, &connection_id).await?;
            if !self.needs_refresh(&row, refused_version) {
                return Ok(false);
            }
            self.refresh(&row, &owner).await.map(|()| true)
        }
        .await;
        match outcome {
            Ok(true) => Ok(()),
            Ok(false) => self
                .repo
                .release_lease(&workspace_id, &connection_id, &owner)
                .await
                .map_err(storage),
            Err(e) => {
                if let Err(release) = self.repo.release_lease(&workspace_id, &connection_id, &owner).await {
                    tracing::warn!(connection_id, error = %release, "refresh lease not released (it runs out)");
                }
                Err(e)
            }
        }
    }

    /// Refreshes at the platform and stores the result (the lease is released
    /// by the same update).
    async fn refresh(&self, row: &ConnectionRow, owner: &str) -> Result<(), Error> {
        let platform = parse_platform(&row.platform)?;
        let adapter = self.adapter(platform)?;
        let Some(refresh_token) = self
            .vault
            .refresh_token(&row.workspace_id, &row.connection_id)
            .await
            .map_err(upstream)?
        else {
            self.needs_reauthorization(row, "the platform gave no refresh token")
                .await;
            return Err(reauthorize(row));
        };
        let refreshed_at = now_ms();
        let lease = Duration::from_secs(self.settings().refresh_lease_secs);
        // Well inside the lease, so nobody else can take it while we talk to
        // the platform; what remains is for storing the result.
        let budget = lease / 2;
        let answer = tokio::time::timeout(budget, self.refresh_with_retries(&*adapter, &refresh_token)).await;
        let tokens = match answer {
            Ok(Ok(tokens)) => tokens,
            Ok(Err(e)) if matches!(e.class, ErrorClass::AuthRevoked | ErrorClass::AuthExpired) => {
                self.needs_reauthorization(row, &format!("refresh refused: {e}")).await;
                return Err(reauthorize(row));
            }
            Err(_) => {
                tracing::warn!(connection_id = %row.connection_id, %platform, ?budget, "token refresh took too long; the connection stays active");
                return Err(Error::unavailable(format!(
                    "{platform} token refresh did not finish within {budget:?}; try again"
                )));
            }
            Ok(Err(e)) => {
                tracing::warn!(connection_id = %row.connection_id, %platform, error = %e, "token refresh failed; the connection stays active");
                return Err(Error::unavailable(format!(
                    "{platform} token refresh failed for now: {e}"
                )));
            }
        };
        // A platform that does not rotate sends no refresh token: keep ours
        // (an empty value never replaces a good one), and its expiry.
        let new_refresh = tokens.refresh_token.as_deref().filter(|t| !t.is_empty());
        let refresh_expires_at_ms = match new_refresh {
            Some(_) => expiry(refreshed_at, tokens.refresh_expires_in_secs),
            None => row.refresh_expires_at_ms,
        };
        let access_expires_at_ms = expiry(refreshed_at, tokens.access_expires_in_secs);
        let now = now_ms();
        if !self
            .repo
            .renew_lease(
                &row.workspace_id,
                &row.connection_id,
                owner,
                now,
                now + secs_to_ms(lease.as_secs()),
            )
            .await
            .map_err(storage)?
        {
            // Disconnected while the platform answered: its tokens are gone
            // and these must not come back.
            tracing::warn!(connection_id = %row.connection_id, %platform, "connection changed during a refresh; the new tokens are dropped");
            return Err(Error::new(
                ErrorCode::Conflict,
                "the connection was disconnected while its token was being refreshed",
            ));
        }
        self.vault
            .put_tokens(
                &row.workspace_id,
                &row.connection_id,
                platform.as_str(),
                &Tokens {
                    access_token: &tokens.access_token,
                    refresh_token: Some(new_refresh.unwrap_or(&refresh_token)),
                    access_expires_at_ms,
                    refresh_expires_at_ms,
                    scopes: if tokens.scopes.is_empty() {
                        &row.scopes
                    } else {
                        &tokens.scopes
                    },
                },
            )
            .await
            .map_err(upstream)?;
        let recorded = self
            .repo
            .record_refresh(
                &row.workspace_id,
                &row.connection_id,
                owner,
                &Refreshed {
                    access_expires_at_ms,
                    refresh_expires_at_ms,
                    scopes: &tokens.scopes,
                },
            )
            .await
            .map_err(storage)?;
        if !recorded {
            return self.refresh_overtaken(row).await;
        }
        tracing::info!(connection_id = %row.connection_id, %platform, rotated = new_refresh.is_some(), "token refreshed");
        Ok(())
    }

    /// The lease was cleared between renewing it and recording the refresh:
    /// a disconnect (whose vault delete may have run before our write, so
    /// the tokens just written go) or a reconnect (whose tokens are as good).
    async fn refresh_overtaken(&self, row: &ConnectionRow) -> Result<(), Error> {
        let now = self
            .repo
            .connection(&row.workspace_id, &row.connection_id)
            .await
            .map_err(storage)?;
        if now.as_ref().is_some_and(|now| now.status == ACTIVE) {
            tracing::warn!(connection_id = %row.connection_id, "connection reconnected during a refresh; both grants are valid");
            return Ok(());
        }
        self.vault
            .delete_tokens(&row.workspace_id, &row.connection_id)
            .await
            .map_err(upstream)?;
        Err(Error::new(
            ErrorCode::Conflict,
            "the connection was disconnected while its token was being refreshed",
        ))
    }

    async fn refresh_with_retries(
        &self,
        adapter: &dyn smez_platforms::PlatformAdapter,
        refresh_token: &str,
    ) -> Result<smez_platforms::TokenSet, PlatformError> {
        let mut pauses = RETRY_PAUSES.iter();
        let mut failed_before = false;
        loop {
            match adapter.refresh(refresh_token).await {
                Ok(tokens) => return Ok(tokens),
                // The failed try may have reached the platform and spent a
                // rotating token, which would make this refusal our own doing:
                // not proof the user's grant is gone.
                Err(e) if failed_before && matches!(e.class, ErrorClass::AuthRevoked | ErrorClass::AuthExpired) => {
                    return Err(PlatformError::new(
                        adapter.platform(),
                        ErrorClass::Transient,
                        format!("refused after an unanswered try, so unclear: {}", e.message),
                    ));
                }
                Err(e) if matches!(e.class, ErrorClass::Transient | ErrorClass::RateLimited) => {
                    failed_before = true;
                    let Some(pause) = pauses.next() else { return Err(e) };
                    let wait = e.retry_after.map_or(*pause, |after| after.min(MAX_RETRY_AFTER));
                    tracing::info!(platform = %adapter.platform(), error = %e, ?wait, "token refresh failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The grant is gone: once per episode, the status changes with its
    /// event, and a security event is recorded.
    pub(crate) async fn needs_reauthorization(&self, row: &ConnectionRow, reason: &str) {
        let event = StatusChange::of(row, REAUTHORIZATION_REQUIRED, reason).event();
        let changed = match self
            .repo
            .change_status(row, &[ACTIVE], REAUTHORIZATION_REQUIRED, reason, None, &event)
            .await
        {
            Ok(changed) => changed,
            Err(e) => {
                tracing::error!(connection_id = %row.connection_id, error = %e, "marking a connection for reauthorization failed");
                return;
            }
        };
        if changed {
            tracing::warn!(connection_id = %row.connection_id, platform = %row.platform, reason, "connection needs reauthorization");
            self.record_security_event(row, "token_refresh_failed", &format!("invalid_grant: {reason}"))
                .await;
        }
    }

    /// Records a security event with auth (who owns them). Logged, never
    /// returned, when auth cannot take it: what happened, happened.
    pub async fn record_security_event(&self, row: &ConnectionRow, event: &str, detail: &str) {
        let client = match self.ctx.peers.transport("auth") {
            Ok(transport) => AuthServiceClient::new(transport),
            Err(status) => {
                tracing::error!(target: "smez::security", event, error = %status.message(), "security event not recorded");
                return;
            }
        };
        let request = RecordSecurityEventRequest {
            event: Some(SecurityEvent {
                event: event.to_owned(),
                user_id: row.connected_by.clone(),
                workspace_id: Some(row.workspace_id.clone()),
                outcome: "failure".to_owned(),
                detail: format!("{} connection {}: {detail}", row.platform, row.connection_id),
                ..Default::default()
            }),
        };
        if let Err(status) = client.clone().record_security_event(request).await {
            tracing::error!(target: "smez::security", event, error = %status.message(), "security event not recorded");
        }
    }

    /// One sweep: refresh every active connection whose token expires within
    /// `integrations.refresh_ahead_secs`, and drop finished OAuth flows.
    pub async fn sweep(self: &Arc<Self>) -> anyhow::Result<()> {
        let ahead = secs_to_ms(self.settings().refresh_ahead_secs);
        for (workspace_id, connection_id) in self.repo.due_for_refresh(now_ms() + ahead, SWEEP_BATCH).await? {
            let request = UsableAccessTokenRequest {
                workspace_id,
                connection_id,
                purpose: "refresh_ahead".to_owned(),
                refused_version: None,
            };
            if let Err(e) = self.usable_token(&request).await {
                tracing::info!(connection_id = %request.connection_id, error = %e.message, "refresh ahead of expiry did not happen");
            }
        }
        // Flows end within minutes; an hour later nothing can still need them.
        self.repo.prune_flows(now_ms() - 3_600_000).await?;
        Ok(())
    }
}

fn reauthorize(row: &ConnectionRow) -> Error {
    Error::new(
        ErrorCode::Conflict,
        format!(
            "the {} grant was revoked or expired: the user must reconnect",
            row.platform
        ),
    )
}

/// Runs [`Core::sweep`] every `integrations.refresh_check_interval_secs` until shutdown.
pub fn spawn_sweeper(core: Arc<Core>) {
    let every = Duration::from_secs(core.settings().refresh_check_interval_secs);
    let shutdown = core.ctx.shutdown.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticks.tick() => {
                    if let Err(e) = core.sweep().await {
                        tracing::warn!(error = %e, "connection sweep failed; next time");
                    }
                }
            }
        }
    });
}
