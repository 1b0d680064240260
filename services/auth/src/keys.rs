//! The keys that sign access tokens.

use smez_kit::Settings;
use smez_kit::access_token::AccessTokenSigner;
use smez_kit::config::Environment;

/// From `auth.signing_keys`, or in development one generated key kept under
/// the data folder (so tokens survive a restart).
pub fn access_token_signer(settings: &Settings) -> anyhow::Result<AccessTokenSigner> {
    let auth = &settings.auth;
    let keys = if auth.signing_keys.is_empty() {
        anyhow::ensure!(
            settings.environment == Environment::Development,
            "auth.signing_keys is required in production (generate one with `smez keygen`)"
        );
        vec![smez_kit::secret::load_or_create_dev_secret(
            &settings.data_dir.join("keys/auth-access-token.key"),
            "an access-token signing key (set auth.signing_keys in production)",
            || smez_kit::identity::generate_key().signing_key,
        )?]
    } else {
        auth.signing_keys.clone()
    };
    AccessTokenSigner::new(&keys, &auth.issuer, auth.access_token_ttl_secs)
}
