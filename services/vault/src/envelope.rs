//! The ciphertext envelope and the associated data that binds it.
//!
//! Text form: `smz:v1:<key name>:<key version>:<base64url(nonce ‖ ciphertext ‖ tag)>`.
//! Parsing accepts any input without panicking: every malformed form is an
//! [`EnvelopeError`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, NONCE_LEN};

const PREFIX: &str = "smz";
const FORMAT: &str = "v1";
/// AES-GCM tag length.
const TAG_LEN: usize = 16;
/// Longest key name accepted (names are ours: short ASCII).
const MAX_KEY_NAME: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub key_name: String,
    pub version: u32,
    /// nonce ‖ ciphertext ‖ tag
    pub sealed: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a vault ciphertext")]
    NotAnEnvelope,
    #[error("unsupported envelope format `{0}`")]
    UnsupportedFormat(String),
    #[error("bad key name")]
    BadKeyName,
    #[error("bad key version")]
    BadVersion,
    #[error("ciphertext is not base64url")]
    BadEncoding,
    #[error("ciphertext too short")]
    TooShort,
}

impl Envelope {
    pub fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut nonce = [0; NONCE_LEN];
        nonce.copy_from_slice(&self.sealed[..NONCE_LEN]);
        nonce
    }

    /// ciphertext ‖ tag
    pub fn body(&self) -> &[u8] {
        &self.sealed[NONCE_LEN..]
    }

    pub fn encode(&self) -> String {
        format!(
            "{PREFIX}:{FORMAT}:{}:{}:{}",
            self.key_name,
            self.version,
            URL_SAFE_NO_PAD.encode(&self.sealed)
        )
    }

    pub fn parse(text: &str) -> Result<Self, EnvelopeError> {
        let mut parts = text.splitn(5, ':');
        let (Some(prefix), Some(format), Some(key_name), Some(version), Some(body)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(EnvelopeError::NotAnEnvelope);
        };
        if prefix != PREFIX {
            return Err(EnvelopeError::NotAnEnvelope);
        }
        if format != FORMAT {
            return Err(EnvelopeError::UnsupportedFormat(format.chars().take(16).collect()));
        }
        if key_name.is_empty()
            || key_name.len() > MAX_KEY_NAME
            || !key_name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        {
            return Err(EnvelopeError::BadKeyName);
        }
        // Digits only (no sign, no leading zero), fits in u32, at least 1.
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) || version.starts_with('0') {
            return Err(EnvelopeError::BadVersion);
        }
        let version: u32 = version.parse().map_err(|_| EnvelopeError::BadVersion)?;
        let sealed = URL_SAFE_NO_PAD.decode(body).map_err(|_| EnvelopeError::BadEncoding)?;
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(EnvelopeError::TooShort);
        }
        Ok(Self {
            key_name: key_name.to_owned(),
            version,
            sealed,
        })
    }
}

/// Where a ciphertext belongs. It opens only with the same binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding<'a> {
    pub workspace_id: &'a str,
    /// The owner row (a connection id, a transfer id, an OAuth state id).
    pub owner_id: &'a str,
    /// The field (`access_token`, `refresh_token`, …).
    pub field: &'a str,
}

/// The associated data: a canonical, length-prefixed encoding of the format,
/// the key name and version (so a downgraded version header fails), and the
/// binding. Never an ambiguous concatenation.
pub fn associated_data(key_name: &str, version: u32, binding: &Binding<'_>) -> Vec<u8> {
    let version = version.to_be_bytes();
    let parts: [&[u8]; 6] = [
        b"smez-vault/aad/v1",
        key_name.as_bytes(),
        &version,
        binding.workspace_id.as_bytes(),
        binding.owner_id.as_bytes(),
        binding.field.as_bytes(),
    ];
    let mut aad = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for part in parts {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

/// The AEAD in use (one place, so the envelope format and the keys agree).
pub fn algorithm() -> &'static ring::aead::Algorithm {
    &AES_256_GCM
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Envelope {
        Envelope {
            key_name: "oauth-tokens".into(),
            version: 3,
            sealed: (0..40).collect(),
        }
    }

    #[test]
    fn round_trips() {
        let envelope = sample();
        assert_eq!(Envelope::parse(&envelope.encode()).unwrap(), envelope);
    }

    #[test]
    fn malformed_forms_are_errors() {
        let good = sample().encode();
        assert_eq!(Envelope::parse(""), Err(EnvelopeError::NotAnEnvelope));
        assert_eq!(Envelope::parse("vault:v1:x:1:AAAA"), Err(EnvelopeError::NotAnEnvelope));
        assert!(matches!(
            Envelope::parse(&good.replace(":v1:", ":v9:")),
            Err(EnvelopeError::UnsupportedFormat(_))
        ));
        assert_eq!(
            Envelope::parse(&good.replace(":3:", ":0:")),
            Err(EnvelopeError::BadVersion)
        );
        assert_eq!(
            Envelope::parse(&good.replace(":3:", ":-3:")),
            Err(EnvelopeError::BadVersion)
        );
        assert_eq!(
            Envelope::parse(&good.replace(":3:", ":99999999999:")),
            Err(EnvelopeError::BadVersion)
        );
        assert_eq!(
            Envelope::parse(&good.replace("oauth-tokens", "OAuth")),
            Err(EnvelopeError::BadKeyName)
        );
        assert_eq!(Envelope::parse("smz:v1:k:1:AAAA"), Err(EnvelopeError::TooShort));
        assert_eq!(Envelope::parse("smz:v1:k:1:!!!"), Err(EnvelopeError::BadEncoding));
    }

    #[test]
    fn associated_data_is_unambiguous() {
        let a = associated_data(
            "k",
            1,
            &Binding {
                workspace_id: "ab",
                owner_id: "c",
                field: "f",
            },
        );
        let b = associated_data(
            "k",
            1,
            &Binding {
                workspace_id: "a",
                owner_id: "bc",
                field: "f",
            },
        );
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = Envelope::parse(&text);
        }

        #[test]
        fn parsing_envelope_shaped_text_never_panics(
            prefix in "(smz|s|)", format in "(v1|v2|)", key in "[a-z-]{0,70}", version in "[0-9-]{0,12}",
            body in "[A-Za-z0-9_=+/-]{0,80}",
        ) {
            let _ = Envelope::parse(&format!("{prefix}:{format}:{key}:{version}:{body}"));
        }
    }
}
