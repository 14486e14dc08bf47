//! A bound on what strangers can make the cache store: 404 pages and hit-for-miss
//! markers are keyed by whatever path a client invents, so each instance admits
//! at most a fixed number of them per time window and serves the rest uncached.

use std::sync::Mutex;
use std::time::Duration;

/// At most `limit` admissions per `window`, counted in this process.
pub struct WindowBudget {
    limit: u64,
    window_ms: u64,
    /// (index of the current window, admissions in it)
    state: Mutex<(u64, u64)>,
}

impl WindowBudget {
    pub fn new(limit: u64, window: Duration) -> Self {
        // Whole milliseconds, as the cache's clock reads the time.
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        Self {
            limit,
            window_ms: window_ms.max(1),
            state: Mutex::new((0, 0)),
        }
    }

    /// Takes one admission in the window that holds `now_ms`; `false` once the
    /// window's are used up. Safe to call from many requests at once.
    pub fn admit(&self, now_ms: u64) -> bool {
        let window = now_ms / self.window_ms;
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.0 != window {
            *state = (window, 0);
        }
        if state.1 >= self.limit {
            return false;
        }
        state.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_per_window_then_starts_again() {
        let budget = WindowBudget::new(2, Duration::from_secs(1));
        assert!(budget.admit(5_000));
        assert!(budget.admit(5_999));
        assert!(!budget.admit(5_500));
        assert!(budget.admit(6_000));
    }

    #[test]
    fn a_zero_limit_admits_nothing() {
        assert!(!WindowBudget::new(0, Duration::from_secs(1)).admit(1));
    }
}
