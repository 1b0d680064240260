//! Connecting an account: the authorize URL with a signed, stored state
//! (and PKCE where the platform takes it), the callback that spends the
//! state and the code once each, and the account choice when one login
//! holds several accounts.

use serde::{Deserialize, Serialize};
use smez_kit::Error;
use smez_platforms::{AccountProfile, AuthorizeRequest, ErrorClass, Pkce, Platform, TokenSet};
use smez_proto::publisher::v1::complete_connect_response::Outcome;
use smez_proto::publisher::v1::{
    AccountChoice, CompleteConnectRequest, CompleteConnectResponse, Connected, Connection, PendingChoice, Refused,
    StartConnectRequest, StartConnectResponse,
};

use crate::core::{Core, Member, expiry, parse_platform, secs_to_ms, storage, upstream};
use crate::repo::{NewConnection, OAuthState, PendingChoiceRow, now_ms};
use crate::state::{Bindings, new_state_id, split};
use crate::vault::Tokens;
use crate::view::{self, ACTIVE, StatusChange};

/// What waits in the vault while the user chooses an account.
#[derive(Serialize, Deserialize)]
struct PendingPayload {
    tokens: TokenSet,
    accounts: Vec<AccountProfile>,
    /// When the exchange happened (token lifetimes count from then).
    exchanged_at_ms: i64,
}

fn refused(reason: &str, message: impl Into<String>) -> CompleteConnectResponse {
    CompleteConnectResponse {
        outcome: Some(Outcome::Refused(Refused {
            reason: reason.to_owned(),
            message: message.into(),
            security_relevant: reason.starts_with("state_"),
        })),
    }
}

/// The browser binding must be a SHA-256 hex digest (the gateway hashes its cookie).
fn checked_binding(binding: &str) -> Result<&str, Error> {
    if binding.len() == 64 && binding.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(binding)
    } else {
        Err(Error::invalid_field("browser_binding", "must be a SHA-256 hex digest"))
    }
}

impl Core {
    pub async fn start_connect(
        &self,
        member: &Member,
        request: StartConnectRequest,
    ) -> Result<StartConnectResponse, Error> {
        let platform = parse_platform(&request.platform)?;
        let adapter = self.adapter(platform)?;
        let browser_binding = checked_binding(&request.browser_binding)?;
        let state_id = new_state_id();
        let pkce = platform.supports_pkce().then(Pkce::generate);
        let pkce_verifier_sealed = match &pkce {
            Some(pkce) => Some(
                self.vault
                    .seal_verifier(&member.workspace_id, &state_id, &pkce.verifier)
                    .await
                    .map_err(upstream)?,
            ),
            None => None,
        };
        let expires_at_ms = now_ms() + secs_to_ms(self.settings().state_ttl_secs);
        let redirect_uri = self
            .settings()
            .redirect_uri(&self.ctx.settings.gateway, platform.as_str());
        let state = self.signer.sign(&Bindings {
            state_id: &state_id,
            user_id: &member.user_id,
            workspace_id: &member.workspace_id,
            platform: platform.as_str(),
            browser_binding,
            expires_at_ms,
        });
        let authorize_url = adapter
            .authorize_url(&AuthorizeRequest {
                redirect_uri: redirect_uri.clone(),
                state,
                scopes: platform.requested_scopes(),
                pkce_challenge: pkce.as_ref().map(Pkce::challenge),
            })
            .map_err(|e| Error::internal(format!("building the {platform} authorize URL: {e}")))?;
        self.repo
            .insert_state(&OAuthState {
                state_id,
                workspace_id: member.workspace_id.clone(),
                user_id: member.user_id.clone(),
                platform: platform.as_str().to_owned(),
                browser_binding: browser_binding.to_owned(),
                pkce_verifier_sealed,
                redirect_uri: redirect_uri.clone(),
                expires_at_ms,
                used_at_ms: None,
            })
            .await
            .map_err(storage)?;
        Ok(StartConnectResponse {
            authorize_url,
            state_expires_at_ms: expires_at_ms,
            redirect_uri,
        })
    }

