//! Starts the modules a plan names, serves until a signal, stops gracefully.
//!
//! Order: bus → each service's store (migrated) → gRPC services → worker pools
//! → gateway. The HTTP listener comes up first, so `/healthz` and `/readyz`
//! answer during start (503 until every module runs). If any module fails, the
//! process stops.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use axum::Router;
use smez_bus::Bus;
use smez_kit::grpc::{BoxedServer, ClientFactory, GrpcServer, GrpcTls, Guarded, bind, set_health};
use smez_kit::identity::InternalAuth;
use smez_kit::metrics::Metrics;
use smez_kit::modules::{ModuleState, Readiness, ops_router, record_http};
use smez_kit::{CancellationToken, Settings};
use smez_service::peers::Peers;
use smez_service::{ServiceContext, ServiceDef};
use smez_store::{Location, Store};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::targets::{Plan, worker_service};

/// Every service definition, in dependency order.
pub fn definitions() -> [ServiceDef; 7] {
    [
        smez_auth::definition(),
        smez_workspace::definition(),
        smez_media::definition(),
        smez_render::definition(),
        smez_publisher::definition(),
        smez_analytics::definition(),
        smez_vault::definition(),
    ]
}

fn definition(name: &str) -> ServiceDef {
    definitions()
        .into_iter()
        .find(|d| d.name == name)
        .expect("targets name known services")
}

/// A problem with the configuration, found before anything starts (exit code 2).
#[derive(Debug)]
pub struct Misconfigured(pub Vec<String>);

impl std::fmt::Display for Misconfigured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("\n       "))
    }
}

impl std::error::Error for Misconfigured {}

/// What the preflight checks loaded, for the process to use.
pub struct Preflight {
    pub auth: InternalAuth,
    /// HTTPS for the HTTP listener; `None` serves plain HTTP.
    pub http_tls: Option<Arc<rustls::ServerConfig>>,
    pub grpc_tls: GrpcTls,
}

/// Everything that can be checked before anything starts, reported together:
/// the shape of the process, the internal signing keys, the vault root key,
/// the TLS certificates and keys.
pub fn preflight(settings: &Settings, plan: &Plan) -> Result<Preflight, Misconfigured> {
    let mut problems = Vec::new();
    if !plan.is_everything() && settings.bus.url.is_empty() {
        problems.push(
            "bus.url: required when a process runs only some targets (the in-process bus cannot reach other \
             processes); set SMEZ_BUS__URL=amqp://… or run `smez serve all`"
                .to_owned(),
        );
    }
    if !plan.is_everything() && settings.database.url.is_empty() && !plan.services.is_empty() {
        problems.push(
            "database.url: required when a process runs only some targets; set SMEZ_DATABASE__URL=postgres://… \
             or run `smez serve all`"
                .to_owned(),
        );
    }
    if plan.services.contains(&"vault")
        && let Err(e) = smez_vault::keyring::RootKey::from_settings(settings)
    {
        problems.push(format!("{e:#}"));
    }
    if plan.services.contains(&"publisher")
        && let Err(e) = smez_publisher::state::StateSigner::from_settings(settings)
    {
        problems.push(format!("{e:#}"));
    }
    let auth = InternalAuth::from_settings(settings, &plan.identities()).map_err(|e| format!("{e:#}"));
    let http_tls = smez_kit::tls::http_server_config(&settings.http).map_err(|e| e.to_string());
    let grpc_tls = GrpcTls::from_settings(&settings.grpc).map_err(|e| e.to_string());
    match (auth, http_tls, grpc_tls) {
        (Ok(auth), Ok(http_tls), Ok(grpc_tls)) if problems.is_empty() => Ok(Preflight {
            auth,
            http_tls,
            grpc_tls,
        }),
        (auth, http_tls, grpc_tls) => {
            problems.extend(auth.err());
            problems.extend(http_tls.err());
            problems.extend(grpc_tls.err());
            Err(Misconfigured(problems))
        }
    }
}

