//! The bus suite, run against both backends with the same expectations.
//! RabbitMQ tests use `TEST_AMQP_URL` (default: the local broker) and fail,
//! never skip, when it is unreachable.

mod harness;
mod rabbit_only;
mod suite;