    /// The platform sent the browser back. Every check of the state comes
    /// before anything is spent; then the state is spent, then the code.
    pub async fn complete_connect(
        &self,
        member: &Member,
        request: CompleteConnectRequest,
    ) -> Result<CompleteConnectResponse, Error> {
        let platform = parse_platform(&request.platform)?;
        let Some((state_id, tag)) = split(&request.state) else {
            return Ok(refused(
                "state_malformed",
                "the state is missing or not one Smez issued",
            ));
        };
        let browser_binding = checked_binding(&request.browser_binding).unwrap_or("");
        let Some(stored) = self.repo.state(&member.workspace_id, state_id).await.map_err(storage)? else {
            return Ok(refused(
                "state_unknown",
                "this connect was not started in the active workspace (or has been cleaned up)",
            ));
        };
        if stored.platform != platform.as_str() {
            return Ok(refused(
                "state_platform_mismatch",
                format!("the connect was started for {}", stored.platform),
            ));
        }
        if stored.user_id != member.user_id {
            return Ok(refused(
                "state_user_mismatch",
                "the connect was started by another user",
            ));
        }
        if stored.browser_binding != browser_binding {
            return Ok(refused(
                "state_browser_mismatch",
                "the connect was started in another browser",
            ));
        }
        // The stored expiry is the authority (an expired state is refused
        // before anything is spent); the signature below also covers it.
        if stored.expires_at_ms < now_ms() {
            return Ok(refused("state_expired", "the connect took too long; start again"));
        }
        let bindings = Bindings {
            state_id,
            user_id: &member.user_id,
            workspace_id: &member.workspace_id,
            platform: platform.as_str(),
            browser_binding,
            expires_at_ms: stored.expires_at_ms,
        };
        if !self.signer.verify(tag, &bindings) {
            return Ok(refused("state_tampered", "the state's signature does not match"));
        }
        if stored.used_at_ms.is_some()
            || !self
                .repo
                .use_state(&member.workspace_id, state_id)
                .await
                .map_err(storage)?
        {
            return Ok(refused("state_replayed", "this connect has already come back once"));
        }
        if !request.error.is_empty() {
            let reason = if request.error == "access_denied" {
                "consent_denied"
            } else {
                "platform_error"
            };
            let detail: String = request.error.chars().take(64).collect();
            return Ok(refused(reason, format!("{platform} answered `{detail}`")));
        }
        if request.code.is_empty() {
            return Ok(refused("platform_error", format!("{platform} sent no code")));
        }
        let verifier = match &stored.pkce_verifier_sealed {
            Some(sealed) => Some(
                self.vault
                    .open_verifier(&member.workspace_id, state_id, sealed)
                    .await
                    .map_err(upstream)?,
            ),
            None => None,
        };
        let adapter = self.adapter(platform)?;
        let exchanged_at_ms = now_ms();
        let tokens = match adapter
            .exchange_code(&request.code, &stored.redirect_uri, verifier.as_deref())
            .await
        {
            Ok(tokens) => tokens,
            Err(e) => return Ok(refused("exchange_failed", format!("{platform} refused the code: {e}"))),
        };
        let accounts = match adapter.accounts(&tokens.access_token).await {
            Ok(accounts) => accounts,
            Err(e) if e.class == ErrorClass::AuthRevoked => {
                return Ok(refused(
                    "exchange_failed",
                    format!("{platform} gave no access to the account's profile (a scope unticked?): {e}"),
                ));
            }
            Err(e) => return Err(Error::unavailable(format!("{platform} account lookup: {e}"))),
        };
        match accounts.as_slice() {
            [] => Ok(refused(
                "no_account",
                format!("this {platform} login has no account to publish to"),
            )),
            [account] => {
                let (connection, reconnected) = self
                    .connect_account(member, platform, account, &tokens, exchanged_at_ms)
                    .await?;
                Ok(CompleteConnectResponse {
                    outcome: Some(Outcome::Connected(Connected {
                        connection: Some(connection),
                        reconnected,
                    })),
                })
            }
            _ => {
                let choice = self
                    .await_choice(member, platform, tokens, accounts, exchanged_at_ms)
                    .await?;
                Ok(CompleteConnectResponse {
                    outcome: Some(Outcome::ChooseAccount(choice)),
                })
            }
        }
    }

