//! Counters and rate-limited warnings of the cache.
//!
//! The limiter measures intervals in this process only, so it reads the
//! monotonic clock (`Instant`): a wall clock that steps back would stall it.

use std::sync::atomic::{AtomicU64, Ordering};
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
    pub purges_by_writer: AtomicU64,
    pub purges_from_log: AtomicU64,
    pub fragment_hits: AtomicU64,
    pub fragment_near_hits: AtomicU64,
    pub fragment_renders: AtomicU64,
    pub index_members_pruned: AtomicU64,
    pub index_marks_dropped: AtomicU64,
    pub codings_added: AtomicU64,
    pub codings_refused: AtomicU64,
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
    /// Purges of changes made by this instance's writes (after their commit).
    pub purges_by_writer: u64,
    /// Purges of changes read from the database's log (anyone's writes).
    pub purges_from_log: u64,
    /// Fragments found in the store (the near cache included).
    pub fragment_hits: u64,
    /// Of those, fragments this instance kept near (no round trip, no decode).
    pub fragment_near_hits: u64,
    /// Fragments rendered (a miss, or the store not usable).
    pub fragment_renders: u64,
    /// Tag set members removed by the index sweep (their entry expired or was
    /// evicted).
    pub index_members_pruned: u64,
    /// Purge marks removed by the index sweep (older than a render may be).
    pub index_marks_dropped: u64,
    /// Compressed codings added to stored pages on first demand.
    pub codings_added: u64,
    /// Codings made for a version of a page that the store no longer held
    /// (rendered again or purged meanwhile), so not written.
    pub codings_refused: u64,
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
            purges_by_writer: read(&self.purges_by_writer),
            purges_from_log: read(&self.purges_from_log),
            fragment_hits: read(&self.fragment_hits),
            fragment_near_hits: read(&self.fragment_near_hits),
            fragment_renders: read(&self.fragment_renders),
            index_members_pruned: read(&self.index_members_pruned),
            index_marks_dropped: read(&self.index_marks_dropped),
            codings_added: read(&self.codings_added),
            codings_refused: read(&self.codings_refused),
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
