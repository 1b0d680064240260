//! `smez serve <target>[,<target>…]`: which modules one process runs.
//!
//! Targets name a service (`auth`, …, `vault`; `render` and `publisher` with
//! their worker pools), the `gateway`, a worker pool alone (`render-worker`,
//! `publisher-worker`), or a group: `api` (the gateway and every service,
//! no worker pool), `workers` (every worker pool), `all` (everything).

use smez_kit::config::SERVICES;

/// Worker pools and the service whose jobs (and database) each one handles.
pub const WORKERS: [(&str, &str); 2] = [("render-worker", "render"), ("publisher-worker", "publisher")];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// In dependency order (the order of `SERVICES`).
    pub services: Vec<&'static str>,
    pub gateway: bool,
    pub workers: Vec<&'static str>,
}

impl Plan {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut plan = Plan::default();
        let mut any = false;
        for target in spec.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            any = true;
            match target {
                "all" => {
                    plan.add_services(&SERVICES);
                    plan.gateway = true;
                    plan.add_workers(&WORKERS.map(|(w, _)| w));
                }
                "api" => {
                    plan.add_services(&SERVICES);
                    plan.gateway = true;
                }
                "workers" => plan.add_workers(&WORKERS.map(|(w, _)| w)),
                "gateway" => plan.gateway = true,
                other => {
                    if let Some(service) = SERVICES.iter().find(|s| **s == other) {
                        plan.add_services(&[service]);
                        // A service's process also runs its worker pool (`smez serve
                        // render` renders); `<service>-worker` runs the pool alone.
                        if let Some((worker, _)) = WORKERS.iter().find(|(_, s)| s == service) {
                            plan.add_workers(&[worker]);
                        }
                    } else if let Some((worker, _)) = WORKERS.iter().find(|(w, _)| *w == other) {
                        plan.add_workers(&[worker]);
                    } else {
                        return Err(format!(
                            "unknown target `{other}`; use all, api, workers, gateway, {}, {}",
                            SERVICES.join(", "),
                            WORKERS.map(|(w, _)| w).join(", ")
                        ));
                    }
                }
            }
        }
        if !any {
            return Err("no target given".into());
        }
        Ok(plan)
    }

    /// True when this process runs every module: the only shape the
    /// in-process bus and per-process SQLite files can serve.
    pub fn is_everything(&self) -> bool {
        self.services.len() == SERVICES.len() && self.gateway && self.workers.len() == WORKERS.len()
    }

    /// The service identities this process speaks as on internal calls.
    pub fn identities(&self) -> Vec<&'static str> {
        let mut identities = self.services.clone();
        if self.gateway {
            identities.push("gateway");
        }
        // A worker pool does its service's work, as that service.
        for worker in &self.workers {
            let service = worker_service(worker);
            if !identities.contains(&service) {
                identities.push(service);
            }
        }
        identities
    }

    /// Every module name, for readiness.
    pub fn modules(&self) -> Vec<String> {
        let mut modules = vec!["bus".to_owned()];
        modules.extend(self.services.iter().map(|s| (*s).to_owned()));
        modules.extend(self.workers.iter().map(|w| (*w).to_owned()));
        if !self.services.is_empty() {
            modules.push("grpc".to_owned());
        }
        if self.gateway {
            modules.push("gateway".to_owned());
        }
        modules
    }

    fn add_services(&mut self, services: &[&'static str]) {
        for service in services {
            if !self.services.contains(service) {
                self.services.push(service);
            }
        }
        self.services.sort_by_key(|s| SERVICES.iter().position(|k| k == s));
    }

    fn add_workers(&mut self, workers: &[&'static str]) {
        for worker in workers {
            if !self.workers.contains(worker) {
                self.workers.push(worker);
            }
        }
    }
}

/// The service whose database a worker pool uses.
pub fn worker_service(worker: &str) -> &'static str {
    WORKERS
        .iter()
        .find(|(w, _)| *w == worker)
        .map(|(_, s)| *s)
        .expect("parsed targets name known workers")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_expand_and_merge() {
        let all = Plan::parse("all").unwrap();
        assert!(all.is_everything());
        let api = Plan::parse("api").unwrap();
        assert!(api.gateway && api.services.len() == 7 && api.workers.is_empty());
        let mixed = Plan::parse("vault,auth,render-worker").unwrap();
        assert_eq!(mixed.services, vec!["auth", "vault"]);
        assert_eq!(mixed.workers, vec!["render-worker"]);
        assert_eq!(Plan::parse("api,workers").unwrap(), all);
    }

    #[test]
    fn a_service_with_a_worker_pool_runs_it() {
        let render = Plan::parse("render").unwrap();
        assert_eq!(render.services, vec!["render"]);
        assert_eq!(render.workers, vec!["render-worker"]);
        assert!(Plan::parse("media").unwrap().workers.is_empty());
    }

    #[test]
    fn unknown_targets_are_named() {
        let error = Plan::parse("auth,renderer").unwrap_err();
        assert!(error.contains("`renderer`"), "{error}");
        assert!(Plan::parse(" , ").is_err());
    }
}
