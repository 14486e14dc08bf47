//! Read replicas of the primary: a small pool per replica, each replica's
//! health as this instance's checker last saw it ([`health`]), and the choice
//! of one for a read.
//!
//! Only renders read here (through the web layer, which first makes sure the
//! replica has applied every purge made before the render began: see the
//! README's "Read replicas"); writes, sessions and logins use [`Db::conn`],
//! the primary. A replica that fails a read is out of rotation until the
//! checker finds it healthy again.
//!
//! [`Db::conn`]: super::Db::conn

pub mod gtid;
pub mod health;
mod sql;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::db::redact::redact_url;
use serde::Serialize;

use super::config::DatabaseConfig;
use super::pool::{AcquireError, DbConn, MysqlPool};
use super::startup_error::StartupError;

pub use gtid::{BadGtid, GtidPosition};
pub use sql::{primary_position, wait_for_position};

/// The longest a read waits for a replica's connection: past it the primary
/// serves the read (a busy or unreachable replica must not slow pages down).
const ACQUIRE_BUDGET: Duration = Duration::from_millis(500);

/// Whether a replica may serve reads, as its last check found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicaState {
    /// Not checked yet: not in rotation.
    Unknown,
    /// Answers, replicates, and is within `replica_max_lag_ms`.
    Healthy,
    /// Further behind than `replica_max_lag_ms`.
    Lagging,
    /// Refuses connections, fails its check, or does not replicate.
    Down,
}

/// What `/admin/cache`, its JSON and `/metrics` show of one replica.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaView {
    /// Its URL, password hidden.
    pub replica: String,
    pub state: ReplicaState,
    /// Whether renders read from it now.
    pub in_rotation: bool,
    /// How far it is behind the primary, in milliseconds, when known.
    pub lag_ms: Option<u64>,
    /// `Slave_IO_Running` and `Slave_SQL_Running` of its last check.
    pub io_running: Option<bool>,
    pub sql_running: Option<bool>,
    /// Its applied position (`Gtid_Slave_Pos`) at its last check.
    pub position: Option<String>,
    /// Why it is down, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Reads this instance made on it.
    pub reads: u64,
    /// Reads sent to the primary instead, because it had not applied a purged
    /// write within the wait.
    pub behind_purges: u64,
}

/// What a check found; see [`ReplicaView`].
#[derive(Debug, Clone)]
pub(crate) struct Health {
    pub state: ReplicaState,
    pub lag_ms: Option<u64>,
    pub io_running: Option<bool>,
    pub sql_running: Option<bool>,
    pub position: Option<String>,
    pub error: Option<String>,
}

impl Health {
    fn unknown() -> Self {
        Self {
            state: ReplicaState::Unknown,
            lag_ms: None,
            io_running: None,
            sql_running: None,
            position: None,
            error: None,
        }
    }
}

/// One replica: its pool and health.
pub struct Replica {
    label: String,
    url: String,
    pool: MysqlPool,
    health: Mutex<Health>,
    reads: AtomicU64,
    behind_purges: AtomicU64,
}

impl Replica {
    /// Its URL with the password hidden, for logs and views.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_health(&self, health: Health) {
        *self.health() = health;
    }

    /// Whether reads may go here.
    pub fn in_rotation(&self) -> bool {
        self.health().state == ReplicaState::Healthy
    }

    /// A connection within [`ACQUIRE_BUDGET`] (or the configured acquire
    /// timeout, when shorter).
    pub async fn conn(&self, acquire_timeout: Duration) -> Result<DbConn, AcquireError> {
        let budget = acquire_timeout.min(ACQUIRE_BUDGET);
        match tokio::time::timeout(budget, self.pool.get()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(AcquireError::Connect(e.to_string())),
            Err(_) => Err(AcquireError::Timeout(budget)),
        }
    }

    /// A read here failed: out of rotation until the checker finds it healthy
    /// (within a check's interval when it is).
    pub fn failed(&self, error: &str) {
        let mut health = self.health();
        health.state = ReplicaState::Down;
        health.error = Some(error.chars().take(300).collect());
    }

    /// A read was served here.
    pub fn count_read(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    /// A read went to the primary: this replica had not applied a purged write.
    pub fn count_behind_purges(&self) {
        self.behind_purges.fetch_add(1, Ordering::Relaxed);
    }

    pub fn view(&self) -> ReplicaView {
        let health = self.health().clone();
        ReplicaView {
            replica: self.label.clone(),
            state: health.state,
            in_rotation: health.state == ReplicaState::Healthy,
            lag_ms: health.lag_ms,
            io_running: health.io_running,
            sql_running: health.sql_running,
            position: health.position,
            error: health.error,
            reads: self.reads.load(Ordering::Relaxed),
            behind_purges: self.behind_purges.load(Ordering::Relaxed),
        }
    }
}

/// Every replica of `databases.main.replicas`, in the configured order.
pub struct Replicas {
    list: Vec<Replica>,
    /// The next replica to try, round robin.
    next: AtomicUsize,
    primary_url: String,
    max_lag: Duration,
}

impl Replicas {
    /// A pool per replica from `build`; nothing is dialled yet.
    pub(crate) fn new(
        config: &DatabaseConfig,
        build: impl Fn(&str) -> Result<MysqlPool, StartupError>,
    ) -> Result<Self, StartupError> {
        let list = config
            .replicas
            .iter()
            .map(|url| {
                Ok(Replica {
                    label: redact_url(url),
                    url: url.clone(),
                    pool: build(url)?,
                    health: Mutex::new(Health::unknown()),
                    reads: AtomicU64::new(0),
                    behind_purges: AtomicU64::new(0),
                })
            })
            .collect::<Result<_, StartupError>>()?;
        Ok(Self {
            list,
            next: AtomicUsize::new(0),
            primary_url: config.url.clone(),
            max_lag: config.replica_max_lag(),
        })
    }

    /// Whether any replica is configured.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Replica> {
        self.list.iter()
    }

    /// The next replica in rotation, round robin; `None` when none is healthy
    /// (reads go to the primary).
    pub fn pick(&self) -> Option<&Replica> {
        let count = self.list.len();
        if count == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..count)
            .map(|i| &self.list[(start + i) % count])
            .find(|replica| replica.in_rotation())
    }

    pub fn views(&self) -> Vec<ReplicaView> {
        self.list.iter().map(Replica::view).collect()
    }

    pub(crate) fn close(&self) {
        for replica in &self.list {
            replica.pool.close();
        }
    }
}
