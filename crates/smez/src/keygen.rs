//! `smez keygen`: a fresh set of keys for one deployment, as `.env` lines.

use std::fmt::Write;

/// Every identity that signs internal calls: the gateway, the services, and
/// `operator` (the `smez vault` command). Worker pools sign as their service.
fn identities() -> impl Iterator<Item = &'static str> {
    std::iter::once("gateway")
        .chain(smez_kit::config::SERVICES)
        .chain(std::iter::once("operator"))
}

pub fn deployment_keys() -> String {
    let keys: Vec<_> = identities()
        .map(|identity| (identity, smez_kit::identity::generate_key()))
        .collect();
    let trusted = keys
        .iter()
        .map(|(identity, key)| format!("{identity}={}", key.public_key))
        .collect::<Vec<_>>()
        .join(",");
    let mut out = String::new();
    let _ = writeln!(out, "# Every process: which public key proves which service.");
    let _ = writeln!(out, "SMEZ_INTERNAL_AUTH__TRUSTED_KEYS={trusted}");
    let _ = writeln!(
        out,
        "# Each process gets its own as SMEZ_INTERNAL_AUTH__SIGNING_KEY (a process running several services lists\n\
         # its key once per service in the trusted keys; a worker pool uses its service's key)."
    );
    for (identity, key) in &keys {
        let _ = writeln!(out, "{}_SIGNING_KEY={}", identity.to_uppercase(), key.signing_key);
    }
    let _ = writeln!(
        out,
        "# The auth process alone: signs user access tokens (rotate by listing a new key first, comma-separated)."
    );
    let _ = writeln!(
        out,
        "SMEZ_AUTH__SIGNING_KEYS={}",
        smez_kit::identity::generate_key().signing_key
    );
    let _ = writeln!(out, "# The vault process alone.");
    let _ = writeln!(out, "SMEZ_VAULT__ROOT_KEY={}", smez_vault::generate_root_key());
    let _ = writeln!(
        out,
        "# The publisher processes (service and workers): signs OAuth states."
    );
    let _ = writeln!(
        out,
        "SMEZ_INTEGRATIONS__STATE_KEY={}",
        smez_publisher::state::generate_key()
    );
    out
}
