//! Edit plans: the versioned JSON timeline a render makes ([`model`]), its
//! exact time arithmetic ([`time`]), validation with per-field errors
//! ([`validate`]) and OpenTimelineIO export and import ([`otio`]).

pub mod model;
pub mod otio;
pub mod time;
pub mod validate;

#[cfg(test)]
mod tests;
