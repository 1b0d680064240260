//! Rolling-window limits: "at most N events per key in the last S seconds",
//! as the platforms' rate limits and posting caps count them.

use std::collections::{HashMap, VecDeque};

/// The times (simulated seconds) of each key's events within the last `SPAN` seconds.
#[derive(Default)]
pub struct RollingWindows<const SPAN: i64> {
    events: HashMap<String, VecDeque<i64>>,
}

/// Keys tracked before windows that emptied are dropped (keys include
/// tokens, which rotate: a long-running simulator must not keep them all).
const SWEEP_AT_KEYS: usize = 4096;

impl<const SPAN: i64> RollingWindows<SPAN> {
    /// How many of `key`'s events are still in the window at `now`
    /// (forgetting those that left it).
    pub fn count(&mut self, key: &str, now: i64) -> usize {
        self.current(key, now).len()
    }

    /// Counts an event at `now` unless `limit` are already in the window;
    /// `Err(seconds until the oldest leaves it)` when they are.
    pub fn admit(&mut self, key: &str, limit: usize, now: i64) -> Result<(), i64> {
        let window = self.current(key, now);
        if window.len() >= limit {
            return Err(window.front().map(|t| t + SPAN - now).unwrap_or(SPAN));
        }
        window.push_back(now);
        Ok(())
    }

    /// Counts an event at `now`, whatever the count.
    pub fn record(&mut self, key: &str, now: i64) {
        self.events.entry(key.to_owned()).or_default().push_back(now);
    }

    /// How many of `key`'s events happened after `since` (a caller's own,
    /// possibly narrower, window).
    pub fn count_after(&self, key: &str, since: i64) -> usize {
        self.events
            .get(key)
            .map_or(0, |w| w.iter().filter(|t| **t > since).count())
    }

    fn current(&mut self, key: &str, now: i64) -> &mut VecDeque<i64> {
        if self.events.len() >= SWEEP_AT_KEYS && !self.events.contains_key(key) {
            self.events
                .retain(|_, window| window.back().is_some_and(|last| *last > now - SPAN));
        }
        let window = self.events.entry(key.to_owned()).or_default();
        while window.front().is_some_and(|t| *t <= now - SPAN) {
            window.pop_front();
        }
        window
    }
}
