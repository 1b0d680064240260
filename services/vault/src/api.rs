//! The vault's gRPC API: authorisation by caller identity, validation, and
//! the access log. Plaintext exists only between opening and answering.

use std::sync::Arc;

use smez_kit::secret::SecretString;
use smez_proto::common::v1::{GetServiceInfoRequest, ServiceInfo};
use smez_proto::vault::v1::vault_service_server::VaultService;
use smez_proto::vault::v1::{
    AccessToken, Binding as ProtoBinding, CredentialRef, DeleteCredentialResponse, KeyRef, KeyStatus, OpenRequest,
    OpenResponse, PendingTransfer, PutCredentialRequest, PutCredentialResponse, PutPendingTransferRequest,
    PutPendingTransferResponse, RefreshToken, RewrapRequest, RewrapResponse, SealRequest, SealResponse,
    SetMinDecryptionVersionRequest, TakePendingTransferRequest,
};
use smez_service::ServiceContext;
use tonic::{Request, Response, Status};

use crate::credentials::{ACCESS_TOKEN, REFRESH_TOKEN, open_pending, open_token, seal_pending, seal_tokens};
use crate::envelope::Binding;
use crate::error::VaultError;
use crate::keyring::{KEY_NAMES, Keyring, PAYLOADS, PENDING, TOKENS};
use crate::policy::{Action, authorize};
use crate::repo::{Access, AccessLog, CredentialRow, PendingRow, Repo, now_ms};
use crate::rewrap;

/// Longest pending transfer life (the OAuth account choice takes minutes).
const MAX_PENDING_TTL_SECS: u32 = 900;
const DEFAULT_PENDING_TTL_SECS: u32 = 600;
/// Biggest payload or token accepted (tokens are a few KiB at most).
const MAX_SECRET_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct VaultApi {
    pub(crate) ctx: Arc<ServiceContext>,
    pub(crate) keyring: Arc<Keyring>,
    pub(crate) repo: Repo,
    pub(crate) access_log: AccessLog,
    pub(crate) rewrap_batch: u32,
}

fn required<'a>(field: &'static str, value: &'a str) -> Result<&'a str, VaultError> {
    if value.trim().is_empty() {
        Err(VaultError::InvalidArgument(field, format!("{field} is required")))
    } else if value.len() > 256 {
        Err(VaultError::InvalidArgument(
            field,
            format!("{field} is longer than 256 bytes"),
        ))
    } else {
        Ok(value)
    }
}

fn size_checked<'a>(field: &'static str, value: &'a [u8]) -> Result<&'a [u8], VaultError> {
    if value.len() > MAX_SECRET_BYTES {
        Err(VaultError::InvalidArgument(
            field,
            format!("{field} is larger than {MAX_SECRET_BYTES} bytes"),
        ))
    } else {
        Ok(value)
    }
}

fn binding(proto: Option<&ProtoBinding>) -> Result<Binding<'_>, VaultError> {
    let proto = proto.ok_or_else(|| VaultError::InvalidArgument("binding", "binding is required".into()))?;
    Ok(Binding {
        workspace_id: required("binding.workspace_id", &proto.workspace_id)?,
        owner_id: required("binding.owner_id", &proto.owner_id)?,
        field: required("binding.field", &proto.field)?,
    })
}

impl VaultApi {
    /// The caller, if it may do `action`.
    fn caller<T>(&self, request: &Request<T>, action: Action) -> Result<String, Status> {
        let caller = smez_kit::grpc::caller(request)?.service.clone();
        authorize(&caller, action)?;
        Ok(caller)
    }

    async fn log(&self, access: Access<'_>) -> Result<(), VaultError> {
        self.access_log.record(&access).await.map_err(VaultError::from)
    }

    async fn credential(&self, reference: &CredentialRef) -> Result<CredentialRow, VaultError> {
        let workspace = required("workspace_id", &reference.workspace_id)?;
        let connection = required("connection_id", &reference.connection_id)?;
        required("purpose", &reference.purpose)?;
        self.repo
            .credential_of(workspace, connection)
            .await?
            .ok_or(VaultError::NotFound("credential"))
    }

