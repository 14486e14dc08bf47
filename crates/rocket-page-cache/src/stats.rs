//! Counters, rate-limited warnings and the circuit breaker of the cache.
//!
//! The limiter and the breaker measure intervals in this process only, so they
//! read the monotonic clock (`Instant`): a wall clock that steps back would stall
//! them, and no entry's freshness depends on them.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// What happened to requests, since start. Shown on the admin page.
#[derive(Default)]
pub struct Stats {
    pub hits: AtomicU64,
    pub near_hits: AtomicU64,
    pub stale: AtomicU64,
    pub misses: AtomicU64,
    pub bypasses: AtomicU64,
    pub stored: AtomicU64,
    pub not_stored: AtomicU64,
    pub collapsed: AtomicU64,
    pub errors: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Fresh pages served from the store (Redis), including collapsed waits.
    pub hits: u64,
    /// Fresh pages served from this instance's near cache (not in `hits`).
    pub near_hits: u64,
    pub stale: u64,
    pub misses: u64,
    pub bypasses: u64,
    pub stored: u64,
    pub not_stored: u64,
    pub collapsed: u64,
    pub errors: u64,
    /// Bytes the near cache holds now (0 when it is off).
    pub near_bytes: u64,
}

impl Stats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            hits: read(&self.hits),
            near_hits: read(&self.near_hits),
            stale: read(&self.stale),
            misses: read(&self.misses),
            bypasses: read(&self.bypasses),
            stored: read(&self.stored),
            not_stored: read(&self.not_stored),
            collapsed: read(&self.collapsed),
            errors: read(&self.errors),
            near_bytes: 0,
        }
    }
}

/// Logs a cache failure at most once per interval, with how many were suppressed,
/// so that a dead Redis under load does not flood the log.
pub struct WarnLimiter {
    interval: Duration,
    /// When the last warning went out (none yet: `None`), and how many were
    /// suppressed since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl WarnLimiter {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    pub fn warn(&self, message: impl FnOnce() -> String) {
        let now = Instant::now();
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (last, suppressed) = *state;
        if last.is_none_or(|last| now.duration_since(last) >= self.interval) {
            *state = (Some(now), 0);
            drop(state);
            if suppressed > 0 {
                rocket::warn!(
                    "cache: {} ({suppressed} similar since the last warning)",
                    message()
                );
            } else {
                rocket::warn!("cache: {}", message());
            }
        } else {
            state.1 += 1;
        }
    }
}

/// Skips the store for a moment after repeated failures, so that a hung Redis
/// costs requests one time budget now and then instead of one each.
pub struct Breaker {
    failures: AtomicU32,
    /// Milliseconds after `origin` until which it stays open; 0 when closed.
    open_until_ms: AtomicU64,
    origin: Instant,
}

/// Consecutive failures that open the breaker.
const TRIP_AFTER: u32 = 3;
/// How long it stays open; then one request tries the store again.
const OPEN_FOR_MS: u64 = 1_000;

impl Breaker {
    pub fn new() -> Self {
        Self {
            failures: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    /// Milliseconds since `origin`, from 1 so that 0 can mean "closed".
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX - OPEN_FOR_MS) + 1
    }

    /// Whether the store may be tried now.
    pub fn allows(&self) -> bool {
        let until = self.open_until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return true;
        }
        let now = self.now_ms();
        // Once the open window ends, let exactly one caller probe and push the
        // window on for the others until it reports back.
        now >= until
            && self
                .open_until_ms
                .compare_exchange(
                    until,
                    now + OPEN_FOR_MS,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Whether it has tripped and no store call has succeeded since (open, or
    /// letting one probe through).
    pub fn is_open(&self) -> bool {
        self.open_until_ms.load(Ordering::Relaxed) != 0
    }

    pub fn success(&self) {
        self.failures.store(0, Ordering::Relaxed);
        self.open_until_ms.store(0, Ordering::Relaxed);
    }

    pub fn failure(&self) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= TRIP_AFTER {
            self.open_until_ms
                .store(self.now_ms() + OPEN_FOR_MS, Ordering::Relaxed);
        }
    }
}

impl Default for Breaker {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_repeated_failures_and_closes_on_success() {
        let breaker = Breaker::new();
        assert!(breaker.allows());
        breaker.failure();
        breaker.failure();
        assert!(breaker.allows());
        assert!(!breaker.is_open());
        breaker.failure();
        assert!(!breaker.allows());
        assert!(breaker.is_open());
        breaker.success();
        assert!(breaker.allows());
        assert!(!breaker.is_open());
    }
}
