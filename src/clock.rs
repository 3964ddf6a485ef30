//! The wall clock that decides whether a cached token is fresh, valid or due for refresh, and
//! when a failure was met. One reading for the whole program, behind a trait so that the tests of
//! the lookup policy move time instead of sleeping through it.
//!
//! Durations that bound a request (`deadline`, lock waits) use the monotonic `Instant`, not this:
//! a token's life is a wall-clock fact shared with other processes through the cache, a deadline
//! is this process's own.

use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Sync {
    /// Unix milliseconds.
    fn now_ms(&self) -> u64;
}

/// The system's wall clock, what every shipped code path reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct System;

impl Clock for System {
    fn now_ms(&self) -> u64 {
        now_ms()
    }
}

/// The system clock's reading, Unix milliseconds (0 for a clock set before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A clock the tests set and move.
#[cfg(test)]
pub struct Manual(std::sync::atomic::AtomicU64);

#[cfg(test)]
impl Manual {
    pub fn at(now_ms: u64) -> Manual {
        Manual(std::sync::atomic::AtomicU64::new(now_ms))
    }

    pub fn advance(&self, by: std::time::Duration) {
        let by = by.as_millis() as u64;
        self.0.fetch_add(by, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
impl Clock for Manual {
    fn now_ms(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
