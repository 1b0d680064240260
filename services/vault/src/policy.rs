//! Who may ask the vault for what: the one place that decides, by the
//! caller's proven service identity. The gateway — the only browser-facing
//! service — may do none of it.

use crate::error::VaultError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    SealPayload,
    OpenPayload,
    PutCredential,
    GetAccessToken,
    GetRefreshToken,
    DeleteCredential,
    PutPendingTransfer,
    TakePendingTransfer,
    ManageKeys,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::SealPayload => "seal payloads",
            Self::OpenPayload => "open payloads",
            Self::PutCredential => "store credentials",
            Self::GetAccessToken => "read access tokens",
            Self::GetRefreshToken => "read refresh tokens",
            Self::DeleteCredential => "delete credentials",
            Self::PutPendingTransfer => "store pending transfers",
            Self::TakePendingTransfer => "take pending transfers",
            Self::ManageKeys => "manage keys",
        }
    }

    /// The services allowed. The publisher owns connections (it is the
    /// connection manager); analytics reads access tokens to collect metrics;
    /// `operator` is the `smez vault` command.
    fn allowed(self) -> &'static [&'static str] {
        match self {
            Self::GetAccessToken => &["publisher", "analytics"],
            Self::ManageKeys => &["operator"],
            Self::SealPayload
            | Self::OpenPayload
            | Self::PutCredential
            | Self::GetRefreshToken
            | Self::DeleteCredential
            | Self::PutPendingTransfer
            | Self::TakePendingTransfer => &["publisher"],
        }
    }
}

/// Refuses `caller` unless it may do `action`.
pub fn authorize(caller: &str, action: Action) -> Result<(), VaultError> {
    if action.allowed().contains(&caller) {
        Ok(())
    } else {
        tracing::warn!(caller, action = action.name(), "authz_fail: vault refused a caller");
        Err(VaultError::PermissionDenied {
            caller: caller.chars().take(64).collect(),
            action: action.name(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_may_do_nothing_and_only_publisher_and_analytics_read_access_tokens() {
        let all = [
            Action::SealPayload,
            Action::OpenPayload,
            Action::PutCredential,
            Action::GetAccessToken,
            Action::GetRefreshToken,
            Action::DeleteCredential,
            Action::PutPendingTransfer,
            Action::TakePendingTransfer,
            Action::ManageKeys,
        ];
        for action in all {
            assert!(authorize("gateway", action).is_err(), "{action:?}");
            assert!(authorize("render", action).is_err(), "{action:?}");
        }
        assert!(authorize("analytics", Action::GetAccessToken).is_ok());
        assert!(authorize("analytics", Action::GetRefreshToken).is_err());
        assert!(authorize("publisher", Action::DeleteCredential).is_ok());
        assert!(authorize("publisher", Action::ManageKeys).is_err());
    }
}