    /// Opens one token of a stored credential and records who opened it and why.
    async fn open_stored(
        &self,
        caller: &str,
        reference: &CredentialRef,
        field: &'static str,
    ) -> Result<(CredentialRow, SecretString), VaultError> {
        let row = self.credential(reference).await?;
        let sealed = match field {
            ACCESS_TOKEN => Some(row.access_token.as_str()),
            _ => row.refresh_token.as_deref(),
        }
        .ok_or(VaultError::NotFound("refresh token"))?;
        let token = open_token(&self.keyring, &row.workspace_id, &row.connection_id, field, sealed).await?;
        self.log(Access {
            caller,
            action: if field == ACCESS_TOKEN {
                "open_access_token"
            } else {
                "open_refresh_token"
            },
            workspace_id: Some(&row.workspace_id),
            owner_id: Some(&row.connection_id),
            purpose: &reference.purpose,
            key_name: Some(TOKENS),
            key_version: Some(row.key_version),
        })
        .await?;
        Ok((row, token))
    }

    async fn key_status(&self, key_name: &str) -> Result<KeyStatus, VaultError> {
        let info = self.keyring.info(key_name).await?;
        let table = match key_name {
            TOKENS => Some("vault_credentials"),
            PENDING => Some("vault_pending_transfers"),
            _ => None, // payload ciphertexts live in their callers' databases
        };
        let stored_per_version = match table {
            Some(table) => self.repo.stored_per_version(table).await?.into_iter().collect(),
            None => Default::default(),
        };
        Ok(KeyStatus {
            key_name: key_name.to_owned(),
            current_version: info.current,
            min_decryption_version: info.min_decryption,
            stored_per_version,
            current_version_seals: info.current_seals,
        })
    }
}

#[tonic::async_trait]
impl VaultService for VaultApi {
    async fn get_service_info(&self, request: Request<GetServiceInfoRequest>) -> Result<Response<ServiceInfo>, Status> {
        self.ctx.service_info(&request).await
    }

    async fn seal(&self, request: Request<SealRequest>) -> Result<Response<SealResponse>, Status> {
        self.caller(&request, Action::SealPayload)?;
        let message = request.get_ref();
        let binding = binding(message.binding.as_ref())?;
        let plaintext = size_checked("plaintext", &message.plaintext)?;
        let (ciphertext, _) = self.keyring.seal(PAYLOADS, &binding, plaintext).await?;
        Ok(Response::new(SealResponse { ciphertext }))
    }

    async fn open(&self, request: Request<OpenRequest>) -> Result<Response<OpenResponse>, Status> {
        let caller = self.caller(&request, Action::OpenPayload)?;
        let message = request.get_ref();
        let binding = binding(message.binding.as_ref())?;
        let (plaintext, version) = self.keyring.open(PAYLOADS, &binding, &message.ciphertext).await?;
        self.log(Access {
            caller: &caller,
            action: "open_payload",
            workspace_id: Some(binding.workspace_id),
            owner_id: Some(binding.owner_id),
            purpose: binding.field,
            key_name: Some(PAYLOADS),
            key_version: Some(version),
        })
        .await?;
        Ok(Response::new(OpenResponse {
            plaintext: plaintext.expose().to_vec(),
        }))
    }

