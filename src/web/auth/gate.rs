//! A bound on the password checks in flight: argon2 takes ~19 MiB per check, so
//! a burst of logins must queue rather than all run at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many attempts may wait for a check, per check that may run.
const QUEUE_PER_SLOT: usize = 4;
/// The longest an attempt waits for its turn before it gets a 429.
const MAX_WAIT: Duration = Duration::from_secs(3);

/// Admits at most `running` password checks at once and `4 × running` attempts
/// waiting for one; past either bound the attempt is refused at once or after
/// [`MAX_WAIT`].
pub struct VerifyGate {
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
}

/// The right to run one password check; hold it until the check has finished.
pub struct VerifyPermit {
    _running: OwnedSemaphorePermit,
    _admitted: OwnedSemaphorePermit,
}

impl VerifyGate {
    pub fn new(running: usize) -> Self {
        let running = running.max(1);
        Self {
            running: Arc::new(Semaphore::new(running)),
            admitted: Arc::new(Semaphore::new(running * (1 + QUEUE_PER_SLOT))),
        }
    }

    /// A permit when a slot frees within [`MAX_WAIT`]; `None` when too many are
    /// already waiting or none freed in time. Safe to call from any number of tasks.
    pub async fn enter(&self) -> Option<VerifyPermit> {
        let admitted = self.admitted.clone().try_acquire_owned().ok()?;
        let running = tokio::time::timeout(MAX_WAIT, self.running.clone().acquire_owned())
            .await
            .ok()?
            .ok()?;
        Some(VerifyPermit {
            _running: running,
            _admitted: admitted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_is_bounded_too() {
        let gate = VerifyGate::new(1);
        let first = gate.enter().await.expect("a free slot");
        let queue = u32::try_from(QUEUE_PER_SLOT).unwrap();
        let waiting = gate.admitted.clone().try_acquire_many_owned(queue);
        assert!(waiting.is_ok(), "room for the queue");
        assert!(
            gate.enter().await.is_none(),
            "the queue is full: refused at once"
        );
        drop(waiting);
        drop(first);
        assert!(gate.enter().await.is_some());
    }
}
