//! Which platform hosts a process talks to: the real ones where client
//! credentials are configured, otherwise (with `platforms.simulators =
//! "auto"`, in development) the simulators, started in this process. Only
//! processes that call platforms (publisher, analytics and their workers)
//! resolve them.

use smez_kit::Settings;
use smez_kit::config::{Environment, PlatformSettings, SimulatorMode};
use smez_platform_sim::Sim;
use smez_platforms::{Endpoints, Platform};

use crate::targets::Plan;

/// The services whose processes call platforms.
const PLATFORM_CALLERS: [&str; 2] = ["publisher", "analytics"];

/// The resolved hosts, and the simulators when they run here.
pub struct PlatformHosts {
    pub endpoints: Vec<(Platform, Endpoints)>,
    /// Kept alive for the life of the process, when this process runs them.
    pub simulators: Option<Sim>,
    /// Where the simulators in use live (here or in another local process).
    pub simulator_origin: Option<String>,
}

/// Starts the simulators on `platforms.simulator_listen`, or, when another
/// local process (the publisher beside the analytics service, say) already
/// serves them there, uses those: one set of simulators, so a token one
/// process got is known to the other.
async fn start_or_share(settings: &Settings, simulators: &mut Option<Sim>) -> anyhow::Result<String> {
    let listen = &settings.platforms.simulator_listen;
    match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => {
            let sim = Sim::serve(listener).await?;
            let origin = sim.core.origin.clone();
            *simulators = Some(sim);
            Ok(origin)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            tracing::info!(%listen, "platform simulators already served there by another local process; using them");
            Ok(format!("http://{listen}"))
        }
        Err(e) => Err(anyhow::anyhow!("platforms.simulator_listen {listen}: {e}")),
    }
}

fn settings_of(settings: &Settings, platform: Platform) -> &PlatformSettings {
    match platform {
        Platform::TikTok => &settings.platforms.tiktok,
        Platform::Instagram => &settings.platforms.instagram,
        Platform::YouTube => &settings.platforms.youtube,
    }
}

/// `None` when the plan runs nothing that calls platforms.
pub async fn resolve(settings: &Settings, plan: &Plan) -> anyhow::Result<Option<PlatformHosts>> {
    let calls_platforms =
        plan.services.iter().any(|s| PLATFORM_CALLERS.contains(s)) || plan.workers.contains(&"publisher-worker");
    if !calls_platforms {
        return Ok(None);
    }
    let mut hosts = PlatformHosts {
        endpoints: Vec::new(),
        simulators: None,
        simulator_origin: None,
    };
    for platform in Platform::ALL {
        let configured = settings_of(settings, platform);
        if configured.has_credentials() {
            tracing::info!(%platform, api = %configured.api_base, "platform: the real service");
            hosts.endpoints.push((platform, real(configured)));
            continue;
        }
        // Simulators are for development: production never stands in a fake platform.
        if settings.platforms.simulators == SimulatorMode::Off || settings.environment == Environment::Production {
            tracing::warn!(
                %platform,
                "platform: not configured (no platforms.{platform} credentials; simulators are off or this is production)"
            );
            continue;
        }
        if hosts.simulator_origin.is_none() {
            hosts.simulator_origin = Some(start_or_share(settings, &mut hosts.simulators).await?);
        }
        let origin = hosts.simulator_origin.as_deref().expect("just resolved");
        let base = format!("{origin}/{platform}");
        tracing::info!(
            %platform,
            simulator = %base,
            "platform: the in-process simulator (no platforms.{platform} credentials configured)"
        );
        hosts.endpoints.push((platform, simulated(&base)));
    }
    Ok(Some(hosts))
}

fn real(configured: &PlatformSettings) -> Endpoints {
    Endpoints {
        client_id: configured.client_id.clone(),
        client_secret: configured.client_secret.clone(),
        auth_base: configured.auth_base.clone(),
        token_base: configured.token_base.clone(),
        api_base: configured.api_base.clone(),
        upload_base: configured.upload_base.clone(),
    }
}

fn simulated(base: &str) -> Endpoints {
    Endpoints {
        client_id: smez_platform_sim::CLIENT_ID.to_owned(),
        client_secret: smez_platform_sim::CLIENT_SECRET.to_owned(),
        auth_base: base.to_owned(),
        token_base: base.to_owned(),
        api_base: base.to_owned(),
        upload_base: base.to_owned(),
    }
}
