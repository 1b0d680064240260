//! The OAuth `state`: `<state_id>.<tag>`, where the id names a stored,
//! single-use row and the tag is HMAC-SHA256 over everything the state is
//! bound to (user, workspace, platform, browser, expiry). A state altered in
//! transit, or presented by another user, workspace, platform or browser,
//! fails the tag; the row makes it single-use and lets it expire.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64URL};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use smez_kit::Settings;
use smez_kit::config::Environment;

/// What a state is bound to.
pub struct Bindings<'a> {
    pub state_id: &'a str,
    pub user_id: &'a str,
    pub workspace_id: &'a str,
    pub platform: &'a str,
    pub browser_binding: &'a str,
    pub expires_at_ms: i64,
}

impl Bindings<'_> {
    /// Length-prefixed fields: no two different bindings share an encoding.
    fn canonical(&self) -> Vec<u8> {
        let expiry = self.expires_at_ms.to_string();
        let mut out = b"smez-oauth-state/v1".to_vec();
        for field in [
            self.state_id,
            self.user_id,
            self.workspace_id,
            self.platform,
            self.browser_binding,
            &expiry,
        ] {
            out.extend_from_slice(&(field.len() as u32).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out
    }
}

pub struct StateSigner {
    key: hmac::Key,
}

impl StateSigner {
    /// The configured key or, in development, one kept under the data folder.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let encoded = if settings.integrations.state_key.is_empty() {
            anyhow::ensure!(
                settings.environment == Environment::Development,
                "integrations.state_key: required in production; generate one with `smez keygen`"
            );
            smez_kit::secret::load_or_create_dev_secret(
                &settings.data_dir.join("keys/oauth-state.key"),
                "an OAuth state key (set integrations.state_key in production)",
                generate_key,
            )?
        } else {
            settings.integrations.state_key.clone()
        };
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| anyhow::anyhow!("integrations.state_key: not base64"))?;
        anyhow::ensure!(bytes.len() == 32, "integrations.state_key: must be 32 bytes");
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    /// The `state` parameter for a stored state with these bindings.
    pub fn sign(&self, bindings: &Bindings<'_>) -> String {
        let tag = hmac::sign(&self.key, &bindings.canonical());
        format!("{}.{}", bindings.state_id, B64URL.encode(tag.as_ref()))
    }

    /// Whether `tag` (from [`split`]) was made for exactly these bindings (constant time).
    pub fn verify(&self, tag: &str, bindings: &Bindings<'_>) -> bool {
        match B64URL.decode(tag) {
            Ok(tag) => hmac::verify(&self.key, &bindings.canonical(), &tag).is_ok(),
            Err(_) => false,
        }
    }
}

/// A new key: base64 of 32 random bytes (`smez keygen`).
pub fn generate_key() -> String {
    STANDARD.encode(random_bytes::<32>())
}

/// A new state id: 128 random bits, base64url.
pub fn new_state_id() -> String {
    B64URL.encode(random_bytes::<16>())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SystemRandom::new().fill(&mut bytes).expect("the system RNG works");
    bytes
}

/// `(state_id, tag)` of a presented state, if it has the shape Smez issues.
pub fn split(state: &str) -> Option<(&str, &str)> {
    let (id, tag) = state.split_once('.')?;
    let base64url = |s: &str| {
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (base64url(id) && base64url(tag)).then_some((id, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> StateSigner {
        StateSigner {
            key: hmac::Key::new(hmac::HMAC_SHA256, &[7u8; 32]),
        }
    }

    fn bindings<'a>(user: &'a str, workspace: &'a str, platform: &'a str) -> Bindings<'a> {
        Bindings {
            state_id: "abc",
            user_id: user,
            workspace_id: workspace,
            platform,
            browser_binding: "b",
            expires_at_ms: 1,
        }
    }

    #[test]
    fn a_state_verifies_only_for_what_it_was_signed_for() {
        let signer = signer();
        let state = signer.sign(&bindings("u1", "w1", "tiktok"));
        let (id, tag) = split(&state).expect("our own shape");
        assert_eq!(id, "abc");
        assert!(signer.verify(tag, &bindings("u1", "w1", "tiktok")));
        assert!(!signer.verify(tag, &bindings("u2", "w1", "tiktok")));
        assert!(!signer.verify(tag, &bindings("u1", "w2", "tiktok")));
        assert!(!signer.verify(tag, &bindings("u1", "w1", "youtube")));
        // Shifting a boundary between fields changes the encoding.
        assert!(!signer.verify(tag, &bindings("u1w", "1", "tiktok")));
        let mut tampered = tag.to_owned();
        tampered.replace_range(0..1, if tag.starts_with('A') { "B" } else { "A" });
        assert!(!signer.verify(&tampered, &bindings("u1", "w1", "tiktok")));
    }

    #[test]
    fn only_the_issued_shape_is_accepted() {
        assert!(split("abc").is_none());
        assert!(split("a.b.c").is_none());
        assert!(split(".tag").is_none());
        assert!(split("id.t g").is_none());
        assert!(split(&format!("{}.x", "a".repeat(65))).is_none());
    }
}
