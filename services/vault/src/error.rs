//! The vault's errors and their precise statuses. Messages never contain a
//! secret, a ciphertext or key material.

use smez_kit::{Error, ErrorCode};

use crate::envelope::EnvelopeError;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{caller} may not {action}")]
    PermissionDenied { caller: String, action: &'static str },
    #[error("{0}")]
    InvalidArgument(&'static str, String),
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    #[error("malformed ciphertext: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("the ciphertext does not open with this binding (wrong row, workspace or field, or tampered)")]
    Refused,
    #[error("key {key} version {version} is retired (minimum decryption version {min})")]
    Retired { key: String, version: u32, min: u32 },
    #[error("{0}")]
    Precondition(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("vault storage: {0}")]
    Storage(#[from] sea_orm::DbErr),
}

impl From<VaultError> for Error {
    fn from(error: VaultError) -> Self {
        let message = error.to_string();
        match error {
            VaultError::PermissionDenied { .. } => Error::permission_denied(message),
            VaultError::InvalidArgument(field, _) => Error::invalid_field(field, message),
            VaultError::UnknownKey(_) => Error::invalid_field("key_name", message),
            VaultError::Envelope(_) | VaultError::Refused => Error::invalid_field("ciphertext", message),
            VaultError::Retired { .. } | VaultError::Precondition(_) => Error::new(ErrorCode::Conflict, message),
            VaultError::NotFound(_) => Error::not_found(message),
            VaultError::Storage(cause) => Error::internal(cause),
        }
    }
}

impl From<VaultError> for tonic::Status {
    fn from(error: VaultError) -> Self {
        Error::from(error).into()
    }
}
