//! What the follower is doing, for the admin pages and the metrics: this
//! instance's own view (shared with its task), and the deployment's (who holds
//! the lease, the saved position), read from the shared store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rocket_page_cache::Singleton;
use serde::Serialize;

/// Follower state of this instance; managed always (with `following = false`
/// and the reason when the deployment does not follow).
pub struct FollowerStatus {
    /// `auto`, `on` or `off`, as configured.
    mode: &'static str,
    /// Why this instance does not follow, when it does not.
    not_following: Option<String>,
    /// This instance's token in the lease.
    token: String,
    singleton: Option<Singleton>,
    /// Transactions of followed tables read and purged by this instance.
    transactions: AtomicU64,
    local: Mutex<Local>,
}

#[derive(Default, Clone)]
struct Local {
    holding: bool,
    position: Option<String>,
    /// Commit time of the last transaction purged, and when it was purged.
    last_commit_unix: Option<u32>,
    lag_seconds: f64,
    last_error: Option<String>,
}

/// What `/admin/cache` and `/api/admin/cache` show of the follower.
#[derive(Debug, Clone, Serialize)]
pub struct FollowerView {
    pub mode: &'static str,
    /// Whether this deployment's instances follow the binlog.
    pub following: bool,
    /// Why not, when they do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The instance that holds the follower's lease (its token), if any.
    pub holder: Option<String>,
    /// Whether that is this instance.
    pub this_instance: bool,
    /// The last position whose changes were all purged.
    pub position: Option<String>,
    /// Seconds between the last purged transaction's commit and its purge
    /// (this instance's, while it holds the lease).
    pub lag_seconds: Option<f64>,
    /// Transactions this instance read and purged.
    pub transactions: u64,
    /// The follower's last failure on this instance, if any.
    pub last_error: Option<String>,
}

impl FollowerStatus {
    /// The status of a deployment that follows, as `token` on `singleton`.
    pub fn following(mode: &'static str, token: String, singleton: Singleton) -> Self {
        Self::new(mode, None, token, Some(singleton))
    }

    /// The status of an instance that does not follow, and why.
    pub fn not_following(mode: &'static str, reason: String) -> Self {
        Self::new(mode, Some(reason), String::new(), None)
    }

    fn new(
        mode: &'static str,
        not_following: Option<String>,
        token: String,
        singleton: Option<Singleton>,
    ) -> Self {
        Self {
            mode,
            not_following,
            token,
            singleton,
            transactions: AtomicU64::new(0),
            local: Mutex::new(Local::default()),
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn set_holding(&self, holding: bool) {
        self.local().holding = holding;
    }

    /// A transaction's changes were purged and its end saved.
    pub fn purged(&self, position: String, committed_at_unix: u32) {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut local = self.local();
        local.position = Some(position);
        local.last_commit_unix = Some(committed_at_unix);
        local.lag_seconds = (now - f64::from(committed_at_unix)).max(0.0);
        local.last_error = None;
    }

    /// The follower started at a position without a transaction to show.
    pub fn started_at(&self, position: String) {
        let mut local = self.local();
        local.position = Some(position);
        local.lag_seconds = 0.0;
    }

    pub fn failed(&self, error: String) {
        self.local().last_error = Some(error);
    }

    /// Transactions purged by this instance, for the metrics.
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Lag of the last purge while this instance holds the lease, else 0.
    pub fn lag_seconds(&self) -> f64 {
        let local = self.local();
        if local.holding {
            local.lag_seconds
        } else {
            0.0
        }
    }

    /// The deployment's follower as this instance sees it: the lease holder and
    /// saved position from the shared store (absent when it cannot be asked).
    pub async fn view(&self) -> FollowerView {
        let local = self.local().clone();
        let (holder, saved) = match &self.singleton {
            Some(singleton) => (
                singleton.holder().await.ok().flatten(),
                singleton.state().await.ok().flatten(),
            ),
            None => (None, None),
        };
        let this_instance = holder.as_deref() == Some(self.token.as_str());
        FollowerView {
            mode: self.mode,
            following: self.not_following.is_none(),
            reason: self.not_following.clone(),
            holder,
            this_instance,
            position: saved.or(local.position),
            lag_seconds: (this_instance && local.last_commit_unix.is_some())
                .then_some(local.lag_seconds),
            transactions: self.transactions(),
            last_error: local.last_error,
        }
    }
}
