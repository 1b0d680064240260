//! Keys: one root key from server-side configuration; per key name and
//! version, a working AES-256-GCM key derived with HKDF-SHA256 from the root
//! and that version's random salt. Rotation adds a version (it seals from then
//! on, older ones still open); a minimum decryption version retires old ones;
//! each version counts its seals and the vault rotates it itself well before
//! the 2^32 random-nonce limit.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use smez_kit::Settings;
use smez_kit::config::Environment;
use smez_kit::secret::SecretBytes;

use crate::envelope::{Binding, Envelope, algorithm, associated_data};
use crate::error::VaultError;
use crate::repo::Repo;

/// OAuth access and refresh tokens of connections.
pub const TOKENS: &str = "oauth-tokens";
/// Exchanged tokens waiting for the user to pick an account.
pub const PENDING: &str = "pending-transfers";
/// Small payloads other services store themselves (e.g. PKCE verifiers).
pub const PAYLOADS: &str = "payloads";
pub const KEY_NAMES: [&str; 3] = [TOKENS, PENDING, PAYLOADS];

/// Seals reserved in the database at a time (an upper bound of what a crash can lose from the count).
const RESERVATION_BLOCK: u64 = 4096;

/// The root key: 32 bytes, only from server-side configuration.
pub struct RootKey(SecretBytes);

impl RootKey {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let vault = &settings.vault;
        let encoded = if !vault.root_key.is_empty() {
            vault.root_key.clone()
        } else if !vault.root_key_file.is_empty() {
            std::fs::read_to_string(&vault.root_key_file)
                .map_err(|e| anyhow::anyhow!("vault.root_key_file {}: {e}", vault.root_key_file))?
        } else {
            anyhow::ensure!(
                settings.environment == Environment::Development,
                "vault.root_key: required in production (or vault.root_key_file); generate one with `smez keygen`"
            );
            smez_kit::secret::load_or_create_dev_secret(
                &settings.data_dir.join("keys/vault-root.key"),
                "a vault root key: anyone with this file and the database opens every token (set vault.root_key in production)",
                generate_root_key,
            )?
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| anyhow::anyhow!("vault root key: not base64"))?;
        anyhow::ensure!(
            bytes.len() == 32,
            "vault root key: must be 32 bytes, got {}",
            bytes.len()
        );
        Ok(Self(SecretBytes::new(bytes)))
    }

    #[cfg(test)]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(SecretBytes::new(bytes.to_vec()))
    }

    fn derive(&self, key_name: &str, salt: &[u8]) -> LessSafeKey {
        let info = [b"smez-vault/key/v1/".as_slice(), key_name.as_bytes()];
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(self.0.expose());
        let okm = prk
            .expand(&info, algorithm())
            .expect("HKDF output length matches the AEAD key length");
        LessSafeKey::new(UnboundKey::from(okm))
    }
}

/// A new root key, base64 (for `smez keygen` and development).
pub fn generate_root_key() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).expect("the system RNG works");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

struct KeyState {
    versions: BTreeMap<u32, Arc<LessSafeKey>>,
    current: u32,
    min_decryption: u32,
    /// Seals done by the current version (as far as this process knows).
    used: u64,
    /// Seals the database has reserved for the current version, for this process.
    reserved: u64,
    /// Seals reserved for the current version by every replica (the database total).
    total_seals: u64,
}

/// What the status of a key shows.
pub struct KeyInfo {
    pub current: u32,
    pub min_decryption: u32,
    pub current_seals: u64,
}

pub struct Keyring {
    root: RootKey,
    repo: Repo,
    max_seals: u64,
    rng: SystemRandom,
    keys: Mutex<HashMap<&'static str, KeyState>>,
    /// Serialises reservations and rotations within this process.
    changes: tokio::sync::Mutex<()>,
}

impl Keyring {
    /// Loads every key's versions, creating version 1 where there is none.
    pub async fn load(root: RootKey, repo: Repo, max_seals: u64) -> Result<Self, VaultError> {
        let keyring = Self {
            root,
            repo,
            max_seals,
            rng: SystemRandom::new(),
            keys: Mutex::default(),
            changes: tokio::sync::Mutex::new(()),
        };
        for name in KEY_NAMES {
            if keyring.repo.key_versions(name).await?.is_empty() {
                keyring.add_version(name, 1).await?;
            }
            keyring.reload(name).await?;
        }
        Ok(keyring)
    }

