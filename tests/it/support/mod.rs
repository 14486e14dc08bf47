//! Test support: a fresh `MySQL` database and Redis namespace per test, and the app
//! built on them from the same `build()` production uses. The servers a test
//! starts of its own in Redis (a server, a cluster, a Sentinel deployment), where
//! the shared test servers are, and the poll helper are the `test-support`
//! crate's, shared with the engine's tests.

pub mod admin;
pub mod app;
pub mod browser;
pub mod db;
pub mod own_mariadb;
pub mod process;
pub mod proxy;
pub mod redis;
pub mod replies;
pub mod routes;

use std::time::Duration;

pub use app::{AppBuilder, TestApp};
pub use db::TestDb;
pub use redis::{redis_conn, TestNamespace};
pub use replies::{header, Reply};

/// How late Redis's invalidation may reach another instance's near cache after
/// a write answered (the near cache's bound, measured in `tests/it/near.rs`).
pub const NEAR_STALENESS_BOUND: Duration = Duration::from_millis(50);

/// Waits out [`NEAR_STALENESS_BOUND`] after a write on one instance, before
/// another instance is asked for what it changed.
pub async fn invalidations_arrive() {
    tokio::time::sleep(NEAR_STALENESS_BOUND).await;
}
