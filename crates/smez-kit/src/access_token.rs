//! User access tokens: short-lived EdDSA JWTs that the auth service signs and
//! the gateway verifies against the auth service's JWKS.
//!
//! Verification pins everything an attacker could steer: the algorithm
//! (EdDSA only, so `none` and HS256-with-the-public-key fail), the type
//! (`at+jwt`, so an internal token or another JWT never passes as one), the
//! key (by `kid`, from the published set only), and the claims `exp`, `iat`,
//! `iss`, `aud` and `sub`, all required.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The JWT `typ` of access tokens (RFC 9068).
pub const TOKEN_TYPE: &str = "at+jwt";
/// The audience of access tokens: Smez's public API.
pub const AUDIENCE: &str = "smez-api";
/// Clock skew tolerated between the signer and a verifier.
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    /// The user id.
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// The session (refresh-token family) the token was issued to.
    pub sid: String,
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public: Vec<u8>,
}

/// Signs access tokens with the first configured key and publishes every
/// configured key, so tokens signed before a rotation keep verifying.
pub struct AccessTokenSigner {
    keys: Vec<SigningKey>,
    issuer: String,
    ttl_secs: i64,
}

impl std::fmt::Debug for AccessTokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenSigner")
            .field("kids", &self.keys.iter().map(|k| &k.kid).collect::<Vec<_>>())
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl AccessTokenSigner {
    /// `keys`: base64 PKCS#8 Ed25519 keys, the signing one first.
    pub fn new(keys: &[String], issuer: &str, ttl_secs: u64) -> anyhow::Result<Self> {
        anyhow::ensure!(!keys.is_empty(), "auth.signing_keys: at least one key is needed");
        let keys = keys
            .iter()
            .enumerate()
            .map(|(index, encoded)| {
                let invalid = |why: String| anyhow::anyhow!("auth.signing_keys[{index}]: {why}");
                let pkcs8 = B64
                    .decode(encoded.trim())
                    .map_err(|e| invalid(format!("not base64: {e}")))?;
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
                    .map_err(|e| invalid(format!("not an Ed25519 PKCS#8 key: {e}")))?;
                let public = pair.public_key().as_ref().to_vec();
                Ok(SigningKey {
                    kid: key_id(&public),
                    encoding: EncodingKey::from_ed_der(&pkcs8),
                    public,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            keys,
            issuer: issuer.to_owned(),
            ttl_secs: ttl_secs as i64,
        })
    }

    /// A token for `user_id` in session `session_id`, and when it expires (unix seconds).
    pub fn mint(&self, user_id: &str, session_id: &str) -> (String, i64) {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: user_id.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + self.ttl_secs,
            sid: session_id.to_owned(),
        };
        let key = &self.keys[0];
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding).expect("Ed25519 signing does not fail");
        (token, claims.exp)
    }

    /// The JWKS document (RFC 7517, OKP keys per RFC 8037).
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|key| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": B64URL.encode(&key.public),
                    "kid": key.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// Verifies access tokens against a JWKS.
pub struct AccessTokenVerifier {
    keys: HashMap<String, DecodingKey>,
    issuer: String,
}

impl AccessTokenVerifier {
    /// From a JWKS document; keys that are not Ed25519 signing keys are ignored.
    pub fn from_jwks(jwks: &str, issuer: &str) -> anyhow::Result<Self> {
        #[derive(Deserialize)]
        struct Jwks {
            keys: Vec<Jwk>,
        }
        #[derive(Deserialize)]
        struct Jwk {
            kty: String,
            #[serde(default)]
            crv: String,
            #[serde(default)]
            x: String,
            #[serde(default)]
            kid: String,
        }
        let document: Jwks = serde_json::from_str(jwks).map_err(|e| anyhow::anyhow!("JWKS: {e}"))?;
        let keys = document
            .keys
            .into_iter()
            .filter(|k| k.kty == "OKP" && k.crv == "Ed25519" && !k.kid.is_empty())
            .filter_map(|k| {
                let public = B64URL.decode(&k.x).ok().filter(|p| p.len() == 32)?;
                (key_id(&public) == k.kid).then(|| (k.kid, DecodingKey::from_ed_der(&public)))
            })
            .collect();
        Ok(Self {
            keys,
            issuer: issuer.to_owned(),
        })
    }

    /// Whether a token names a key this verifier does not know (the caller may
    /// then fetch the JWKS again: a key may have been added).
    pub fn knows_kid_of(&self, token: &str) -> bool {
        jsonwebtoken::decode_header(token)
            .ok()
            .and_then(|h| h.kid)
            .is_some_and(|kid| self.keys.contains_key(&kid))
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, Error> {
        let refuse = |why: &str| Error::unauthenticated(format!("access token refused: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| refuse("malformed"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(refuse("algorithm not allowed"));
        }
        if header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(refuse("not an access token"));
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or_else(|| refuse("unknown signing key"))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[&self.issuer]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => refuse("expired"),
                ErrorKind::InvalidSignature => refuse("bad signature"),
                _ => refuse("invalid"),
            }
        })?;
        Ok(data.claims)
    }
}

/// A key id: the first 16 base64url characters of the public key's SHA-256.
fn key_id(public: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, public);
    B64URL.encode(digest.as_ref())[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> AccessTokenSigner {
        AccessTokenSigner::new(&[crate::identity::generate_key().signing_key], "smez", 900).unwrap()
    }

    fn verifier(signer: &AccessTokenSigner) -> AccessTokenVerifier {
        AccessTokenVerifier::from_jwks(&signer.jwks().to_string(), "smez").unwrap()
    }

    #[test]
    fn a_minted_token_verifies() {
        let signer = signer();
        let (token, exp) = signer.mint("user-1", "session-1");
        let claims = verifier(&signer).verify(&token).unwrap();
        assert_eq!(claims.sub, "user-1");
        assert_eq!(claims.sid, "session-1");
        assert_eq!(claims.exp, exp);
    }

    #[test]
    fn rotation_keeps_old_tokens_valid() {
        let old = crate::identity::generate_key().signing_key;
        let new = crate::identity::generate_key().signing_key;
        let before = AccessTokenSigner::new(std::slice::from_ref(&old), "smez", 900).unwrap();
        let after = AccessTokenSigner::new(&[new, old], "smez", 900).unwrap();
        let (token, _) = before.mint("user-1", "s");
        assert!(verifier(&after).verify(&token).is_ok());
        let (fresh, _) = after.mint("user-1", "s");
        assert!(
            verifier(&before).verify(&fresh).is_err(),
            "the new key is unknown before rotation"
        );
        assert!(!verifier(&before).knows_kid_of(&fresh));
    }

    #[test]
    fn wrong_issuer_is_refused() {
        let signer = signer();
        let (token, _) = signer.mint("user-1", "s");
        let other = AccessTokenVerifier::from_jwks(&signer.jwks().to_string(), "someone-else").unwrap();
        assert!(other.verify(&token).is_err());
    }
}
