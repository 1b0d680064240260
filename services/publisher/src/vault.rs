//! The vault as the publisher uses it: tokens in, tokens out, nothing kept.
//! Plaintext tokens exist here only for the length of a platform call.

use std::sync::Arc;

use smez_kit::grpc::Transport;
use smez_proto::vault::v1::vault_service_client::VaultServiceClient;
use smez_proto::vault::v1::{
    Binding, CredentialRef, OpenRequest, PutCredentialRequest, PutPendingTransferRequest, SealRequest,
    TakePendingTransferRequest,
};
use smez_service::peers::Peers;
use tonic::Status;

/// The sealed field of a PKCE verifier (bound to its state).
const PKCE_VERIFIER: &str = "pkce_verifier";

/// Tokens to store for a connection.
pub struct Tokens<'a> {
    pub access_token: &'a str,
    pub refresh_token: Option<&'a str>,
    pub access_expires_at_ms: Option<i64>,
    pub refresh_expires_at_ms: Option<i64>,
    pub scopes: &'a [String],
}

#[derive(Clone)]
pub struct Vault {
    peers: Arc<Peers>,
}

impl Vault {
    pub fn new(peers: Arc<Peers>) -> Self {
        Self { peers }
    }

    fn client(&self) -> Result<VaultServiceClient<Transport>, Status> {
        Ok(VaultServiceClient::new(self.peers.transport("vault")?))
    }

    pub async fn seal_verifier(&self, workspace_id: &str, state_id: &str, verifier: &str) -> Result<String, Status> {
        let sealed = self
            .client()?
            .seal(SealRequest {
                binding: Some(binding(workspace_id, state_id)),
                plaintext: verifier.as_bytes().to_vec(),
            })
            .await?;
        Ok(sealed.into_inner().ciphertext)
    }

    pub async fn open_verifier(&self, workspace_id: &str, state_id: &str, sealed: &str) -> Result<String, Status> {
        let opened = self
            .client()?
            .open(OpenRequest {
                binding: Some(binding(workspace_id, state_id)),
                ciphertext: sealed.to_owned(),
            })
            .await?;
        String::from_utf8(opened.into_inner().plaintext).map_err(|_| Status::internal("a sealed verifier is not text"))
    }

    pub async fn put_tokens(
        &self,
        workspace_id: &str,
        connection_id: &str,
        platform: &str,
        tokens: &Tokens<'_>,
    ) -> Result<(), Status> {
        self.client()?
            .put_credential(PutCredentialRequest {
                workspace_id: workspace_id.to_owned(),
                connection_id: connection_id.to_owned(),
                provider: platform.to_owned(),
                access_token: tokens.access_token.to_owned(),
                refresh_token: tokens.refresh_token.map(str::to_owned),
                access_expires_at_ms: tokens.access_expires_at_ms,
                refresh_expires_at_ms: tokens.refresh_expires_at_ms,
                scopes: tokens.scopes.to_vec(),
            })
            .await?;
        Ok(())
    }

    pub async fn access_token(&self, workspace_id: &str, connection_id: &str, purpose: &str) -> Result<String, Status> {
        let token = self
            .client()?
            .get_access_token(reference(workspace_id, connection_id, purpose))
            .await?;
        Ok(token.into_inner().access_token)
    }

    /// The refresh token; `None` when the vault holds none for the connection.
    pub async fn refresh_token(&self, workspace_id: &str, connection_id: &str) -> Result<Option<String>, Status> {
        match self
            .client()?
            .get_refresh_token(reference(workspace_id, connection_id, "refresh"))
            .await
        {
            Ok(token) => Ok(Some(token.into_inner().refresh_token)),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(status),
        }
    }

    /// Deletes the connection's tokens; false when there were none.
    pub async fn delete_tokens(&self, workspace_id: &str, connection_id: &str) -> Result<bool, Status> {
        let deleted = self
            .client()?
            .delete_credential(reference(workspace_id, connection_id, "disconnect"))
            .await?;
        Ok(deleted.into_inner().deleted)
    }

    /// Seals exchanged tokens while the user picks an account: (id, expiry).
    pub async fn put_pending(
        &self,
        workspace_id: &str,
        user_id: &str,
        platform: &str,
        payload: Vec<u8>,
        ttl_secs: u32,
    ) -> Result<(String, i64), Status> {
        let put = self
            .client()?
            .put_pending_transfer(PutPendingTransferRequest {
                workspace_id: workspace_id.to_owned(),
                user_id: user_id.to_owned(),
                provider: platform.to_owned(),
                payload,
                ttl_secs,
            })
            .await?
            .into_inner();
        Ok((put.id, put.expires_at_ms))
    }

    /// The pending payload, taken out of the vault (single use).
    pub async fn take_pending(&self, workspace_id: &str, user_id: &str, id: &str) -> Result<Vec<u8>, Status> {
        let taken = self
            .client()?
            .take_pending_transfer(TakePendingTransferRequest {
                id: id.to_owned(),
                workspace_id: workspace_id.to_owned(),
                user_id: user_id.to_owned(),
            })
            .await?;
        Ok(taken.into_inner().payload)
    }
}

fn binding(workspace_id: &str, state_id: &str) -> Binding {
    Binding {
        workspace_id: workspace_id.to_owned(),
        owner_id: state_id.to_owned(),
        field: PKCE_VERIFIER.to_owned(),
    }
}

fn reference(workspace_id: &str, connection_id: &str, purpose: &str) -> CredentialRef {
    CredentialRef {
        workspace_id: workspace_id.to_owned(),
        connection_id: connection_id.to_owned(),
        purpose: purpose.to_owned(),
    }
}
