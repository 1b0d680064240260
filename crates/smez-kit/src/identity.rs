//! Internal identity: every internal gRPC call carries a short-lived token,
//! signed with Ed25519, that names the calling service, the service it is
//! meant for and, when the call is made on a user's behalf, the user, the
//! active workspace and the user's role there.
//!
//! Verification pins the algorithm, requires `exp`, `iat`, `iss`, `aud` and
//! `sub`, checks the token type, picks the key by `kid` from the configured
//! allowlist only, and refuses anything unsigned, expired, tampered with,
//! signed by an unknown key or meant for another service.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use crate::config::{Environment, Settings};
use crate::error::Error;

/// The JWT `typ` of internal tokens, so no other kind of token passes as one.
pub const TOKEN_TYPE: &str = "smez-internal+jwt";
/// Issuer prefix; the full issuer is `smez:<service>`.
const ISSUER_PREFIX: &str = "smez:";
/// Metadata key of the token on internal calls.
pub const METADATA_KEY: &str = "authorization";

/// Who made an internal call, as proven by its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub service: String,
    pub on_behalf_of: Option<OnBehalfOf>,
}

/// The user a call is made for, in their active workspace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OnBehalfOf {
    pub user_id: String,
    pub workspace_id: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    iat: i64,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wsp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rol: Option<String>,
}

/// A generated Ed25519 signing key in the form the configuration takes.
pub struct GeneratedKey {
    /// base64 PKCS#8: the value of `internal_auth.signing_key`.
    pub signing_key: String,
    /// base64 raw public key: for `internal_auth.trusted_keys` (`<service>=<public key>`).
    pub public_key: String,
}

pub fn generate_key() -> GeneratedKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("the system RNG works");
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a generated key parses");
    GeneratedKey {
        signing_key: B64.encode(pkcs8.as_ref()),
        public_key: B64.encode(pair.public_key().as_ref()),
    }
}

/// Mints and verifies internal tokens with this process's keys.
pub struct InternalAuth {
    kid: String,
    encoding: EncodingKey,
    /// Verification keys by key id, with the identities each may sign for.
    decoding: HashMap<String, TrustedKey>,
    ttl_secs: i64,
    /// Signing and verifying cost tens of microseconds each: a caller reuses
    /// a token for the first half of its life, and a server remembers the
    /// exact tokens it already verified until they expire.
    minted: Mutex<HashMap<MintKey, (String, i64)>>,
    verified: Mutex<HashMap<(String, String), (Caller, i64)>>,
}

type MintKey = (String, String, Option<OnBehalfOf>);

/// A verification key and whom it speaks for. A service's key proves only
/// that service: a compromised gateway cannot sign as the publisher.
struct TrustedKey {
    key: DecodingKey,
    /// `None`: any identity (one key shared by every local process, development only).
    signers: Option<std::collections::HashSet<String>>,
}

/// Verified tokens remembered at most (the cache is cleared when full).
const VERIFIED_CACHE: usize = 10_000;

