//! Secrets that cannot leak by accident: they print as `[redacted]`, cannot
//! be serialised, and are zeroed when dropped. `expose()` marks the one place
//! that needs the value.

use zeroize::Zeroizing;

/// A secret text (an OAuth token, a password).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

/// Secret bytes (key material, sealed payloads once opened).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(value: Vec<u8>) -> Self {
        Self(Zeroizing::new(value))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(value: Vec<u8>) -> Self {
        Self::new(value)
    }
}

macro_rules! redacted_formatting {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[redacted]")
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[redacted]")
            }
        }
    )*};
}

redacted_formatting!(SecretString, SecretBytes);

/// The stored form of a high-entropy token (a refresh token, an invitation):
/// SHA-256 of its text, hex. A fast hash is right for these: 256 random bits
/// leave nothing to brute-force, unlike a password.
pub fn sha256_hex(token: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Development only: reads a secret kept under the data folder, generating it
/// on first use. `create_new` makes concurrent local processes agree on one.
pub fn load_or_create_dev_secret(
    path: &std::path::Path,
    what: &str,
    generate: impl FnOnce() -> String,
) -> anyhow::Result<String> {
    use std::io::Write;
    if let Ok(existing) = std::fs::read_to_string(path) {
        return Ok(existing.trim().to_owned());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    }
    let secret = generate();
    match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(mut file) => {
            restrict_permissions(&file);
            file.write_all(secret.as_bytes())
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            tracing::warn!(path = %path.display(), "DEVELOPMENT ONLY: generated {what}");
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Another local process won the race; its write is one small call.
            std::thread::sleep(std::time::Duration::from_millis(50));
            Ok(std::fs::read_to_string(path)?.trim().to_owned())
        }
        Err(e) => Err(anyhow::anyhow!("creating {}: {e}", path.display())),
    }
}

#[cfg(unix)]
fn restrict_permissions(file: &std::fs::File) {
    use std::os::unix::fs::PermissionsExt;
    let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_file: &std::fs::File) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let token = SecretString::new("ya29.super-secret".into());
        assert_eq!(format!("{token:?} {token}"), "[redacted] [redacted]");
        assert_eq!(
            format!("{:?}", Some(SecretBytes::new(vec![1, 2, 3]))),
            "Some([redacted])"
        );
        assert_eq!(token.expose(), "ya29.super-secret");
    }
}
