//! End-to-end tests of the `smez` binary in both shapes: one process
//! (`serve all`, embedded defaults) and one process per service against
//! PostgreSQL and RabbitMQ, talking real gRPC.

mod api;
mod cli;
mod collector;
mod distributed;
mod embedded;
mod process;
mod telemetry;
mod tls;
