//! Listing, inspecting and disconnecting connections, and what a deleted
//! account leaves behind here.

use std::sync::Arc;

use smez_kit::Error;
use smez_proto::events::v1::event::Payload;
use smez_proto::publisher::v1::{Connection, DisconnectResponse};
use smez_service::purge::{self, Subject};
use smez_store::Store;

use crate::core::{Core, parse_platform, storage, upstream};
use crate::repo::{ConnectionRow, now_ms};
use crate::view::{self, ACTIVE, REAUTHORIZATION_REQUIRED, REVOKED, StatusChange};

impl Core {
    pub async fn list(&self, workspace_id: &str, include_revoked: bool) -> Result<Vec<Connection>, Error> {
        let now = now_ms();
        Ok(self
            .repo
            .connections(workspace_id, include_revoked)
            .await
            .map_err(storage)?
            .iter()
            .map(|row| view::connection(row, now, self.warning_ms()))
            .collect())
    }

    async fn row(&self, workspace_id: &str, connection_id: &str) -> Result<ConnectionRow, Error> {
        self.repo
            .connection(workspace_id, connection_id)
            .await
            .map_err(storage)?
            .ok_or_else(|| Error::not_found("no such connection"))
    }

    pub async fn get(&self, workspace_id: &str, connection_id: &str) -> Result<Connection, Error> {
        let row = self.row(workspace_id, connection_id).await?;
        Ok(view::connection(&row, now_ms(), self.warning_ms()))
    }

    /// Revokes at the platform (where it can), deletes the tokens in the
    /// vault, and keeps the connection as `revoked` (posts still point at
    /// it). Disconnecting twice is not an error.
    ///
    /// The status changes first: from then on no refresh stores tokens for
    /// the connection (a refresh already past that check deletes what it
    /// wrote), so the vault delete below is the last word.
    pub async fn disconnect(
        &self,
        workspace_id: &str,
        connection_id: &str,
        reason: &str,
    ) -> Result<DisconnectResponse, Error> {
        let row = self.row(workspace_id, connection_id).await?;
        let (platform_revoked, detail) = if row.status == REVOKED {
            (false, "already disconnected".to_owned())
        } else {
            let event = StatusChange::of(&row, REVOKED, reason).event();
            self.repo
                .change_status(&row, &[ACTIVE, REAUTHORIZATION_REQUIRED], REVOKED, reason, None, &event)
                .await
                .map_err(storage)?;
            self.revoke_at_platform(&row).await
        };
        // Also when already revoked: an earlier disconnect may have stopped
        // between its status change and this delete.
        self.vault
            .delete_tokens(workspace_id, connection_id)
            .await
            .map_err(upstream)?;
        tracing::info!(connection_id, platform = %row.platform, platform_revoked, "connection disconnected");
        let row = self.row(workspace_id, connection_id).await?;
        Ok(DisconnectResponse {
            connection: Some(view::connection(&row, now_ms(), self.warning_ms())),
            platform_revoked,
            platform_revoke_detail: detail,
        })
    }

    /// Asks the platform to revoke the grant, with the access token, then
    /// (if that fails) the refresh token. Never fails the disconnect.
    async fn revoke_at_platform(&self, row: &ConnectionRow) -> (bool, String) {
        let adapter = match parse_platform(&row.platform).and_then(|p| self.adapter(p)) {
            Ok(adapter) => adapter,
            Err(e) => return (false, e.message),
        };
        let mut tokens = Vec::new();
        match self
            .vault
            .access_token(&row.workspace_id, &row.connection_id, "revoke")
            .await
        {
            Ok(token) => tokens.push(token),
            Err(status) if status.code() == tonic::Code::NotFound => {
                return (false, "no tokens were stored".to_owned());
            }
            Err(status) => return (false, format!("vault: {}", status.message())),
        }
        if let Ok(Some(refresh)) = self.vault.refresh_token(&row.workspace_id, &row.connection_id).await {
            tokens.push(refresh);
        }
        let mut last = String::new();
        for token in tokens {
            match adapter.revoke(&token).await {
                Ok(()) => return (true, "revoked at the platform".to_owned()),
                Err(e) => last = e.to_string(),
            }
        }
        tracing::warn!(connection_id = %row.connection_id, error = %last, "platform revoke failed; tokens are deleted anyway");
        (false, last)
    }

    /// A deleted account: every connection it made is disconnected (tokens
    /// revoked and deleted, the row kept without the account's id), its
    /// unfinished connects go, and this service confirms.
    pub async fn forget_user(&self, user_id: &str) -> anyhow::Result<()> {
        for row in self.repo.connected_by(user_id).await? {
            if row.status != REVOKED {
                self.disconnect(
                    &row.workspace_id,
                    &row.connection_id,
                    "the account that connected it was deleted",
                )
                .await
                .map_err(|e| anyhow::anyhow!("disconnecting {}: {}", row.connection_id, e.message))?;
            }
            self.repo
                .clear_connected_by(&row.workspace_id, &row.connection_id)
                .await?;
        }
        // Cross-tenant by nature: the user's flows span workspaces.
        let txn = self.repo.store().begin_cross_tenant().await?;
        let flows = Store::purge_user(&txn, user_id).await?;
        purge::confirm(&txn, self.ctx.name, Subject::User(user_id)).await?;
        txn.commit().await?;
        self.repo.store().outbox_written();
        tracing::info!(user_id, flows, "deleted account forgotten by the publisher");
        Ok(())
    }
}

/// Handles `user.deleted` until shutdown (announced again until confirmed).
pub fn spawn_user_deleted_subscriber(core: Arc<Core>) {
    let ctx = core.ctx.clone();
    smez_service::events::spawn_subscriber(ctx, "users", &["user.deleted"], move |event| {
        let core = core.clone();
        async move {
            match event.payload {
                Some(Payload::UserDeleted(deleted)) if !deleted.user_id.is_empty() => {
                    core.forget_user(&deleted.user_id).await
                }
                _ => Ok(()),
            }
        }
    });
}
