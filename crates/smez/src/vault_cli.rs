//! `smez vault …`: key management of a running vault, as the `operator`
//! service identity (signed with this installation's internal key).

use std::sync::Arc;

use clap::Subcommand;
use smez_kit::Settings;
use smez_kit::grpc::{ClientFactory, GrpcTls};
use smez_kit::identity::InternalAuth;
use smez_proto::vault::v1::vault_service_client::VaultServiceClient;
use smez_proto::vault::v1::{KeyRef, KeyStatus, RewrapRequest, SetMinDecryptionVersionRequest};

const KEYS: [&str; 3] = ["oauth-tokens", "pending-transfers", "payloads"];

#[derive(Subcommand)]
pub enum VaultCommand {
    /// Shows each key's versions and where its stored ciphertexts are.
    Status,
    /// Adds a key version that seals from now on.
    Rotate { key: String },
    /// Moves every stored ciphertext to the newest key versions now.
    Rewrap,
    /// Retires key versions below MIN_VERSION (refused while ciphertexts still use them).
    Retire { key: String, min_version: u32 },
}

pub async fn run(settings: &Settings, command: VaultCommand) -> anyhow::Result<()> {
    let auth = Arc::new(InternalAuth::from_settings(settings, &["operator"])?);
    let endpoint = settings.service_endpoint("vault");
    let tls = GrpcTls::from_settings(&settings.grpc).map_err(|e| crate::app::Misconfigured(vec![e.to_string()]))?;
    let transport = ClientFactory::new(auth, "operator")
        .with_tls(&tls)
        .remote("vault", endpoint)?;
    let mut vault = VaultServiceClient::new(transport);
    let failed = |e: tonic::Status| anyhow::anyhow!("vault at {endpoint}: {}", e.message());
    match command {
        VaultCommand::Status => {
            for key in KEYS {
                let status = vault.get_key_status(key_ref(key)).await.map_err(failed)?;
                print_status(&status.into_inner());
            }
        }
        VaultCommand::Rotate { key } => {
            let status = vault.rotate_key(key_ref(&key)).await.map_err(failed)?;
            print_status(&status.into_inner());
        }
        VaultCommand::Rewrap => {
            let done = vault
                .rewrap(RewrapRequest::default())
                .await
                .map_err(failed)?
                .into_inner();
            println!(
                "rewrapped {}, still on older versions {}",
                done.rewrapped, done.remaining
            );
        }
        VaultCommand::Retire { key, min_version } => {
            let request = SetMinDecryptionVersionRequest {
                key_name: key,
                min_decryption_version: min_version,
            };
            let status = vault.set_min_decryption_version(request).await.map_err(failed)?;
            print_status(&status.into_inner());
        }
    }
    Ok(())
}

fn key_ref(key: &str) -> KeyRef {
    KeyRef {
        key_name: key.to_owned(),
    }
}

fn print_status(status: &KeyStatus) {
    let mut stored: Vec<_> = status.stored_per_version.iter().collect();
    stored.sort();
    let stored = stored
        .iter()
        .map(|(version, count)| format!("v{version}: {count}"))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "{:<18} current v{}  min decryption v{}  seals on current {}  stored [{}]",
        status.key_name, status.current_version, status.min_decryption_version, status.current_version_seals, stored
    );
}