    async fn put_credential(
        &self,
        request: Request<PutCredentialRequest>,
    ) -> Result<Response<PutCredentialResponse>, Status> {
        self.caller(&request, Action::PutCredential)?;
        let message = request.get_ref();
        let workspace = required("workspace_id", &message.workspace_id)?;
        let connection = required("connection_id", &message.connection_id)?;
        let provider = required("provider", &message.provider)?;
        if message.access_token.is_empty() {
            return Err(VaultError::InvalidArgument("access_token", "access_token is required".into()).into());
        }
        size_checked("access_token", message.access_token.as_bytes())?;
        if let Some(refresh) = &message.refresh_token {
            size_checked("refresh_token", refresh.as_bytes())?;
        }
        let sealed = seal_tokens(
            &self.keyring,
            workspace,
            connection,
            &message.access_token,
            message.refresh_token.as_deref(),
        )
        .await?;
        let written = self
            .repo
            .put_credential(&CredentialRow {
                connection_id: connection.to_owned(),
                workspace_id: workspace.to_owned(),
                provider: provider.to_owned(),
                access_token: sealed.access_token,
                refresh_token: sealed.refresh_token,
                access_expires_at_ms: message.access_expires_at_ms,
                refresh_expires_at_ms: message.refresh_expires_at_ms,
                scopes: message.scopes.clone(),
                key_version: sealed.version,
            })
            .await
            .map_err(VaultError::from)?;
        if !written {
            return Err(
                VaultError::Precondition(format!("connection {connection} belongs to another workspace")).into(),
            );
        }
        Ok(Response::new(PutCredentialResponse {
            key_version: sealed.version,
        }))
    }

    async fn get_access_token(&self, request: Request<CredentialRef>) -> Result<Response<AccessToken>, Status> {
        let caller = self.caller(&request, Action::GetAccessToken)?;
        let (row, token) = self.open_stored(&caller, request.get_ref(), ACCESS_TOKEN).await?;
        Ok(Response::new(AccessToken {
            access_token: token.expose().to_owned(),
            access_expires_at_ms: row.access_expires_at_ms,
            scopes: row.scopes,
            provider: row.provider,
        }))
    }

    async fn get_refresh_token(&self, request: Request<CredentialRef>) -> Result<Response<RefreshToken>, Status> {
        let caller = self.caller(&request, Action::GetRefreshToken)?;
        let (row, token) = self.open_stored(&caller, request.get_ref(), REFRESH_TOKEN).await?;
        Ok(Response::new(RefreshToken {
            refresh_token: token.expose().to_owned(),
            refresh_expires_at_ms: row.refresh_expires_at_ms,
        }))
    }

    async fn delete_credential(
        &self,
        request: Request<CredentialRef>,
    ) -> Result<Response<DeleteCredentialResponse>, Status> {
        let caller = self.caller(&request, Action::DeleteCredential)?;
        let reference = request.get_ref();
        let workspace = required("workspace_id", &reference.workspace_id)?;
        let connection = required("connection_id", &reference.connection_id)?;
        let deleted = self
            .repo
            .delete_credential(workspace, connection)
            .await
            .map_err(VaultError::from)?;
        self.log(Access {
            caller: &caller,
            action: "delete_credential",
            workspace_id: Some(workspace),
            owner_id: Some(connection),
            purpose: &reference.purpose,
            key_name: None,
            key_version: None,
        })
        .await?;
        Ok(Response::new(DeleteCredentialResponse { deleted }))
    }

    async fn put_pending_transfer(
        &self,
        request: Request<PutPendingTransferRequest>,
    ) -> Result<Response<PutPendingTransferResponse>, Status> {
        self.caller(&request, Action::PutPendingTransfer)?;
        let message = request.get_ref();
        let workspace = required("workspace_id", &message.workspace_id)?;
        let user = required("user_id", &message.user_id)?;
        let provider = required("provider", &message.provider)?;
        size_checked("payload", &message.payload)?;
        let ttl = match message.ttl_secs {
            0 => DEFAULT_PENDING_TTL_SECS,
            ttl if ttl <= MAX_PENDING_TTL_SECS => ttl,
            _ => {
                return Err(VaultError::InvalidArgument(
                    "ttl_secs",
                    format!("ttl_secs is at most {MAX_PENDING_TTL_SECS}"),
                )
                .into());
            }
        };
        let id = uuid::Uuid::new_v4().to_string();
        let (payload, key_version) = seal_pending(&self.keyring, workspace, &id, user, &message.payload).await?;
        let expires_at_ms = now_ms() + i64::from(ttl) * 1000;
        self.repo
            .put_pending(&PendingRow {
                id: id.clone(),
                workspace_id: workspace.to_owned(),
                user_id: user.to_owned(),
                provider: provider.to_owned(),
                payload,
                key_version,
                expires_at_ms,
            })
            .await
            .map_err(VaultError::from)?;
        Ok(Response::new(PutPendingTransferResponse { id, expires_at_ms }))
    }

