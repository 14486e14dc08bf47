//! One flush: this instance's counts since the last one, to be added to the
//! current minute by the engine's store (`Cache::fleet_add`), with a heartbeat.

use std::collections::BTreeMap;

use rocket_page_cache::stats::Outcome;
use rocket_page_cache::Cache;

/// How long an instance counts as alive after its last flush.
pub const ALIVE_SECS: u64 = 10;

/// Requests by outcome since start, summed over routes (the label `Outcome`
/// gives, so a new outcome is flushed without a change here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals(BTreeMap<&'static str, u64>);

impl Totals {
    pub fn of(cache: &Cache) -> Self {
        let mut totals = BTreeMap::new();
        for route in cache.route_stats_snapshot() {
            for (outcome, count) in route.requests {
                *totals.entry(outcome.as_str()).or_default() += count;
            }
        }
        Self(totals)
    }

    /// The counts as (outcome, count) pairs, for the store.
    pub fn pairs(&self) -> Vec<(&'static str, u64)> {
        self.0
            .iter()
            .map(|(&outcome, &count)| (outcome, count))
            .collect()
    }

    /// What `self` has that `earlier` had not (counters only grow).
    pub fn since(&self, earlier: &Self) -> Self {
        Self(
            self.0
                .iter()
                .map(|(&outcome, &count)| {
                    let before = earlier.0.get(outcome).copied().unwrap_or(0);
                    (outcome, count.saturating_sub(before))
                })
                .filter(|&(_, delta)| delta > 0)
                .collect(),
        )
    }
}

/// Whether an outcome's count goes to the hit side of a hit ratio.
pub fn from_cache(outcome: &str) -> Option<bool> {
    Outcome::ALL
        .iter()
        .find(|o| o.as_str() == outcome)
        .map(|o| o.from_cache())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_grew_is_flushed() {
        let earlier = Totals(BTreeMap::from([("hit", 5), ("miss", 2)]));
        let now = Totals(BTreeMap::from([("hit", 9), ("miss", 2), ("bypass", 1)]));
        assert_eq!(
            now.since(&earlier),
            Totals(BTreeMap::from([("hit", 4), ("bypass", 1)]))
        );
        assert_eq!(now.since(&now), Totals::default());
    }

    #[test]
    fn hits_and_stale_answers_are_the_cache_side_of_the_ratio() {
        assert_eq!(from_cache("hit"), Some(true));
        assert_eq!(from_cache("stale"), Some(true));
        assert_eq!(from_cache("miss"), Some(false));
        assert_eq!(from_cache("nonsense"), None);
    }
}