    /// Keeps the exchanged tokens sealed in the vault and the offered
    /// accounts here, until the user picks one.
    async fn await_choice(
        &self,
        member: &Member,
        platform: Platform,
        tokens: TokenSet,
        accounts: Vec<AccountProfile>,
        exchanged_at_ms: i64,
    ) -> Result<PendingChoice, Error> {
        let listed: Vec<AccountChoice> = accounts.iter().map(choice_of).collect();
        let payload = serde_json::to_vec(&PendingPayload {
            tokens,
            accounts,
            exchanged_at_ms,
        })
        .map_err(Error::internal)?;
        let (pending_id, expires_at_ms) = self
            .vault
            .put_pending(
                &member.workspace_id,
                &member.user_id,
                platform.as_str(),
                payload,
                self.settings().pending_ttl_secs,
            )
            .await
            .map_err(upstream)?;
        let accounts_json = serde_json::to_string(&listed.iter().map(StoredChoice::from).collect::<Vec<_>>())
            .map_err(Error::internal)?;
        self.repo
            .insert_pending(
                &member.workspace_id,
                &PendingChoiceRow {
                    pending_id: pending_id.clone(),
                    user_id: member.user_id.clone(),
                    platform: platform.as_str().to_owned(),
                    accounts_json,
                    expires_at_ms,
                },
            )
            .await
            .map_err(storage)?;
        Ok(PendingChoice {
            pending_id,
            platform: platform.as_str().to_owned(),
            accounts: listed,
            expires_at_ms,
        })
    }

    /// The accounts waiting for the member's choice.
    pub async fn pending_choice(&self, member: &Member, pending_id: &str) -> Result<PendingChoice, Error> {
        let row = self.pending_row(member, pending_id).await?;
        let stored: Vec<StoredChoice> = serde_json::from_str(&row.accounts_json).map_err(Error::internal)?;
        Ok(PendingChoice {
            pending_id: row.pending_id,
            platform: row.platform,
            accounts: stored.into_iter().map(AccountChoice::from).collect(),
            expires_at_ms: row.expires_at_ms,
        })
    }

    async fn pending_row(&self, member: &Member, pending_id: &str) -> Result<PendingChoiceRow, Error> {
        let row = self
            .repo
            .pending(&member.workspace_id, pending_id)
            .await
            .map_err(storage)?
            .filter(|row| row.user_id == member.user_id && row.expires_at_ms >= now_ms());
        row.ok_or_else(|| Error::not_found("no such account choice (it expired, was made, or is someone else's)"))
    }

    /// Connects the chosen account with the tokens taken from the vault (once).
    pub async fn select_account(
        &self,
        member: &Member,
        pending_id: &str,
        account_id: &str,
    ) -> Result<Connection, Error> {
        let row = self.pending_row(member, pending_id).await?;
        let offered: Vec<StoredChoice> = serde_json::from_str(&row.accounts_json).map_err(Error::internal)?;
        if !offered.iter().any(|a| a.id == account_id) {
            return Err(Error::invalid_field(
                "account_id",
                "not one of the accounts this login offered",
            ));
        }
        let platform = parse_platform(&row.platform)?;
        let payload = self
            .vault
            .take_pending(&member.workspace_id, &member.user_id, pending_id)
            .await
            .map_err(|status| match status.code() {
                tonic::Code::NotFound => Error::not_found("this account choice was already made or has expired"),
                _ => upstream(status),
            })?;
        let pending: PendingPayload = serde_json::from_slice(&payload).map_err(Error::internal)?;
        let account = pending
            .accounts
            .iter()
            .find(|a| a.id == account_id)
            .ok_or_else(|| Error::internal("the sealed accounts differ from the listed ones"))?;
        let (connection, _) = self
            .connect_account(member, platform, account, &pending.tokens, pending.exchanged_at_ms)
            .await?;
        // After the connect: the vault's single-use take already guards the
        // choice, and the row lists what is offered until it is made.
        self.repo
            .delete_pending(&member.workspace_id, pending_id)
            .await
            .map_err(storage)?;
        Ok(connection)
    }

