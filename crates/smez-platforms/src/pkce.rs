//! PKCE (RFC 7636): a random verifier kept server-side, its S256 challenge sent.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ring::rand::{SecureRandom, SystemRandom};

pub struct Pkce {
    pub verifier: String,
}

impl Pkce {
    /// A fresh verifier: 32 random bytes, base64url (43 characters).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).expect("the system RNG works");
        Self {
            verifier: B64URL.encode(bytes),
        }
    }

    /// `BASE64URL(SHA256(verifier))`, the standard S256 challenge.
    pub fn challenge(&self) -> String {
        Self::challenge_of(&self.verifier)
    }

    pub fn challenge_of(verifier: &str) -> String {
        B64URL.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
    }
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pkce([redacted])")
    }
}
