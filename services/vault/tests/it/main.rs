//! The vault over real gRPC (a sandbox on 127.0.0.1:0), on SQLite and on
//! PostgreSQL (`TEST_POSTGRES_URL`; unreachable means failure, not a skip).

mod access;
mod credentials;
mod harness;
mod hygiene;
mod keys;
