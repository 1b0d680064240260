//! Sealing a connection's tokens as one unit: both under the same key version
//! (the row records one), each bound to its workspace, connection and field.

use smez_kit::secret::SecretString;

use crate::envelope::Binding;
use crate::error::VaultError;
use crate::keyring::{Keyring, PENDING, TOKENS};

pub const ACCESS_TOKEN: &str = "access_token";
pub const REFRESH_TOKEN: &str = "refresh_token";

pub struct SealedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub version: u32,
}

fn binding<'a>(workspace_id: &'a str, connection_id: &'a str, field: &'a str) -> Binding<'a> {
    Binding {
        workspace_id,
        owner_id: connection_id,
        field,
    }
}

pub async fn seal_tokens(
    keyring: &Keyring,
    workspace_id: &str,
    connection_id: &str,
    access_token: &str,
    refresh_token: Option<&str>,
) -> Result<SealedTokens, VaultError> {
    loop {
        let (access, version) = keyring
            .seal(
                TOKENS,
                &binding(workspace_id, connection_id, ACCESS_TOKEN),
                access_token.as_bytes(),
            )
            .await?;
        let refresh = match refresh_token {
            Some(token) => {
                let (sealed, refresh_version) = keyring
                    .seal(
                        TOKENS,
                        &binding(workspace_id, connection_id, REFRESH_TOKEN),
                        token.as_bytes(),
                    )
                    .await?;
                if refresh_version != version {
                    continue; // a rotation landed between the two seals: seal both again
                }
                Some(sealed)
            }
            None => None,
        };
        return Ok(SealedTokens {
            access_token: access,
            refresh_token: refresh,
            version,
        });
    }
}

/// Opens one of a connection's stored tokens.
pub async fn open_token(
    keyring: &Keyring,
    workspace_id: &str,
    connection_id: &str,
    field: &str,
    ciphertext: &str,
) -> Result<SecretString, VaultError> {
    let (plaintext, _) = keyring
        .open(TOKENS, &binding(workspace_id, connection_id, field), ciphertext)
        .await
        .map_err(stored_ciphertext_error)?;
    let text = String::from_utf8(plaintext.expose().to_vec()).map_err(|_| VaultError::Refused)?;
    Ok(SecretString::new(text))
}

/// A pending transfer is bound to its workspace, its id and the user it waits for.
pub fn pending_field(user_id: &str) -> String {
    format!("oauth_pending_transfer/{user_id}")
}

pub async fn seal_pending(
    keyring: &Keyring,
    workspace_id: &str,
    id: &str,
    user_id: &str,
    payload: &[u8],
) -> Result<(String, u32), VaultError> {
    let field = pending_field(user_id);
    keyring.seal(PENDING, &binding(workspace_id, id, &field), payload).await
}

pub async fn open_pending(
    keyring: &Keyring,
    workspace_id: &str,
    id: &str,
    user_id: &str,
    ciphertext: &str,
) -> Result<smez_kit::secret::SecretBytes, VaultError> {
    let field = pending_field(user_id);
    keyring
        .open(PENDING, &binding(workspace_id, id, &field), ciphertext)
        .await
        .map(|(plaintext, _)| plaintext)
        .map_err(stored_ciphertext_error)
}

/// A stored ciphertext that does not open means the row was tampered with:
/// log it loudly; the caller sees an internal error, not a hint.
fn stored_ciphertext_error(error: VaultError) -> VaultError {
    match error {
        VaultError::Refused | VaultError::Envelope(_) => {
            tracing::error!("a stored vault ciphertext does not open: the row was altered");
            VaultError::Storage(sea_orm::DbErr::Custom("stored ciphertext does not open".into()))
        }
        other => other,
    }
}
