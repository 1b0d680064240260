//! Calling other Smez services from a service: in-process when the peer runs
//! in this process, over gRPC otherwise, always through the peer's guard and
//! signed as this service.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use smez_kit::grpc::{BoxedServer, ClientFactory, Transport};

pub struct Peers {
    clients: ClientFactory,
    endpoints: HashMap<String, String>,
    /// Peers served by this process, known once every service is built.
    locals: OnceLock<HashMap<&'static str, BoxedServer>>,
    made: Mutex<HashMap<&'static str, Transport>>,
}

impl Peers {
    /// `endpoints`: where each service lives when not in this process (`services.*`).
    pub fn new(clients: ClientFactory, endpoints: HashMap<String, String>) -> Self {
        Self {
            clients,
            endpoints,
            locals: OnceLock::new(),
            made: Mutex::default(),
        }
    }

    /// The services this process serves (set once, after building them all).
    pub fn set_locals(&self, locals: HashMap<&'static str, BoxedServer>) {
        let _ = self.locals.set(locals);
    }

    /// A transport to `target`. Until this process has built every service
    /// it is UNAVAILABLE (a background task just tries again later).
    pub fn transport(&self, target: &'static str) -> Result<Transport, tonic::Status> {
        let Some(locals) = self.locals.get() else {
            return Err(tonic::Status::unavailable(format!(
                "the {target} service is not reachable yet (this process is starting)"
            )));
        };
        let mut made = self.made.lock().expect("peers lock");
        if let Some(transport) = made.get(target) {
            return Ok(transport.clone());
        }
        let transport = match locals.get(target) {
            Some(server) => self.clients.local(target, server.clone()),
            None => {
                let endpoint = self
                    .endpoints
                    .get(target)
                    .ok_or_else(|| tonic::Status::internal(format!("services.{target}: no endpoint configured")))?;
                self.clients
                    .remote(target, endpoint)
                    .map_err(|e| tonic::Status::internal(format!("{e:#}")))?
            }
        };
        made.insert(target, transport.clone());
        Ok(transport)
    }
}
