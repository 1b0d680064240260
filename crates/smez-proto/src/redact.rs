//! `Debug` for messages that carry secrets: the secret fields print as
//! `[redacted]`, so a stray `{:?}` in a log never shows a token.

use crate::vault::v1::{
    AccessToken, OpenResponse, PendingTransfer, PutCredentialRequest, PutPendingTransferRequest, RefreshToken,
    SealRequest,
};
use std::fmt::{Debug, Formatter, Result};

const REDACTED: &str = "[redacted]";

impl Debug for SealRequest {
    fn fmt(&self, f: &mut Formatter<'_>) -> Result {
        f.debug_struct("SealRequest")
            .field("binding", &self.binding)
            .field("plaintext", &REDACTED)
            .finish()
    }
}

impl Debug for OpenResponse {
    fn fmt(&self, f: &mut Formatter<'_>) -> Result {
        f.debug_struct("OpenResponse").field("plaintext", &REDACTED).finish()
    }
}

impl Debug for PutCredentialRequest {
    fn fmt(&self, f: &mut Formatter<'_>) -> Result {
        f.debug_struct("PutCredentialRequest")
            .field("workspace_id", &self.workspace_id)
            .field("connection_id", &self.connection_id)
            .field("provider", &self.provider)
            .field("access_token", &REDACTED)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| REDACTED))
            .field("access_expires_at_ms", &self.access_expires_at_ms)
            .field("refresh_expires_at_ms", &self.refresh_expires_at_ms)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl Debug for AccessToken {
    fn fmt(&self, f: &mut Formatter<'_>) -> Result {
        f.debug_struct("AccessToken")
            .field("access_token", &REDACTED)
            .field("access_expires_at_ms", &self.access_expires_at_ms)
            .field("scopes", &self.scopes)
            .field("provider", &self.provider)
            .finish()
    }
}

impl Debug for RefreshToken {
    fn fmt(&self, f: &mut Formatter<'_>) -> Result {
        f.debug_struct("RefreshToken")
            .field("refresh_token", &REDACTED)
            .field("refresh_expires_at_ms", &self.refresh_expires_at_ms)
            .finish()
    }
}

impl Debug for PutPendingTransferRequest {
    fn fmt(&self, f: &mut Formatter<'_>) -> Result {
        f.debug_struct("PutPendingTransferRequest")
            .field("workspace_id", &self.workspace_id)
            .field("user_id", &self.user_id)
            .field("provider", &self.provider)
            .field("payload", &REDACTED)
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

impl Debug for PendingTransfer {
    fn fmt(&self, f: &mut Formatter<'_>) -> Result {
        f.debug_struct("PendingTransfer")
            .field("provider", &self.provider)
            .field("payload", &REDACTED)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_fields_never_print() {
        let request = PutCredentialRequest {
            access_token: "ya29.access".into(),
            refresh_token: Some("1//refresh".into()),
            ..Default::default()
        };
        let printed = format!("{request:?}");
        assert!(!printed.contains("ya29") && !printed.contains("1//"), "{printed}");
        let token = AccessToken {
            access_token: "act.secret".into(),
            ..Default::default()
        };
        assert!(!format!("{token:?}").contains("act.secret"));
    }
}
