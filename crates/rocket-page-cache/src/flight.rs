//! Single flight: one render per key at a time, in this process and across the
//! cluster.
//!
//! In a process, requests for the same key share one [`Flight`]: the first is the
//! leader, the others wait on a watch channel for its outcome, so a burst costs one
//! Redis conversation per instance. Across instances, the leader takes a lease in
//! Redis (`SET NX PX` with a random token); a leader that finds the lease taken
//! watches the entry with a short backoff until the holder stores it, the lease
//! frees up, or `lock_timeout_ms` passes. Nothing waits forever: leases expire,
//! and a leader that goes away without an outcome reports a failure on drop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::entry::{Entry, Freshness, Kind};
use super::handle::Cache;
use super::stats::now_ms;

/// How a render for a key ended, as told to the requests that waited for it.
#[derive(Debug)]
pub enum Outcome {
    /// A response that waiters may serve.
    Stored(Entry),
    /// The route answered something no shared cache may reuse: render yourself.
    Uncacheable,
    /// The render failed or was abandoned.
    Failed,
}

type OutcomeSlot = Option<Arc<Outcome>>;

/// The flights of this process, by key.
#[derive(Default)]
pub struct Flights {
    active: Mutex<HashMap<String, watch::Receiver<OutcomeSlot>>>,
}

/// The request that renders for everyone else in this process.
pub struct FlightLeader {
    key: String,
    sender: watch::Sender<OutcomeSlot>,
    flights: Arc<Flights>,
    finished: bool,
}

impl FlightLeader {
    /// Tells the waiters and closes the flight.
    pub fn finish(mut self, outcome: Outcome) {
        self.close(outcome);
    }

    fn close(&mut self, outcome: Outcome) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.flights
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
        self.sender.send_replace(Some(Arc::new(outcome)));
    }
}

impl Drop for FlightLeader {
    fn drop(&mut self) {
        self.close(Outcome::Failed);
    }
}

/// A request's place in the flight for its key.
pub enum Role {
    Leader(FlightLeader),
    Follower(watch::Receiver<OutcomeSlot>),
}

impl Flights {
    pub fn join(self: &Arc<Self>, key: &str) -> Role {
        let mut active = self
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(receiver) = active.get(key) {
            return Role::Follower(receiver.clone());
        }
        let (sender, receiver) = watch::channel(None);
        active.insert(key.to_owned(), receiver);
        Role::Leader(FlightLeader {
            key: key.to_owned(),
            sender,
            flights: Arc::clone(self),
            finished: false,
        })
    }
}

/// Waits for the leader's outcome, at most `limit`.
pub async fn wait_for(
    mut receiver: watch::Receiver<OutcomeSlot>,
    limit: Duration,
) -> Option<Arc<Outcome>> {
    let waited = tokio::time::timeout(limit, receiver.wait_for(Option::is_some)).await;
    match waited {
        Ok(Ok(slot)) => slot.clone(),
        // The leader vanished without a word, or time ran out.
        Ok(Err(_)) | Err(_) => None,
    }
}

/// The cluster's lease on rendering one page: its key in the store and this
/// request's random token. Taken before the render, released after the store.
#[derive(Debug, Clone)]
pub struct Lease {
    key: String,
    token: String,
}

impl Lease {
    /// A claim on the lease of `page_key`, not yet taken.
    pub fn claim(page_key: &str) -> Self {
        Self {
            key: lease_key(page_key),
            token: format!("{:032x}", rand::random::<u128>()),
        }
    }

    /// Takes it for `cache.lease_ms` if nobody holds it; `Ok(false)` if someone does.
    pub async fn try_take(&self, cache: &Cache) -> Result<bool, ()> {
        let ttl = Duration::from_millis(cache.config().lease_ms);
        cache.try_lease(&self.key, &self.token, ttl).await
    }

    /// Frees it, if this token still holds it.
    pub async fn release(&self, cache: &Cache) {
        cache.release_lease(&self.key, &self.token).await;
    }
}

/// What a leader should do after talking to the cluster.
pub enum LeaderPlan {
    /// Another instance stored the page meanwhile: serve it.
    Serve(Entry),
    /// Render; with a lease when we hold the cluster's.
    Render(Option<Lease>),
    /// The route answers uncacheable here lately: render, no lease.
    RenderUncacheable,
}

/// The lease key of a page key.
fn lease_key(key: &str) -> String {
    format!("{key}|lease")
}

/// Takes the cluster's lease for `key`, or waits for whoever holds it.
///
/// Store failures end the wait at once: with the store down nobody can be
/// coordinated, so the leader renders for its own process.
pub async fn lead(cache: &Cache, key: &str) -> LeaderPlan {
    let deadline = Instant::now() + Duration::from_millis(cache.config().lock_timeout_ms);
    let lease = Lease::claim(key);
    let mut backoff = Duration::from_millis(5);
    loop {
        match lease.try_take(cache).await {
            Ok(true) => {
                // The holder before us may have stored the page just before it let go.
                return match cache.lookup(key).await {
                    Ok(Some(entry)) if is_fresh_page(&entry) => {
                        lease.release(cache).await;
                        LeaderPlan::Serve(entry)
                    }
                    _ => LeaderPlan::Render(Some(lease)),
                };
            }
            Ok(false) => {}
            Err(()) => return LeaderPlan::Render(None),
        }
        if Instant::now() + backoff > deadline {
            return LeaderPlan::Render(None);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(50));
        match cache.lookup(key).await {
            Ok(Some(entry)) if is_fresh_page(&entry) => return LeaderPlan::Serve(entry),
            Ok(Some(entry)) if is_fresh_marker(&entry) => return LeaderPlan::RenderUncacheable,
            Ok(_) => {}
            Err(()) => return LeaderPlan::Render(None),
        }
    }
}

pub fn is_fresh_page(entry: &Entry) -> bool {
    entry.kind == Kind::Page && entry.freshness(now_ms()) == Freshness::Fresh
}

pub fn is_fresh_marker(entry: &Entry) -> bool {
    entry.kind == Kind::HitForMiss && entry.freshness(now_ms()) == Freshness::Fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_get_the_leaders_outcome() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(leader) = flights.join("k") else {
            panic!("first is leader")
        };
        let Role::Follower(receiver) = flights.join("k") else {
            panic!("second follows")
        };
        leader.finish(Outcome::Uncacheable);
        let outcome = wait_for(receiver, Duration::from_secs(1)).await.unwrap();
        assert!(matches!(*outcome, Outcome::Uncacheable));
        assert!(
            matches!(flights.join("k"), Role::Leader(_)),
            "the flight closed"
        );
    }

    #[tokio::test]
    async fn a_dropped_leader_reports_failure() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(leader) = flights.join("k") else {
            panic!()
        };
        let Role::Follower(receiver) = flights.join("k") else {
            panic!()
        };
        drop(leader);
        let outcome = wait_for(receiver, Duration::from_secs(1)).await.unwrap();
        assert!(matches!(*outcome, Outcome::Failed));
    }
}
