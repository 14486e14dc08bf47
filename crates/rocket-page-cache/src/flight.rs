//! Single flight in this process: one render per key at a time.
//!
//! Requests for the same key share one flight: the first is the leader, the
//! others wait on a watch channel for its outcome, so a burst costs one Redis
//! conversation per instance. A leader that goes away without an outcome reports
//! a failure on drop, so nobody waits forever. This module knows nothing of the
//! store or the handle; the cluster-wide lease is `lease`'s business.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::entry::Entry;

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