/// Opens (and migrates) a service's store. A runtime role that row-level
/// security would not bind is refused in production, and warned about otherwise.
pub async fn open_store(settings: &Settings, service: &ServiceDef) -> anyhow::Result<Store> {
    let location = Location::for_service(&settings.database, &settings.data_dir, service.name);
    let store = Store::open(
        &location,
        settings.database.max_connections,
        service.name,
        service.migrations,
    )
    .await?;
    if let Some(problem) = store.runtime_role_problem().await? {
        if settings.environment == smez_kit::config::Environment::Production {
            anyhow::bail!("refusing to run in production: {problem}");
        }
        tracing::warn!(service = service.name, "{problem}");
    }
    Ok(store)
}

/// Runs the plan until `signal` (SIGTERM / Ctrl-C), then stops in order:
/// report not ready (readyz 503, gRPC health NOT_SERVING) and keep serving for
/// `shutdown.drain_delay_secs` while load balancers take the process out,
/// then stop listening, let in-flight work finish within the grace period,
/// and close the bus.
pub async fn serve(settings: Settings, plan: Plan, signal: CancellationToken) -> anyhow::Result<()> {
    let Preflight {
        auth,
        http_tls,
        grpc_tls,
    } = preflight(&settings, &plan)?;
    let auth = Arc::new(auth);
    // What the servers and background tasks watch; cancelled after the drain delay.
    let shutdown = CancellationToken::new();
    let readiness = Readiness::default();
    for module in plan.modules() {
        readiness.set(&module, ModuleState::Starting);
    }
    let metrics = Metrics::new();
    let mut tasks: JoinSet<(String, anyhow::Result<()>)> = JoinSet::new();

    // HTTP first: probes see the process start, and the gateway slot fills in later.
    let http_listener = bind("http.listen", settings.http_listen()).await?;
    let gateway_slot: Arc<OnceLock<Router>> = Arc::default();
    let http = http_router(readiness.clone(), metrics.clone(), gateway_slot.clone());
    let http_shutdown = shutdown.clone();
    tracing::info!(addr = %http_listener.local_addr()?, tls = http_tls.is_some(), "HTTP listening");
    tasks.spawn(async move {
        let served = crate::http_server::serve(http_listener, http, http_tls, http_shutdown).await;
        ("http".to_owned(), served)
    });

    let started = start_modules(
        &settings,
        &plan,
        &auth,
        &grpc_tls,
        &readiness,
        &metrics,
        &shutdown,
        &gateway_slot,
        &mut tasks,
    )
    .await;
    let result = match started {
        Ok(started) => {
            tracing::info!(modules = ?plan.modules(), "smez is ready");
            let outcome = wait(&mut tasks, &signal).await;
            for module in plan.modules() {
                readiness.set(&module, ModuleState::Stopping);
            }
            if let Some((health, names)) = &started.health {
                for name in names.iter().copied().chain([""]) {
                    set_health(health, name, false).await;
                }
            }
            if outcome.is_ok() {
                tokio::time::sleep(settings.drain_delay()).await;
            }
            shutdown.cancel();
            drain(&mut tasks, settings.shutdown_grace()).await;
            started.bus.close().await;
            outcome
        }
        Err(e) => {
            shutdown.cancel();
            drain(&mut tasks, settings.shutdown_grace()).await;
            Err(e)
        }
    };
    for module in plan.modules() {
        readiness.set(&module, ModuleState::Stopped);
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn start_modules(
    settings: &Settings,
    plan: &Plan,
    auth: &Arc<InternalAuth>,
    grpc_tls: &GrpcTls,
    readiness: &Readiness,
    metrics: &Metrics,
    shutdown: &CancellationToken,
    gateway_slot: &Arc<OnceLock<Router>>,
    tasks: &mut JoinSet<(String, anyhow::Result<()>)>,
) -> anyhow::Result<Started> {
    let bus = Bus::from_settings(&settings.bus).await?;
    readiness.set("bus", ModuleState::Running);

    // Publisher and analytics call platforms: real hosts or the simulators.
    let platforms = crate::platforms::resolve(settings, plan).await?;
    let adapters = platforms
        .as_ref()
        .map(|hosts| smez_platforms::Adapters::from_endpoints(hosts.endpoints.clone()))
        .unwrap_or_default();

    let mut grpc = GrpcServer::new().with_tls(grpc_tls);
    let mut locals: HashMap<&'static str, BoxedServer> = HashMap::new();
    let mut all_peers = Vec::new();
    let shared_settings = Arc::new(settings.clone());
    for name in &plan.services {
        let def = definition(name);
        let store = open_store(settings, &def).await?;
        let peers = Arc::new(Peers::new(
            ClientFactory::new(auth.clone(), def.name).with_tls(grpc_tls),
            settings.services.clone(),
        ));
        all_peers.push(peers.clone());
        let ctx = Arc::new(ServiceContext {
            name: def.name,
            settings: shared_settings.clone(),
            store,
            bus: bus.clone(),
            shutdown: shutdown.clone(),
            peers,
            platforms: adapters.clone(),
        });
        let server = (def.build)(ctx)
            .await
            .with_context(|| format!("starting the {} service", def.name))?;
        // One guard for every service, on both paths: network and in-process.
        let guarded = smez_service::boxed(Guarded::new(server, def.name, auth.clone(), metrics.clone()));
        grpc.add_named(def.grpc_name, guarded.clone());
        locals.insert(def.name, guarded);
    }
    // Every service is built: calls between them may start.
    for peers in &all_peers {
        peers.set_locals(locals.clone());
    }
    for worker in &plan.workers {
        // A worker pool writes its service's database; opening it applies any
        // pending migrations before the first job.
        let def = definition(worker_service(worker));
        let store = open_store(settings, &def).await?;
        match def.worker {
            Some(start) => {
                // It calls other services as its own service does, in-process
                // when they run here.
                let peers = Arc::new(Peers::new(
                    ClientFactory::new(auth.clone(), def.name).with_tls(grpc_tls),
                    settings.services.clone(),
                ));
                peers.set_locals(locals.clone());
                let ctx = Arc::new(ServiceContext {
                    name: def.name,
                    settings: shared_settings.clone(),
                    store,
                    bus: bus.clone(),
                    shutdown: shutdown.clone(),
                    peers,
                    platforms: adapters.clone(),
                });
                start(ctx, metrics.clone())
                    .await
                    .with_context(|| format!("starting the {worker} pool"))?;
                tracing::info!(worker, "worker pool consuming");
            }
            None => tracing::info!(worker, "worker pool ready (its job handlers arrive with its feature)"),
        }
        readiness.set(worker, ModuleState::Running);
    }
    if !plan.workers.is_empty() {
        watch_consumers(&bus, readiness, &plan.workers, shutdown);
    }

    let mut health_entries = None;
    if !plan.services.is_empty() {
        let listener = bind("grpc.listen", settings.grpc_listen()).await?;
        tracing::info!(
            addr = %listener.local_addr()?,
            services = ?plan.services,
            tls = grpc_tls.mode(),
            "gRPC listening"
        );
        let health = grpc.health();
        let grpc_shutdown = shutdown.clone();
        tasks.spawn(async move {
            (
                "grpc".to_owned(),
                grpc.serve(listener, grpc_shutdown.cancelled_owned()).await,
            )
        });
        for name in &plan.services {
            set_health(&health, definition(name).grpc_name, true).await;
            readiness.set(name, ModuleState::Running);
        }
        set_health(&health, "", true).await;
        readiness.set("grpc", ModuleState::Running);
        let names = plan.services.iter().map(|name| definition(name).grpc_name).collect();
        health_entries = Some((health, names));
    }

    if plan.gateway {
        let clients = ClientFactory::new(auth.clone(), "gateway").with_tls(grpc_tls);
        let mut upstreams = Vec::new();
        for def in definitions() {
            let transport = match locals.get(def.name) {
                Some(local) => clients.local(def.name, local.clone()),
                None => clients.remote(def.name, settings.service_endpoint(def.name))?,
            };
            upstreams.push(smez_gateway::Upstream {
                service: def,
                transport,
            });
        }
        let gateway = smez_gateway::router(upstreams, Arc::new(settings.clone()))?
            .layer(axum::middleware::from_fn_with_state(metrics.clone(), record_http));
        let _ = gateway_slot.set(gateway);
        readiness.set("gateway", ModuleState::Running);
    }
    Ok(Started {
        bus,
        health: health_entries,
        platforms,
    })
}

/// What is running once the modules have started.
struct Started {
    bus: Bus,
    /// The gRPC health reporter and the entries it serves, to report NOT_SERVING at shutdown.
    health: Option<(tonic_health::server::HealthReporter, Vec<&'static str>)>,
    /// Keeps the in-process platform simulators (if any) running.
    #[allow(dead_code)]
    platforms: Option<crate::platforms::PlatformHosts>,
}

/// Ops routes always; everything else goes to the gateway once it is up
/// (each router records its own requests, by its own route templates).
fn http_router(readiness: Readiness, metrics: Metrics, gateway: Arc<OnceLock<Router>>) -> Router {
    ops_router(readiness, metrics.clone())
        .layer(axum::middleware::from_fn_with_state(metrics, record_http))
        .fallback(move |request: axum::extract::Request| {
            let gateway = gateway.clone();
            async move {
                match gateway.get() {
                    Some(router) => router.clone().oneshot(request).await.into_response_infallible(),
                    None => axum::response::IntoResponse::into_response(smez_kit::Error::new(
                        smez_kit::ErrorCode::Unavailable,
                        "this process does not serve the REST API, or has not started it yet",
                    )),
                }
            }
        })
}

trait IntoResponseInfallible {
    fn into_response_infallible(self) -> axum::response::Response;
}

impl IntoResponseInfallible for Result<axum::response::Response, std::convert::Infallible> {
    fn into_response_infallible(self) -> axum::response::Response {
        match self {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// Waits for a shutdown request or for a module to stop on its own (a failure).
async fn wait(tasks: &mut JoinSet<(String, anyhow::Result<()>)>, shutdown: &CancellationToken) -> anyhow::Result<()> {
    tokio::select! {
        biased;
        () = shutdown.cancelled() => Ok(()),
        Some(joined) = tasks.join_next() => match joined {
            Ok((module, Err(e))) => Err(e.context(format!("module {module} failed"))),
            // Servers return on their own once the shutdown they watch fires.
            Ok((_, Ok(()))) if shutdown.is_cancelled() => Ok(()),
            Ok((module, Ok(()))) => Err(anyhow::anyhow!("module {module} stopped unexpectedly")),
            Err(e) => Err(anyhow::anyhow!("a module panicked: {e}")),
        },
    }
}

async fn drain(tasks: &mut JoinSet<(String, anyhow::Result<()>)>, grace: std::time::Duration) {
    let finished = tokio::time::timeout(grace, async {
        while let Some(joined) = tasks.join_next().await {
            if let Ok((module, Err(e))) = joined {
                tracing::warn!(module, error = %e, "module stopped with an error");
            }
        }
    })
    .await;
    if finished.is_err() {
        tracing::warn!("grace period over; abandoning unfinished requests");
        tasks.shutdown().await;
    }
}

/// How often a worker pool's readiness follows its consumers.
const CONSUMER_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Keeps each worker pool's readiness true only while its consumers are
/// receiving: `reconnecting` while the broker link is down.
fn watch_consumers(bus: &Bus, readiness: &Readiness, workers: &[&'static str], shutdown: &CancellationToken) {
    let (bus, readiness, workers, shutdown) = (bus.clone(), readiness.clone(), workers.to_vec(), shutdown.clone());
    tokio::spawn(async move {
        let mut was_consuming = true;
        let mut ticks = tokio::time::interval(CONSUMER_CHECK);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let consuming = bus.consuming();
            if consuming == was_consuming {
                continue;
            }
            was_consuming = consuming;
            let state = if consuming {
                tracing::info!("worker pools consuming again");
                ModuleState::Running
            } else {
                tracing::warn!("worker pools not consuming: the broker link is down");
                ModuleState::Reconnecting
            };
            // A pool that is stopping stays so.
            let current = readiness.snapshot();
            for worker in &workers {
                if matches!(
                    current.get(*worker),
                    Some(ModuleState::Running | ModuleState::Reconnecting)
                ) {
                    readiness.set(worker, state);
                }
            }
        }
    });
}
