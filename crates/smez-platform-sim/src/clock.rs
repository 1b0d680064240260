//! The simulators' clock: real time plus an offset tests can move forward.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

#[derive(Default)]
pub struct SimClock {
    offset_secs: AtomicI64,
}

impl SimClock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    /// Unix seconds, simulated.
    pub fn now_secs(&self) -> i64 {
        self.now().timestamp()
    }

    /// Jumps forward (tokens expire, containers age, caps roll over).
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs.max(0), Ordering::SeqCst);
    }
}