    async fn take_pending_transfer(
        &self,
        request: Request<TakePendingTransferRequest>,
    ) -> Result<Response<PendingTransfer>, Status> {
        let caller = self.caller(&request, Action::TakePendingTransfer)?;
        let message = request.get_ref();
        let id = required("id", &message.id)?;
        let workspace = required("workspace_id", &message.workspace_id)?;
        let user = required("user_id", &message.user_id)?;
        let row = self
            .repo
            .find_pending(id, workspace, user)
            .await
            .map_err(VaultError::from)?
            .ok_or(VaultError::NotFound("pending transfer"))?;
        // Open first, claim second: a row that does not open is not consumed.
        let payload = open_pending(&self.keyring, workspace, id, user, &row.payload).await?;
        if !self.repo.claim_pending(workspace, id).await.map_err(VaultError::from)? {
            return Err(VaultError::NotFound("pending transfer").into());
        }
        self.log(Access {
            caller: &caller,
            action: "take_pending_transfer",
            workspace_id: Some(workspace),
            owner_id: Some(id),
            purpose: "oauth_account_selection",
            key_name: Some(PENDING),
            key_version: Some(row.key_version),
        })
        .await?;
        Ok(Response::new(PendingTransfer {
            provider: row.provider,
            payload: payload.expose().to_vec(),
        }))
    }

    async fn rotate_key(&self, request: Request<KeyRef>) -> Result<Response<KeyStatus>, Status> {
        self.caller(&request, Action::ManageKeys)?;
        let key_name = &request.get_ref().key_name;
        self.keyring.rotate(key_name).await?;
        Ok(Response::new(self.key_status(key_name).await?))
    }

    async fn set_min_decryption_version(
        &self,
        request: Request<SetMinDecryptionVersionRequest>,
    ) -> Result<Response<KeyStatus>, Status> {
        self.caller(&request, Action::ManageKeys)?;
        let message = request.get_ref();
        let status = self.key_status(&message.key_name).await?;
        let still_older: u64 = status
            .stored_per_version
            .iter()
            .filter(|(version, _)| **version < message.min_decryption_version)
            .map(|(_, count)| *count)
            .sum();
        if still_older > 0 {
            return Err(VaultError::Precondition(format!(
                "{still_older} stored ciphertexts are on versions below {}; rewrap first",
                message.min_decryption_version
            ))
            .into());
        }
        self.keyring
            .set_min_decryption_version(&message.key_name, message.min_decryption_version)
            .await?;
        Ok(Response::new(self.key_status(&message.key_name).await?))
    }

    async fn get_key_status(&self, request: Request<KeyRef>) -> Result<Response<KeyStatus>, Status> {
        self.caller(&request, Action::ManageKeys)?;
        Ok(Response::new(self.key_status(&request.get_ref().key_name).await?))
    }

    async fn rewrap(&self, request: Request<RewrapRequest>) -> Result<Response<RewrapResponse>, Status> {
        self.caller(&request, Action::ManageKeys)?;
        let key_name = &request.get_ref().key_name;
        let only = match key_name.as_str() {
            "" => None,
            name if KEY_NAMES.contains(&name) => Some(name),
            other => return Err(VaultError::UnknownKey(other.chars().take(64).collect()).into()),
        };
        let progress = rewrap::run(&self.keyring, &self.repo, self.rewrap_batch, only).await?;
        Ok(Response::new(RewrapResponse {
            rewrapped: progress.rewrapped,
            remaining: progress.remaining,
        }))
    }
}
