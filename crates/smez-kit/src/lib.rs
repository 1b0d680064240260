//! The runtime kit every Smez service stands on.

pub mod access_token;
pub mod config;
pub mod error;
pub mod grpc;
pub mod identity;
pub mod metrics;
pub mod modules;
pub mod net;
pub mod roles;
pub mod secret;
pub mod shutdown;
pub mod telemetry;
pub mod text;
pub mod tls;

pub use config::Settings;
pub use error::{Error, ErrorCode, FieldViolation, Problem};
pub use tokio_util::sync::CancellationToken;
