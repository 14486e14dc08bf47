//! The index sweep: keeps the tag index (the sets that find a tag's entries,
//! and the purge marks) bounded, although nothing in it has a lifetime.
//!
//! The index has none so that a Redis with a `volatile-*` policy, when full,
//! evicts pages (which all have one) and never the sets a purge needs to find
//! them: an evicted set would let a purge miss a page that is still served.
//! What then bounds the index is this sweep, run by one instance of the
//! deployment (a singleton lease) every `cache.index_sweep_secs`:
//! - a set member whose entry is gone (expired or evicted) is removed once it
//!   has been seen gone at two sweeps in a row; an entry stored again between
//!   the two is found and kept (on one server the check and the removal are one
//!   step; on a cluster, the two sweeps are further apart than any store takes);
//! - a purge mark older than a render may be is deleted (a render that old is
//!   never stored, so the mark could refuse nothing).
//!
//! Storing into a set on one server also drops two of its dead members by the
//! way, so busy sets stay near their live size between sweeps.

use std::collections::HashSet;
use std::time::Duration;

use super::handle::{within, Cache};
use super::store::{IndexMember, StoreError};

/// Dead members remembered between two sweeps, at most: bounds the sweep's own
/// memory. A larger backlog is worked off over several sweeps.
const MAX_REMEMBERED: usize = 200_000;

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Set members whose entry was gone at this sweep and the one before.
    pub members_removed: u64,
    /// Set members found gone for the first time (removed at the next sweep).
    pub members_suspected: u64,
    /// Purge marks older than a render may be.
    pub marks_dropped: u64,
}

/// One instance's sweeper: what it found gone last time.
#[derive(Default)]
pub struct IndexSweeper {
    suspected: HashSet<IndexMember>,
}

impl IndexSweeper {
    /// Sweeps once: removes the members found gone now that were also gone at
    /// the previous call, remembers the others, drops old marks.
    pub async fn sweep(&mut self, cache: &Cache) -> Result<SweepReport, StoreError> {
        let store = cache.store();
        let budget = sweep_budget(cache);
        let dead = within(budget, store.dead_index_members(MAX_REMEMBERED)).await?;
        let (confirmed, suspected): (Vec<IndexMember>, Vec<IndexMember>) = dead
            .into_iter()
            .partition(|member| self.suspected.contains(member));
        let members_removed = within(budget, store.remove_index_members(&confirmed)).await?;
        self.suspected = suspected.into_iter().collect();
        let marks_dropped = within(budget, store.drop_old_marks()).await?;
        Ok(SweepReport {
            members_removed,
            members_suspected: self.suspected.len() as u64,
            marks_dropped,
        })
    }
}

/// A sweep walks the whole index: give it far more than a request's budget.
fn sweep_budget(cache: &Cache) -> Duration {
    (cache.config().op_timeout * 1000).max(Duration::from_mins(1))
}

/// Sweeps every `cache.index_sweep_secs`, the first time one interval after
/// start, while this instance holds the deployment's sweep lease; runs until
/// the task is aborted.
pub async fn run(cache: Cache) {
    let every = cache.config().index_sweep_every;
    let singleton = cache.singleton("index-sweep");
    let token = format!("{:016x}", rand::random::<u64>());
    let mut sweeper = IndexSweeper::default();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match singleton.hold(&token, every * 3).await {
            Ok(true) => {}
            Ok(false) => {
                // Another instance sweeps; what this one suspected may be stale.
                sweeper = IndexSweeper::default();
                continue;
            }
            Err(e) => {
                cache.warn_store_error("index sweep lease", &e);
                continue;
            }
        }
        match sweeper.sweep(&cache).await {
            Ok(report) => cache.count_index_sweep(&report),
            Err(e) => cache.warn_store_error("index sweep", &e),
        }
    }
}
