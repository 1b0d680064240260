//! Integration tests of the runtime kit (one binary: see the developers' guide).

mod config;
mod errors;
mod grpc;
mod identity;