    fn known(name: &str) -> Result<&'static str, VaultError> {
        KEY_NAMES
            .into_iter()
            .find(|k| *k == name)
            .ok_or_else(|| VaultError::UnknownKey(name.chars().take(64).collect()))
    }

    async fn add_version(&self, name: &str, version: u32) -> Result<bool, VaultError> {
        let mut salt = [0u8; 32];
        self.rng.fill(&mut salt).expect("the system RNG works");
        Ok(self.repo.insert_key_version(name, version, &salt).await?)
    }

    /// Reads a key's versions and policy from the database (other vault
    /// replicas may have rotated it).
    async fn reload(&self, name: &str) -> Result<(), VaultError> {
        let name = Self::known(name)?;
        let rows = self.repo.key_versions(name).await?;
        let min_decryption = self.repo.min_decryption_version(name).await?;
        let current = rows.last().ok_or(VaultError::NotFound("key version"))?;
        let versions = rows
            .iter()
            .map(|row| (row.version, Arc::new(self.root.derive(name, &row.salt))))
            .collect();
        let mut keys = self.keys.lock().expect("keyring lock");
        let fresh = KeyState {
            versions,
            current: current.version,
            min_decryption,
            used: current.seals_reserved,
            reserved: current.seals_reserved,
            total_seals: current.seals_reserved,
        };
        match keys.get_mut(name) {
            None => {
                keys.insert(name, fresh);
            }
            // Versions and the minimum only ever grow: a snapshot read before a
            // concurrent rotation or retirement must not roll this replica back.
            Some(state) if fresh.current < state.current || fresh.min_decryption < state.min_decryption => {}
            // Same current version: keep this process's count and its reserved
            // block (the database total includes other replicas' blocks).
            Some(state) if fresh.current == state.current => {
                state.versions = fresh.versions;
                state.min_decryption = fresh.min_decryption;
                state.total_seals = fresh.total_seals;
            }
            Some(state) => *state = fresh,
        }
        Ok(())
    }

    /// Seals `plaintext` with the current version of `name`, bound to `binding`.
    pub async fn seal(&self, name: &str, binding: &Binding<'_>, plaintext: &[u8]) -> Result<(String, u32), VaultError> {
        let name = Self::known(name)?;
        loop {
            let ready = {
                let mut keys = self.keys.lock().expect("keyring lock");
                let state = keys.get_mut(name).expect("every known key is loaded");
                if state.used < state.reserved {
                    state.used += 1;
                    Some((state.current, state.versions[&state.current].clone()))
                } else {
                    None
                }
            };
            match ready {
                Some((version, key)) => return Ok((self.seal_with(&key, name, version, binding, plaintext), version)),
                None => self.reserve(name).await?,
            }
        }
    }

    fn seal_with(
        &self,
        key: &LessSafeKey,
        name: &str,
        version: u32,
        binding: &Binding<'_>,
        plaintext: &[u8],
    ) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).expect("the system RNG works");
        let aad = associated_data(name, version, binding);
        let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut sealed[NONCE_LEN..],
            )
            .expect("sealing a small buffer does not fail");
        sealed.extend_from_slice(tag.as_ref());
        Envelope {
            key_name: name.to_owned(),
            version,
            sealed,
        }
        .encode()
    }

    /// Reserves more seals for the current version, rotating when it is spent.
    async fn reserve(&self, name: &'static str) -> Result<(), VaultError> {
        let _change = self.changes.lock().await;
        let (current, used, reserved) = {
            let keys = self.keys.lock().expect("keyring lock");
            let state = &keys[name];
            (state.current, state.used, state.reserved)
        };
        if used < reserved {
            return Ok(()); // another task reserved while we waited
        }
        if reserved >= self.max_seals {
            tracing::warn!(
                key = name,
                version = current,
                seals = reserved,
                "key version spent; rotating"
            );
            return self.rotate_locked(name, Some(current)).await.map(drop);
        }
        let block = RESERVATION_BLOCK.min(self.max_seals - reserved);
        // Atomic increment-and-read: [total - block, total) is ours alone.
        let total = self.repo.reserve_seals(name, current, block).await?;
        let mut keys = self.keys.lock().expect("keyring lock");
        let state = keys.get_mut(name).expect("loaded");
        if state.current == current {
            state.used = total - block;
            state.reserved = total.min(self.max_seals);
            state.total_seals = total;
        }
        Ok(())
    }

    /// Adds a version that seals from now on.
    pub async fn rotate(&self, name: &str) -> Result<u32, VaultError> {
        let name = Self::known(name)?;
        let _change = self.changes.lock().await;
        self.rotate_locked(name, None).await
    }

    /// Adds a version after the newest one. With `only_if_current`, does
    /// nothing when another replica already rotated past that version.
    async fn rotate_locked(&self, name: &'static str, only_if_current: Option<u32>) -> Result<u32, VaultError> {
        self.reload(name).await?;
        let current = self.keys.lock().expect("keyring lock")[name].current;
        if only_if_current.is_some_and(|spent| spent != current) {
            return Ok(current);
        }
        let next = current + 1;
        if !self.add_version(name, next).await? {
            tracing::info!(key = name, version = next, "another vault replica rotated first");
        }
        self.reload(name).await?;
        tracing::info!(key = name, version = next, "key_rotated");
        Ok(next)
    }

    /// Opens an envelope of key `name` bound to `binding`.
    pub async fn open(
        &self,
        name: &str,
        binding: &Binding<'_>,
        ciphertext: &str,
    ) -> Result<(SecretBytes, u32), VaultError> {
        let name = Self::known(name)?;
        let envelope = Envelope::parse(ciphertext)?;
        if envelope.key_name != name {
            return Err(VaultError::Refused);
        }
        let key = match self.version_key(name, envelope.version)? {
            Some(key) => key,
            None => {
                // Perhaps a version another replica created since we loaded.
                self.reload(name).await?;
                self.version_key(name, envelope.version)?.ok_or(VaultError::Refused)?
            }
        };
        let aad = associated_data(name, envelope.version, binding);
        let mut buffer = envelope.body().to_vec();
        let opened = key
            .open_in_place(
                Nonce::assume_unique_for_key(envelope.nonce()),
                Aad::from(&aad),
                &mut buffer,
            )
            .map_err(|_| VaultError::Refused)?;
        let plaintext = SecretBytes::new(opened.to_vec());
        zeroize::Zeroize::zeroize(&mut buffer);
        Ok((plaintext, envelope.version))
    }

    /// The key of a version, or `None` if unknown; an error if retired.
    fn version_key(&self, name: &str, version: u32) -> Result<Option<Arc<LessSafeKey>>, VaultError> {
        let keys = self.keys.lock().expect("keyring lock");
        let state = &keys[name];
        if version < state.min_decryption {
            return Err(VaultError::Retired {
                key: name.to_owned(),
                version,
                min: state.min_decryption,
            });
        }
        Ok(state.versions.get(&version).cloned())
    }

    pub fn current_version(&self, name: &'static str) -> u32 {
        self.keys.lock().expect("keyring lock")[name].current
    }

    pub async fn set_min_decryption_version(&self, name: &str, version: u32) -> Result<(), VaultError> {
        let name = Self::known(name)?;
        let _change = self.changes.lock().await;
        self.reload(name).await?;
        let current = self.current_version(name);
        if version == 0 || version > current {
            return Err(VaultError::Precondition(format!(
                "minimum decryption version must be between 1 and the current version {current}"
            )));
        }
        self.repo.set_min_decryption_version(name, version).await?;
        self.reload(name).await?;
        tracing::info!(key = name, version, "min_decryption_version_changed");
        Ok(())
    }

    pub async fn info(&self, name: &str) -> Result<KeyInfo, VaultError> {
        let name = Self::known(name)?;
        self.reload(name).await?;
        let keys = self.keys.lock().expect("keyring lock");
        let state = &keys[name];
        Ok(KeyInfo {
            current: state.current,
            min_decryption: state.min_decryption,
            current_seals: state.total_seals,
        })
    }

    /// Picks up versions and policy changed by other replicas.
    pub async fn refresh(&self) -> Result<(), VaultError> {
        for name in KEY_NAMES {
            self.reload(name).await?;
        }
        Ok(())
    }
}
