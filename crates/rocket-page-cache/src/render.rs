//! A render in progress: what it was decided with, and what it owes to others
//! when it ends (the waiters of its flight, the cluster's lease).

use std::time::{Duration, Instant};

use super::cache_status::{Detail, Forward};
use super::entry::Entry;
use super::flight::{FlightLeader, Outcome};
use super::handle::Cache;
use super::lease::Lease;
use super::policy::Storing;
use super::store::TagStamp;

/// One request that the route answers, built by one constructor per case.
pub struct Render {
    key: String,
    policy: Storing,
    /// The route's tags and the purge sequence read before the render; `None`
    /// when the store cannot be used (the render is then not stored).
    stamps: Option<TagStamp>,
    lease: Option<Lease>,
    leader: Option<FlightLeader>,
    /// A stored copy to serve if the render fails (stale-if-error).
    fallback: Option<Entry>,
    forward: Forward,
    detail: Option<Detail>,
    /// When the route was handed the request, to record the render time.
    started: Instant,
}

impl Render {
    fn with(key: String, policy: Storing, forward: Forward) -> Self {
        Self {
            key,
            policy,
            stamps: None,
            lease: None,
            leader: None,
            fallback: None,
            forward,
            detail: None,
            started: Instant::now(),
        }
    }

    /// Nothing servable was stored. `leader` when this request renders for its
    /// process, `lease` when it holds the cluster's; `fallback` answers if the
    /// route fails.
    pub fn miss(
        key: String,
        policy: Storing,
        stamps: Option<TagStamp>,
        lease: Option<Lease>,
        leader: Option<FlightLeader>,
        fallback: Option<Entry>,
    ) -> Self {
        Self {
            stamps,
            lease,
            leader,
            fallback,
            ..Self::with(key, policy, Forward::UriMiss)
        }
    }

    /// A stored copy past its lifetime (or, when `early`, drawn for an early
    /// refresh) is rendered anew by the lease holder; the copy answers if it fails.
    pub fn refresh(
        key: String,
        policy: Storing,
        stamps: TagStamp,
        lease: Lease,
        leader: FlightLeader,
        stored: Entry,
        early: bool,
    ) -> Self {
        let (forward, detail) = if early {
            (Forward::UriMiss, Some(Detail::EarlyRefresh))
        } else {
            (Forward::Stale, None)
        };
        Self {
            stamps: Some(stamps),
            lease: Some(lease),
            leader: Some(leader),
            fallback: Some(stored),
            detail,
            ..Self::with(key, policy, forward)
        }
    }

    /// The store cannot be used: the render is not stored; `leader` when this
    /// request renders for its process.
    pub fn local(key: String, policy: Storing, leader: Option<FlightLeader>) -> Self {
        Self {
            leader,
            ..Self::with(key, policy, Forward::Bypass)
        }
    }

    /// The key was lately found uncacheable: render at once, nobody waits.
    pub fn after_hit_for_miss(key: String, policy: Storing, stamps: Option<TagStamp>) -> Self {
        Self {
            stamps,
            detail: Some(Detail::HitForMiss),
            ..Self::with(key, policy, Forward::UriMiss)
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn policy(&self) -> &Storing {
        &self.policy
    }

    /// The stamp to store under; `None` when the store was unusable.
    pub fn stamps(&self) -> Option<&TagStamp> {
        self.stamps.as_ref()
    }

    /// Whether the store was unusable for this request (shown as `BYPASS`).
    pub fn uncached(&self) -> bool {
        self.stamps.is_none()
    }

    pub fn forward(&self) -> Forward {
        self.forward
    }

    pub fn detail(&self) -> Option<Detail> {
        self.detail
    }

    /// The stored copy to answer with if the route failed, taken once.
    pub fn take_fallback(&mut self) -> Option<Entry> {
        self.fallback.take()
    }

    #[cfg(test)]
    pub fn has_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    #[cfg(test)]
    pub fn has_lease(&self) -> bool {
        self.lease.is_some()
    }

    /// Milliseconds since the route was handed the request.
    pub fn elapsed_ms(&self) -> u32 {
        u32::try_from(self.started.elapsed().as_millis()).unwrap_or(u32::MAX)
    }

    /// Time since the route was handed the request.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Pays what the render owes: tells the waiters of its flight `outcome`,
    /// then frees the cluster's lease.
    pub async fn finish(self, cache: &Cache, outcome: Outcome) {
        if let Some(leader) = self.leader {
            leader.finish(outcome);
        }
        if let Some(lease) = self.lease {
            lease.release(cache).await;
        }
    }
}
