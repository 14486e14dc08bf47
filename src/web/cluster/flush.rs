//! One flush: this instance's counts since the last one, added to the current
//! minute's hash, and a heartbeat, in one atomic round trip.

use std::collections::BTreeMap;

use redis::aio::ConnectionLike;
use rocket_page_cache::{Cache, Outcome};

use super::Keys;

/// How long a minute's hash lives: the hour the chart shows, and a little more
/// for the clocks of instances that are a bit behind.
pub const MINUTE_TTL_SECS: u64 = 3_600 + 120;
/// How long an instance counts as alive after its last flush.
pub const ALIVE_SECS: u64 = 10;
/// Instances not seen for this long are removed from the set as it is written.
const FORGET_SECS: u64 = 60;

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

/// Adds `news` to the minute of `now_secs` and marks `instance` alive, in one
/// MULTI/EXEC: all of it lands or none.
pub async fn add(
    conn: &mut impl ConnectionLike,
    keys: &Keys,
    instance: &str,
    news: &Totals,
    now_secs: u64,
) -> redis::RedisResult<()> {
    let bucket = keys.minute(now_secs / 60);
    let instances = keys.instances();
    let mut pipe = redis::pipe();
    pipe.atomic();
    for (outcome, delta) in &news.0 {
        pipe.cmd("HINCRBY")
            .arg(&bucket)
            .arg(outcome)
            .arg(delta)
            .ignore();
    }
    if !news.0.is_empty() {
        pipe.cmd("EXPIRE")
            .arg(&bucket)
            .arg(MINUTE_TTL_SECS)
            .ignore();
    }
    pipe.cmd("ZADD")
        .arg(&instances)
        .arg(now_secs)
        .arg(instance)
        .ignore();
    pipe.cmd("ZREMRANGEBYSCORE")
        .arg(&instances)
        .arg("-inf")
        .arg(format!("({}", now_secs.saturating_sub(FORGET_SECS)))
        .ignore();
    pipe.cmd("EXPIRE").arg(&instances).arg(FORGET_SECS).ignore();
    pipe.query_async(conn).await
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
