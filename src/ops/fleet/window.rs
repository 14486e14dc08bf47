//! The last hour of the fleet, read back from the minute hashes.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use rocket_page_cache::stats::Outcome;
use rocket_page_cache::{Cache, StoreError};
use serde::Serialize;

use super::flush::{from_cache, ALIVE_SECS};

/// Minutes the window holds: the chart's points.
pub const MINUTES: usize = 60;

/// Seconds since the Unix epoch, by this machine's clock (minute buckets are
/// named by it, so instances need clocks within seconds of each other, as NTP
/// keeps them).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One minute of the whole fleet.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Minute {
    /// Its start, in Unix seconds.
    pub start: u64,
    /// Every request the caches counted (bypasses included).
    pub requests: u64,
    /// Answered from a cache (hits and stale).
    pub hits: u64,
    /// Rendered by the app.
    pub misses: u64,
}

impl Minute {
    /// `hits / (hits + misses)`; `None` with neither (bypasses do not count:
    /// the cache was not allowed to help).
    pub fn hit_ratio(&self) -> Option<f64> {
        ratio(self.hits, self.misses)
    }
}

/// The last hour of the fleet: totals, live instances, one point a minute.
#[derive(Debug, Clone, Serialize)]
pub struct FleetWindow {
    /// Instances that flushed in the last few seconds.
    pub instances: u64,
    /// Seconds the totals cover.
    pub window_secs: u64,
    pub requests: u64,
    pub hits: u64,
    pub misses: u64,
    /// Requests by outcome (`hit`, `stale`, `miss`, `bypass`).
    pub outcomes: HashMap<String, u64>,
    pub hit_ratio: Option<f64>,
    /// Oldest first; the last is the minute in progress.
    pub minutes: Vec<Minute>,
}

/// Reads the hour up to `now_secs` through the engine's store, in one round
/// trip.
pub async fn read(cache: &Cache, now_secs: u64) -> Result<FleetWindow, StoreError> {
    let current = now_secs / 60;
    let first = current + 1 - MINUTES as u64;
    let alive_since = now_secs.saturating_sub(ALIVE_SECS);
    let (buckets, instances) = cache.fleet_read(first, current, alive_since).await?;
    Ok(summarise(first, &buckets, instances))
}

/// Totals and points from the minute hashes, oldest first.
fn summarise(first: u64, buckets: &[HashMap<String, u64>], instances: u64) -> FleetWindow {
    let mut outcomes: HashMap<String, u64> = HashMap::new();
    let minutes: Vec<Minute> = buckets
        .iter()
        .zip(first..)
        .map(|(bucket, minute)| {
            let mut point = Minute {
                start: minute * 60,
                ..Minute::default()
            };
            for (outcome, &count) in bucket {
                *outcomes.entry(outcome.clone()).or_default() += count;
                point.requests += count;
                if from_cache(outcome) == Some(true) {
                    point.hits += count;
                } else if outcome == Outcome::Miss.as_str() {
                    point.misses += count;
                }
            }
            point
        })
        .collect();
    let hits = minutes.iter().map(|m| m.hits).sum();
    let misses = minutes.iter().map(|m| m.misses).sum();
    FleetWindow {
        instances,
        window_secs: MINUTES as u64 * 60,
        requests: minutes.iter().map(|m| m.requests).sum(),
        hits,
        misses,
        outcomes,
        hit_ratio: ratio(hits, misses),
        minutes,
    }
}

// Counts far below 2^53: exact as f64.
#[allow(clippy::cast_precision_loss)]
pub fn ratio(hits: u64, misses: u64) -> Option<f64> {
    let total = hits + misses;
    (total > 0).then(|| hits as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn minutes_sum_into_the_hour_and_bypasses_stay_out_of_the_ratio() {
        let mut buckets = vec![HashMap::new(); MINUTES];
        buckets[0] = bucket(&[("hit", 6), ("miss", 2)]);
        buckets[59] = bucket(&[("hit", 1), ("stale", 1), ("bypass", 5)]);
        let window = summarise(100, &buckets, 2);
        assert_eq!(window.minutes.len(), MINUTES);
        assert_eq!(window.minutes[0].start, 6000);
        assert_eq!((window.hits, window.misses, window.requests), (8, 2, 15));
        assert_eq!(window.hit_ratio, Some(0.8));
        assert_eq!(window.minutes[59].hit_ratio(), Some(1.0));
        assert_eq!(window.minutes[30].hit_ratio(), None);
        assert_eq!(window.outcomes["bypass"], 5);
        assert_eq!(window.instances, 2);
    }
}
