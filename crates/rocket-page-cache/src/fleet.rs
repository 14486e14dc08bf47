//! Counts of every instance, per minute, kept in the shared store: what lets any
//! instance show the whole fleet. Through the engine's store, so they work on
//! one Redis and on a Redis Cluster alike (the keys of a namespace share a slot).
//!
//! Keys: `<namespace>:stats:{fleet}:m:<unix minute>`, a hash of counts per
//! outcome that expires after the hour shown and a little more; and
//! `<namespace>:stats:{fleet}:instances`, instances scored by their last add,
//! trimmed as it is written and expiring when nobody writes. So about 60 small
//! keys, all expiring, whatever the traffic.

use std::collections::HashMap;
use std::time::Duration;

use super::handle::{within, Cache};
use super::store::{CountBatch, StoreError};

/// How long a minute's counts live: the hour a chart shows, and a little more
/// for the clocks of instances that are a bit behind.
const MINUTE_TTL: Duration = Duration::from_mins(62);
/// Instances not seen for this long are dropped from the set as it is written.
const FORGET: Duration = Duration::from_mins(1);
/// Longest one add or read may take: the figures are not worth more.
const BUDGET: Duration = Duration::from_secs(1);

impl Cache {
    fn fleet_key(&self, what: &str) -> String {
        format!("{}stats:{{fleet}}:{what}", self.namespace_prefix())
    }

    /// Adds `deltas` (count per outcome) to the minute of `now_secs` and marks
    /// `instance` alive at `now_secs`, in one atomic step. Errs on a store that
    /// is not shared (memory, none) or does not answer within a second.
    pub async fn fleet_add(
        &self,
        instance: &str,
        deltas: &[(&str, u64)],
        now_secs: u64,
    ) -> Result<(), StoreError> {
        let counts = self.fleet_key(&format!("m:{}", now_secs / 60));
        let alive = self.fleet_key("instances");
        let batch = CountBatch {
            counts: &counts,
            ttl: MINUTE_TTL,
            deltas,
            alive: &alive,
            member: instance,
            now: now_secs,
            forget_below: now_secs.saturating_sub(FORGET.as_secs()),
            ttl_alive: FORGET,
        };
        within(BUDGET, self.store().add_counts(&batch)).await
    }

    /// The counts of the minutes `first..=last` (Unix minutes; an empty map for
    /// a minute nobody counted), and how many instances added since
    /// `alive_since` (Unix seconds).
    pub async fn fleet_read(
        &self,
        first: u64,
        last: u64,
        alive_since: u64,
    ) -> Result<(Vec<HashMap<String, u64>>, u64), StoreError> {
        let minutes: Vec<String> = (first..=last)
            .map(|minute| self.fleet_key(&format!("m:{minute}")))
            .collect();
        let alive = self.fleet_key("instances");
        let read = self.store().read_counts(&minutes, &alive, alive_since);
        let (hashes, instances) = within(BUDGET, read).await?;
        let maps = hashes
            .into_iter()
            .map(|pairs| pairs.into_iter().collect())
            .collect();
        Ok((maps, instances))
    }
}
