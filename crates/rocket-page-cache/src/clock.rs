//! The wall clock that every freshness, grace and age decision reads.
//!
//! Entries carry Unix-millisecond stamps that every instance compares, so the
//! engine reads wall time, not a monotonic clock. The handle holds a [`Clock`]
//! instead of calling the system directly so that tests can stand still or jump
//! ahead with a [`ManualClock`] rather than sleep through a lifetime.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the engine reads the time: the system's (the default) or a manual one.
/// Cloning is cheap; clones of a manual clock share its time.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<ManualClock>,
}

impl Clock {
    /// The system's wall clock, shared by every instance (their clocks are
    /// assumed to agree to within a second).
    pub fn system() -> Self {
        Self::default()
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            Some(manual) => manual.now_ms(),
            None => system_now_ms(),
        }
    }
}

impl From<ManualClock> for Clock {
    fn from(manual: ManualClock) -> Self {
        Self {
            manual: Some(manual),
        }
    }
}

/// A clock that moves only when told to. For tests: hand it to
/// `PageCache::with_clock` and keep a clone to advance.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now_ms: Arc<AtomicU64>,
}

// Built by tests and, through the `test-util` feature, by apps' tests.
#[cfg_attr(not(any(test, feature = "test-util")), allow(dead_code))]
impl ManualClock {
    /// Starts at `now_ms` (Unix milliseconds).
    pub fn starting_at(now_ms: u64) -> Self {
        Self {
            now_ms: Arc::new(AtomicU64::new(now_ms)),
        }
    }

    /// Starts at the system's current time, so that stores that keep real
    /// deadlines (Redis TTLs) agree with it at first.
    pub fn starting_now() -> Self {
        Self::starting_at(system_now_ms())
    }

    /// The time it shows, in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }

    /// Moves it forward by `by`, for every clone at once.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now_ms.fetch_add(by, Ordering::SeqCst);
    }
}

fn system_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_clones_share_it() {
        let manual = ManualClock::starting_at(1_000);
        let clock = Clock::from(manual.clone());
        assert_eq!(clock.now_ms(), 1_000);
        manual.advance(Duration::from_millis(250));
        assert_eq!(clock.now_ms(), 1_250);
    }

    #[test]
    fn the_system_clock_reads_the_wall_time() {
        let before = system_now_ms();
        let read = Clock::system().now_ms();
        assert!(read >= before && read - before < 60_000);
    }
}
