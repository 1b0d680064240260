//! Opaque refresh tokens: random, handed out once, stored only as hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ring::rand::{SecureRandom, SystemRandom};

/// 256 random bits, base64url.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).expect("the system RNG works");
    B64URL.encode(bytes)
}

/// What is stored and looked up.
pub use smez_kit::secret::sha256_hex as token_hash;
