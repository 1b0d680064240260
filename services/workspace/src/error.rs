//! The workspace service's errors and their statuses. Messages are safe to
//! show: they never contain a token or an email address, and a non-member
//! always gets the same NOT_FOUND whether or not the workspace exists.

use smez_kit::{Error, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The call carries no user to act for.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The calling service may not use this RPC.
    #[error("the {service} service may not call {rpc}")]
    CallerNotAllowed { service: String, rpc: &'static str },
    #[error("{message}")]
    InvalidArgument { field: &'static str, message: String },
    /// Refused by a shared check (`smez_kit::text`), already a complete error.
    #[error("{}", .0.message)]
    Rejected(Error),
    /// What is missing (or invisible to the caller): "workspace", "member", "invitation".
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A member whose role does not allow the action.
    #[error("{0}")]
    Forbidden(String),
    /// The action would break an invariant (e.g. leave a workspace without an owner).
    #[error("{0}")]
    Precondition(String),
    #[error("workspace storage: {0}")]
    Storage(#[from] smez_store::sea_orm::DbErr),
    /// Anything else that is not the caller's fault (logged, never shown).
    #[error("{0}")]
    Internal(String),
}

impl WorkspaceError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            message: message.into(),
        }
    }
}

impl From<WorkspaceError> for Error {
    fn from(error: WorkspaceError) -> Self {
        let message = error.to_string();
        match error {
            WorkspaceError::Unauthenticated(_) => Error::unauthenticated(message),
            WorkspaceError::CallerNotAllowed { .. } | WorkspaceError::Forbidden(_) => Error::permission_denied(message),
            WorkspaceError::InvalidArgument { field, .. } => Error::invalid_field(field, message),
            WorkspaceError::Rejected(error) => error,
            WorkspaceError::NotFound(_) => Error::not_found(message),
            // ErrorCode::Conflict travels as gRPC FAILED_PRECONDITION.
            WorkspaceError::Precondition(_) => Error::new(ErrorCode::Conflict, message),
            WorkspaceError::Storage(_) | WorkspaceError::Internal(_) => Error::internal(message),
        }
    }
}

impl From<WorkspaceError> for tonic::Status {
    fn from(error: WorkspaceError) -> Self {
        Error::from(error).into()
    }
}
