//! Work one instance does for the whole deployment (following the database's
//! log, say): a lease by name that its holder keeps renewing, and a small state
//! (a checkpoint) that only the holder may write, both in the shared store so
//! they work on one Redis and on a cluster alike.
//!
//! When the holder dies or is cut off, its lease runs out and another instance
//! takes it; a holder that lost its lease can no longer write the state, so it
//! cannot overwrite what the next holder saved.

use std::time::Duration;

use super::handle::{within, Cache};
use super::store::StoreError;

/// How long a saved state lives without being saved again.
const STATE_LIFETIME: Duration = Duration::from_hours(24 * 30);

/// A lease and a state shared by every instance under one name; see the
/// module's doc. Cheap to clone.
#[derive(Clone)]
pub struct Singleton {
    cache: Cache,
    lease_key: String,
    state_key: String,
}

impl Cache {
    /// The singleton `name` of this deployment (its namespace). Keys are
    /// `<namespace>:app:{<name>}:lease` and `...:state`, sharing one cluster
    /// slot; they are kept by [`Cache::clear_all`], which is about pages.
    pub fn singleton(&self, name: &str) -> Singleton {
        let base = format!("{}app:{{{name}}}", self.namespace_prefix());
        Singleton {
            cache: self.clone(),
            lease_key: format!("{base}:lease"),
            state_key: format!("{base}:state"),
        }
    }
}

impl Singleton {
    /// Every call is given this long: these are background tasks, not requests.
    fn budget(&self) -> Duration {
        self.cache.config().op_timeout * 20
    }

    /// Takes the lease for `ttl` if nobody holds it, or renews it if `token`
    /// does; whether `token` holds it now. Concurrent callers with different
    /// tokens: at most one gets `true` until the lease runs out.
    pub async fn hold(&self, token: &str, ttl: Duration) -> Result<bool, StoreError> {
        let store = self.cache.store();
        within(self.budget(), store.hold_lease(&self.lease_key, token, ttl)).await
    }

    /// Who holds the lease (the token it was taken with), if anyone.
    pub async fn holder(&self) -> Result<Option<String>, StoreError> {
        within(
            self.budget(),
            self.cache.store().lease_holder(&self.lease_key),
        )
        .await
    }

    /// Gives the lease up if `token` holds it, so another can take it at once.
    pub async fn release(&self, token: &str) -> Result<(), StoreError> {
        let store = self.cache.store();
        within(self.budget(), store.release_lease(&self.lease_key, token)).await
    }

    /// Saves `state` if `token` holds the lease; whether it was saved.
    pub async fn save_state(&self, token: &str, state: &str) -> Result<bool, StoreError> {
        let store = self.cache.store();
        let saved = store.set_as_holder(
            &self.lease_key,
            token,
            &self.state_key,
            state,
            STATE_LIFETIME,
        );
        within(self.budget(), saved).await
    }

    /// The last state saved, if any is left.
    pub async fn state(&self) -> Result<Option<String>, StoreError> {
        let raw = within(self.budget(), self.cache.store().get(&self.state_key)).await?;
        Ok(raw.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }
}