impl std::fmt::Debug for InternalAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalAuth")
            .field("kid", &self.kid)
            .field("trusted_kids", &self.decoding.keys().collect::<Vec<_>>())
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl InternalAuth {
    /// Builds from a base64 PKCS#8 signing key (trusted for any identity until
    /// [`Self::restrict_own_key`]) and `trusted` entries `identity=base64 public key`.
    pub fn new(signing_key_b64: &str, trusted: &[String], ttl_secs: u64) -> anyhow::Result<Self> {
        let pkcs8 = B64
            .decode(signing_key_b64.trim())
            .map_err(|e| anyhow::anyhow!("internal_auth.signing_key: not base64: {e}"))?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
            .map_err(|e| anyhow::anyhow!("internal_auth.signing_key: not an Ed25519 PKCS#8 key: {e}"))?;
        let public = pair.public_key().as_ref().to_vec();
        let kid = key_id(&public);
        let mut decoding = HashMap::from([(
            kid.clone(),
            TrustedKey {
                key: DecodingKey::from_ed_der(&public),
                signers: None,
            },
        )]);
        for (index, entry) in trusted.iter().enumerate() {
            let invalid = || {
                anyhow::anyhow!("internal_auth.trusted_keys[{index}]: expected `<service>=<base64 Ed25519 public key>`")
            };
            let (identity, encoded) = entry.trim().split_once('=').ok_or_else(invalid)?;
            let key = B64
                .decode(encoded.trim())
                .ok()
                .filter(|k| k.len() == 32 && !identity.is_empty())
                .ok_or_else(invalid)?;
            let trusted = decoding.entry(key_id(&key)).or_insert_with(|| TrustedKey {
                key: DecodingKey::from_ed_der(&key),
                signers: Some(Default::default()),
            });
            if let Some(signers) = &mut trusted.signers {
                signers.insert(identity.trim().to_owned());
            }
        }
        Ok(Self {
            kid,
            encoding: EncodingKey::from_ed_der(&pkcs8),
            decoding,
            ttl_secs: ttl_secs as i64,
            minted: Mutex::default(),
            verified: Mutex::default(),
        })
    }

    /// Trusts this process's own key only for the identities it runs (plus
    /// any `trusted_keys` entries naming it).
    pub fn restrict_own_key(mut self, identities: &[&str]) -> Self {
        if let Some(own) = self.decoding.get_mut(&self.kid) {
            let mut signers = own.signers.take().unwrap_or_default();
            signers.extend(identities.iter().map(|i| (*i).to_owned()));
            own.signers = Some(signers);
        }
        self
    }

    /// Uses the configured key or, in development, the one kept under the
    /// data folder (generated on first use, shared by every local process).
    ///
    /// `identities` are the services this process speaks as. With
    /// `internal_auth.trusted_keys` set, or in production, this process's key
    /// proves only those identities and every other key must be listed in
    /// `trusted_keys` with the identity it proves. In development without
    /// `trusted_keys`, local processes share one key that proves any identity.
    pub fn from_settings(settings: &Settings, identities: &[&str]) -> anyhow::Result<Self> {
        let config = &settings.internal_auth;
        let signing_key = if config.signing_key.is_empty() {
            debug_assert_eq!(settings.environment, Environment::Development);
            crate::secret::load_or_create_dev_secret(
                &settings.data_dir.join("keys/internal-signing.key"),
                "an internal signing key (set internal_auth.signing_key in production)",
                || generate_key().signing_key,
            )?
        } else {
            config.signing_key.clone()
        };
        let auth = Self::new(&signing_key, &config.trusted_keys, config.token_ttl_secs)?;
        let shared_development_key = settings.environment == Environment::Development && config.trusted_keys.is_empty();
        Ok(if shared_development_key {
            auth
        } else {
            auth.restrict_own_key(identities)
        })
    }

    /// A token for a call from `caller` to `audience`.
    pub fn mint(&self, caller: &str, audience: &str, on_behalf_of: Option<&OnBehalfOf>) -> String {
        let now = chrono::Utc::now().timestamp();
        let key = (caller.to_owned(), audience.to_owned(), on_behalf_of.cloned());
        let mut minted = self.minted.lock().expect("token cache lock");
        if let Some((token, exp)) = minted.get(&key)
            && exp - now > self.ttl_secs / 2
        {
            return token.clone();
        }
        let token = self.sign(caller, audience, on_behalf_of, now);
        if minted.len() >= VERIFIED_CACHE {
            minted.clear();
        }
        minted.insert(key, (token.clone(), now + self.ttl_secs));
        token
    }

    fn sign(&self, caller: &str, audience: &str, on_behalf_of: Option<&OnBehalfOf>, now: i64) -> String {
        let claims = Claims {
            iss: format!("{ISSUER_PREFIX}{caller}"),
            sub: caller.to_owned(),
            aud: audience.to_owned(),
            iat: now,
            exp: now + self.ttl_secs,
            usr: on_behalf_of.map(|o| o.user_id.clone()),
            wsp: on_behalf_of.and_then(|o| o.workspace_id.clone()),
            rol: on_behalf_of.and_then(|o| o.role.clone()),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("Ed25519 signing does not fail")
    }

    /// Checks a token presented to `audience` and returns who sent it.
    pub fn verify(&self, token: &str, audience: &str) -> Result<Caller, Error> {
        let now = chrono::Utc::now().timestamp();
        let key = (token.to_owned(), audience.to_owned());
        if let Some((caller, exp)) = self.verified.lock().expect("token cache lock").get(&key)
            && *exp > now
        {
            return Ok(caller.clone());
        }
        let (caller, exp) = self.verify_signed(token, audience)?;
        let mut verified = self.verified.lock().expect("token cache lock");
        if verified.len() >= VERIFIED_CACHE {
            verified.clear();
        }
        verified.insert(key, (caller.clone(), exp));
        Ok(caller)
    }

    fn verify_signed(&self, token: &str, audience: &str) -> Result<(Caller, i64), Error> {
        let refuse = |why: &str| Error::unauthenticated(format!("internal token refused: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| refuse("malformed"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(refuse("algorithm not allowed"));
        }
        if header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(refuse("not an internal token"));
        }
        let trusted = header
            .kid
            .as_deref()
            .and_then(|kid| self.decoding.get(kid))
            .ok_or_else(|| refuse("unknown signing key"))?;
        let key = &trusted.key;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.set_audience(&[audience]);
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => refuse("expired"),
                ErrorKind::InvalidAudience => refuse("meant for another service"),
                ErrorKind::InvalidSignature => refuse("bad signature"),
                _ => refuse("invalid"),
            }
        })?;
        let claims = data.claims;
        if claims.iss != format!("{ISSUER_PREFIX}{}", claims.sub) {
            return Err(refuse("issuer does not match subject"));
        }
        if trusted
            .signers
            .as_ref()
            .is_some_and(|signers| !signers.contains(&claims.sub))
        {
            return Err(refuse("signing key not trusted for this service"));
        }
        let caller = Caller {
            service: claims.sub,
            on_behalf_of: claims.usr.map(|user_id| OnBehalfOf {
                user_id,
                workspace_id: claims.wsp,
                role: claims.rol,
            }),
        };
        Ok((caller, claims.exp))
    }
}

/// A short, stable key id: the first 8 bytes of SHA-256(public key), hex.
fn key_id(public_key: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, public_key);
    digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}