    /// Stores the tokens in the vault and the account here; a reconnect of an
    /// account already connected in this workspace keeps its connection id.
    async fn connect_account(
        &self,
        member: &Member,
        platform: Platform,
        account: &AccountProfile,
        tokens: &TokenSet,
        exchanged_at_ms: i64,
    ) -> Result<(Connection, bool), Error> {
        let existing = self
            .repo
            .connection_of_account(&member.workspace_id, platform.as_str(), &account.id)
            .await
            .map_err(storage)?;
        let connection_id = existing
            .as_ref()
            .map_or_else(|| uuid::Uuid::now_v7().to_string(), |c| c.connection_id.clone());
        let access_expires_at_ms = expiry(exchanged_at_ms, tokens.access_expires_in_secs);
        let mut refresh_expires_at_ms = expiry(exchanged_at_ms, tokens.refresh_expires_in_secs);
        let mut kept_refresh = None;
        if tokens.refresh_token.as_deref().is_none_or(str::is_empty)
            && let Some(existing) = existing.as_ref().filter(|c| c.status == ACTIVE)
        {
            // A reconnect that brings no refresh token (Google sends one only
            // on first consent) keeps the one stored: an empty value never
            // overwrites a good one.
            kept_refresh = self
                .vault
                .refresh_token(&member.workspace_id, &existing.connection_id)
                .await
                .map_err(upstream)?;
            if kept_refresh.is_some() {
                refresh_expires_at_ms = existing.refresh_expires_at_ms;
            }
        }
        let refresh_token = tokens
            .refresh_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .or(kept_refresh.as_deref());
        self.vault
            .put_tokens(
                &member.workspace_id,
                &connection_id,
                platform.as_str(),
                &Tokens {
                    access_token: &tokens.access_token,
                    refresh_token,
                    access_expires_at_ms,
                    refresh_expires_at_ms,
                    scopes: &tokens.scopes,
                },
            )
            .await
            .map_err(upstream)?;
        let new = NewConnection {
            connection_id: &connection_id,
            workspace_id: &member.workspace_id,
            platform: platform.as_str(),
            account_id: &account.id,
            username: &account.username,
            display_name: &account.display_name,
            avatar_url: account.avatar_url.as_deref(),
            scopes: &tokens.scopes,
            access_expires_at_ms,
            refresh_expires_at_ms,
            connected_by: &member.user_id,
        };
        let written = self
            .repo
            .upsert_connection(&new, |id, previous| {
                StatusChange {
                    workspace_id: &member.workspace_id,
                    connection_id: id,
                    platform: platform.as_str(),
                    account_id: &account.id,
                    status: ACTIVE,
                    previous_status: previous.unwrap_or(""),
                    reason: "connected",
                }
                .event()
            })
            .await;
        let (stored_id, previous) = match written {
            Ok(written) => written,
            Err(e) => {
                // No active connection row: the tokens must not stay behind in
                // the vault (an active one's are replaced by equally good ones).
                if existing.as_ref().is_none_or(|c| c.status != ACTIVE)
                    && let Err(cleanup) = self.vault.delete_tokens(&member.workspace_id, &connection_id).await
                {
                    tracing::error!(connection_id, error = %cleanup.message(), "tokens of a failed connect not deleted");
                }
                return Err(storage(e));
            }
        };
        if stored_id != connection_id {
            // Another connect of the same account won a race for the row:
            // its connection gets these (newer) tokens, ours go.
            self.vault
                .put_tokens(
                    &member.workspace_id,
                    &stored_id,
                    platform.as_str(),
                    &Tokens {
                        access_token: &tokens.access_token,
                        refresh_token,
                        access_expires_at_ms,
                        refresh_expires_at_ms,
                        scopes: &tokens.scopes,
                    },
                )
                .await
                .map_err(upstream)?;
            self.vault
                .delete_tokens(&member.workspace_id, &connection_id)
                .await
                .map_err(upstream)?;
        }
        let row = self
            .repo
            .connection(&member.workspace_id, &stored_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| Error::internal("a connection just written is gone"))?;
        tracing::info!(
            connection_id = %stored_id,
            %platform,
            workspace_id = %member.workspace_id,
            reconnected = previous.is_some(),
            "platform account connected"
        );
        Ok((view::connection(&row, now_ms(), self.warning_ms()), previous.is_some()))
    }
}

/// An offered account as listed here (never with tokens).
#[derive(Serialize, Deserialize)]
struct StoredChoice {
    id: String,
    username: String,
    display_name: String,
    avatar_url: Option<String>,
}

fn choice_of(account: &AccountProfile) -> AccountChoice {
    AccountChoice {
        account_id: account.id.clone(),
        username: account.username.clone(),
        display_name: account.display_name.clone(),
        avatar_url: account.avatar_url.clone(),
    }
}

impl From<&AccountChoice> for StoredChoice {
    fn from(choice: &AccountChoice) -> Self {
        Self {
            id: choice.account_id.clone(),
            username: choice.username.clone(),
            display_name: choice.display_name.clone(),
            avatar_url: choice.avatar_url.clone(),
        }
    }
}

impl From<StoredChoice> for AccountChoice {
    fn from(stored: StoredChoice) -> Self {
        Self {
            account_id: stored.id,
            username: stored.username,
            display_name: stored.display_name,
            avatar_url: stored.avatar_url,
        }
    }
}
