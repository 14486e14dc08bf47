//! Test support: a fresh `MySQL` database and Redis namespace per test, and the app
//! built on them from the same `build()` production uses.

pub mod admin;
pub mod app;
pub mod browser;
pub mod db;
/// The engine's Redis Cluster of a test's own, shared with the app's tests so
/// that app features are tried on every store shape.
#[path = "../../../crates/rocket-page-cache/tests/support/own_cluster.rs"]
#[allow(dead_code, reason = "the engine's failover tests use the rest")]
pub mod own_cluster;
pub mod own_mariadb;
/// The engine's `redis-server` of a test's own (one that may fill up).
#[path = "../../../crates/rocket-page-cache/tests/support/own_redis.rs"]
#[allow(dead_code, reason = "the engine's outage tests use the rest")]
pub mod own_redis;
/// The engine's Redis Sentinel deployment of a test's own (a master, a
/// replica, three sentinels), so that app features are tried on it too.
#[path = "../../../crates/rocket-page-cache/tests/support/own_sentinel.rs"]
#[allow(dead_code, reason = "the engine's failover test uses the rest")]
pub mod own_sentinel;
/// What the engine's own cluster and Sentinel deployments share.
#[path = "../../../crates/rocket-page-cache/tests/support/own_servers.rs"]
pub mod own_servers;
pub mod process;
pub mod proxy;
pub mod redis;
pub mod replies;
pub mod routes;

use std::future::Future;
use std::time::{Duration, Instant};

pub use app::{AppBuilder, TestApp};
pub use db::TestDb;
pub use redis::{redis_conn, TestNamespace};
pub use replies::{header, Reply};

/// A short random name, unique enough for parallel tests on one server.
pub fn random_name(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

/// `host:port` of a shared test server: the environment variable `var`, else
/// `default`; read once into `slot`.
pub fn server_addr(
    slot: &'static std::sync::OnceLock<String>,
    var: &str,
    default: &str,
) -> &'static str {
    slot.get_or_init(|| std::env::var(var).unwrap_or_else(|_| default.to_owned()))
}

/// How often [`eventually`] probes again.
const POLL: Duration = Duration::from_millis(20);

/// Probes until `probe` gives `Some`, and returns it; panics naming `what` when
/// `within` has passed. For what happens by itself (a TTL, a background retry,
/// a recovery) and cannot be awaited directly.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// A TCP port that nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// How late Redis's invalidation may reach another instance's near cache after
/// a write answered (the near cache's bound, measured in `tests/it/near.rs`).
pub const NEAR_STALENESS_BOUND: Duration = Duration::from_millis(50);

/// Waits out [`NEAR_STALENESS_BOUND`] after a write on one instance, before
/// another instance is asked for what it changed.
pub async fn invalidations_arrive() {
    tokio::time::sleep(NEAR_STALENESS_BOUND).await;
}
