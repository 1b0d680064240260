//! Invitation tokens: 32 random bytes, base64url without padding, given out
//! once. Only their SHA-256 is stored, so the database alone accepts nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use smez_kit::secret::SecretString;

const TOKEN_BYTES: usize = 32;

/// A fresh token and the hash to store for it.
pub struct IssuedToken {
    pub token: SecretString,
    pub hash: String,
}

/// Draws a new token from the system's CSPRNG.
pub fn issue(random: &SystemRandom) -> anyhow::Result<IssuedToken> {
    let mut bytes = [0u8; TOKEN_BYTES];
    random
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    Ok(IssuedToken {
        hash: hash(&token),
        token: SecretString::new(token),
    })
}

/// The stored form of a token: SHA-256 of its text, hex.
pub use smez_kit::secret::sha256_hex as hash;
