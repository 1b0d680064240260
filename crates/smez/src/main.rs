//! `smez`: one binary, many shapes.

mod app;
mod http_server;
mod keygen;
mod platforms;
mod targets;
mod vault_cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use smez_kit::Settings;
use smez_kit::config::Sources;

#[derive(Parser)]
#[command(
    name = "smez",
    version,
    about = "Smez: from raw clips to published short-form videos"
)]
struct Cli {
    /// Configuration file (default: ./smez.toml when present).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Data folder for the embedded default (overrides `data_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs services: `all` (the embedded default), `api`, `workers`,
    /// `gateway`, a service name, `render-worker`, `publisher-worker`, or a
    /// comma-separated list.
    Serve {
        #[arg(default_value = "all")]
        targets: String,
    },
    /// Applies pending database migrations of the targets' services, then exits.
    Migrate {
        #[arg(default_value = "all")]
        targets: String,
    },
    /// Prints a new set of keys for a deployment, as `.env` lines: one internal
    /// signing key per service identity, the list that says which key proves
    /// which identity, and the vault root key.
    Keygen,
    /// Key management of a running vault (over gRPC, as `operator`).
    Vault {
        #[command(subcommand)]
        command: vault_cli::VaultCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    smez_kit::tls::install_default_provider();
    if let Command::Keygen = cli.command {
        print!("{}", keygen::deployment_keys());
        return ExitCode::SUCCESS;
    }
    let mut sources = Sources {
        file: cli.config.clone(),
        ..Sources::default()
    };
    if let Some(dir) = &cli.data_dir {
        sources.overrides.push(("data_dir".into(), dir.display().to_string()));
    }
    let settings = match Settings::load(&sources) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("smez: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the async runtime");
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smez: {e:#}");
            if e.downcast_ref::<app::Misconfigured>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { targets } => {
            let plan = targets::Plan::parse(&targets).map_err(|e| app::Misconfigured(vec![e]))?;
            let _telemetry = smez_kit::telemetry::init(&settings.telemetry, &targets.replace(',', "+"))?;
            let shutdown = smez_kit::shutdown::on_signal();
            app::serve(settings, plan, shutdown).await
        }
        Command::Migrate { targets } => {
            let plan = targets::Plan::parse(&targets).map_err(|e| app::Misconfigured(vec![e]))?;
            let _telemetry = smez_kit::telemetry::init(&settings.telemetry, "migrate")?;
            let mut services = plan.services.clone();
            for worker in &plan.workers {
                let service = targets::worker_service(worker);
                if !services.contains(&service) {
                    services.push(service);
                }
            }
            for def in app::definitions().iter().filter(|d| services.contains(&d.name)) {
                let store = app::open_store(&settings, def).await?;
                println!(
                    "{}: {} database at schema version {}",
                    def.name,
                    store.backend().as_str(),
                    store.schema_version().await?
                );
                store.close().await?;
            }
            Ok(())
        }
        Command::Vault { command } => vault_cli::run(&settings, command).await,
        Command::Keygen => unreachable!("handled before loading configuration"),
    }
}
