//! Checks that end a handler early: a check returns `Result<T, _>` whose
//! `Err` is the response to send, and [`checked!`](crate::checked) unwraps it.

use axum::response::Response;

/// What a failed check answers with, boxed or not (clippy wants large `Err`s boxed).
pub trait Refusal {
    fn respond(self) -> Response;
}

impl Refusal for Response {
    fn respond(self) -> Response {
        self
    }
}

impl Refusal for Box<Response> {
    fn respond(self) -> Response {
        *self
    }
}

/// In a handler: the `Ok` value of a check, or return the response it refused with.
#[macro_export]
macro_rules! checked {
    ($check:expr) => {
        match $check {
            Ok(value) => value,
            Err(refusal) => return $crate::refusal::Refusal::respond(refusal),
        }
    };
}
